#!/usr/bin/env python3
"""Crash harness: SIGKILL a process in the middle of wecare_backup_create,
wecare_backup_cleanup and wecare_backup_restore, then check what survived.

    /usr/bin/python3 tests/crash/harness.py --trials 200 [--seed N] [--keep DIR]

How it works:
  * Eight lanes: {WAL, rollback journal (DELETE)} x {create, incremental,
    cleanup, restore}, each with its own database and backup directory. Trial
    i uses lane i % 8. The incremental lane makes chains (full_every=4) with a
    small change between backups; the restore lane's second source backup is
    an increment on its first.
  * A child process (Debian's python3 with the extension loaded) loops the
    lane's operation forever, writing "B <n>" / "E <n>" to a pipe around each
    call. The parent waits until the child is ready, sleeps a random time and
    SIGKILLs it. The last marker tells whether the kill landed inside a call.
  * Then the parent checks, before running anything else on the directory:
      - the database passes integrity_check (opened read-write, as an
        application would, so a hot journal is rolled back first);
      - restore lane: the database holds exactly state 1 or state 2, never a mix
        (marker generation, row count and per-row generation all agree);
      - the flock on .wecare_backup.lock is free (the kernel released it);
      - every entry carrying a backup name has its sidecar, lists, and
        verifies ok with a matching checksum: no partial file is a backup;
      - nothing lost: the newest backup that verified ok before the trial is
        still there (or a newer one that verified ok is); the restore lane's
        two source backups are still there and verify.
    Then it runs the next locked operation itself (create; cleanup in the
    restore lane) and checks that the temp files `.<name>.tmp-<pid>` and the
    orphan sidecars the kill left are gone.
Prints: trials, kills, kills inside a call (per operation), leftovers seen
and cleaned, and lost (each failed check counts once).
"""
import argparse
import os
import random
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import PHRASE, configure, connect, one  # noqa: E402

PYTHON = "/usr/bin/python3"
ROWS_BASE = 6000  # state g holds ROWS_BASE + 1500*g rows of ~240 bytes (a few MB)


# ---------------------------------------------------------------- the child

def child_main(args):
    conn = connect(args.db, timeout=30)
    configure(conn, busy_timeout_ms=30000)
    out = sys.stdout.fileno()

    def mark(text):
        os.write(out, (text + "\n").encode())

    mark("R")
    n = 0
    names = args.restore_names.split(",") if args.restore_names else []
    while True:
        n += 1
        if args.op == "create":
            configure(conn, keep_last=4)
            mark(f"B {n}")
            one(conn, "SELECT wecare_backup_create('crash')")
            mark(f"E {n}")
            conn.execute("INSERT INTO log(at) VALUES (?)", (time.time(),))
        elif args.op == "incremental":
            configure(conn, keep_last=4, incremental=1, full_every=4)
            conn.execute("UPDATE data SET payload = ? WHERE id % 97 = ?", ("c" * 200 + str(n), n % 97))
            mark(f"B {n}")
            one(conn, "SELECT wecare_backup_create('crash')")
            mark(f"E {n}")
            conn.execute("INSERT INTO log(at) VALUES (?)", (time.time(),))
        elif args.op == "cleanup":
            configure(conn, keep_last=6, verify_on_create=0)
            one(conn, "SELECT wecare_backup_create()")
            one(conn, "SELECT wecare_backup_create()")
            configure(conn, keep_last=2)
            mark(f"B {n}")
            one(conn, "SELECT wecare_backup_cleanup()")
            mark(f"E {n}")
        else:
            configure(conn, keep_last=1000000, keep_safety=2)
            # Always restore the other state, so "old" and "new" differ.
            target = names[0] if one(conn, "SELECT gen FROM marker") == 2 else names[1]
            mark(f"B {n}")
            one(conn, "SELECT wecare_backup_restore(?, ?)", target, PHRASE)
            mark(f"E {n}")


# ---------------------------------------------------------------- the parent

def fill_state(conn, gen):
    conn.execute("BEGIN")
    conn.execute("DELETE FROM data")
    conn.execute("UPDATE marker SET gen = ?", (gen,))
    conn.executemany("INSERT INTO data(gen, payload) VALUES (?, ?)",
                     [(gen, f"{gen}:{i}:" + "p" * 220) for i in range(ROWS_BASE + 1500 * gen)])
    conn.execute("COMMIT")


def state_of(path):
    """1 or 2 when the database holds exactly one of the two states, else a description."""
    import sqlite3
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=30)
    try:
        gens = [r[0] for r in conn.execute("SELECT gen FROM marker")]
        count, lo, hi = conn.execute("SELECT count(*), min(gen), max(gen) FROM data").fetchone()
    finally:
        conn.close()
    if len(gens) == 1 and gens[0] in (1, 2):
        g = gens[0]
        if count == ROWS_BASE + 1500 * g and lo == g and hi == g:
            return g
    return f"mixed: marker={gens} rows={count} gen range={lo}..{hi}"


class Lane:
    def __init__(self, root, mode, op):
        self.mode, self.op = mode, op
        self.dir = os.path.join(root, f"{op}_{mode}")
        os.makedirs(self.dir)
        self.db = os.path.join(self.dir, "clinic.db")
        self.backups = os.path.join(self.dir, "backups")
        self.prefix = "clinic"
        self.restore_names = []
        self.newest_good = None
        import sqlite3
        conn = sqlite3.connect(self.db, isolation_level=None)
        conn.execute(f"PRAGMA journal_mode={mode}")
        conn.executescript("CREATE TABLE marker(gen INTEGER); INSERT INTO marker VALUES (0);"
                           "CREATE TABLE data(id INTEGER PRIMARY KEY, gen INTEGER, payload TEXT);"
                           "CREATE TABLE log(id INTEGER PRIMARY KEY, at REAL);")
        fill_state(conn, 1)
        conn.close()
        if op == "restore":
            c = self.open()
            a = one(c, "SELECT wecare_backup_create('state 1')")
            fill_state(c, 2)
            configure(c, incremental=1)
            b = one(c, "SELECT wecare_backup_create('state 2')")
            c.close()
            self.restore_names = [a, b]
        self.settle()

    def open(self):
        c = connect(self.db)
        configure(c, busy_timeout_ms=2000, keep_last=1000000 if self.op == "restore" else 4,
                  incremental=1 if self.op == "incremental" else 0)
        return c

    def settle(self):
        c = self.open()
        good = [r["name"] for r in common.listed(c) if r["verify_ok"] == 1 and r["kind"] != "safety"]
        self.newest_good = good[0] if good else None
        c.close()


def run_trial(lane, rng, failures, counts, trial):
    before = state_of(lane.db) if lane.op == "restore" else None
    env = dict(os.environ)
    err_file = tempfile.TemporaryFile()  # a file, not a pipe: the child never blocks on stderr
    child = subprocess.Popen(
        [PYTHON, os.path.abspath(__file__), "--child", "--db", lane.db, "--op", lane.op,
         "--restore-names", ",".join(lane.restore_names)],
        stdout=subprocess.PIPE, stderr=err_file, env=env)
    fd = child.stdout.fileno()
    buf = b""
    deadline = time.time() + 30
    while b"R\n" not in buf:
        r, _, _ = select.select([fd], [], [], max(0.0, deadline - time.time()))
        if not r:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        buf += chunk
    if b"R\n" not in buf:
        child.kill()
        child.wait()
        err_file.seek(0)
        failures.append(f"trial {trial} {lane.op}/{lane.mode}: child did not start: {err_file.read()[-500:]!r}")
        err_file.close()
        return
    # Ops take ~5-60 ms; the delay covers a few of them, so kills land at
    # every phase (snapshot, fsync, verify, sidecar, rename, cleanup, restore).
    time.sleep(rng.uniform(0.0, 0.25))
    alive = child.poll() is None
    child.send_signal(signal.SIGKILL)
    child.wait()
    rest = child.stdout.read()
    child.stdout.close()
    err_file.seek(0)
    err = err_file.read()
    err_file.close()
    counts["trials"] += 1
    if alive:
        counts["kills"] += 1
    else:
        failures.append(f"trial {trial} {lane.op}/{lane.mode}: child died on its own: {err[-800:]!r}")
    lines = (buf + rest).decode().split()
    markers = [m for m in (buf + rest).decode().splitlines() if m[:1] in "BE"]
    if markers and markers[-1].startswith("B"):
        counts["in_op"] += 1
        counts[f"in_{lane.op}"] += 1
    del lines

    tag = f"trial {trial} {lane.op}/{lane.mode}"
    lost_before = len(failures)

    # 1. The database.
    ic = common.integrity(lane.db)
    if ic != "ok":
        failures.append(f"{tag}: integrity_check: {ic}")
    if lane.op == "restore":
        st = state_of(lane.db)
        if st not in (1, 2):
            failures.append(f"{tag}: database is neither the old nor the new content: {st}")
            counts["restore_mixed"] += 1
        else:
            counts["restore_old" if st == before else "restore_new"] += 1

    # 2. The lock.
    if not common.lock_is_free(lane.backups):
        failures.append(f"{tag}: the directory lock is still held after the kill")

    # 3. Leftovers, before the next operation cleans them.
    temps = common.temp_files(lane.backups, lane.prefix)
    orphans = common.orphan_sidecars(lane.backups, lane.prefix)
    counts["temp_left"] += len(temps)
    counts["orphan_sidecars_left"] += len(orphans)

    # 4. Everything under a backup name is a complete, listed, verified backup.
    conn = lane.open()
    try:
        rows = common.listed(conn)
        names = [r["name"] for r in rows]
        files = common.backup_files(lane.backups, lane.prefix)
        if sorted(names) != files:
            failures.append(f"{tag}: listed {sorted(names)} but the directory holds {files}")
        for name in files:
            if not os.path.exists(os.path.join(lane.backups, name + ".meta")):
                failures.append(f"{tag}: {name} has no sidecar record (published before its record?)")
            mode = os.stat(os.path.join(lane.backups, name)).st_mode & 0o777
            if mode != 0o600:
                failures.append(f"{tag}: {name} has mode {oct(mode)}")
            v = common.verify(conn, name)
            counts["verified"] += 1
            if not v["ok"] or v["checksum"] != "match":
                failures.append(f"{tag}: listed backup {name} does not verify: {v}")
        # 5. Nothing lost.
        if lane.newest_good and lane.newest_good not in files:
            newer_good = [r["name"] for r in common.listed(conn)
                          if r["verify_ok"] == 1 and r["kind"] != "safety"]
            if not newer_good:
                failures.append(f"{tag}: the newest good backup {lane.newest_good} is gone and none replaced it")
        for name in lane.restore_names:
            if name not in files:
                failures.append(f"{tag}: restore source {name} is gone")
        # 6. The next locked operation cleans the leftovers; the lock is free.
        try:
            if lane.op == "restore":
                one(conn, "SELECT wecare_backup_cleanup()")
            else:
                one(conn, "SELECT wecare_backup_create('after kill')")
        except Exception as e:  # noqa: BLE001 - any failure here is a finding
            failures.append(f"{tag}: the next operation after the kill failed: {e}")
        left = common.temp_files(lane.backups, lane.prefix) + common.orphan_sidecars(lane.backups, lane.prefix)
        if left:
            failures.append(f"{tag}: leftovers not cleaned by the next operation: {left}")
        else:
            counts["leftovers_cleaned"] += len(temps) + len(orphans)
    finally:
        conn.close()
    lane.settle()
    if len(failures) > lost_before:
        counts["lost"] += 1


def run(trials, seed, root=None, keep=False, verbose=False):
    from collections import Counter
    own_root = root is None
    root = root or tempfile.mkdtemp(prefix="wecare_crash_")
    rng = random.Random(seed)
    lanes = [Lane(root, mode, op) for mode in ("wal", "delete")
             for op in ("create", "incremental", "cleanup", "restore")]
    counts = Counter()
    failures = []
    started = time.time()
    try:
        for i in range(trials):
            run_trial(lanes[i % len(lanes)], rng, failures, counts, i)
            if verbose and (i + 1) % 20 == 0:
                print(f"  {i + 1}/{trials} trials, {len(failures)} failures", file=sys.stderr)
    finally:
        if own_root and not keep:
            shutil.rmtree(root, ignore_errors=True)
    counts["seconds"] = round(time.time() - started, 1)
    return counts, failures


def summary(counts, failures):
    return (f"crash-test: trials={counts['trials']} kills={counts['kills']} "
            f"kills_inside_a_call={counts['in_op']} (create={counts['in_create']} incremental={counts['in_incremental']} "
            f"cleanup={counts['in_cleanup']} restore={counts['in_restore']}) "
            f"restore_lane_db_after_kill: old={counts['restore_old']} new={counts['restore_new']} mixed={counts['restore_mixed']} "
            f"temp_files_left={counts['temp_left']} orphan_sidecars_left={counts['orphan_sidecars_left']} "
            f"cleaned={counts['leftovers_cleaned']} backups_verified={counts['verified']} "
            f"lost={counts['lost']} failures={len(failures)} seconds={counts['seconds']}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    ap.add_argument("--op", help=argparse.SUPPRESS)
    ap.add_argument("--restore-names", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child_main(args)
        return 0
    seed = args.seed if args.seed is not None else int(time.time())
    print(f"crash-test: seed={seed} extension={common.EXT}", flush=True)
    counts, failures = run(args.trials, seed, keep=args.keep, verbose=True)
    for f in failures[:50]:
        print("FAIL", f)
    print(summary(counts, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
