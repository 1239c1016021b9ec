"""wecare_backup_recover(db_path, name, confirm): the database file is damaged or gone, so no statement
can be prepared on it; it is restored from any connection, the damaged file kept beside it."""
import json
import os
import signal
import sqlite3
import subprocess

import pytest

from conftest import EXT, PHRASE, config, connect, create, load, make_sample, one, sql_error, spawn_python


def recover(conn, db, name):
    return json.loads(one(conn, "SELECT wecare_backup_recover(?, ?, ?)", str(db), name, PHRASE))


@pytest.fixture
def memory():
    c = load(sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False))
    yield c
    c.close()


def rows(db):
    c = sqlite3.connect(str(db))
    try:
        return (c.execute("SELECT count(*) FROM patients").fetchone()[0],
                c.execute("PRAGMA journal_mode").fetchone()[0], c.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        c.close()


def backup_of(db):
    c = connect(db)
    name = create(c)
    c.close()
    return name


def test_a_damaged_header_is_recovered_and_the_damaged_file_kept(db_path, memory):
    name = backup_of(db_path)
    with open(db_path, "r+b") as f:
        f.write(b"this is not sqlite")
    damaged = db_path.read_bytes()
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(str(db_path)).execute("SELECT 1 FROM patients").fetchall()
    result = recover(memory, db_path, name)
    assert result["recovered"] == name and result["pages"] > 0
    assert result["journal_mode"] == "wal"  # the backup's source was in WAL mode
    assert open(result["damaged_as"], "rb").read() == damaged
    assert rows(db_path) == (200, "wal", "ok")


def test_a_truncated_database_is_recovered(db_path, memory):
    name = backup_of(db_path)
    with open(db_path, "r+b") as f:
        f.truncate(os.path.getsize(db_path) // 3)
    result = recover(memory, db_path, name)
    assert result["damaged_as"] and os.path.exists(result["damaged_as"])
    assert rows(db_path)[0] == 200


def test_a_missing_database_is_recovered_with_no_damaged_file(db_path, memory):
    name = backup_of(db_path)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(str(db_path) + suffix):
            os.remove(str(db_path) + suffix)
    result = recover(memory, db_path, name)
    assert result["damaged_as"] is None
    assert rows(db_path) == (200, "wal", "ok")


def test_a_rollback_journal_database_comes_back_in_rollback_mode(delete_db_path, memory):
    name = backup_of(delete_db_path)
    os.remove(delete_db_path)
    assert recover(memory, delete_db_path, name)["journal_mode"] == "delete"
    assert rows(delete_db_path) == (200, "delete", "ok")


def test_the_write_ahead_log_of_a_damaged_database_is_moved_aside_too(tmp_path, memory):
    db = make_sample(tmp_path / "wecare.db")
    name = backup_of(db)
    # A process commits and dies without a checkpoint: its -wal holds the newest commits.
    child = spawn_python("import sqlite3, sys, os\n"
                         "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
                         "c.execute('PRAGMA wal_autocheckpoint=0')\n"
                         "c.execute(\"INSERT INTO patients(name) VALUES ('late')\")\n"
                         "print('ready', flush=True)\n"
                         "sys.stdin.read()\n", db)
    assert child.stdout.readline().strip() == "ready"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    wal = db.parent / "wecare.db-wal"
    assert wal.exists() and wal.stat().st_size > 0
    log = wal.read_bytes()
    with open(db, "r+b") as f:
        f.write(b"\x00" * 100)
    result = recover(memory, db, name)
    assert open(result["damaged_as"] + "-wal", "rb").read() == log
    assert rows(db)[0] == 200


def test_recovery_is_refused_while_another_process_has_the_database_open_in_wal_mode(db_path, memory):
    name = backup_of(db_path)
    child = spawn_python("import sqlite3, sys\n"
                         "c = sqlite3.connect(sys.argv[1])\n"
                         "c.execute('SELECT count(*) FROM patients').fetchall()\n"
                         "print('ready', flush=True)\n"
                         "sys.stdin.read()\n", db_path)
    try:
        assert child.stdout.readline().strip() == "ready"
        before = db_path.read_bytes()
        msg = sql_error(memory, "SELECT wecare_backup_recover(?, ?, ?)", str(db_path), name, PHRASE)
        assert msg.startswith("wecare_backup_recover: ") and "in use" in msg, msg
        assert db_path.read_bytes() == before
        assert not [p for p in db_path.parent.iterdir() if ".damaged-" in p.name]
    finally:
        child.stdin.close()
        child.wait()


def test_a_name_that_is_not_a_backup_is_refused_and_nothing_changes(db_path, memory):
    backup_of(db_path)
    before = db_path.read_bytes()
    for bad in ["wecare_backup_2001-01-01_00-00-00.db", "../../etc/passwd", "other_backup_2026-01-01_00-00-00.db"]:
        msg = sql_error(memory, "SELECT wecare_backup_recover(?, ?, ?)", str(db_path), bad, PHRASE)
        assert msg.startswith("wecare_backup_recover: "), msg
    assert db_path.read_bytes() == before


def test_the_phrase_is_required(db_path, memory):
    name = backup_of(db_path)
    msg = sql_error(memory, "SELECT wecare_backup_recover(?, ?, 'yes')", str(db_path), name)
    assert "confirmation phrase" in msg


def test_the_calling_connections_own_database_is_refused(db_path):
    name = backup_of(db_path)
    conn = connect(db_path)
    msg = sql_error(conn, "SELECT wecare_backup_recover(?, ?, ?)", str(db_path), name, PHRASE)
    assert "this connection's own database" in msg
    conn.close()


def test_a_relative_dir_is_taken_from_the_databases_folder(tmp_path, memory):
    db = make_sample(tmp_path / "app" / "clinic.db") if (tmp_path / "app").mkdir() is None else None
    os.mkdir(tmp_path / "app" / "safe", 0o700)
    c = connect(db)
    config(c, "dir", "safe")
    name = create(c)
    c.close()
    os.remove(db)
    config(memory, "dir", "safe")
    assert recover(memory, db, name)["recovered"] == name
    assert rows(db)[0] == 200


def test_the_shell_recovers_from_an_in_memory_connection(db_path):
    name = backup_of(db_path)
    os.remove(db_path)
    out = subprocess.run(["sqlite3", ":memory:", f".load {EXT}",
                          f"SELECT json_extract(wecare_backup_recover('{db_path}', '{name}', '{PHRASE}'), '$.pages') > 0"],
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "1", out.stderr
    assert rows(db_path)[0] == 200
