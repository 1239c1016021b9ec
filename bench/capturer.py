#!/usr/bin/python3
"""capturer.py - continuous capture in a process of its own, for the benchmark.

Usage (Debian's python3: it can load SQLite extensions):
    capturer.py EXT DB DIR [--interval-ms N] [--ready-timeout S]

Loads EXT (as given to .load) on DB, sets `dir` to DIR (which must exist, mode
0700), runs `SELECT wecare_backup_continuous(N)` (default 200 ms) and waits
until the timeline has a restorable range (the first base is taken and
captured from), then prints one line `ready <json>` on stdout. It keeps its
connection, and so the capture, open until stdin reaches end of file (or a
line is written to it), then runs `SELECT wecare_backup_continuous(0)`,
closes and prints `{"ok":..., "stats":...}`: the `continuous` part of
wecare_backup_stats() just before stopping.
"""

import argparse
import json
import sqlite3
import sys
import time


def continuous_stats(conn):
    try:
        doc = json.loads(conn.execute("SELECT wecare_backup_stats()").fetchone()[0])
    except (sqlite3.Error, ValueError, TypeError):
        return None
    return doc.get("continuous") if isinstance(doc, dict) else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ext")
    ap.add_argument("db")
    ap.add_argument("dir")
    ap.add_argument("--interval-ms", type=int, default=200)
    ap.add_argument("--ready-timeout", type=float, default=120.0)
    args = ap.parse_args()

    conn = sqlite3.connect(args.db, isolation_level=None, check_same_thread=False)
    conn.enable_load_extension(True)
    conn.load_extension(args.ext)
    conn.enable_load_extension(False)
    conn.execute("SELECT wecare_backup_config('dir', ?)", (args.dir,)).fetchall()
    t0 = time.perf_counter()
    started = conn.execute("SELECT wecare_backup_continuous(?)",
                           (args.interval_ms,)).fetchone()[0]
    rows = []
    while time.perf_counter() - t0 < args.ready_timeout:
        rows = conn.execute("SELECT * FROM wecare_backup_timeline").fetchall()
        if rows:
            break
        time.sleep(0.05)
    ready = {"started": started, "timeline_rows": len(rows),
             "ready_s": round(time.perf_counter() - t0, 3)}
    if not rows:
        print("error no timeline after %g s %s" % (args.ready_timeout, json.dumps(ready)),
              flush=True)
        conn.execute("SELECT wecare_backup_continuous(0)").fetchall()
        conn.close()
        return 1
    print("ready " + json.dumps(ready), flush=True)
    sys.stdin.readline()  # a line, or end of file: stop
    stats = continuous_stats(conn)
    conn.execute("SELECT wecare_backup_continuous(0)").fetchall()
    conn.close()
    print(json.dumps({"ok": True, "stats": stats}, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
