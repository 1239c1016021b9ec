"""Clear errors: each names the function, says what went wrong and what to do."""
import fcntl
import os
import resource
import signal
import sqlite3

import pytest

from conftest import (PHRASE, config, connect, create, make_sample, names, one, run_python,
                      sql_error, stats, verify, without_root_override)


def test_a_missing_backup_directory_parent_is_a_clear_error(conn, tmp_path):
    missing = tmp_path / "no" / "such" / "place"
    config(conn, "dir", str(missing))
    msg = sql_error(conn, "SELECT wecare_backup_create()")
    assert msg.startswith("wecare_backup_create: ")
    assert str(missing) in msg
    assert "does not exist; create it" in msg
    assert not (tmp_path / "no").exists()


def test_a_backup_directory_that_is_a_file_is_a_clear_error(conn, tmp_path):
    (tmp_path / "backups").write_text("not a directory")
    msg = sql_error(conn, "SELECT wecare_backup_create()")
    assert msg.startswith("wecare_backup_create: ")
    assert "not a directory" in msg
    assert (tmp_path / "backups").read_text() == "not a directory"


def test_an_unwritable_backup_directory_is_a_clear_error_and_deletes_nothing(conn, backup_dir, db_path):
    config(conn, "keep_last", 10)
    made = [create(conn) for _ in range(3)]
    os.chmod(backup_dir, 0o500)
    try:
        out = run_python(
            "import sys, sqlite3\n"
            "from conftest import connect\n"
            "c = connect(sys.argv[1])\n"
            "c.execute(\"SELECT wecare_backup_config('keep_last', 1)\")\n"
            "try:\n"
            "    print(c.execute('SELECT wecare_backup_create()').fetchone()[0])\n"
            "except sqlite3.Error as e:\n"
            "    print('ERROR', e)\n", db_path, prefix=without_root_override())
    finally:
        os.chmod(backup_dir, 0o700)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ERROR wecare_backup_create: "), out.stdout
    assert "permission" in out.stdout.lower()
    assert set(names(conn)) == set(made)
    assert all(verify(conn, n)["ok"] for n in made)


FULL_DISK = """
import sys, sqlite3
from conftest import connect
c = connect(sys.argv[1])
try:
    print(c.execute('SELECT wecare_backup_create()').fetchone()[0])
except sqlite3.Error as e:
    print('ERROR', e)
"""


def limit_file_size(limit):
    def preexec():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return preexec


def test_a_full_disk_is_a_clear_error_that_leaves_old_backups_intact(tmp_path):
    db = make_sample(tmp_path / "wecare.db", patients=8000)  # about 2 MB
    c = connect(db)
    old = create(c)
    out = run_python(FULL_DISK, db, preexec_fn=limit_file_size(512 * 1024))
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ERROR wecare_backup_create: "), out.stdout
    assert "limit" in out.stdout or "space" in out.stdout
    # No partial file is listed or left behind, the old backup is intact, nothing was rotated.
    assert names(c) == [old]
    assert sorted(os.listdir(tmp_path / "backups")) == sorted([old, old + ".meta", old + ".manifest", ".wecare_backup.lock"])
    assert verify(c, old)["ok"] is True
    # Once there is room again, the next run succeeds.
    out = run_python(FULL_DISK, db)
    assert out.stdout.startswith("wecare_backup_"), out.stdout + out.stderr
    assert len(names(c)) == 2
    c.close()


def test_a_full_disk_is_reported_in_stats_of_that_process(tmp_path):
    db = make_sample(tmp_path / "wecare.db", patients=8000)
    out = run_python(FULL_DISK + "import json\nprint(json.loads(c.execute('SELECT wecare_backup_stats()')"
                                 ".fetchone()[0])['last_error'])\n", db,
                     preexec_fn=limit_file_size(512 * 1024))
    lines = out.stdout.splitlines()
    assert lines[0].startswith("ERROR wecare_backup_create: "), out.stdout + out.stderr
    assert lines[1] not in ("", "None")


def test_a_locked_database_is_a_busy_error_that_says_to_try_again(delete_db_path):
    c = connect(delete_db_path)
    config(c, "busy_timeout_ms", 200)
    holder = sqlite3.connect(str(delete_db_path), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        msg = sql_error(c, "SELECT wecare_backup_create()")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert msg.startswith("wecare_backup_create: ")
    assert "busy" in msg and "try again" in msg
    assert names(c) == []
    assert create(c)  # and works once the lock is gone
    c.close()


def test_restore_while_another_connection_writes_is_a_busy_error_and_changes_nothing(conn, db_path):
    name = create(conn)
    conn.execute("DELETE FROM patients")
    config(conn, "busy_timeout_ms", 200)
    writer = sqlite3.connect(str(db_path), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO users(email) VALUES ('busy@x')")
    try:
        msg = sql_error(conn, "SELECT wecare_backup_restore(?, ?)", name, PHRASE)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert msg.startswith("wecare_backup_restore: ")
    assert "busy" in msg
    assert one(conn, "SELECT count(*) FROM patients") == 0
    assert one(conn, "SELECT count(*) FROM users") == 2


@pytest.mark.parametrize("sql", ["SELECT wecare_backup_create()", "SELECT wecare_backup_cleanup()",
                                 "SELECT wecare_backup_restore(?, '" + PHRASE + "')"])
def test_create_cleanup_and_restore_wait_for_the_directory_lock(conn, backup_dir, sql):
    name = create(conn)
    config(conn, "busy_timeout_ms", 150)
    before = names(conn)
    with open(backup_dir / ".wecare_backup.lock", "r+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process's backup, as far as the extension can tell
        args = [name] if "?" in sql else []
        msg = sql_error(conn, sql, *args)
    fn = sql.split("(")[0].split()[-1]
    assert msg.startswith(fn + ": ")
    assert "try again" in msg
    assert names(conn) == before


def test_an_unknown_backup_error_says_where_to_look(conn):
    create(conn)
    for sql in ["SELECT wecare_backup_verify(?)", "SELECT wecare_backup_path(?)",
                "SELECT wecare_backup_restore(?, '" + PHRASE + "')"]:
        msg = sql_error(conn, sql, "wecare_backup_1999-12-31_23-59-59.db")
        assert "wecare_backup_1999-12-31_23-59-59.db" in msg
        assert "SELECT name FROM wecare_backup_list" in msg


def test_a_wrong_confirmation_phrase_error_quotes_the_phrase(conn):
    name = create(conn)
    msg = sql_error(conn, "SELECT wecare_backup_restore(?, 'yes')", name)
    assert msg.startswith("wecare_backup_restore: ")
    assert f"'{PHRASE}'" in msg


@pytest.mark.parametrize("sql", [
    "SELECT wecare_backup_create(1, 2)", "SELECT wecare_backup_verify()", "SELECT wecare_backup_restore('x')",
    "SELECT wecare_backup_export('x')", "SELECT wecare_backup_config()", "SELECT wecare_backup_schedule()"])
def test_a_wrong_number_of_arguments_is_an_error(conn, sql):
    msg = sql_error(conn, sql)
    assert "wrong number of arguments" in msg


LOGGER = """
import ctypes, sys
lib = ctypes.CDLL("libsqlite3.so.0")
CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p)
@CB
def log(arg, code, msg):
    print("LOG", code, msg.decode(errors="replace"), flush=True)
assert lib.sqlite3_config(16, log, None) == 0  # SQLITE_CONFIG_LOG, before SQLite initialises
import sqlite3
from conftest import connect
c = connect(sys.argv[1])
c.execute("SELECT wecare_backup_config('critical_tables', 'appointments')")
try:
    c.execute("SELECT wecare_backup_create()")
except sqlite3.Error as e:
    print("ERROR", e, flush=True)
"""


def test_errors_also_go_to_the_sqlite_log(db_path):
    out = run_python(LOGGER, db_path)
    assert "ERROR wecare_backup_create: " in out.stdout, out.stdout + out.stderr
    logged = [line for line in out.stdout.splitlines() if line.startswith("LOG ")]
    assert any("wecare_backup_create: " in line and "appointments" in line for line in logged), out.stdout


BAD_VALUES = {"null": "NULL", "integer": "7", "real": "2.5", "blob": "x'0102'", "empty": "''",
              "huge": "'" + "z" * 1_000_000 + "'"}
# Each argument that takes text, with the other arguments valid.
TEXT_ARGUMENTS = [
    ("wecare_backup_verify", "SELECT wecare_backup_verify({})"),
    ("wecare_backup_restore", "SELECT wecare_backup_restore({}, '" + PHRASE + "')"),
    ("wecare_backup_restore", "SELECT wecare_backup_restore(:name, {})"),
    ("wecare_backup_export", "SELECT wecare_backup_export({}, :dir)"),
    ("wecare_backup_export", "SELECT wecare_backup_export(:name, {})"),
    ("wecare_backup_path", "SELECT wecare_backup_path({})"),
    ("wecare_backup_config", "SELECT wecare_backup_config({})"),
    ("wecare_backup_config", "SELECT wecare_backup_config({}, '1')"),
    ("wecare_backup_config", "SELECT wecare_backup_config('keep_last', {})"),
    ("wecare_backup_schedule", "SELECT wecare_backup_schedule({})"),
]


@pytest.mark.parametrize("bad", BAD_VALUES, ids=list(BAD_VALUES))
@pytest.mark.parametrize("fn,template", TEXT_ARGUMENTS,
                         ids=[f"{f}-{i}" for i, (f, _) in enumerate(TEXT_ARGUMENTS)])
def test_bad_input_is_an_error_naming_the_function(conn, tmp_path, fn, template, bad):
    if bad == "integer" and template.endswith(("schedule({})", "'keep_last', {})")):
        pytest.skip("7 is a valid value here")
    name = create(conn)
    before = names(conn)
    sql = template.format(BAD_VALUES[bad])
    params = {k: v for k, v in {"name": name, "dir": str(tmp_path)}.items() if f":{k}" in sql}
    with pytest.raises(sqlite3.Error) as info:
        conn.execute(sql, params).fetchall()
    msg = str(info.value)
    assert msg.startswith(fn + ": "), msg[:200]
    assert "internal error" not in msg
    assert names(conn) == before
    assert one(conn, "SELECT count(*) FROM patients") == 200
    assert stats(conn)["schedule_seconds"] == 0


# Refusals of each kind the extension raises in a state where the call cannot run (misuse), for a
# backup that does not exist (not_found), and for a bad argument: drivers must see them as
# operational errors, i.e. SQLITE_ERROR or SQLITE_PERM, never SQLITE_MISUSE (Python: InterfaceError),
# SQLITE_AUTH (DatabaseError) or SQLITE_NOTFOUND (InternalError).
@pytest.mark.parametrize("case", ["in-transaction", "read-only", "unknown-backup", "memory-schedule", "bad-phrase"])
def test_every_refusal_is_an_operational_error(db_path, case):
    c = connect(f"file:{db_path}?mode=ro" if case == "read-only" else
                ":memory:" if case == "memory-schedule" else db_path,
                **({"uri": True} if case == "read-only" else {}))
    name = "wecare_backup_2020-01-01_00-00-00.db"
    if case in ("in-transaction", "read-only", "bad-phrase"):
        rw = connect(db_path)
        name = create(rw)
        rw.close()
    sql, args = {
        "in-transaction": ("SELECT wecare_backup_restore(?, ?)", (name, PHRASE)),
        "read-only": ("SELECT wecare_backup_restore(?, ?)", (name, PHRASE)),
        "unknown-backup": ("SELECT wecare_backup_path(?)", (name,)),
        "memory-schedule": ("SELECT wecare_backup_schedule(60)", ()),
        "bad-phrase": ("SELECT wecare_backup_restore(?, 'yes')", (name,)),
    }[case]
    if case == "in-transaction":
        c.execute("BEGIN")
    with pytest.raises(sqlite3.OperationalError) as info:
        c.execute(sql, args).fetchall()
    assert str(info.value).startswith("wecare_backup_")
    c.close()
