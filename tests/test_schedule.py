"""wecare_backup_schedule(seconds): automatic 'auto' backups in this process."""
import os
import re
import time

from conftest import config, connect, create, listing, one, poll, run_python, sql_error, stats, verify


def autos(conn):
    return [r["name"] for r in listing(conn) if r["kind"] == "auto"]


def schedule(conn, seconds):
    return one(conn, "SELECT wecare_backup_schedule(?)", seconds)


def steady_count(conn, seconds=2.2):
    """The number of auto backups, after waiting long enough for a 1 s schedule to have run again."""
    time.sleep(seconds)
    return len(autos(conn))


def test_schedule_makes_auto_backups_at_once_and_then_repeatedly(conn):
    config(conn, "keep_last", 100)
    assert schedule(conn, 1) == 1
    made = poll(lambda: len(autos(conn)) >= 2)
    schedule(conn, 0)
    assert made, "a 1 s schedule made fewer than two backups in 15 s"
    rows = [r for r in listing(conn) if r["kind"] == "auto"]
    assert all(r["verify_ok"] == 1 for r in rows)


def test_schedule_zero_stops_the_backups(conn):
    schedule(conn, 1)
    assert poll(lambda: autos(conn))
    assert schedule(conn, 0) == 0
    count = len(autos(conn))
    assert steady_count(conn) == count
    s = stats(conn)
    assert s["schedule_seconds"] == 0 and s["next_run_at"] is None


def test_closing_the_connection_stops_its_schedule(db_path):
    c = connect(db_path)
    schedule(c, 1)
    assert poll(lambda: autos(c))
    c.close()
    watcher = connect(db_path)
    count = len(autos(watcher))
    assert steady_count(watcher) == count
    watcher.close()


def test_schedule_can_be_re_timed(conn):
    schedule(conn, 3600)
    assert poll(lambda: autos(conn))
    assert schedule(conn, 7200) == 1
    assert poll(lambda: stats(conn)["schedule_seconds"] == 7200)
    s = stats(conn)
    schedule(conn, 0)
    # A re-timed schedule counts from the newest backup: nothing is due for two hours.
    assert len(autos(conn)) == 1
    assert s["next_run_at"] is not None


def test_scheduled_backups_obey_the_connections_settings(conn, tmp_path):
    config(conn, "dir", "vault")
    (tmp_path / "vault").mkdir(mode=0o700)
    schedule(conn, 3600)
    assert poll(lambda: autos(conn))
    schedule(conn, 0)
    assert (tmp_path / "vault").is_dir()
    assert not (tmp_path / "backups").exists()


def test_scheduling_the_same_database_twice_does_not_multiply_backups(db_path):
    # Two processes and a second connection here all schedule every second for a few seconds;
    # the skip rule allows at most one backup per second between them.
    script = ("import sys, time\n"
              "from conftest import connect\n"
              "c = connect(sys.argv[1])\n"
              "c.execute(\"SELECT wecare_backup_config('keep_last', 1000)\")\n"
              "c.execute('SELECT wecare_backup_schedule(1)')\n"
              "time.sleep(3.5)\n"
              "c.close()\n")
    a = connect(db_path)
    b = connect(db_path)
    for c in (a, b):
        config(c, "keep_last", 1000)
    started = time.monotonic()
    schedule(a, 1)
    schedule(b, 1)
    out = run_python(script, db_path)
    schedule(a, 0)
    schedule(b, 0)
    elapsed = time.monotonic() - started
    assert out.returncode == 0, out.stderr
    made = autos(a)
    seconds = [re.sub(r"_\d+\.db$", ".db", n) for n in made]
    assert len(set(seconds)) == len(seconds), f"two auto backups within one second: {made}"
    assert 1 <= len(made) <= elapsed + 2
    a.close()
    b.close()


def test_schedule_rejects_bad_intervals(conn):
    for bad in ["-1", "1.5", "'daily'", "NULL", "x'01'", "99999999999"]:
        msg = sql_error(conn, f"SELECT wecare_backup_schedule({bad})")
        assert msg.startswith("wecare_backup_schedule: "), bad
    assert stats(conn)["schedule_seconds"] == 0


def test_schedule_refuses_an_in_memory_database():
    c = connect(":memory:")
    msg = sql_error(c, "SELECT wecare_backup_schedule(60)")
    assert msg.startswith("wecare_backup_schedule: ")
    c.close()


def test_a_scheduled_run_is_skipped_when_a_recent_backup_exists(conn):
    manual = create(conn)
    schedule(conn, 3600)
    assert poll(lambda: stats(conn)["next_run_at"])  # due an hour after the manual backup
    schedule(conn, 0)
    assert [r["name"] for r in listing(conn)] == [manual]


SCHEDULE_LOG = """
import ctypes, sys, time
lib = ctypes.CDLL("libsqlite3.so.0")
CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p)
@CB
def log(arg, code, msg):
    print("LOG", code, msg.decode(errors="replace"), flush=True)
assert lib.sqlite3_config(16, log, None) == 0  # SQLITE_CONFIG_LOG
from conftest import connect
c = connect(sys.argv[1])
c.execute("SELECT wecare_backup_schedule(3600)")
deadline = time.monotonic() + 15
while time.monotonic() < deadline:
    if c.execute("SELECT count(*) FROM wecare_backup_list").fetchone()[0]:
        break
    time.sleep(0.05)
time.sleep(0.2)
c.close()
"""


def test_scheduled_results_go_to_the_sqlite_log(db_path):
    out = run_python(SCHEDULE_LOG, db_path)
    assert out.returncode == 0, out.stderr
    assert any(line.startswith("LOG ") and "wecare_backup_schedule" in line and "wecare_backup_" in line
               for line in out.stdout.splitlines()), out.stdout


def test_closing_the_connection_during_a_scheduled_backup_leaves_no_partial_file(big_db, tmp_path):
    for delay in (0.0, 0.02, 0.05, 0.1):
        c = connect(big_db)
        config(c, "keep_last", 100)
        schedule(c, 3600)
        time.sleep(delay)
        c.close()
    c = connect(big_db)
    config(c, "keep_last", 100)
    listed = {r["name"] for r in listing(c)}
    backups = tmp_path / "backups"
    if backups.exists():
        for entry in os.listdir(backups):
            owner = entry.rsplit(".", 1)[0] if entry.endswith((".meta", ".manifest")) else entry
            assert entry == ".wecare_backup.lock" or owner in listed, entry
    for name in listed:
        assert verify(c, name)["ok"] is True
    c.close()


def test_a_backup_dated_in_the_future_does_not_stop_the_schedule(conn, backup_dir, other_db):
    import datetime
    from conftest import backup_file_name, place_backup
    place_backup(backup_dir, backup_file_name(datetime.datetime(2099, 1, 1)), other_db)
    schedule(conn, 1)
    made = poll(lambda: autos(conn), timeout=5)
    schedule(conn, 0)
    assert made
