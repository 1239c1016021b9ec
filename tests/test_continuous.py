"""Continuous capture and point-in-time restore (wecare_backup_continuous, wecare_backup_restore_at,
wecare_backup_timeline, wecare_backup_verify('timeline'), wecare_backup_recover with a time).

Times are compared the way the README states the resolution: a transaction's time is the time it was
captured, within one capture interval of its commit. No test asserts how long anything takes."""
import json
import os
import signal
import sqlite3
import threading
import time

import pytest

from conftest import EXT, PHRASE, config, connect, listing, load, make_sample, one, poll, spawn_python, sql_error

INTERVAL_MS = 100


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ("%.6f" % (t % 1))[1:] + "Z"


def timeline(conn):
    cur = conn.execute("SELECT * FROM wecare_backup_timeline")
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def continuous(conn):
    return json.loads(one(conn, "SELECT wecare_backup_stats()"))["continuous"]


def captured_since(conn, t):
    """Waits until a restore point at or after `t` exists (every commit before `t` is then captured)."""
    return poll(lambda: (continuous(conn)["last_captured_at"] or "") >= iso(t))


def files(backup_dir, kind):
    """The backups (kind "_backup_") or segments ("_segment_") in the directory, without their records."""
    if not os.path.isdir(backup_dir):
        return []
    return sorted(n for n in os.listdir(backup_dir)
                  if kind in n and not n.endswith((".meta", ".manifest")) and not n.startswith("."))


def materialise(backup_dir, prefix, at, target):
    """The database at `at`, recovered into a new file `target` (the live one is left alone)."""
    mem = connect(":memory:")
    config(mem, "dir", str(backup_dir))
    config(mem, "prefix", prefix)
    out = json.loads(one(mem, "SELECT wecare_backup_recover(?, ?, ?)", str(target), at, PHRASE))
    mem.close()
    return out


def ids(path):
    c = sqlite3.connect(str(path))
    try:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {r[0] for r in c.execute("SELECT id FROM events")}
    finally:
        c.close()


@pytest.fixture
def app(tmp_path):
    db = tmp_path / "app.db"
    c = sqlite3.connect(str(db), isolation_level=None)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("CREATE TABLE events(id INTEGER PRIMARY KEY, at REAL, payload TEXT)")
    c.close()
    conn = connect(db)
    yield conn, db, tmp_path / "backups"
    try:
        one(conn, "SELECT wecare_backup_continuous(0)")
    except sqlite3.Error:
        pass
    conn.close()


def test_capture_needs_wal_mode(delete_db_path):
    conn = connect(delete_db_path)
    error = sql_error(conn, "SELECT wecare_backup_continuous()")
    assert error.startswith("wecare_backup_continuous") and "PRAGMA journal_mode=WAL" in error
    conn.close()


def test_arguments(app):
    conn, _, _ = app
    assert "at least 100" in sql_error(conn, "SELECT wecare_backup_continuous(50)")
    assert "whole number" in sql_error(conn, "SELECT wecare_backup_continuous('soon')")
    assert one(conn, "SELECT wecare_backup_continuous('200')") == 1  # digits as text, as for schedule
    assert one(conn, "SELECT wecare_backup_continuous(300)") == 1  # re-timed
    assert continuous(conn)["interval_ms"] == 300
    assert one(conn, "SELECT wecare_backup_continuous(0)") == 0
    assert continuous(conn)["state"] == "stopped"
    for bad in ("yesterday", "2026-13-01T00:00:00Z", "2026-01-01T00:00:00.1234567Z", "2026-01-01 00:00"):
        error = sql_error(conn, "SELECT wecare_backup_restore_at(?, ?)", bad, PHRASE)
        assert error.startswith("wecare_backup_restore_at") and "'latest'" in error, bad
    assert "confirmation phrase" in sql_error(conn, "SELECT wecare_backup_restore_at('latest', 'yes')")


def test_every_commit_is_restorable_to_its_time(app, tmp_path):
    conn, db, backups = app
    assert one(conn, "SELECT wecare_backup_continuous(?)", INTERVAL_MS) == 1
    committed = []  # (time after commit, id)
    for i in range(1, 41):
        conn.execute("INSERT INTO events(id, at, payload) VALUES (?, ?, ?)", (i, time.time(), "x" * (i * 37)))
        committed.append((time.time(), i))
        time.sleep(0.02 if i % 5 else 0.15)
    assert poll(lambda: continuous(conn)["lag_ms"] == 0 and (continuous(conn)["last_captured_at"] or "") >=
                iso(committed[-1][0]))
    rows = timeline(conn)
    assert [r["kind"] for r in rows] == ["range"]
    slack = (INTERVAL_MS + 300) / 1000
    checked = 0
    for k, (t, _) in enumerate(committed[::4]):
        at = t + 0.01
        out = materialise(backups, "app", iso(at), tmp_path / f"at{k}.db")
        got = ids(tmp_path / f"at{k}.db")
        # Nothing committed after the instant; everything committed a capture interval before it.
        assert all(i <= max(n for c, n in committed if c <= at) for i in got)
        assert {n for c, n in committed if c <= at - slack} <= got
        assert out["restored_to"] <= iso(at)
        checked += 1
    assert checked == 10
    # 'latest' holds every commit.
    materialise(backups, "app", "latest", tmp_path / "latest.db")
    assert ids(tmp_path / "latest.db") == {n for _, n in committed}


def test_restore_at_replaces_the_database_with_a_safety_backup(app):
    conn, _, _ = app
    one(conn, "SELECT wecare_backup_continuous(?)", INTERVAL_MS)
    conn.execute("INSERT INTO events(id) VALUES (1)")
    assert captured_since(conn, time.time())
    time.sleep(0.05)
    middle = time.time()
    time.sleep(0.05)
    conn.execute("INSERT INTO events(id) VALUES (2)")
    assert captured_since(conn, time.time())
    result = json.loads(one(conn, "SELECT wecare_backup_restore_at(?, ?)", iso(middle), PHRASE))
    assert set(result) == {"restored_to", "base", "segments", "safety_backup", "pages"}
    assert result["restored_to"] <= iso(middle) and result["segments"] >= 1
    assert result["safety_backup"] and result["base"].startswith("app_backup_")
    assert [r[0] for r in conn.execute("SELECT id FROM events")] == [1]
    # The restore is not captured as a restore point: the timeline starts again after it.
    assert poll(lambda: [r["kind"] for r in timeline(conn)] == ["range", "gap", "range"])
    assert timeline(conn)[1]["gap_reason"] == "restored"
    # The safety backup holds what was replaced.
    names = [r["name"] for r in listing(conn)]
    assert result["safety_backup"] in names


def test_times_outside_the_timeline_name_the_nearest_points(app):
    conn, _, _ = app
    assert "no timeline" in sql_error(conn, "SELECT wecare_backup_restore_at('latest', ?)", PHRASE)
    one(conn, "SELECT wecare_backup_continuous(?)", INTERVAL_MS)
    conn.execute("INSERT INTO events(id) VALUES (1)")
    assert captured_since(conn, time.time())
    rows = timeline(conn)
    error = sql_error(conn, "SELECT wecare_backup_restore_at('2001-01-01 00:00:00', ?)", PHRASE)
    assert "before the oldest restore point" in error and rows[0]["from_at"] in error
    error = sql_error(conn, "SELECT wecare_backup_restore_at('2200-01-01T00:00:00Z', ?)", PHRASE)
    assert "after the newest restore point" in error and "'latest'" in error


def test_an_idle_database_writes_nothing(app):
    conn, _, backups = app
    one(conn, "SELECT wecare_backup_continuous(?)", INTERVAL_MS)
    conn.execute("INSERT INTO events(id) VALUES (1)")
    assert captured_since(conn, time.time())
    before = {n: os.path.getsize(backups / n) for n in os.listdir(backups)}
    time.sleep(1.0)  # ten intervals
    assert {n: os.path.getsize(backups / n) for n in os.listdir(backups)} == before


def test_a_restart_continues_the_timeline_without_a_new_base(app):
    conn, _, backups = app
    one(conn, "SELECT wecare_backup_continuous(?)", INTERVAL_MS)
    conn.execute("INSERT INTO events(id) VALUES (1)")
    assert captured_since(conn, time.time())
    bases = files(backups, "_backup_")
    one(conn, "SELECT wecare_backup_continuous(0)")
    # Committed while nothing captured, still in the log: captured when capture starts again.
    conn.execute("INSERT INTO events(id) VALUES (2)")
    one(conn, "SELECT wecare_backup_continuous(?)", INTERVAL_MS)
    assert poll(lambda: continuous(conn)["lag_ms"] == 0)
    assert files(backups, "_backup_") == bases
    assert [r["kind"] for r in timeline(conn)] == ["range"]


def test_reopening_the_database_costs_no_new_base(tmp_path):
    db = tmp_path / "app.db"
    make_sample(db)
    backups = tmp_path / "backups"
    for round_ in range(3):
        c = connect(db)
        one(c, "SELECT wecare_backup_continuous(?)", INTERVAL_MS)
        c.execute("INSERT INTO patients(name) VALUES (?)", (f"round {round_}",))
        assert captured_since(c, time.time())
        c.close()  # the last connection: SQLite checkpoints and deletes the log
    # One base for the three runs: each start proved the database unchanged since the last point.
    assert len(files(backups, "_backup_")) == 1
    c = connect(db)
    rows = timeline(c)
    assert [r["kind"] for r in rows] == ["range", "gap", "range", "gap", "range"]
    assert {r["gap_reason"] for r in rows if r["kind"] == "gap"} == {"capture_off"}
    c.close()


def test_changes_while_capture_was_off_start_a_new_base_after_a_gap(tmp_path):
    db = tmp_path / "app.db"
    make_sample(db)
    backups = tmp_path / "backups"
    c = connect(db)
    one(c, "SELECT wecare_backup_continuous(?)", INTERVAL_MS)
    assert poll(lambda: continuous(c)["state"] == "capturing")
    c.close()
    other = sqlite3.connect(str(db))
    other.execute("INSERT INTO patients(name) VALUES ('while off')")
    other.commit()
    other.close()
    c = connect(db)
    one(c, "SELECT wecare_backup_continuous(?)", INTERVAL_MS)
    assert poll(lambda: [r["kind"] for r in timeline(c)] == ["range", "gap", "range"])
    assert timeline(c)[1]["gap_reason"] == "capture_off"
    bases = [r for r in listing(c) if r["label"] == "continuous capture base"]
    assert len(bases) == 2 and bases[0]["type"] == "incremental"  # a restart never costs a full copy
    c.close()


def test_the_log_stays_bounded_under_a_writer(app, tmp_path):
    conn, db, backups = app
    config(conn, "wal_max_bytes", 1 << 20)
    one(conn, "SELECT wecare_backup_continuous(?)", INTERVAL_MS)
    writer = sqlite3.connect(str(db), isolation_level=None, timeout=30)
    biggest = 0
    for i in range(1, 601):
        writer.execute("INSERT INTO events(id, payload) VALUES (?, ?)", (i, os.urandom(8000).hex()))
        if i % 20 == 0:
            biggest = max(biggest, os.path.getsize(str(db) + "-wal"))
            time.sleep(0.02)
    writer.close()
    assert poll(lambda: continuous(conn)["lag_ms"] == 0)
    assert continuous(conn)["checkpoints"] >= 1
    assert biggest <= 4 << 20, biggest  # about 10 MB were written through it
    materialise(backups, "app", "latest", tmp_path / "latest.db")
    assert ids(tmp_path / "latest.db") == set(range(1, 601))
    assert json.loads(one(conn, "SELECT wecare_backup_verify('timeline')"))["ok"]


def test_verify_timeline_finds_a_damaged_segment_and_restore_refuses_it(app):
    conn, _, backups = app
    one(conn, "SELECT wecare_backup_continuous(?)", INTERVAL_MS)
    for i in range(1, 6):
        conn.execute("INSERT INTO events(id, payload) VALUES (?, ?)", (i, "p" * 3000))
        time.sleep(0.15)
    assert poll(lambda: continuous(conn)["lag_ms"] == 0)
    one(conn, "SELECT wecare_backup_continuous(0)")
    good = json.loads(one(conn, "SELECT wecare_backup_verify('timeline')"))
    assert good["ok"] and good["ranges"] == 1 and good["gaps"] == 0 and good["integrity"] == "ok"
    segment = backups / files(backups, "_segment_")[0]
    data = bytearray(segment.read_bytes())
    data[512 + 96 + 100] ^= 0xFF  # inside the first point's first page
    segment.write_bytes(bytes(data))
    bad = json.loads(one(conn, "SELECT wecare_backup_verify('timeline')"))
    assert not bad["ok"] and any("damaged" in e for e in bad["errors"])
    before = [r[0] for r in conn.execute("SELECT id FROM events")]
    error = sql_error(conn, "SELECT wecare_backup_restore_at('latest', ?)", PHRASE)
    assert "does not match the hash" in error or "failed" in error
    assert [r[0] for r in conn.execute("SELECT id FROM events")] == before


WRITER = r"""
import sqlite3, sys, time
db = sys.argv[1]
c = sqlite3.connect(db, isolation_level=None, timeout=30)
c.execute("PRAGMA synchronous=FULL")
print("ready", flush=True)
n = 0
while True:
    n += 1
    print("try", n, flush=True)
    c.execute("INSERT INTO events(id, at) VALUES (?, ?)", (n, time.time()))
    print("ack", n, time.time(), flush=True)
    time.sleep(0.005)
"""

CAPTURER = r"""
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, check_same_thread=False)
c.enable_load_extension(True); c.load_extension(sys.argv[2])
c.execute("SELECT wecare_backup_config('dir', ?)", (sys.argv[3],)).fetchone()
print("state", c.execute("SELECT wecare_backup_continuous(?)", (int(sys.argv[4]),)).fetchone()[0], flush=True)
while True:
    time.sleep(0.05)
    print(c.execute("SELECT wecare_backup_stats()").fetchone()[0], flush=True)
"""


def test_rpo_every_acknowledged_row_survives_a_lost_disk(tmp_path):
    """The capture runs at 200 ms with its directory on another disk; every process is killed and the
    database, its -wal and -shm are deleted. 'latest' holds every row acknowledged interval + 200 ms before
    the kill, no row never committed, and passes integrity_check."""
    disk = tmp_path / "disk"
    disk.mkdir()
    db = disk / "app.db"
    c = sqlite3.connect(str(db), isolation_level=None)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("CREATE TABLE events(id INTEGER PRIMARY KEY, at REAL, payload TEXT)")
    c.close()
    other_disk = tmp_path / "other_disk"
    other_disk.mkdir(mode=0o700)
    backups = other_disk / "backups"
    backups.mkdir(mode=0o700)  # a configured directory is never created
    capturer = spawn_python(CAPTURER, db, EXT, backups, 200)
    assert capturer.stdout.readline().split()[1] in ("1", "2")
    writer = spawn_python(WRITER, db)
    assert writer.stdout.readline().strip() == "ready"
    time.sleep(3.0)
    killed_at = time.time()
    for p in (writer, capturer):
        p.send_signal(signal.SIGKILL)
    acks, tried = [], 0
    for line in writer.communicate()[0].splitlines():
        parts = line.split()
        if parts and parts[0] == "ack":
            acks.append((int(parts[1]), float(parts[2])))
        elif parts and parts[0] == "try":
            tried = max(tried, int(parts[1]))
    capturer.communicate()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(str(db) + suffix):
            os.remove(str(db) + suffix)
    assert len(acks) > 100
    target = tmp_path / "restored" / "app.db"
    target.parent.mkdir()
    materialise(backups, "app", "latest", target)
    got = ids(target)
    must = {n for n, t in acks if t <= killed_at - 0.2 - 0.2}
    assert must <= got, f"lost {sorted(must - got)[:10]} of {len(must)}"
    assert max(got) <= tried  # nothing that was never committed


STANDBY = r"""
import sqlite3, sys, time, json
c = sqlite3.connect(sys.argv[1], isolation_level=None, check_same_thread=False)
c.enable_load_extension(True); c.load_extension(sys.argv[2])
print("state", c.execute("SELECT wecare_backup_continuous(100)").fetchone()[0], flush=True)
while True:
    time.sleep(0.05)
    s = json.loads(c.execute("SELECT wecare_backup_stats()").fetchone()[0])["continuous"]
    print("now", s["state"], flush=True)
"""


def test_one_capturer_per_database_and_a_standby_takes_over(app):
    conn, db, backups = app
    first = spawn_python(STANDBY, db, EXT)
    assert first.stdout.readline().split() == ["state", "1"]
    second = spawn_python(STANDBY, db, EXT)
    assert second.stdout.readline().split() == ["state", "2"]
    assert second.stdout.readline().split() == ["now", "standby"]
    conn.execute("INSERT INTO events(id) VALUES (1)")
    assert captured_since(conn, time.time())  # by the first, from its timeline on disk
    first.send_signal(signal.SIGKILL)
    first.communicate()
    killed = time.time()
    while True:
        line = second.stdout.readline().split()
        if line == ["now", "capturing"]:
            break
        assert time.time() - killed < 30, "the standby never took over"
    conn.execute("INSERT INTO events(id) VALUES (2)")
    assert poll(lambda: len(timeline(conn)) >= 1 and timeline(conn)[-1]["to_at"] >= iso(killed))
    second.send_signal(signal.SIGKILL)
    second.communicate()
    # The log still held where the first stopped: no gap, no second base.
    assert [r["kind"] for r in timeline(conn)] == ["range"], timeline(conn)
