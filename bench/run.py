#!/usr/bin/python3
"""Benchmark wecare_backup against cp, the sqlite3 shell's .backup and VACUUM INTO.

Usage (Debian's python3: it can load SQLite extensions):
    /usr/bin/python3 bench/run.py            # 1 GiB DB, 3 rounds, plus 4 GiB RssAnon
    /usr/bin/python3 bench/run.py --quick    # 64 MiB DB, 3 rounds, no 4 GiB part
    /usr/bin/python3 bench/run.py --render-only   # RESULTS.md again from RESULTS.json

Sections (see bench/README.md for what each number means):
  1 create          cp, cp+sync (durable copy), .backup, VACUUM INTO (each also +sync),
                    wecare_backup_create() with verify_on_create 0 and 1
  2 verify          wecare_backup_verify() vs PRAGMA integrity_check vs sha256sum
  3 restore         hot wecare_backup_restore() (WAL, and rollback mode) vs cp+sync
  4 restore_writer  the same restore while bench/writer commits every 5 ms
                    (synchronous=NORMAL and FULL): the writer's longest wait
  5 recover         wecare_backup_recover() onto a damaged or missing file vs cp+sync
  6 incremental     increments (incremental=1) vs full backups: bytes, wall, CPU;
                    restoring a chain's 7th backup vs a full backup
  7 writer          .backup / VACUUM INTO / create while bench/writer commits every 5 ms
                    (synchronous=NORMAL and FULL)
  8 list            SELECT * FROM wecare_backup_list with 1000 backups in the directory
  9 memory          peak RssAnon growth of the sqlite3 shell during a backup (and an
                    increment)
 10 continuous      a writer committing as fast as it can with continuous capture in
                    another process and without (throughput, p99, -wal size);
                    restore_at('latest') replaying tens of MB of segments

This file is the entry point only: bench/measure.py measures and returns the
data (written to RESULTS.json), bench/report.py renders RESULTS.md from it.
"""

import argparse
import json
import sys
from pathlib import Path

import measure
import report

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mib", type=int, default=None,
                    help="database size (default 1024, or 64 with --quick)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds per section (>= 3)")
    ap.add_argument("--quick", action="store_true",
                    help="64 MiB database, no 4 GiB memory run")
    ap.add_argument("--out", default=str(BENCH / "RESULTS.md"))
    ap.add_argument("--json", default=None,
                    help="raw results (default: --out with .json), written by a run, "
                    "read by --render-only")
    ap.add_argument("--render-only", action="store_true",
                    help="measure nothing: render --out from the existing --json")
    ap.add_argument("--ext", default=str(REPO / "dist" / "wecare_backup"),
                    help="extension path as given to .load (without .so)")
    ap.add_argument("--workdir", default="/tmp", help="where the temp directory goes")
    ap.add_argument("--writer", default=None, help="prebuilt writer (default: build bench/writer.c)")
    ap.add_argument("--writer-sync", default=",".join(measure.WRITER_SYNC_MODES),
                    help="PRAGMA synchronous of the writer in the writer section, comma list "
                    "among " + ",".join(measure.WRITER_SYNC_MODES))
    ap.add_argument("--backup-timeout", type=float, default=None,
                    help="time limit of a backup under the writer (default 60 s, 20 s with --quick)")
    ap.add_argument("--big-mib", type=int, default=4096,
                    help="size of the large database for the memory run (full run only)")
    ap.add_argument("--sections", default=",".join(measure.SECTIONS),
                    help="comma list among " + ",".join(measure.SECTIONS))
    ap.add_argument("--keep", action="store_true", help="keep the temp directory")
    args = ap.parse_args()
    json_path = Path(args.json) if args.json else Path(args.out).with_suffix(".json")

    if args.render_only:
        with open(str(json_path)) as f:
            data = json.load(f)
    else:
        if args.size_mib is None:
            args.size_mib = 64 if args.quick else 1024
        if args.backup_timeout is None:
            args.backup_timeout = 20.0 if args.quick else 60.0
        args.ext = str(Path(args.ext).resolve())
        if args.ext.endswith(".so"):
            args.ext = args.ext[:-3]
        sections = [s.strip() for s in args.sections.split(",") if s.strip()]
        for s in sections:
            if s not in measure.SECTIONS:
                ap.error("unknown section %r" % s)
        args.writer_sync = [s.strip().lower() for s in args.writer_sync.split(",")
                            if s.strip()]
        for s in args.writer_sync:
            if s not in measure.WRITER_SYNC_MODES:
                ap.error("unknown --writer-sync %r" % s)
        data = measure.measure(args, sections, sys.argv[1:])
        with open(str(json_path), "w") as f:
            json.dump(data, f, indent=1, default=str)

    text = report.render(data)
    print(text)
    Path(args.out).write_text(text)
    measure.log("wrote %s" % args.out)


if __name__ == "__main__":
    main()
