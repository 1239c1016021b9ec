#!/usr/bin/env python3
"""Concurrency soak: one database, for --seconds (60 in `make soak`, 10 in the suite):
  * a writer process committing every few milliseconds;
  * two processes each running wecare_backup_schedule(1) (auto backups every second);
  * one process looping create / verify / cleanup (manual backups) in bursts;
  * the parent polling the listing ten times a second.
Afterwards, with everyone stopped:
  * no lost backup: every backup ever seen that is gone had at least keep_last
    newer regular backups when it went (retention deletes oldest first);
  * no duplicate: every name lists once, every record has its own creation
    time, and the two schedulers together made at most one auto backup per second;
  * no partial backup: every file under a backup name has its record, lists
    and verifies with a matching checksum; no temp file or orphan record is left;
  * retention held: regular backups <= keep_last + 1 (last_good), safety <=
    keep_safety, at the end and at every poll (+1 for the moment between
    publishing and rotating);
  * the database passes integrity_check and holds every committed write;
  * no process reported an error (the scheduler processes read last_error in
    wecare_backup_stats, since scheduled runs report only to sqlite3_log).
"""
import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import configure, connect, one  # noqa: E402

PYTHON = "/usr/bin/python3"
KEEP_LAST = 3
KEEP_SAFETY = 3


def role_writer(db, stop_at):
    conn = sqlite3.connect(db, isolation_level=None, timeout=30)
    conn.execute("PRAGMA busy_timeout=30000")
    commits, worst = 0, 0.0
    while time.time() < stop_at:
        t = time.time()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO writes(at, payload) VALUES (?, ?)", (t, os.urandom(64).hex()))
        conn.execute("UPDATE patients SET notes = ? WHERE id = ?", (os.urandom(32).hex(), 1 + commits % 500))
        conn.execute("COMMIT")
        commits += 1
        worst = max(worst, time.time() - t)
        time.sleep(0.003)
    return {"commits": commits, "worst_commit_seconds": round(worst, 3)}


def role_scheduler(db, stop_at):
    conn = connect(db)
    configure(conn, keep_last=KEEP_LAST, keep_safety=KEEP_SAFETY)
    assert one(conn, "SELECT wecare_backup_schedule(1)") == 1
    while time.time() < stop_at:
        time.sleep(0.1)
    assert one(conn, "SELECT wecare_backup_schedule(0)") == 0
    stats = json.loads(one(conn, "SELECT wecare_backup_stats()"))
    conn.close()
    return {"last_error": stats["last_error"]}


def role_looper(db, stop_at):
    conn = connect(db)
    configure(conn, keep_last=KEEP_LAST, keep_safety=KEEP_SAFETY)
    created, verified, cleanups, errors, vanished = [], 0, 0, [], 0
    while time.time() < stop_at:
        # Bursts of 1.5 s, then 1.5 s of quiet in which the schedulers' runs
        # are not skipped: both kinds of backup interleave.
        if int(time.time() / 1.5) % 2:
            time.sleep(0.05)
            continue
        try:
            name = one(conn, "SELECT wecare_backup_create('soak')")
            created.append(name)
            try:
                v = json.loads(one(conn, "SELECT wecare_backup_verify(?)", name))
                verified += 1
                if not v["ok"]:
                    errors.append(f"verify {name}: {v}")
            except sqlite3.Error as e:
                # Another process's rotation may delete it between the two calls.
                if "there is no backup named" in str(e):
                    vanished += 1
                else:
                    raise
            one(conn, "SELECT wecare_backup_cleanup()")
            cleanups += 1
        except sqlite3.Error as e:
            errors.append(str(e))
    stats = json.loads(one(conn, "SELECT wecare_backup_stats()"))
    conn.close()
    return {"created": created, "verified": verified, "cleanups": cleanups, "errors": errors,
            "vanished_before_verify": vanished, "last_error": stats["last_error"]}


ROLES = {"writer": role_writer, "scheduler": role_scheduler, "looper": role_looper}


def make_db(path):
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript("""
        CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT UNIQUE, role TEXT);
        CREATE TABLE patients(id INTEGER PRIMARY KEY, name TEXT, notes TEXT);
        CREATE TABLE writes(id INTEGER PRIMARY KEY, at REAL, payload TEXT);
    """)
    conn.execute("BEGIN")
    conn.execute("INSERT INTO users(email, role) VALUES ('admin@wecare.test', 'ADMIN')")
    conn.executemany("INSERT INTO patients(name, notes) VALUES (?, ?)",
                     [(f"patient {i}", "n" * 300) for i in range(3000)])
    conn.execute("COMMIT")
    conn.close()


def run(seconds, root=None):
    own = root is None
    root = root or tempfile.mkdtemp(prefix="wecare_soak_")
    db = os.path.join(root, "clinic.db")
    backups = os.path.join(root, "backups")
    make_db(db)
    failures = []
    stop_at = time.time() + seconds + 1.0  # the children start within the first second
    procs, logs = {}, {}
    for role in ["writer", "scheduler", "scheduler", "looper"]:
        key = role if role not in procs else role + "2"
        # Output goes to files, not pipes: nothing a child prints can block it.
        logs[key] = (tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+"))
        procs[key] = subprocess.Popen([PYTHON, os.path.abspath(__file__), "--role", role, "--db", db,
                                       "--stop-at", repr(stop_at)],
                                      stdout=logs[key][0], stderr=logs[key][1], text=True)
    seen, seen_auto, polls = {}, set(), 0
    max_regular = max_safety = 0
    poll_conn = connect(db)
    configure(poll_conn, keep_last=KEEP_LAST, keep_safety=KEEP_SAFETY)
    while any(p.poll() is None for p in procs.values()) and time.time() < stop_at + 120:
        try:
            rows = common.listed(poll_conn)
        except sqlite3.Error as e:
            failures.append(f"listing failed during the soak: {e}")
            rows = []
        polls += 1
        regular = [r for r in rows if r["kind"] != "safety"]
        max_regular = max(max_regular, len(regular))
        max_safety = max(max_safety, len(rows) - len(regular))
        for r in rows:
            seen.setdefault(r["name"], r["kind"])
            if r["kind"] == "auto":
                seen_auto.add(r["name"])
        time.sleep(0.1)
    results = {}
    for key, p in procs.items():
        try:
            p.wait(timeout=120)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            failures.append(f"{key} did not stop within 120 s of the end")
        out_file, err_file = logs[key]
        out_file.seek(0)
        err_file.seek(0)
        out, err = out_file.read(), err_file.read()
        out_file.close()
        err_file.close()
        if p.returncode != 0:
            failures.append(f"{key} exited {p.returncode}: {err[-1500:]}")
            continue
        results[key] = json.loads(out.strip().splitlines()[-1])

    # Everything below runs with every process stopped.
    looper = results.get("looper", {})
    for name in looper.get("created", []):
        seen.setdefault(name, "manual")
    failures += [f"looper: {e}" for e in looper.get("errors", [])]
    cancelled_at_stop = 0
    for key in ("looper", "scheduler", "scheduler2"):
        error = results.get(key, {}).get("last_error")
        if error and key.startswith("scheduler") and "cancelled" in error:
            # schedule(0) cancels a run in progress; how that run is reported
            # is tests/test_soak.py::test_stopping_the_schedule_is_not_reported_as_corruption.
            cancelled_at_stop += 1
        elif error:
            failures.append(f"{key}: last_error = {error}")

    rows = common.listed(poll_conn)
    names = [r["name"] for r in rows]
    files = common.backup_files(backups, "clinic")
    if len(set(names)) != len(names):
        failures.append(f"duplicate rows in the listing: {names}")
    if sorted(names) != files:
        failures.append(f"listing {sorted(names)} != files {files}")
    regular = [r for r in rows if r["kind"] != "safety"]
    safety = [r for r in rows if r["kind"] == "safety"]
    if len(regular) > KEEP_LAST + 1 or len(safety) > KEEP_SAFETY or len(rows) > KEEP_LAST + KEEP_SAFETY + 1:
        failures.append(f"retention not held: {len(regular)} regular, {len(safety)} safety")
    if max_regular > KEEP_LAST + 2:
        failures.append(f"retention not held during the run: {max_regular} regular backups at one poll")

    created_ns = {}
    for name in files:
        meta = os.path.join(backups, name + ".meta")
        if not os.path.exists(meta):
            failures.append(f"{name} has no record")
            continue
        text = open(meta, encoding="utf-8", errors="replace").read()
        ns = [line.split("=", 1)[1] for line in text.splitlines() if line.startswith("created_ns=")]
        if ns:
            if ns[0] in created_ns:
                failures.append(f"{name} and {created_ns[ns[0]]} share a creation time")
            created_ns[ns[0]] = name
        v = common.verify(poll_conn, name)
        if not v["ok"] or v["checksum"] != "match":
            failures.append(f"{name} does not verify: {v}")
    leftovers = common.temp_files(backups, "clinic") + common.orphan_sidecars(backups, "clinic")
    if leftovers:
        failures.append(f"leftovers after the soak: {leftovers}")

    # Lost: a backup gone while fewer than keep_last newer regular backups remain.
    def order(name):
        return (name.split("_", 2)[2][:19], int(name[:-3].rsplit("_", 1)[1]) if name[:-3].count("_") > 3 else 1)
    present_regular = sorted((n for n in files if "_backup_" in n), key=order)
    lost = []
    for name, kind in seen.items():
        if name in files or kind == "safety":
            continue
        newer = [n for n in present_regular if order(n) > order(name)]
        if len(newer) < KEEP_LAST:
            lost.append(name)
    if lost:
        failures.append(f"lost backups (gone with fewer than {KEEP_LAST} newer ones left): {lost}")

    # The two schedulers must not multiply backups: at most one auto per second.
    auto_seconds = [n.split("_backup_")[1][:19] for n in seen_auto]
    if len(auto_seconds) != len(set(auto_seconds)):
        failures.append(f"two auto backups within one second: {sorted(seen_auto)}")
    if len(seen_auto) > seconds + 3:
        failures.append(f"{len(seen_auto)} auto backups in {seconds} s with two schedulers of 1 s")

    ic = common.integrity(db)
    if ic != "ok":
        failures.append(f"database integrity_check: {ic}")
    conn = sqlite3.connect(db)
    rows_written = conn.execute("SELECT count(*) FROM writes").fetchone()[0]
    conn.close()
    commits = results.get("writer", {}).get("commits", -1)
    if rows_written != commits:
        failures.append(f"writer committed {commits} rows, the database holds {rows_written}")
    poll_conn.close()
    if own:
        shutil.rmtree(root, ignore_errors=True)
    figures = {
        "seconds": seconds, "writer_commits": commits,
        "writer_worst_commit_s": results.get("writer", {}).get("worst_commit_seconds"),
        "manual_created": len(looper.get("created", [])), "verified": looper.get("verified"),
        "cleanups": looper.get("cleanups"), "auto_seen": len(seen_auto), "distinct_backups_seen": len(seen),
        "polls": polls, "max_regular_at_a_poll": max_regular, "final_backups": len(files),
        "vanished_before_verify": looper.get("vanished_before_verify"),
        "scheduled_runs_cancelled_at_stop": cancelled_at_stop, "lost": len(lost),
        "failures": len(failures),
    }
    return figures, failures


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--role", choices=sorted(ROLES), help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    ap.add_argument("--stop-at", type=float, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.role:
        print(json.dumps(ROLES[args.role](args.db, args.stop_at)))
        return 0
    figures, failures = run(args.seconds)
    for f in failures[:50]:
        print("FAIL", f)
    print("soak: " + " ".join(f"{k}={v}" for k, v in figures.items()))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
