#!/usr/bin/env python3
"""Crash harness for continuous capture: SIGKILL the capturing process at
random points, then check what the timeline holds.

    /usr/bin/python3 tests/crash/capture_harness.py --trials 100 [--seed N] [--keep] [--offsite]

How it works:
  * One WAL database and backup directory for all trials. Each trial starts a
    child (Debian's python3 with the extension loaded) that starts capture at
    100 ms and commits numbered rows (a few with large payloads, so points
    span many pages and segments roll), printing "try n" before and "ack n"
    after each commit. The parent waits a random time (0 to 1.2 s, so kills
    land in capture's start, in a point being written, in a checkpoint of the
    log, in a base backup) and SIGKILLs it.
  * Then, before anything else touches the directory, it checks:
      - wecare_backup_verify('timeline') is ok: every listed point has its
        checksums and continues from the one before (a point torn by the kill
        is not listed);
      - the timeline's rows are ranges, with gaps only for the known reasons;
      - the latest restore point, recovered into a new file, passes
        integrity_check, holds no row that was never tried, and holds every
        row that the previous trial's latest point held (nothing captured is
        lost by a later kill);
      - no temporary file is left in the directory once the next capture
        started (the next trial's child starts it).
  * With --offsite, the child also ships the timeline to a directory target
    (encrypted, offsite_interval 1 s), so kills land in uploads too; after
    each trial, wecare_backup_fetch('timeline') into an empty directory (a new
    machine) must succeed (every object there authenticates and checks out)
    and its latest point pass integrity_check and hold no row never tried.
Prints: trials, kills, points and gaps seen, failures.
"""
import argparse
import json
import os
import random
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

PYTHON = "/usr/bin/python3"
GAP_REASONS = {"capture_off", "wal_reset", "restored"}

CHILD = r"""
import os, sqlite3, sys, time
db, ext, start = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = sqlite3.connect(db, isolation_level=None, timeout=30, check_same_thread=False)
c.enable_load_extension(True); c.load_extension(ext)
c.execute("SELECT wecare_backup_config('wal_max_bytes', 1048576)").fetchone()
if len(sys.argv) > 4:
    c.execute("SELECT wecare_backup_config('offsite', ?)", (sys.argv[4],)).fetchone()
    c.execute("SELECT wecare_backup_config('encrypt_key_file', ?)", (sys.argv[5],)).fetchone()
    c.execute("SELECT wecare_backup_config('offsite_interval', 1)").fetchone()
c.execute("SELECT wecare_backup_continuous(100)").fetchone()
print("R", flush=True)
n = start
while True:
    n += 1
    print("try", n, flush=True)
    payload = os.urandom(60000 if n % 17 == 0 else 200).hex()
    c.execute("INSERT INTO events(id, payload) VALUES (?, ?)", (n, payload))
    print("ack", n, flush=True)
    time.sleep(0.003)
"""


def latest_ids(backups, work, trial):
    target = os.path.join(work, f"latest{trial}.db")
    mem = common.connect(":memory:")
    mem.execute("SELECT wecare_backup_config('dir', ?)", (backups,)).fetchone()
    mem.execute("SELECT wecare_backup_config('prefix', 'clinic')").fetchone()
    try:
        mem.execute("SELECT wecare_backup_recover(?, 'latest', ?)", (target, common.PHRASE)).fetchone()
    finally:
        mem.close()
    c = sqlite3.connect(target)
    try:
        ic = c.execute("PRAGMA integrity_check").fetchone()[0]
        got = {r[0] for r in c.execute("SELECT id FROM events")}
    finally:
        c.close()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(target + suffix):
            os.remove(target + suffix)
    return ic, got


def offsite_ids(share, key, work, trial):
    """A new machine: fetch('timeline') from the share into an empty directory, recover 'latest'."""
    backups = os.path.join(work, f"new{trial}")
    os.mkdir(backups, 0o700)
    target = os.path.join(work, f"offsite{trial}.db")
    mem = common.connect(":memory:")
    try:
        for key_, value in (("dir", backups), ("prefix", "clinic"), ("offsite", share), ("encrypt_key_file", key)):
            mem.execute("SELECT wecare_backup_config(?, ?)", (key_, value)).fetchone()
        mem.execute("SELECT wecare_backup_fetch('timeline')").fetchone()
        mem.execute("SELECT wecare_backup_recover(?, 'latest', ?)", (target, common.PHRASE)).fetchone()
    finally:
        mem.close()
    c = sqlite3.connect(target)
    try:
        ic = c.execute("PRAGMA integrity_check").fetchone()[0]
        got = {r[0] for r in c.execute("SELECT id FROM events")}
    finally:
        c.close()
    shutil.rmtree(backups)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(target + suffix):
            os.remove(target + suffix)
    return ic, got


def run(trials, seed, root=None, keep=False, verbose=False, offsite=False):
    from collections import Counter
    rng = random.Random(seed)
    own_root = root is None
    root = root or tempfile.mkdtemp(prefix="wecare_capture_crash_")
    db = os.path.join(root, "clinic.db")
    backups = os.path.join(root, "backups")
    c = sqlite3.connect(db, isolation_level=None)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("CREATE TABLE events(id INTEGER PRIMARY KEY, payload TEXT)")
    # Held open for the whole run, as an application's other connections are:
    # the last connection to close would checkpoint and delete the log, and a
    # crashed process never does that.
    c.execute("SELECT count(*) FROM events").fetchone()
    extra = []
    if offsite:
        share, keys = os.path.join(root, "nas"), os.path.join(root, "keys")
        os.mkdir(share, 0o700)
        os.mkdir(keys, 0o700)
        key = os.path.join(keys, "offsite.key")
        with open(key, "w") as f:
            f.write(os.urandom(32).hex() + "\n")
        os.chmod(key, 0o600)
        extra = [share, key]
    counts = Counter()
    failures = []
    previous = set()
    tried = 0
    started = time.time()
    try:
        for trial in range(trials):
            tag = f"trial {trial}"
            child = subprocess.Popen([PYTHON, "-c", CHILD, db, common.EXT, str(tried)] + extra,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            fd = child.stdout.fileno()
            buf = b""
            deadline = time.time() + 60
            while b"R\n" not in buf and time.time() < deadline:
                r, _, _ = select.select([fd], [], [], 1.0)
                if r:
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        break
                    buf += chunk
            if b"R\n" not in buf:
                child.kill()
                child.wait()
                failures.append(f"{tag}: the child did not start capture")
                continue
            time.sleep(rng.uniform(0.0, 1.2))
            child.send_signal(signal.SIGKILL)
            child.wait()
            buf += child.stdout.read()
            child.stdout.close()
            counts["trials"] += 1
            counts["kills"] += 1
            for line in buf.decode().splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[0] == "try":
                    tried = max(tried, int(parts[1]))
            lost_before = len(failures)
            conn = common.connect(db)
            try:
                conn.execute("SELECT wecare_backup_config('dir', ?)", (backups,)).fetchone()
                conn.execute("SELECT wecare_backup_config('prefix', 'clinic')").fetchone()
                v = json.loads(conn.execute("SELECT wecare_backup_verify('timeline')").fetchone()[0])
                if not v["ok"]:
                    failures.append(f"{tag}: the timeline does not verify: {v['errors'][:3]}")
                counts["points"] = v["points"]
                rows = conn.execute("SELECT kind, gap_reason FROM wecare_backup_timeline").fetchall()
                counts["gaps"] = sum(1 for k, _ in rows if k == "gap")
                bad = [r for k, r in rows if k == "gap" and r not in GAP_REASONS]
                if bad:
                    failures.append(f"{tag}: gaps with unknown reasons {bad}")
            finally:
                conn.close()
            ic, got = latest_ids(backups, root, trial)
            if ic != "ok":
                failures.append(f"{tag}: the latest restore point fails integrity_check: {ic}")
            if got and max(got) > tried:
                failures.append(f"{tag}: the latest point holds rows never tried ({max(got)} > {tried})")
            if not previous <= got:
                failures.append(f"{tag}: rows captured before are gone: {sorted(previous - got)[:5]}")
            previous = got
            if offsite:
                try:
                    ic, shipped = offsite_ids(extra[0], extra[1], root, trial)
                    counts["offsite_rows"] = len(shipped)
                    if ic != "ok":
                        failures.append(f"{tag}: the latest point off-site fails integrity_check: {ic}")
                    if shipped and max(shipped) > tried:
                        failures.append(f"{tag}: the latest point off-site holds rows never tried")
                except sqlite3.Error as e:
                    if "there is no timeline" not in str(e):  # nothing closed and sent yet
                        failures.append(f"{tag}: the timeline off-site cannot be fetched: {e}")
            temps = common.temp_files(backups, "clinic")
            counts["temp_left"] += len(temps)
            if len(failures) > lost_before:
                counts["lost"] += 1
            if verbose and (trial + 1) % 10 == 0:
                print(f"  {trial + 1}/{trials} trials, {len(failures)} failures", file=sys.stderr)
    finally:
        c.close()
        if own_root and not keep:
            shutil.rmtree(root, ignore_errors=True)
    counts["rows_captured"] = len(previous)
    counts["seconds"] = round(time.time() - started, 1)
    return counts, failures


def summary(counts, failures):
    return (f"capture-crash-test: trials={counts['trials']} kills={counts['kills']} points={counts['points']} "
            f"gaps={counts['gaps']} rows_captured={counts['rows_captured']} temp_files_seen={counts['temp_left']} "
            f"lost={counts['lost']} failures={len(failures)} seconds={counts['seconds']}"
            + (f" offsite_rows={counts['offsite_rows']}" if "offsite_rows" in counts else ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--offsite", action="store_true", help="ship the timeline to a directory target too")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else int(time.time())
    print(f"capture-crash-test: seed={seed} extension={common.EXT}", flush=True)
    counts, failures = run(args.trials, seed, keep=args.keep, verbose=True, offsite=args.offsite)
    for f in failures[:50]:
        print("FAIL", f)
    print(summary(counts, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
