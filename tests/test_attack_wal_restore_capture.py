"""Attack: a restore while continuous capture runs in another process. The restore's marker is now
written by the safety thread while the copy may already have restarted the log; the restore's own
transaction must still not be captured as a restore point (one 'restored' gap per restore), and
'latest' must still be the live content."""
import json
import sqlite3
import time

import pytest

from conftest import PHRASE, connect, create, one, poll, spawn_python
from test_attack_wal_restore import content

CAPTURER = """
import sys, time
from conftest import connect, one
c = connect(sys.argv[1])
one(c, "SELECT wecare_backup_continuous(100)")
print('ready', flush=True)
while True:
    time.sleep(1)
"""


def timeline(conn):
    cur = conn.execute("SELECT * FROM wecare_backup_timeline")
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


@pytest.mark.parametrize("rows", [50, 6000])  # small: no cache spill; big: the log restarts mid-copy
def test_restores_under_capture_in_another_process_are_gaps(tmp_path, rows):
    db = tmp_path / "app.db"
    c = sqlite3.connect(str(db), isolation_level=None)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("CREATE TABLE events(id INTEGER PRIMARY KEY, pad BLOB)")
    c.execute("BEGIN")
    c.executemany("INSERT INTO events(pad) VALUES (randomblob(3000))", [()] * rows)
    c.execute("COMMIT")
    c.close()
    conn = connect(db)
    base = create(conn)
    cap = spawn_python(CAPTURER, db)
    try:
        line = cap.stdout.readline().strip()
        assert line == "ready", cap.stderr.read()
        n = 4
        for i in range(n):
            conn.execute("INSERT INTO events(pad) VALUES (randomblob(100))")
            time.sleep(0.15)
            json.loads(one(conn, "SELECT wecare_backup_restore(?, ?)", base, PHRASE))
            time.sleep(0.15)
        conn.execute("INSERT INTO events(pad) VALUES (x'01')")
        def gaps():
            t = timeline(conn)
            return [r.get("gap_reason") for r in t if r["kind"] == "gap"]
        got = poll(lambda: gaps().count("restored") >= n, timeout=10)
        assert got, (gaps(), timeline(conn))
        live = content(db)
        time.sleep(0.3)
        mem_target = tmp_path / "latest.db"
        m = connect(":memory:")
        one(m, "SELECT wecare_backup_config('dir', ?)", str(tmp_path / "backups"))
        one(m, "SELECT wecare_backup_config('prefix', 'app')")
        one(m, "SELECT wecare_backup_recover(?, 'latest', ?)", str(mem_target), PHRASE)
        m.close()
        assert content(mem_target) == live
    finally:
        cap.kill()
        cap.wait()
        conn.close()
