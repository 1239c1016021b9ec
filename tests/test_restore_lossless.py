"""Restore loses nothing: the safety backup is exactly the state the restore replaces. Every commit
another process had acknowledged before a restore is in that restore's safety backup; every later one
is in the restored database (and so in the next safety backup)."""
import json
import sqlite3
import time

import pytest

from conftest import PHRASE, config, connect, create, spawn_python

WRITER = """
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
c.execute('PRAGMA synchronous=NORMAL')
n = int(sys.argv[2])
print('ready', flush=True)
while True:
    n += 1
    c.execute('INSERT INTO events(id) VALUES (?)', (n,))
    print(n, time.monotonic(), flush=True)   # acknowledged
    time.sleep(0.002)
"""


def ids_in(path):
    # Read-write: the killed writer may leave a hot journal, which only a
    # connection that can write rolls back (a read-only one refuses to read).
    c = sqlite3.connect(str(path))
    try:
        return {r[0] for r in c.execute("SELECT id FROM events")}
    finally:
        c.close()


def read_acks(child):
    acks = []
    for line in child.stdout:
        parts = line.split()
        if len(parts) == 2:
            acks.append((int(parts[0]), float(parts[1])))
    return acks


def lost_commits(acks, restores, safety, final):
    """The acknowledged rows (row, acknowledged at) found neither where they must be: restores are
    (started, ended, safety backup) in order, safety their safety backups' ids, final the ids now."""
    lost = []
    for row, acked_at in acks:
        # The first restore that had not finished when the row was acknowledged.
        i = next((k for k, (_, ended, _) in enumerate(restores) if ended >= acked_at), None)
        if i is None:
            where = [final]
        elif acked_at < restores[i][0]:
            where = [safety[i]]  # acknowledged before that restore began: in its safety backup
        else:
            # Acknowledged while it ran: committed before it took the lock, or after its commit.
            where = [safety[i], safety[i + 1] if i + 1 < len(safety) else final]
        if not any(row in ids for ids in where):
            lost.append(row)
    return lost


@pytest.mark.parametrize("mode", ["wal", "delete"])
def test_no_acknowledged_commit_is_lost_over_fifty_restores_under_a_writer(tmp_path, mode):
    db = tmp_path / "app.db"
    c = sqlite3.connect(str(db), isolation_level=None)
    c.execute(f"PRAGMA journal_mode={mode}")
    c.execute("CREATE TABLE events(id INTEGER PRIMARY KEY, pad BLOB DEFAULT (randomblob(200)))")
    c.executemany("INSERT INTO events(id) VALUES (?)", [(i,) for i in range(1, 1001)])
    c.close()
    conn = connect(db)
    config(conn, "keep_safety", 1000)
    config(conn, "keep_last", 1000)
    config(conn, "verify_on_create", 0)
    base = create(conn)
    writer = spawn_python(WRITER, db, 1_000_000)
    assert writer.stdout.readline().strip() == "ready"
    restores = []  # (started, ended, safety backup)
    try:
        time.sleep(0.05)
        for _ in range(50):
            started = time.monotonic()
            result = json.loads(conn.execute("SELECT wecare_backup_restore(?, ?)", (base, PHRASE)).fetchone()[0])
            restores.append((started, time.monotonic(), result["safety_backup"]))
            time.sleep(0.01)
    finally:
        writer.kill()
        acks = read_acks(writer)
        writer.wait()
    final = ids_in(db)
    safety = [ids_in(tmp_path / "backups" / s) for _, _, s in restores]
    assert len(acks) > 100, "the writer committed too little to prove anything"
    lost = lost_commits(acks, restores, safety, final)
    assert lost == [], f"{len(lost)} acknowledged commits lost, e.g. {lost[:5]}"
    conn.close()


def test_restoring_the_safety_backup_undoes_a_restore_exactly(db_path, conn):
    first = create(conn)
    conn.execute("DELETE FROM patients WHERE id > 50")
    conn.execute("INSERT INTO patients(name) VALUES ('after the backup')")
    before = conn.execute("SELECT * FROM patients ORDER BY id").fetchall()
    safety = json.loads(conn.execute("SELECT wecare_backup_restore(?, ?)", (first, PHRASE)).fetchone()[0])[
        "safety_backup"]
    assert conn.execute("SELECT count(*) FROM patients").fetchone()[0] == 200
    conn.execute("SELECT wecare_backup_restore(?, ?)", (safety, PHRASE)).fetchone()
    assert conn.execute("SELECT * FROM patients ORDER BY id").fetchall() == before
