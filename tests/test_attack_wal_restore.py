"""Attacks on the WAL-mode restore (safety backup on a second thread beside the copy, the RestoreWindow
that answers the copy's reads of the old database with zeros and checks every logged frame against the
backup, writeback hints, page-by-page verification instead of a checksum pass).

Each test checks: the restored database passes integrity_check and holds exactly the backup's content;
the safety backup holds exactly the content the database had (including frames not yet checkpointed);
a refused restore leaves the database unchanged and no safety backup behind."""
import hashlib
import json
import os
import sqlite3

import pytest

from conftest import PHRASE, config, connect, create, one


def digest_of(c):
    """A digest of every row of every table (and the schema) of connection `c`."""
    h = hashlib.sha256()
    for (sql,) in c.execute("SELECT sql FROM sqlite_schema ORDER BY name"):
        h.update((sql or "").encode())
    tables = [r[0] for r in c.execute(
        "SELECT name FROM sqlite_schema WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    for t in tables:
        for row in c.execute(f'SELECT * FROM "{t}" ORDER BY rowid'):
            h.update(repr(row).encode())
    return h.hexdigest()


def content(path):
    """digest_of the database, opened read-write so a WAL is seen."""
    c = sqlite3.connect(str(path))
    try:
        return digest_of(c)
    finally:
        c.close()


def integrity(path):
    c = sqlite3.connect(str(path))
    try:
        return c.execute("PRAGMA integrity_check").fetchall()
    finally:
        c.close()


def backup_content(path):
    """Content of a backup file, read immutable (leaves nothing beside it)."""
    c = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        assert c.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        return digest_of(c)
    finally:
        c.close()


def make_db(path, page_size=4096, rows=300, blob=300):
    c = sqlite3.connect(str(path), isolation_level=None)
    c.execute(f"PRAGMA page_size={page_size}")
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
    c.execute("BEGIN")
    c.executemany("INSERT INTO t(v) VALUES (randomblob(?))", [(blob,)] * rows)
    c.execute("COMMIT")
    c.close()
    return path


def restore(conn, name):
    return json.loads(one(conn, "SELECT wecare_backup_restore(?, ?)", name, PHRASE))


def wal_header(db):
    """(mxFrame, nBackfill) from the wal-index (the -shm file)."""
    with open(str(db) + "-shm", "rb") as f:
        shm = f.read(136)
    import struct
    mx = struct.unpack_from("<I", shm, 16)[0]
    backfill = struct.unpack_from("<I", shm, 96)[0]
    return mx, backfill


def backed_up_with_a_writer(tmp_path):
    """A WAL database, a backup of it (its content), and a connection that writes without checkpointing."""
    db = make_db(tmp_path / "a.db", rows=500)
    conn = connect(db)
    base = create(conn)
    backup_digest = content(db)
    w = sqlite3.connect(str(db), isolation_level=None)
    w.execute("PRAGMA wal_autocheckpoint=0")
    return db, conn, base, backup_digest, w


def restore_and_check(conn, db, tmp_path, base, backup_digest):
    """Restores `base` over `db` and checks the result is the backup and the safety backup the old content."""
    before = content(db)
    result = restore(conn, base)
    assert integrity(db) == [("ok",)]
    assert content(db) == backup_digest
    assert backup_content(tmp_path / "backups" / result["safety_backup"]) == before
    return before, result


def test_uncheckpointed_frames_are_in_the_safety_backup(tmp_path):
    db = make_db(tmp_path / "a.db", rows=500)
    conn = connect(db)
    config(conn, "verify_on_create", 1)
    base = create(conn)
    backup_digest = content(db)
    # A writer in this process that never checkpoints: its commits stay in the log.
    w = sqlite3.connect(str(db), isolation_level=None)
    w.execute("PRAGMA wal_autocheckpoint=0")
    w.execute("UPDATE t SET v = randomblob(500) WHERE id % 3 = 0")
    w.execute("INSERT INTO t(v) SELECT randomblob(700) FROM t LIMIT 200")
    mx, backfill = wal_header(db)
    assert mx > backfill, (mx, backfill)
    restore_and_check(conn, db, tmp_path, base, backup_digest)
    w.close()
    conn.close()


def test_fully_checkpointed_log_not_reset_is_restarted_by_the_copy(tmp_path):
    db, conn, base, backup_digest, w = backed_up_with_a_writer(tmp_path)
    w.execute("UPDATE t SET v = randomblob(400) WHERE id % 2 = 0")
    w.execute("DELETE FROM t WHERE id > 450")
    w.execute("PRAGMA wal_checkpoint(PASSIVE)")
    mx, backfill = wal_header(db)
    assert mx == backfill and mx > 0, (mx, backfill)
    before, result = restore_and_check(conn, db, tmp_path, base, backup_digest)
    # And the safety backup restores to the old content.
    restore(conn, result["safety_backup"])
    assert content(db) == before
    w.close()
    conn.close()


def test_partly_checkpointed_log_with_a_reader_at_an_old_frame(tmp_path):
    """nBackfill < mxFrame, and another connection reads at an old snapshot during the restore."""
    db, conn, base, backup_digest, w = backed_up_with_a_writer(tmp_path)
    w.execute("UPDATE t SET v = randomblob(300) WHERE id % 5 = 0")
    r = sqlite3.connect(str(db), isolation_level=None)
    r.execute("BEGIN")
    old = r.execute("SELECT count(*), sum(length(v)) FROM t").fetchone()
    w.execute("INSERT INTO t(v) SELECT randomblob(900) FROM t LIMIT 100")
    w.execute("PRAGMA wal_checkpoint(PASSIVE)")  # stops at the reader
    mx, backfill = wal_header(db)
    assert 0 < backfill < mx, (mx, backfill)
    before = content(db)
    result = restore(conn, base)
    assert r.execute("SELECT count(*), sum(length(v)) FROM t").fetchone() == old
    r.execute("COMMIT")
    assert integrity(db) == [("ok",)]
    assert content(db) == backup_digest
    assert backup_content(tmp_path / "backups" / result["safety_backup"]) == before
    w.close()
    r.close()
    conn.close()


@pytest.mark.parametrize("page_size", [512, 1024, 65536])
def test_page_sizes(tmp_path, page_size):
    db = make_db(tmp_path / "a.db", page_size=page_size, rows=400, blob=page_size // 3 + 50)
    conn = connect(db)
    base = create(conn)
    backup_digest = content(db)
    conn.execute("UPDATE t SET v = randomblob(10) WHERE id % 2 = 1")
    conn.execute("INSERT INTO t(v) SELECT randomblob(2000) FROM t LIMIT 50")
    restore_and_check(conn, db, tmp_path, base, backup_digest)
    assert one(conn, "PRAGMA page_size") == page_size
    conn.close()


def test_one_page_backup_into_a_bigger_database(tmp_path):
    db = tmp_path / "a.db"
    c = sqlite3.connect(str(db), isolation_level=None)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("PRAGMA user_version=7")
    c.close()
    conn = connect(db)
    assert one(conn, "PRAGMA page_count") == 1
    base = create(conn)
    backup_digest = content(db)
    conn.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
    conn.execute("INSERT INTO t(v) SELECT randomblob(3000) FROM (SELECT 1 UNION ALL SELECT 2) , "
                 "(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i<100) SELECT i FROM s)")
    restore_and_check(conn, db, tmp_path, base, backup_digest)
    assert one(conn, "PRAGMA user_version") == 7
    assert one(conn, "PRAGMA page_count") == 1
    conn.close()


def flip_byte(path, offset):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x5A]))


def safety_files(d):
    return sorted(p for p in os.listdir(d) if "_safety_" in p or ".tmp" in p)


@pytest.mark.parametrize("journal", ["wal", "delete"])
@pytest.mark.parametrize("where", [
    "page1",
    "middle", "last"])
def test_a_corrupted_verified_backup_page_is_refused(tmp_path, where, journal):
    db = make_db(tmp_path / "a.db", rows=2000)
    if journal == "delete":
        c = sqlite3.connect(str(db), isolation_level=None)
        c.execute("PRAGMA journal_mode=DELETE")
        c.close()
    conn = connect(db)
    config(conn, "verify_on_create", 1)
    base = create(conn)
    conn.execute("DELETE FROM t WHERE id > 1000")
    before = content(db)
    path = tmp_path / "backups" / base
    size = os.path.getsize(path)
    offset = {"page1": 200, "middle": size // 2 + 123, "last": size - 100}[where]
    flip_byte(path, offset)
    with pytest.raises(sqlite3.Error) as info:
        restore(conn, base)
    assert "failed verification" in str(info.value) and "the database is unchanged" in str(info.value), info.value
    assert content(db) == before
    assert integrity(db) == [("ok",)]
    assert safety_files(tmp_path / "backups") == []
    conn.close()


@pytest.mark.parametrize("how", ["truncate", "grow", "grow_page"])
def test_a_truncated_or_grown_backup_is_refused(tmp_path, how):
    db = make_db(tmp_path / "a.db", rows=2000)
    conn = connect(db)
    base = create(conn)
    conn.execute("DELETE FROM t WHERE id > 1000")
    before = content(db)
    path = tmp_path / "backups" / base
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        if how == "truncate":
            f.truncate(size - 4096)
        elif how == "grow":
            f.seek(size)
            f.write(b"x" * 100)
        else:
            f.seek(size)
            f.write(b"\0" * 4096)
    with pytest.raises(sqlite3.Error):
        restore(conn, base)
    assert content(db) == before
    assert integrity(db) == [("ok",)]
    assert safety_files(tmp_path / "backups") == []
    conn.close()


# ---------------------------------------------------------------------------
# Under other processes: a writer committing every few ms, a checkpointer in a
# loop, a reader holding read transactions.
# ---------------------------------------------------------------------------
import time

from conftest import spawn_python
from test_restore_lossless import WRITER as LOSSLESS_WRITER, ids_in, lost_commits, read_acks

# The lossless test's writer, never checkpointing: its commits pile up in the log.
WRITER = LOSSLESS_WRITER.replace("c.execute('PRAGMA synchronous=NORMAL')\n",
                                 "c.execute('PRAGMA synchronous=NORMAL')\nc.execute('PRAGMA wal_autocheckpoint=0')\n")
assert WRITER != LOSSLESS_WRITER

CHECKPOINTER = """
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=0.05)
c.execute('SELECT count(*) FROM sqlite_schema').fetchall()
print('ready', flush=True)
modes = sys.argv[2].split(',')
i = 0
while True:
    try:
        c.execute(f'PRAGMA wal_checkpoint({modes[i % len(modes)]})').fetchall()
    except sqlite3.OperationalError:
        pass
    i += 1
    time.sleep(0.001)
"""

READER = """
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
print('ready', flush=True)
while True:
    c.execute('BEGIN')
    a = c.execute('SELECT count(*) FROM events').fetchone()[0]
    time.sleep(0.02)
    b = c.execute('SELECT count(*) FROM events').fetchone()[0]
    assert a == b, (a, b)
    c.execute('COMMIT')
    time.sleep(0.003)
"""




def events_db(tmp_path):
    """A WAL database with 3000 rows in `events` (the writer's rows start at 1,000,001)."""
    db = tmp_path / "app.db"
    c = sqlite3.connect(str(db), isolation_level=None)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("CREATE TABLE events(id INTEGER PRIMARY KEY, pad BLOB DEFAULT (randomblob(300)))")
    c.executemany("INSERT INTO events(id) VALUES (?)", [(i,) for i in range(1, 3001)])
    c.close()
    return db


def writer_checkpointer_reader(db, modes):
    """The three processes, ready: [writer, checkpointer (modes, comma-separated), reader]."""
    procs = [spawn_python(WRITER, db, 1_000_000), spawn_python(CHECKPOINTER, db, modes),
             spawn_python(READER, db)]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    return procs


# A writer, a reader holding read transactions and a third process checkpointing in a loop. This found
# that the restore's VFS served a checkpoint of ours log bytes it had read ahead before another process reset
# the log and wrote new frames over them: about one run in three lost a commit or took an inconsistent
# safety backup, on SQLite 3.40.1 and 3.53.2 alike (the deterministic case: tests/unit/
# batch_vfs_read_ahead_test.cpp).
@pytest.mark.parametrize("modes", ["PASSIVE", "FULL", "RESTART", "TRUNCATE", "PASSIVE,TRUNCATE,FULL,RESTART"])
def test_no_acknowledged_commit_is_lost_under_checkpointer_reader_writer(tmp_path, modes):
    db = events_db(tmp_path)
    conn = connect(db)
    config(conn, "keep_safety", 1000)
    config(conn, "keep_last", 1000)
    base = create(conn)
    procs = writer_checkpointer_reader(db, modes)
    writer = procs[0]
    restores = []
    errors = []
    try:
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline and len(restores) < 25:
            started = time.monotonic()
            try:
                result = restore(conn, base)
            except sqlite3.OperationalError as e:
                errors.append(str(e))
                continue
            restores.append((started, time.monotonic(), result["safety_backup"]))
            time.sleep(0.1)
    finally:
        for p in procs:
            p.kill()
        acks = read_acks(writer)
        reader_err = procs[2].stderr.read()
        writer_err = writer.stderr.read()
        for p in procs:
            p.wait()
    assert "AssertionError" not in reader_err, reader_err[-2000:]
    assert integrity(db) == [("ok",)]
    final = ids_in(db)
    safety = []
    for _, _, s in restores:
        assert integrity(tmp_path / "backups" / s) == [("ok",)]
        safety.append(ids_in(tmp_path / "backups" / s))
    assert len(restores) >= 3, errors[:3]
    assert len(acks) > 50, (len(acks), len(restores), errors[:3], writer_err[-1500:])
    lost = lost_commits(acks, restores, safety, final)
    assert lost == [], f"{len(lost)} acknowledged commits lost, e.g. {lost[:5]}"
    # Every safety backup holds the base's rows plus only acknowledged/committed ones.
    conn.close()


def test_every_backup_is_consistent_under_checkpointer_reader_writer(tmp_path):
    """Regular backups take the same live snapshot as the safety backup: under a writer, a reader holding read
    transactions and a third process checkpointing in a loop (all modes), each backup passes integrity_check
    and holds every row acknowledged before it started, and only rows that were committed."""
    db = events_db(tmp_path)
    conn = connect(db)
    config(conn, "keep_last", 1000)
    procs = writer_checkpointer_reader(db, "PASSIVE,TRUNCATE,FULL,RESTART")
    backups = []
    try:
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline and len(backups) < 40:
            started = time.monotonic()
            backups.append((started, create(conn)))
            time.sleep(0.08)
    finally:
        for p in procs:
            p.kill()
        acks = read_acks(procs[0])
        for p in procs:
            p.wait()
    assert len(backups) >= 3 and len(acks) > 50, (len(backups), len(acks))
    acked = {row for row, _ in acks}
    for started, name in backups:
        path = tmp_path / "backups" / name
        assert integrity(path) == [("ok",)], name
        ids = ids_in(path)
        missing = [row for row, at in acks if at < started and row not in ids]
        assert missing == [], (name, missing[:5])
        # The writer's last commit may not have been acknowledged before it was killed.
        assert ids - set(range(1, 3001)) - acked <= {max(acked) + 1}, name
    conn.close()


def test_empty_rollback_database_takes_a_wal_backup(tmp_path):
    src = make_db(tmp_path / "src.db", rows=300)
    conn = connect(src)
    base = create(conn)
    digest = content(src)
    conn.close()
    empty = tmp_path / "empty.db"
    sqlite3.connect(str(empty)).close()
    assert os.path.getsize(empty) == 0
    e = connect(empty)
    config(e, "dir", str(tmp_path / "backups"))
    config(e, "prefix", "src")
    result = restore(e, base)
    assert result.get("safety_backup") in (None, "")
    assert integrity(empty) == [("ok",)]
    assert content(empty) == digest
    e.close()


# Found by an attack helper: the -wal read ahead then survived from one read transaction to the next (lock
# calls go to the database file), so take_write_lock's retries read page 1 from a log another connection had
# reset and rewritten; the restore took the old schema cookie and wrote it + 1, equal to the cookie the other
# connections held, so they kept their old schema over the restored database.
def test_a_restore_waiting_for_the_write_lock_reads_page_1_as_it_is_now(tmp_path):
    import threading
    import time
    db = make_db(tmp_path / "a.db", rows=200)
    conn = connect(db)
    base = create(conn)
    a = sqlite3.connect(str(db), isolation_level=None, check_same_thread=False)
    a.execute("PRAGMA wal_autocheckpoint=0")
    a.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    a.execute("CREATE TABLE x1(a)")  # page 1 is the log's first frame (offset 32)
    a.execute("BEGIN IMMEDIATE")      # the restore waits for the write lock, reading page 1 at each try
    result = {}

    def run():
        try:
            result["ok"] = restore(conn, base)
        except Exception as e:  # reported below
            result["error"] = e

    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.3)
    c = sqlite3.connect(str(db), isolation_level=None)
    assert c.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[0] == 0  # every frame backfilled
    c.close()
    # A new write transaction that starts on the fully checkpointed log resets it at its commit: its
    # page 1 goes to offset 32 again, over the frame the restore read.
    a.execute("ROLLBACK")
    a.execute("BEGIN IMMEDIATE")
    a.execute("CREATE TABLE x2(a)")
    a.execute("COMMIT")
    t.join(20)
    assert "error" not in result, result.get("error")
    assert integrity(db) == [("ok",)]
    # The application's connection holds the schema with x1 and x2; the restored database has neither.
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        a.execute("SELECT count(*) FROM x2").fetchall()
    a.close()
    conn.close()
