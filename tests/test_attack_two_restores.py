"""Attacks: two restores back to back between two ticks of continuous capture (the second restore
replaces the first's marker before capture has seen either), and two restores at once in one process on
two databases (the restore VFS shared by both) under writers and checkpointers."""
import json
import os
import sqlite3
import threading
import time

import pytest

from conftest import PHRASE, config, connect, create, one, poll, spawn_python
from test_attack_capture import (captured_since, continuous, ids_of, iso, live_ids, make_app, materialise,
                                 timeline, verify_timeline)

SLOW_MS = 2000


def restored_gaps(conn):
    return [r["gap_reason"] for r in timeline(conn) if r["kind"] == "gap"].count("restored")


# Found by an attack helper: the second restore's marker replaced the first's, so the tick that saw both
# captured restore 1's whole-database transaction as an ordinary point (stamped with the tick's time) and
# recorded one 'restored' gap. Now a restore that committed marks its marker so; a later restore in the same
# log keeps that place, and capture records both as one gap, capturing neither transaction (no tick saw the
# state between them).
@pytest.mark.parametrize("how", ["restore_at", "restore"])
def test_two_restores_between_two_ticks_are_one_restored_gap_and_no_point(tmp_path, how):
    db = make_app(tmp_path)
    conn = connect(db)
    config(conn, "keep_last", 100)
    backups = tmp_path / "backups"
    names = {}
    assert one(conn, "SELECT wecare_backup_continuous(?)", SLOW_MS) == 1
    times = {}
    for i in range(1, 5):
        conn.execute("INSERT INTO events(id, payload) VALUES (?, ?)", (i, "p" * (300 * i)))
        if how == "restore" and i <= 2:
            names[i] = create(conn)
        t = time.time()
        assert captured_since(conn, t), (i, continuous(conn))
        times[i] = time.time()
    # Right after the tick that captured commit 4: both restores land before the next one.
    start = time.time()
    if how == "restore_at":
        one(conn, "SELECT wecare_backup_restore_at(?, ?)", iso(times[1]), PHRASE)
    else:
        one(conn, "SELECT wecare_backup_restore(?, ?)", names[1], PHRASE)
    assert live_ids(conn) == [1]
    r1_end = time.time()
    time.sleep(0.05)
    between = time.time()
    time.sleep(0.05)
    if how == "restore_at":
        one(conn, "SELECT wecare_backup_restore_at(?, ?)", iso(times[2]), PHRASE)
    else:
        one(conn, "SELECT wecare_backup_restore(?, ?)", names[2], PHRASE)
    r2_end = time.time()
    assert live_ids(conn) == [1, 2]
    assert r2_end - start < SLOW_MS / 1000 * 0.8, "too slow to land between two ticks"
    conn.execute("INSERT INTO events(id, payload) VALUES (50, 'after')")

    def latest():
        target = tmp_path / f"latest-{time.monotonic_ns()}.db"
        result, error = materialise(backups, "latest", target)
        assert error is None, error
        return ids_of(target)
    assert poll(lambda: latest() == [1, 2, 50], timeout=20), latest()
    rows = timeline(conn)
    v = verify_timeline(conn)
    assert v["ok"], v
    # Every time restores to a state the database held: before, the first restore, the second, after.
    held = [[1, 2, 3, 4], [1], [1, 2], [1, 2, 50]]
    for label, at in [("between", between), ("r1_end", r1_end), ("r2_end", r2_end)]:
        out, error = materialise(backups, iso(at), tmp_path / f"at-{label}.db")
        if error is None:
            got = ids_of(tmp_path / f"at-{label}.db")
            print(label, got, out)
            assert got in held, (label, got, rows)
        else:
            print(label, error)
            assert "gap" in error or "restorable" in error, error
    # Removed by the tick that records the restores, or (when the backup lock was busy then) by a later one.
    assert poll(lambda: not (backups / ".app.restoring").exists(), timeout=10)
    # What the last point before the (first) 'restored' gap holds: it must be the state before the first
    # restore, never the first restore's own transaction captured as an ordinary point.
    before_gap = [r for r in rows if r["kind"] == "range"][0]["to_at"]
    out, error = materialise(backups, before_gap, tmp_path / "before-gap.db")
    assert error is None, error
    last_point = ids_of(tmp_path / "before-gap.db")
    print("timeline", [(r["kind"], r["from_at"], r["to_at"], r["gap_reason"]) for r in rows])
    print("last point before the gap", last_point)
    assert (restored_gaps(conn), last_point) == (1, [1, 2, 3, 4]), rows
    one(conn, "SELECT wecare_backup_continuous(0)")
    conn.close()


# ------------------------------------------------------------------ two restores at once in one process

from test_attack_wal_restore import CHECKPOINTER, WRITER, events_db, integrity  # noqa: E402
from test_restore_lossless import ids_in, lost_commits, read_acks  # noqa: E402


def base_digest(path, immutable=False):
    """A digest of the base rows (id <= 3000: the writer only adds rows above 1,000,000) and the schema."""
    import hashlib
    uri = f"file:{path}?immutable=1" if immutable else f"file:{path}"
    c = sqlite3.connect(uri, uri=True)
    try:
        h = hashlib.sha256()
        for (sql,) in c.execute("SELECT sql FROM sqlite_schema ORDER BY name"):
            h.update((sql or "").encode())
        for row in c.execute("SELECT id, pad FROM events WHERE id <= 3000 ORDER BY id"):
            h.update(repr(row).encode())
        for row in c.execute("SELECT id, v FROM big ORDER BY id"):
            h.update(repr(row).encode())
        return h.hexdigest()
    finally:
        c.close()


BIG_ROWS = 2000


@pytest.mark.parametrize("modes", ["PASSIVE,TRUNCATE,FULL,RESTART", "TRUNCATE"])
def test_two_restores_at_once_in_one_process_on_two_databases(tmp_path, modes):
    sides = []
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        db = events_db(folder)
        c = sqlite3.connect(str(db), isolation_level=None)
        # Some MiB more, so each restore spans many read-ahead windows and the two overlap.
        c.execute("CREATE TABLE big(id INTEGER PRIMARY KEY, v BLOB)")
        c.executemany("INSERT INTO big(v) VALUES (randomblob(3000))", [()] * BIG_ROWS)
        c.close()
        conn = connect(db)
        config(conn, "keep_safety", 1000)
        config(conn, "keep_last", 1000)
        base = create(conn)
        sides.append({"db": db, "conn": conn, "base": base, "backups": folder / "backups",
                      "digest": base_digest(folder / "backups" / base, immutable=True),
                      "restores": [], "errors": []})
    procs = []
    for s in sides:
        s["procs"] = [spawn_python(WRITER, s["db"], 1_000_000), spawn_python(CHECKPOINTER, s["db"], modes)]
        procs += s["procs"]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    barrier = threading.Barrier(2)
    deadline = time.monotonic() + 7

    def run(s):
        barrier.wait()
        while time.monotonic() < deadline and len(s["restores"]) < 20:
            started = time.monotonic()
            try:
                result = json.loads(one(s["conn"], "SELECT wecare_backup_restore(?, ?)", s["base"], PHRASE))
            except sqlite3.OperationalError as e:
                s["errors"].append(str(e))
                continue
            ended = time.monotonic()
            s["restores"].append((started, ended, result["safety_backup"]))
            # What the database holds right after: the backup's base rows (the writer only adds rows).
            s.setdefault("after", []).append(base_digest(s["db"]))
            time.sleep(0.01)
    threads = [threading.Thread(target=run, args=(s,)) for s in sides]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        for p in procs:
            p.kill()
        for s in sides:
            s["acks"] = read_acks(s["procs"][0])
            s["writer_err"] = s["procs"][0].stderr.read()
        for p in procs:
            p.wait()
    overlapping = sum(1 for a0, a1, _ in sides[0]["restores"] for b0, b1, _ in sides[1]["restores"]
                      if a0 < b1 and b0 < a1)
    print("overlapping pairs of restores", overlapping)
    for s in sides:
        s["conn"].close()
        assert integrity(s["db"]) == [("ok",)]
        assert base_digest(s["db"]) == s["digest"]
        assert all(d == s["digest"] for d in s["after"]), s["after"]
        safety = []
        for _, _, name in s["restores"]:
            path = s["backups"] / name
            assert integrity(path) == [("ok",)], name
            assert base_digest(path, immutable=True) == s["digest"], name
            safety.append(ids_in(path))
        assert len(s["restores"]) >= 3, s["errors"][:3]
        assert len(s["acks"]) >= 5, (len(s["acks"]), s["writer_err"][-1500:])
        lost = lost_commits(s["acks"], s["restores"], safety, ids_in(s["db"]))
        assert lost == [], f"{len(lost)} acknowledged commits lost, e.g. {lost[:5]}"
        acked = {row for row, _ in s["acks"]}
        extra = ids_in(s["db"]) - set(range(1, 3001)) - acked
        assert extra <= {max(acked) + 1}, sorted(extra)[:5]
        print(s["db"], len(s["restores"]), "restores", len(s["errors"]), "errors", s["errors"][:2],
              len(s["acks"]), "acks")
