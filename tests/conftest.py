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


@pytest.fixture
def layout_root(tmp_path):
    """The folder the README's commands and the sql/ scripts run from: they load
    `dist/wecare_backup` relative to it. The repository itself when the suite
    runs on make's dist/ build; for another build (WECARE_BACKUP_EXT, e.g. the
    CMake one, which has no dist/), a copy of that layout with dist/ holding
    the build under test."""
    ext = pathlib.Path(EXT).resolve()
    if ext == ROOT / "dist" / "wecare_backup":
        return ROOT
    root = tmp_path / "layout"
    (root / "dist").mkdir(parents=True)
    (root / "dist" / "wecare_backup.so").symlink_to(ext if ext.suffix == ".so" else f"{ext}.so")
    shutil.copytree(ROOT / "sql", root / "sql")
    return root


def one(conn, sql, *args):
    return conn.execute(sql, args).fetchone()[0]


def shell(db, *sql, check=True, timeout=60, env=None):
    """Run the sqlite3 shell on `db` with the extension loaded."""
    args = ["sqlite3", str(db), f".load {EXT}"] + list(sql)
    return subprocess.run(args, capture_output=True, text=True, check=check, timeout=timeout, env=env)


# ---------------------------------------------------------------------------
# Helpers for the issue-2 suite (test_*.py beside this file).
# ---------------------------------------------------------------------------
import datetime
import json
import shutil
import stat
import sys
import time

TESTS = pathlib.Path(__file__).resolve().parent
PYTHON = "/usr/bin/python3"  # Debian's: it can load extensions
NAME_RE = r"^wecare_backup_\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d(_[1-9]\d*)?\.db$"


def listing(conn):
    """wecare_backup_list as a list of dicts, in the table's order."""
    cur = conn.execute("SELECT * FROM wecare_backup_list")
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row)) for row in cur.fetchall()]


def names(conn):
    return [r["name"] for r in listing(conn)]


def stats(conn):
    return json.loads(one(conn, "SELECT wecare_backup_stats()"))


def verify(conn, name_or_path):
    return json.loads(one(conn, "SELECT wecare_backup_verify(?)", str(name_or_path)))


def create(conn, label=None):
    if label is None:
        return one(conn, "SELECT wecare_backup_create()")
    return one(conn, "SELECT wecare_backup_create(?)", label)


def config(conn, key, value=None):
    if value is None:
        return one(conn, "SELECT wecare_backup_config(?)", key)
    return one(conn, "SELECT wecare_backup_config(?, ?)", key, value)


def sql_error(conn, sql, *args):
    """Run `sql`, expect an SQL error, return its message."""
    with pytest.raises(sqlite3.Error) as info:
        conn.execute(sql, args).fetchall()
    return str(info.value)


def backup_file_name(when, prefix="wecare", kind="backup", sequence=1):
    """The name the extension gives a backup made at `when` (a datetime, UTC)."""
    name = f"{prefix}_{kind}_{when:%Y-%m-%d_%H-%M-%S}"
    if sequence > 1:
        name += f"_{sequence}"
    return name + ".db"


def place_backup(backup_dir, name, source):
    """Put a copy of the database `source` into the backup dir by hand (no .meta)."""
    backup_dir = pathlib.Path(backup_dir)
    backup_dir.mkdir(mode=0o700, exist_ok=True)
    src = sqlite3.connect(str(source))
    dst = sqlite3.connect(str(backup_dir / name))
    src.backup(dst)
    dst.execute("PRAGMA journal_mode=DELETE")
    dst.close()
    src.close()
    return backup_dir / name


def place_recorded_backup(backup_dir, name, source, kind=None):
    """place_backup, plus the smallest record the extension writes (name, kind, creation time): a backup
    it made, as far as retention is concerned."""
    path = place_backup(backup_dir, name, source)
    if kind is None:
        kind = "safety" if "_safety_" in name else "manual"
    stamp = datetime.datetime.strptime(name.split("_backup_")[-1].split("_safety_")[-1][:19], "%Y-%m-%d_%H-%M-%S")
    ns = int(stamp.replace(tzinfo=datetime.timezone.utc).timestamp()) * 1_000_000_000
    (pathlib.Path(backup_dir) / (name + ".meta")).write_text(
        f"wecare_backup_meta 1\nname={name}\nkind={kind}\ncreated_ns={ns}\n")
    return path


def table_rows(path, sql):
    """Query a database file read-only (immutable: leaves nothing beside it)."""
    c = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return c.execute(sql).fetchall()
    finally:
        c.close()


def poll(predicate, timeout=15.0, interval=0.05):
    """Wait until predicate() is true; return its last value. Never a timing assertion."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def tree_state(root):
    """Every entry under root (not following links): path -> (mode, size, mtime_ns, content digest)."""
    import hashlib
    root = pathlib.Path(root)
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for entry in dirnames + filenames:
            p = pathlib.Path(dirpath) / entry
            st = os.lstat(p)
            digest = None
            if stat.S_ISREG(st.st_mode):
                digest = hashlib.sha256(p.read_bytes()).hexdigest()
            out[str(p.relative_to(root))] = (st.st_mode, st.st_size, st.st_mtime_ns, digest)
    return out


def subprocess_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(TESTS)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def run_python(code, *args, timeout=60, prefix=(), **kw):
    """Run Debian's python on `code` in a second process; `from conftest import ...` works there."""
    cmd = list(prefix) + [PYTHON, "-c", code] + [str(a) for a in args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=subprocess_env(), **kw)


def spawn_python(code, *args, **kw):
    cmd = [PYTHON, "-c", code] + [str(a) for a in args]
    return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=subprocess_env(), **kw)


def without_root_override():
    """A command prefix under which file permissions apply even to root (who ignores them otherwise)."""
    if os.geteuid() != 0:
        return []
    if not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv: permissions cannot be enforced")
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner"]


@pytest.fixture
def delete_db_path(tmp_path):
    """The sample database in rollback-journal (DELETE) mode."""
    return make_sample(tmp_path / "wecare.db", wal=False)


@pytest.fixture
def other_db(tmp_path):
    """A second, unrelated valid database to hand-place into the backup dir."""
    path = tmp_path / "elsewhere" / "source.db"
    path.parent.mkdir()
    return make_sample(path, patients=5, wal=False)


def make_big(path, megabytes, wal=True):
    """A database of about `megabytes` MB, with an `events` table and a `counter` kept equal to its row count."""
    c = sqlite3.connect(str(path), isolation_level=None)
    c.execute(f"PRAGMA journal_mode={'WAL' if wal else 'DELETE'}")
    c.executescript(
        """
        CREATE TABLE blobs(id INTEGER PRIMARY KEY, data BLOB);
        CREATE TABLE events(id INTEGER PRIMARY KEY, payload BLOB);
        CREATE TABLE counter(n INTEGER NOT NULL);
        INSERT INTO counter VALUES (0);
        BEGIN;
        """
    )
    c.execute("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?) "
              "INSERT INTO blobs(data) SELECT randomblob(1000) FROM s", (megabytes * 1000,))
    c.execute("COMMIT")
    c.close()
    return path


@pytest.fixture(scope="session")
def big_template(tmp_path_factory):
    base = tmp_path_factory.mktemp("big")
    return {"wal": make_big(base / "wal.db", 30, wal=True),
            "delete": make_big(base / "delete.db", 30, wal=False)}


@pytest.fixture
def big_db(tmp_path, big_template):
    """A copy of a 30 MB WAL database (see make_big)."""
    dst = tmp_path / "big.db"
    shutil.copyfile(big_template["wal"], dst)
    return dst


@pytest.fixture
def big_delete_db(tmp_path, big_template):
    """A copy of a 30 MB rollback-journal (DELETE mode) database."""
    dst = tmp_path / "big.db"
    shutil.copyfile(big_template["delete"], dst)
    return dst
