"""Shared fixtures: the built extension loaded the way users load it.

Run with Debian's /usr/bin/python3 (its sqlite3 module can load extensions).
"""
import os
import sqlite3
import subprocess
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
# WECARE_BACKUP_EXT points the suite at another build of the extension (e.g.
# `make asan` uses build/asan/wecare_backup); the default is the normal build.
EXT = os.environ.get("WECARE_BACKUP_EXT") or str(ROOT / "dist" / "wecare_backup")
PHRASE = "I understand this will replace the current database"


def load(conn):
    """Enable loading, load the extension, disable loading again."""
    conn.enable_load_extension(True)
    conn.load_extension(EXT)
    conn.enable_load_extension(False)
    return conn


def connect(path, **kw):
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, **kw)
    return load(conn)


def make_sample(path, patients=200, wal=True):
    """A small WeCare-like database with users and patients."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    if wal:
        conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(
        """
        CREATE TABLE IF NOT EXISTS users(id INTEGER PRIMARY KEY, email TEXT UNIQUE, role TEXT);
        CREATE TABLE IF NOT EXISTS patients(id INTEGER PRIMARY KEY, name TEXT, notes TEXT);
        """
    )
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO users(email, role) VALUES (?, ?)",
                     [("admin@wecare.test", "ADMIN"), ("dev@wecare.test", "DEVELOPER")])
    conn.executemany("INSERT INTO patients(name, notes) VALUES (?, ?)",
                     [(f"patient {i}", "x" * 200) for i in range(patients)])
    conn.execute("COMMIT")
    conn.close()
    return path


@pytest.fixture
def db_path(tmp_path):
    return make_sample(tmp_path / "wecare.db")


@pytest.fixture
def conn(db_path):
    c = connect(db_path)
    yield c
    c.close()


@pytest.fixture
def backup_dir(db_path):
    return db_path.parent / "backups"


def one(conn, sql, *args):
    return conn.execute(sql, args).fetchone()[0]


def shell(db, *sql, check=True, timeout=60, env=None):
    """Run the sqlite3 shell on `db` with the extension loaded."""
    args = ["sqlite3", str(db), f".load {EXT}"] + list(sql)
    return subprocess.run(args, capture_output=True, text=True, check=check, timeout=timeout, env=env)
