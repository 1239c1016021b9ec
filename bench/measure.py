"""Measurement half of the benchmark: runs everything, returns plain data.

measure(args) builds the writer, generates the database, runs the selected
sections and returns one JSON-able dict (what bench/run.py writes to
RESULTS.json and bench/report.py turns into RESULTS.md):

    {"run":     how it was run: argv, repeat, size_mib, backup_timeout, ...,
     "machine": what it ran on, in the order the report lists it,
     "results": {section name: whatever that section returned},
     "facts":   side facts (database size, checksum algorithm, ...),
     "notes":   problems worth a line in the report}

A section is one function registered with @section("name"): it gets the
Bench context, does its own set-up, measures and cleans up, and returns its
result (or None for nothing). Sections that need the extension say so and
are skipped without it. Nothing here knows about markdown or targets.

How it measures: every measured operation is a child process (cp, sh, the
sqlite3 shell with `.load`), reaped with os.wait4 so wall time and CPU time
(user+sys, including its own children) belong to that operation only. The
methods of a section alternate inside each round (rotated order) on the same
files, and medians over the rounds are reported. Dirty pages are flushed
(sync) before each operation but the page cache is NOT dropped: all numbers
are warm-cache numbers.
"""

import datetime
import hashlib
import json
import os
import platform
import random
import re
import shutil
import signal
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PHRASE = "I understand this will replace the current database"
MiB = 1024 * 1024

# synchronous modes bench/writer supports (its --synchronous)
WRITER_SYNC_MODES = ("normal", "full")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def sql_quote(text):
    return "'" + str(text).replace("'", "''") + "'"


# ---------------------------------------------------------------- processes

def run_child(argv, timeout=None):
    """Run argv to completion; wall and CPU (user+sys incl. grandchildren).

    os.wait4 gives the rusage of exactly this child (and whatever it waited
    for), which is what RUSAGE_CHILDREN deltas would give, without being
    disturbed by other children such as the writer.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        lock = threading.Lock()
        state = {"reaped": False, "timed_out": False}
        t0 = time.perf_counter()
        proc = subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL,
                                stdout=out, stderr=err)

        def kill():
            with lock:
                if not state["reaped"]:
                    state["timed_out"] = True
                    os.kill(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill) if timeout else None
        if timer:
            timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        with lock:
            state["reaped"] = True
        if timer:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        res = {
            "wall": wall,
            "cpu": usage.ru_utime + usage.ru_stime,
            "sys": usage.ru_stime,
            # what it wrote to files (ru_oublock: 512-byte units of the block
            # layer's write accounting, O_DIRECT writes included)
            "written_bytes": usage.ru_oublock * 512,
            "rc": proc.returncode,
            "timed_out": state["timed_out"],
            "out": out.read().decode(errors="replace"),
            "err": err.read().decode(errors="replace"),
        }
    if res["timed_out"]:
        res["error"] = "did not finish in %g s" % timeout
    elif res["rc"] != 0:
        res["error"] = "exit %d: %s" % (res["rc"], res["err"].strip()[:300])
    return res


def last_line(text):
    lines = [l for l in text.splitlines() if l.strip()]
    return lines[-1].strip() if lines else ""


def sync_all():
    """Flush dirty pages left by the previous operation (not timed)."""
    os.sync()


PRIME_BYTES = 3 << 30


def prime_memory():
    """Touch and free PRIME_BYTES of memory just before a timed operation (not
    timed). On a VM whose balloon device reports free pages to the host
    (virtio-balloon free page reporting, on the benchmark machine), memory
    freed a few seconds earlier (a deleted journal, a truncated log, a removed
    copy) goes back to the host, and the first touch of each such page costs a
    host fault: the next operation to fill 1 GiB of page cache then pays up to
    a second of CPU in its memcpy, whichever method it is. Pages freed just
    now are reused first and not yet reported, so every method starts alike."""
    buf = bytearray(PRIME_BYTES)
    view = memoryview(buf)
    step = 4096
    view[::step] = b"\x01" * (PRIME_BYTES // step)
    del view
    del buf


def remove_files(directory, keep=()):
    if not directory.exists():
        return
    for entry in directory.iterdir():
        if entry.name in keep:
            continue
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def ensure_backup_dir(settings):
    """The extension never creates a configured backup directory (it could be an
    unmounted disk): the benchmark makes its own, mode 0700."""
    if "dir" in settings:
        os.makedirs(str(settings["dir"]), mode=0o700, exist_ok=True)


def rss_anon_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


# ---------------------------------------------------------------- context

class Bench:
    """What every section gets: options, paths, the shell command builders,
    rounds(), and results/facts/notes to fill."""

    def __init__(self, args):
        self.args = args
        self.ext = args.ext
        self.has_ext = Path(args.ext + ".so").exists() or Path(args.ext).exists()
        self.work = Path(tempfile.mkdtemp(prefix="wecare_bench_",
                                          dir=args.workdir))
        self.src = self.work / "src.db"
        self.out = self.work / "out"
        self.bdir = self.work / "backups"
        self.out.mkdir()
        self.results = {}
        self.notes = []
        self.facts = {}
        self.deferred = []

    def defer(self, label, fn):
        """Run fn after every selected section (for work that changes what the
        other sections share, such as growing the source database). A failure
        becomes the note "<label> failed: <error>"."""
        self.deferred.append((label, fn))

    # sqlite3 shell command lines ------------------------------------------
    def shell(self, db, *commands, readonly=False):
        argv = ["sqlite3", "-batch", "-bail"]
        if readonly:
            argv.append("-readonly")
        return argv + [db] + list(commands)

    def ext_shell(self, db, settings, *sql):
        ensure_backup_dir(settings)
        cmds = [".load " + self.ext]
        cmds += ["SELECT wecare_backup_config(%s, %s)" % (sql_quote(k), sql_quote(v))
                 for k, v in settings.items()]
        return self.shell(db, *cmds, *sql)

    def ext_connect(self, db):
        conn = sqlite3.connect(str(db), isolation_level=None)
        conn.enable_load_extension(True)
        conn.load_extension(self.ext)
        conn.enable_load_extension(False)
        return conn

    # set-up ----------------------------------------------------------------
    def build_writer(self):
        if self.args.writer:
            self.writer = self.args.writer
            return
        self.writer = str(self.work / "writer")
        subprocess.run(["cc", "-O2", "-o", self.writer, str(BENCH / "writer.c"),
                        "-lsqlite3"], check=True)

    def generate(self, path, size_mib):
        log("generating %s (%d MiB)" % (path.name, size_mib))
        t0 = time.perf_counter()
        subprocess.run(["/usr/bin/python3", str(BENCH / "gen_db.py"), str(path),
                        "--size-mib", str(size_mib), "--quiet"], check=True)
        log("  %.1f s, %d MiB" % (time.perf_counter() - t0,
                                  path.stat().st_size // MiB))

    def warm(self, path):
        with open(path, "rb") as f:
            while f.read(8 * MiB):
                pass

    def rounds(self, methods, label):
        """Run each method once per round, rotating the order every round.

        A method is a dict: "name"; either "argv" (a function returning the
        command line, run with run_child and "timeout") or "run" (a function
        returning a result dict with at least "wall" and "cpu"); optional
        "prepare" and "cleanup" (called before and after, not timed) and
        "check" (gets the result, returns None or what is wrong with it).
        Returns {name: [result of each round]}.
        """
        runs = {m["name"]: [] for m in methods}
        repeat = self.args.repeat
        for r in range(repeat):
            k = r % len(methods)
            for m in methods[k:] + methods[:k]:
                if m.get("prepare"):
                    m["prepare"]()
                sync_all()
                prime_memory()
                res = m["run"]() if "run" in m else run_child(
                    m["argv"](), timeout=m.get("timeout"))
                if "error" not in res and m.get("check"):
                    problem = m["check"](res)
                    if problem:
                        res["error"] = problem
                if m.get("cleanup"):
                    m["cleanup"]()
                runs[m["name"]].append(res)
                log("  %s round %d/%d %-28s %s" % (
                    label, r + 1, repeat, m["name"],
                    res.get("error") or "%.3f s wall %.3f s cpu" % (
                        res["wall"], res["cpu"])))
        return runs


# figures a run may carry besides wall and cpu; summarize() gives their medians
# over the rounds that succeeded
MEDIAN_FIGURES = ("sys", "written_bytes", "file_bytes", "backup_bytes", "increment_pages",
                  "changed_pages", "db_pages", "commits_per_s", "wal_peak_bytes",
                  "capture_ready_s", "capture_cpu_s")


def summarize(runs):
    """Medians of the rounds of one method (and of the writer's figures)."""
    ok = [r for r in runs if "error" not in r]
    errors = sorted({r["error"] for r in runs if "error" in r})
    out = {"n": len(runs), "ok": len(ok), "errors": errors,
           "walls": [round(r["wall"], 4) for r in runs]}
    if ok:
        out["wall"] = statistics.median(r["wall"] for r in ok)
        out["cpu"] = statistics.median(r["cpu"] for r in ok)
        for key in MEDIAN_FIGURES:
            if all(key in r for r in ok):
                out[key] = statistics.median(r[key] for r in ok)
    if any("writer" in r for r in runs):
        ws = [r["writer"] for r in runs if r.get("writer")]
        for key in ("p50_ms", "p99_ms", "max_ms", "commits", "errors"):
            if ws:
                out["writer_" + key] = statistics.median(w[key] for w in ws)
        if ws:
            out["writer_worst_max_ms"] = max(w["max_ms"] for w in ws)
            out["writer_worst_p99_ms"] = max(w["p99_ms"] for w in ws)
            out["writer_synchronous"] = ws[0].get("synchronous", "normal")
    return out


def summarize_all(runs):
    return {name: summarize(r) for name, r in runs.items()}


def make_backup(b, db, bdir, verify="0", settings=None):
    """One untimed backup with the extension; returns its file name.
    verify="1" makes it a backup a restore does not read before its copy."""
    res = run_child(b.ext_shell(db, dict({"dir": bdir, "verify_on_create": verify},
                                         **(settings or {})),
                                "SELECT wecare_backup_create()"))
    if "error" in res:
        raise RuntimeError("wecare_backup_create failed: " + res["error"])
    return last_line(res["out"])


def db_query(path, sql, params=()):
    """Rows of one statement on its own connection, closed at once (an open
    connection would count as another reader, or block a recover)."""
    conn = sqlite3.connect(str(path))
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def file_sizes(directory):
    """{name: size} of the regular files in directory."""
    if not directory.exists():
        return {}
    return {e.name: e.stat().st_size for e in directory.iterdir() if e.is_file()}


def drop_safety_backups(directory):
    """Remove the safety backups (and their sidecars) a restore left."""
    for f in directory.iterdir():
        if "_safety_" in f.name:
            f.unlink()


def restore_sql(name):
    return "SELECT wecare_backup_restore(%s, %s)" % (sql_quote(name), sql_quote(PHRASE))


def check_answer(res, key, name):
    """None if the JSON answer of a restore or recover names the backup, else
    what is wrong; the parsed answer goes to res["answer"]."""
    try:
        doc = json.loads(last_line(res["out"]))
    except ValueError:
        return "not JSON: %r" % last_line(res["out"])[:200]
    res["answer"] = doc
    if doc.get(key) != name:
        return "unexpected answer: %s" % json.dumps(doc)[:200]
    return None


# ---------------------------------------------------------------- the writer

def writer_row(name, synchronous):
    """Row name of a method run under the writer: the NORMAL rows keep their
    plain names (the targets were set with a NORMAL writer), others say so."""
    if synchronous == "normal":
        return name
    return "%s [synchronous=%s]" % (name, synchronous.upper())


def with_writer(b, argv, timeout=None, settle=0.5, synchronous="normal", db=None):
    """Run argv while bench/writer commits every 5 ms to db (default: the
    source database) with PRAGMA synchronous=<synchronous>. With argv None,
    just let the writer run for timeout seconds. The result has the writer's
    figures for exactly the time argv ran under "writer"."""
    db = b.src if db is None else db
    writer = subprocess.Popen([b.writer, str(db), "--synchronous", synchronous],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ready = writer.stderr.readline()
    if "ready" not in ready:
        writer.kill()
        writer.wait()
        raise RuntimeError("writer did not start: %r" % ready)
    time.sleep(settle)
    writer.send_signal(signal.SIGUSR1)  # measure from here on
    time.sleep(0.01)
    if argv:
        res = run_child(argv, timeout=timeout)
    else:
        t0 = time.perf_counter()
        time.sleep(timeout)
        res = {"wall": time.perf_counter() - t0, "cpu": 0.0}
    writer.send_signal(signal.SIGTERM)
    wout, werr = writer.communicate(timeout=60)
    try:
        res["writer"] = json.loads(last_line(wout))
    except ValueError:
        res["writer"] = None
        res["error"] = "writer output: %r %r" % (wout[-200:], werr[-200:])
    if res.get("writer") and res["writer"]["errors"]:
        res["error"] = "writer had %d failed commits" % res["writer"]["errors"]
    return res


# ---------------------------------------------------------------- sections

SECTIONS = {}  # name -> Section, in registration order = default run order


class Section:
    def __init__(self, name, fn, needs_ext):
        self.name, self.fn, self.needs_ext = name, fn, needs_ext


def section(name, needs_ext=False):
    """Register fn(b) -> result as the section `name` (see the module doc)."""
    def register(fn):
        SECTIONS[name] = Section(name, fn, needs_ext)
        return fn
    return register


@section("create")
def section_create(b):
    src, out, bdir = b.src, b.out, b.bdir
    dst = out / "copy.db"
    bdir.mkdir(exist_ok=True)
    clean_out = lambda: remove_files(out)
    clean_bdir = lambda: remove_files(bdir)

    def check_copy(res):
        if not dst.exists() or dst.stat().st_size == 0:
            return "no output file"
        return None

    def check_create(res):
        name = last_line(res["out"])
        if not (bdir / name).exists():
            return "backup %r not found in %s" % (name, bdir)
        return None

    sh_sync = 'sync "$1"'
    methods = [
        {"name": "cp", "argv": lambda: ["cp", src, dst],
         "check": check_copy, "cleanup": clean_out},
        {"name": "cp + sync (durable copy)",
         "argv": lambda: ["sh", "-c", 'cp "$0" "$1" && ' + sh_sync, src, dst],
         "check": check_copy, "cleanup": clean_out},
        {"name": ".backup",
         "argv": lambda: b.shell(src, ".backup " + sql_quote(dst)),
         "check": check_copy, "cleanup": clean_out},
        {"name": ".backup + sync",
         "argv": lambda: ["sh", "-c", 'sqlite3 -batch -bail "$0" ".backup \'$1\'" && '
                          + sh_sync, src, dst],
         "check": check_copy, "cleanup": clean_out},
        {"name": "VACUUM INTO",
         "argv": lambda: b.shell(src, "VACUUM INTO " + sql_quote(dst)),
         "check": check_copy, "cleanup": clean_out},
        {"name": "VACUUM INTO + sync",
         "argv": lambda: ["sh", "-c", 'sqlite3 -batch -bail "$0" "VACUUM INTO \'$1\'" && '
                          + sh_sync, src, dst],
         "check": check_copy, "cleanup": clean_out},
    ]
    if b.has_ext:
        # what every extension row pays for starting sqlite3 and loading
        methods.append({"name": "(sqlite3 + .load + config only)",
                        "argv": lambda: b.ext_shell(src, {"dir": bdir}, "SELECT 1")})
        for verify in ("0", "1"):
            methods.append({
                "name": "wecare_backup_create verify=" + verify,
                "argv": (lambda v=verify: b.ext_shell(
                    src, {"dir": bdir, "verify_on_create": v},
                    "SELECT wecare_backup_create()")),
                "check": check_create, "cleanup": clean_bdir})
    # warm-up, not measured: source in the page cache, binaries loaded
    b.warm(src)
    run_child(["cp", src, dst])
    clean_out()
    return summarize_all(b.rounds(methods, "create"))


@section("verify", needs_ext=True)
def section_verify(b):
    bdir = b.work / "verify_backups"
    name = make_backup(b, b.src, bdir)
    path = bdir / name
    b.facts["verify_backup_bytes"] = path.stat().st_size

    def check_verify(res):
        try:
            doc = json.loads(last_line(res["out"]))
        except ValueError:
            return "not JSON: %r" % last_line(res["out"])[:200]
        b.facts["verify_json"] = doc
        return None if doc.get("ok") is True else "verify said not ok: %s" % (
            json.dumps(doc)[:300])

    def check_integrity(res):
        return None if last_line(res["out"]) == "ok" else "integrity_check: %r" % (
            res["out"][:200])

    methods = [
        {"name": "wecare_backup_verify",
         "argv": lambda: b.ext_shell(b.src, {"dir": bdir},
                                     "SELECT wecare_backup_verify(%s)" % sql_quote(name)),
         "check": check_verify},
        {"name": "PRAGMA integrity_check",
         "argv": lambda: b.shell(path, "PRAGMA integrity_check", readonly=True),
         "check": check_integrity},
        {"name": "PRAGMA quick_check",
         "argv": lambda: b.shell(path, "PRAGMA quick_check", readonly=True),
         "check": check_integrity},
        {"name": "sha256sum", "argv": lambda: ["sha256sum", path]},
    ]
    b.warm(path)
    result = summarize_all(b.rounds(methods, "verify"))
    shutil.rmtree(bdir)
    return result


@section("restore", needs_ext=True)
def section_restore(b):
    """A hot restore (issue 12): from a backup that verified ok when it was
    made, so the restore does not read it before the copy, takes the safety
    backup (beside the copy in WAL mode), replaces the database in one
    transaction of its own journal
    and, in WAL mode, checkpoints. Into a copy of the source in WAL mode (the
    target) and one in rollback (DELETE) mode (reported), with no other
    connection open. The references copy the backup into a file of their own:
    a copy over the target would leave it in rollback mode for the next round."""
    ref = b.out / "restore_ref.db"
    methods = []
    backups = []
    for mode in ("wal", "delete"):
        tgt = b.work / ("tgt_%s.db" % mode)
        rdir = b.work / ("restore_%s_backups" % mode)
        shutil.copyfile(b.src, tgt)
        if mode != "wal":
            db_query(tgt, "PRAGMA journal_mode=%s" % mode)
        name = make_backup(b, tgt, rdir, verify="1")
        backups.append(rdir / name)
        expected = db_query(tgt, "SELECT count(*) FROM patients")[0][0]

        def check_restore(res, tgt=tgt, name=name, mode=mode, expected=expected):
            problem = check_answer(res, "restored", name)
            if problem:
                return problem
            got_mode = db_query(tgt, "PRAGMA journal_mode")[0][0]
            if got_mode != mode:
                return "journal_mode after the restore is %s, not %s" % (got_mode, mode)
            got = db_query(tgt, "SELECT count(*) FROM patients")[0][0]
            if got != expected:
                return "restored db has %d patients, expected %d" % (got, expected)
            return None

        methods.append({
            "name": restore_row(mode),
            "argv": (lambda tgt=tgt, rdir=rdir, name=name:
                     b.ext_shell(tgt, {"dir": rdir}, restore_sql(name))),
            "check": check_restore,
            "cleanup": lambda rdir=rdir: drop_safety_backups(rdir)})
    path = backups[0]
    methods += [
        {"name": "cp + sync (durable copy)",
         "argv": lambda: ["sh", "-c", 'cp "$0" "$1" && sync "$1"', path, ref],
         "cleanup": lambda: remove_files(b.out)},
        {"name": "cp", "argv": lambda: ["cp", path, ref],
         "cleanup": lambda: remove_files(b.out)},
    ]
    for p in backups:
        b.warm(p)
    result = summarize_all(b.rounds(methods, "restore"))
    for mode in ("wal", "delete"):
        shutil.rmtree(b.work / ("restore_%s_backups" % mode))
        for f in b.work.glob("tgt_%s.db*" % mode):
            f.unlink()
    return result


def restore_row(journal_mode):
    """Row name of a restore: WAL, the mode the targets are for, keeps the
    plain name."""
    if journal_mode == "wal":
        return "wecare_backup_restore"
    return "wecare_backup_restore [journal_mode=%s]" % journal_mode.upper()


@section("restore_writer", needs_ext=True)
def section_restore_writer(b):
    """The hot restore while bench/writer commits every 5 ms to the database
    being restored, once per --writer-sync mode, and the same restore without
    the writer in the same rounds. The restore holds the writer lock from its
    safety backup to its checkpoint, so the writer's longest wait is the
    restore's critical section."""
    tgt = b.work / "tgt_writer.db"
    rdir = b.work / "restore_writer_backups"
    ref = b.out / "restore_ref.db"
    shutil.copyfile(b.src, tgt)
    # the writer's table must be in the backup: after a restore the writer
    # goes on inserting into it
    db_query(tgt, "CREATE TABLE IF NOT EXISTS bench_writer("
                  "id INTEGER PRIMARY KEY, at REAL NOT NULL, note TEXT)")
    name = make_backup(b, tgt, rdir, verify="1")
    path = rdir / name
    limit = 3 * b.args.backup_timeout
    argv = lambda: b.ext_shell(tgt, {"dir": rdir}, restore_sql(name))
    check = lambda res: check_answer(res, "restored", name)
    cleanup = lambda: drop_safety_backups(rdir)
    methods = []
    for sync in b.args.writer_sync:
        methods.append({"name": writer_row("writer alone (no restore, 3 s)", sync),
                        "run": lambda s=sync: with_writer(b, None, timeout=3.0,
                                                          synchronous=s, db=tgt)})
        methods.append({"name": writer_row("wecare_backup_restore", sync),
                        "run": lambda s=sync: with_writer(b, argv(), timeout=limit,
                                                          synchronous=s, db=tgt),
                        "check": check, "cleanup": cleanup})
    methods += [
        {"name": "wecare_backup_restore (no writer)",
         "run": lambda: run_child(argv(), timeout=limit),
         "check": check, "cleanup": cleanup},
        {"name": "cp + sync (durable copy)",
         "argv": lambda: ["sh", "-c", 'cp "$0" "$1" && sync "$1"', path, ref],
         "cleanup": lambda: remove_files(b.out)},
    ]
    b.warm(path)
    result = summarize_all(b.rounds(methods, "restore_writer"))
    shutil.rmtree(rdir)
    for f in b.work.glob("tgt_writer.db*"):
        f.unlink()
    return result


@section("recover", needs_ext=True)
def section_recover(b):
    """wecare_backup_recover(db_path, name, phrase) from `sqlite3 :memory:`
    onto a database file whose header was overwritten (no statement can be
    prepared on it), and onto a missing one; from a backup that verified ok
    when it was made. The damaged file is moved aside by the recover and
    deleted after each round (not timed)."""
    tgt = b.work / "tgt_recover.db"
    rdir = b.work / "recover_backups"
    ref = b.out / "recover_ref.db"
    shutil.copyfile(b.src, tgt)
    name = make_backup(b, tgt, rdir, verify="1")
    path = rdir / name
    expected = db_query(tgt, "SELECT count(*) FROM patients")[0][0]

    def present():
        if not tgt.exists():  # a failed round left none: any 1 GiB file will do
            shutil.copyfile(path, tgt)

    def damage_header():
        present()
        with open(str(tgt), "r+b") as f:
            f.write(b"this is no longer an SQLite database header" + bytes(57))

    def remove_db():
        present()
        for f in b.work.glob("tgt_recover.db*"):
            f.unlink()

    def drop_damaged():
        for f in b.work.glob("tgt_recover.db.damaged-*"):
            f.unlink()

    def check_recover(damaged):
        def check(res):
            problem = check_answer(res, "recovered", name)
            if problem:
                return problem
            if (res["answer"].get("damaged_as") is None) == damaged:
                return "damaged_as is %r" % res["answer"].get("damaged_as")
            got = db_query(tgt, "SELECT count(*) FROM patients")[0][0]
            if got != expected:
                return "recovered db has %d patients, expected %d" % (got, expected)
            return None
        return check

    recover = lambda: b.ext_shell(
        ":memory:", {"dir": rdir}, "SELECT wecare_backup_recover(%s, %s, %s)" % (
            sql_quote(tgt), sql_quote(name), sql_quote(PHRASE)))
    methods = [
        {"name": "wecare_backup_recover (header overwritten)", "argv": recover,
         "prepare": damage_header, "check": check_recover(True), "cleanup": drop_damaged},
        {"name": "wecare_backup_recover (file missing)", "argv": recover,
         "prepare": remove_db, "check": check_recover(False)},
        {"name": "cp + sync (durable copy)",
         "argv": lambda: ["sh", "-c", 'cp "$0" "$1" && sync "$1"', path, ref],
         "cleanup": lambda: remove_files(b.out)},
        {"name": "cp", "argv": lambda: ["cp", path, ref],
         "cleanup": lambda: remove_files(b.out)},
    ]
    b.warm(path)
    result = summarize_all(b.rounds(methods, "recover"))
    shutil.rmtree(rdir)
    for f in b.work.glob("tgt_recover.db*"):
        f.unlink()
    return result


# ---------------------------------------------------------------- incremental

CHANGE_FRACTION = 0.01  # of the pages, between two backups (issue 13)
CHAIN_LINKS = 7         # the full backup and 6 increments: full_every's default


def page_hashes(path, page_size=4096):
    """One short hash per page of a database file (not timed)."""
    hashes = []
    with open(str(path), "rb") as f:
        while True:
            chunk = f.read(page_size * 2048)
            if not chunk:
                return hashes
            for i in range(0, len(chunk), page_size):
                hashes.append(hashlib.blake2b(chunk[i:i + page_size], digest_size=8).digest())


def pages_changed(before, after):
    return sum(1 for x, y in zip(before, after) if x != y) + abs(len(after) - len(before))


def increment_entries(path):
    """The number of pages an increment holds, from its header
    ("WCINCR01", u32 version, u32 page size, u32 page count, u32 entries)."""
    with open(str(path), "rb") as f:
        magic, _, _, _, entries = struct.unpack("<8sIIII", f.read(24))
    if magic != b"WCINCR01":
        raise ValueError("%s is not an increment" % path.name)
    return entries


class PageChanger:
    """Changes about a given fraction of a database's pages at random.

    Random rows of the two big tables get a new value of the same length in
    a column that no index covers (patients.updated_at, visits.diagnosis_code),
    so SQLite overwrites each row in place: one leaf page per row, no split,
    no index page. The rows are drawn in proportion to each table's pages,
    so the changed pages are spread over the whole file. A few rows share a
    page, so slightly fewer pages than rows change: the section measures how
    many did."""

    COLUMNS = {"patients": ("updated_at", "id"), "visits": ("diagnosis_code", "id")}

    def __init__(self, db, seed=13):
        self.db = db
        self.rng = random.Random(seed)
        conn = sqlite3.connect(str(db))
        try:
            self.pages = {t: conn.execute(
                "SELECT pageno FROM dbstat WHERE name = ? AND aggregate = 1", (t,)
            ).fetchone()[0] for t in self.COLUMNS}
            self.max_id = {t: conn.execute("SELECT max(id) FROM %s" % t).fetchone()[0]
                           for t in self.COLUMNS}
        finally:
            conn.close()

    def new_value(self, table):
        if table == "patients":  # ISO time, always 20 characters
            return time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                 time.gmtime(self.rng.randrange(1_400_000_000, 1_800_000_000)))
        return "%s%02d.%d" % (self.rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
                              self.rng.randrange(100), self.rng.randrange(10))

    def change(self, fraction):
        """Update rows on about fraction of the database's pages, then fold
        the WAL into the file. Returns the number of rows updated."""
        conn = sqlite3.connect(str(self.db), isolation_level=None)
        try:
            total = conn.execute("PRAGMA page_count").fetchone()[0]
            rows = max(1, round(fraction * total))
            table_pages = sum(self.pages.values())
            conn.execute("BEGIN")
            for table, (column, key) in self.COLUMNS.items():
                n = min(self.max_id[table], round(rows * self.pages[table] / table_pages))
                ids = self.rng.sample(range(1, self.max_id[table] + 1), n)
                conn.executemany("UPDATE %s SET %s = ? WHERE %s = ?" % (table, column, key),
                                 [(self.new_value(table), i) for i in ids])
            conn.execute("COMMIT")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            return rows
        finally:
            conn.close()


def changed_columns_digest(db):
    """A digest of every value PageChanger changes (not timed): two restores
    brought back the same database if their digests match."""
    digest = hashlib.blake2b(digest_size=16)
    conn = sqlite3.connect(str(db))
    try:
        for table, (column, key) in PageChanger.COLUMNS.items():
            for (value,) in conn.execute("SELECT %s FROM %s ORDER BY %s" % (column, table, key)):
                digest.update(value.encode() + b"\0")
    finally:
        conn.close()
    return digest.hexdigest()


@section("incremental", needs_ext=True)
def section_incremental(b):
    """Issue 13 on a copy of the source (4096-byte pages). Two result sets:

    "create": in the same rounds, a full backup (incremental=0) and, with
    incremental=1, an increment after CHANGE_FRACTION of the pages changed at
    random and one with nothing changed, each on a full base made just before
    (not timed); with verify_on_create 0 (the targets) and 1 (reported).
    Bytes written = what the process wrote (rusage); the files it left are
    counted too. The changed pages are counted by hashing every page before
    and after the change.

    "restore": a chain of CHAIN_LINKS backups (full, then increments, each
    after a change), verified when made; the newest link restored against a
    full backup of the same database, both hot (verified when made)."""
    db = b.work / "inc.db"
    chain = b.work / "inc_chain"
    full = b.work / "inc_full"
    shutil.copyfile(b.src, db)
    page_size = db_query(db, "PRAGMA page_size")[0][0]
    b.facts["incremental_page_size"] = page_size
    changer = PageChanger(db)
    keep = {"keep_last": "100", "full_every": str(CHAIN_LINKS)}
    state = {}

    def create(directory, incremental, verify):
        return lambda: b.ext_shell(db, dict(keep, dir=directory, incremental=incremental,
                                            verify_on_create=verify),
                                   "SELECT wecare_backup_create()")

    def fresh_base(verify, change):
        """A new chain: its full backup, then (maybe) the change."""
        def prepare():
            remove_files(chain)
            make_backup(b, db, chain, verify=verify, settings=dict(keep, incremental="1"))
            state["before"] = file_sizes(chain)
            state.pop("changed", None)
            if change:
                before = page_hashes(db, page_size)
                state["rows"] = changer.change(CHANGE_FRACTION)
                after = page_hashes(db, page_size)
                state["changed"] = pages_changed(before, after)
                state["pages"] = len(after)
        return prepare

    def check(directory, incremental):
        def check_create(res):
            name = last_line(res["out"])
            want = ".incr" if incremental else ".db"
            if not name.endswith(want):
                return "expected a %s backup, got %r" % (want, name)
            before = state.get("before", {}) if incremental else {}
            now = file_sizes(directory)
            res["backup_bytes"] = now[name]
            res["file_bytes"] = sum(size for n, size in now.items() if n not in before)
            if incremental:
                res["increment_pages"] = increment_entries(directory / name)
                if "changed" in state:
                    res["changed_pages"] = state["changed"]
                    res["db_pages"] = state["pages"]
            return None
        return check_create

    methods = []
    for verify in ("0", "1"):
        methods += [
            {"name": "full backup verify=%s" % verify, "argv": create(full, "0", verify),
             "check": check(full, False), "cleanup": lambda: remove_files(full)},
            {"name": "increment, %g%% of pages changed, verify=%s" % (
                100 * CHANGE_FRACTION, verify),
             "argv": create(chain, "1", verify), "prepare": fresh_base(verify, True),
             "check": check(chain, True)},
        ]
    methods.insert(2, {"name": "increment, nothing changed, verify=0",
                       "argv": create(chain, "1", "0"), "prepare": fresh_base("0", False),
                       "check": check(chain, True)})
    full.mkdir(mode=0o700)
    b.warm(db)
    result = {"create": summarize_all(b.rounds(methods, "incremental"))}

    # the chain, each link verified when made (as a restore wants it)
    remove_files(chain)
    links = []
    for i in range(CHAIN_LINKS):
        if i:
            changer.change(CHANGE_FRACTION)
        links.append(make_backup(b, db, chain, verify="1",
                                 settings=dict(keep, incremental="1")))
    if not links[-1].endswith(".incr") or links[0].endswith(".incr"):
        raise RuntimeError("the chain is not one full backup and increments: %s" % links)
    remove_files(full)
    full_name = make_backup(b, db, full, verify="1", settings=keep)
    fingerprint = lambda: changed_columns_digest(db)
    expected = fingerprint()

    def check_restore(name):
        def check_it(res):
            problem = check_answer(res, "restored", name)
            if problem:
                return problem
            if fingerprint() != expected:
                return "the restored database is not the one backed up"
            return None
        return check_it

    chain_bytes = sum(file_sizes(chain).values())
    restores = [
        {"name": "restore the %dth backup of a chain" % CHAIN_LINKS,
         "argv": lambda: b.ext_shell(db, dict(keep, dir=chain), restore_sql(links[-1])),
         "check": check_restore(links[-1]), "cleanup": lambda: drop_safety_backups(chain)},
        {"name": "restore a full backup",
         "argv": lambda: b.ext_shell(db, dict(keep, dir=full), restore_sql(full_name)),
         "check": check_restore(full_name), "cleanup": lambda: drop_safety_backups(full)},
    ]
    # written with O_DIRECT, so not in the page cache: warm like every restore here
    for f in list(chain.iterdir()) + [full / full_name]:
        b.warm(f)
    result["restore"] = summarize_all(b.rounds(restores, "incremental restore"))
    result["chain"] = {"links": len(links), "bytes": chain_bytes,
                       "full_bytes": (full / full_name).stat().st_size}
    shutil.rmtree(chain)
    shutil.rmtree(full)
    for f in b.work.glob("inc.db*"):
        f.unlink()
    return result


@section("writer")
def section_writer(b):
    """The backups while the writer commits, once per --writer-sync mode, and
    the same backups without the writer in the same rounds: the slowdown is
    measured against those, so that load from elsewhere hits both alike."""
    src, out, bdir = b.src, b.out, b.bdir
    dst = out / "copy.db"
    bdir.mkdir(exist_ok=True)
    limit = b.args.backup_timeout

    def check_copy(res):
        return None if dst.exists() else "no output file"

    def check_create(res):
        return None if (bdir / last_line(res["out"])).is_file() else "no backup file"

    backups = [  # (name, argv, check, cleanup, has an idle twin)
        (".backup", lambda: b.shell(src, ".backup " + sql_quote(dst)),
         check_copy, lambda: remove_files(out), False),
        ("VACUUM INTO", lambda: b.shell(src, "VACUUM INTO " + sql_quote(dst)),
         check_copy, lambda: remove_files(out), True),
    ]
    if b.has_ext:
        for verify in ("0", "1"):
            backups.append((
                "wecare_backup_create verify=" + verify,
                (lambda v=verify: b.ext_shell(
                    src, {"dir": bdir, "verify_on_create": v},
                    "SELECT wecare_backup_create()")),
                check_create, lambda: remove_files(bdir), True))

    methods = []
    for sync in b.args.writer_sync:
        methods.append({"name": writer_row("writer alone (no backup, 3 s)", sync),
                        "run": lambda s=sync: with_writer(b, None, timeout=3.0,
                                                          synchronous=s)})
        for name, argv, check, cleanup, _ in backups:
            methods.append({
                "name": writer_row(name, sync),
                "run": (lambda f=argv, s=sync: with_writer(
                    b, f(), timeout=limit, synchronous=s)),
                "check": check, "cleanup": cleanup})
    for name, argv, check, cleanup, idle in backups:
        if idle:
            methods.append({"name": name + " (no writer)",
                            "run": lambda f=argv: run_child(f()),
                            "check": check, "cleanup": cleanup})
    result = summarize_all(b.rounds(methods, "writer"))
    # the writer's rows stay in the source db (a few KiB); fold its WAL back
    sqlite3.connect(str(src)).execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    return result


@section("list", needs_ext=True)
def section_list(b, count=1000, reps=50):
    tiny = b.work / "tiny.db"
    ldir = b.work / "list_backups"
    conn = sqlite3.connect(str(tiny), isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
    conn.executemany("INSERT INTO t(v) VALUES (?)", [("row %d" % i,) for i in range(100)])
    conn.close()
    name = make_backup(b, tiny, ldir, verify="1")
    meta = ldir / (name + ".meta")
    if not meta.exists():
        b.notes.append("list: no sidecar %s found; list timing skipped" % meta.name)
        return None
    b.facts["sidecar_example"] = meta.read_text()

    # Clone the real backup and its sidecar under 999 other valid names,
    # rewriting the name and timestamp in the sidecar so each clone is
    # self-consistent. Timestamps go back one hour per clone.
    m = re.match(r"^(.*)_backup_(\d{4})-(\d\d)-(\d\d)_(\d\d)-(\d\d)-(\d\d)\.db$", name)
    if not m:
        b.notes.append("list: unexpected backup name %r; list timing skipped" % name)
        return None
    prefix = m.group(1)
    t_orig = datetime.datetime(*map(int, m.groups()[1:]), tzinfo=datetime.timezone.utc)
    meta_text = meta.read_text()
    forms = lambda t: (t.strftime("%Y-%m-%d_%H-%M-%S"), t.strftime("%Y-%m-%dT%H:%M:%SZ"),
                       t.strftime("%Y-%m-%d %H:%M:%S"), str(int(t.timestamp())))
    t0 = time.perf_counter()
    for i in range(1, count):
        t = t_orig - datetime.timedelta(hours=i)
        clone = "%s_backup_%s.db" % (prefix, t.strftime("%Y-%m-%d_%H-%M-%S"))
        text = meta_text.replace(name, clone)
        for old, new in zip(forms(t_orig), forms(t)):
            text = text.replace(old, new)
        shutil.copyfile(ldir / name, ldir / clone)
        (ldir / (clone + ".meta")).write_text(text)
        os.chmod(ldir / clone, 0o600)
        os.chmod(ldir / (clone + ".meta"), 0o600)
    log("  list: made %d clones in %.1f s" % (count - 1, time.perf_counter() - t0))

    sync_all()
    conn = b.ext_connect(tiny)
    ensure_backup_dir({"dir": ldir})
    conn.execute("SELECT wecare_backup_config('dir', ?)", (str(ldir),)).fetchall()
    times = []
    rows = []
    for _ in range(reps):
        t0 = time.perf_counter()
        rows = conn.execute("SELECT * FROM wecare_backup_list").fetchall()
        times.append(time.perf_counter() - t0)
    cols = [d[0] for d in conn.execute("SELECT * FROM wecare_backup_list LIMIT 1").description]
    conn.close()
    res = {"rows": len(rows), "first_ms": times[0] * 1000,
           "median_ms": statistics.median(times) * 1000,
           "min_ms": min(times) * 1000, "reps": reps, "files": count}
    if rows:
        first = dict(zip(cols, rows[0]))
        res["example_row"] = first
        checksum = first.get("checksum")
        if checksum and ":" in str(checksum):
            b.facts["checksum_algorithm"] = str(checksum).split(":")[0]
        res["rows_with_checksum"] = sum(1 for r in rows if dict(zip(cols, r)).get("checksum"))
    if len(rows) != count:
        res["error"] = "list returned %d rows for %d backups" % (len(rows), count)
    shutil.rmtree(ldir)
    return res


def rss_during(b, db, sql, settings):
    """Peak RssAnon growth of an idle-then-busy sqlite3 shell running sql."""
    ensure_backup_dir(settings)
    proc = subprocess.Popen(["sqlite3", "-batch", str(db)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, bufsize=1)
    setup = [".load " + b.ext] + [
        "SELECT wecare_backup_config(%s, %s);" % (sql_quote(k), sql_quote(v))
        for k, v in settings.items()] + ["SELECT 'bench-ready';"]
    proc.stdin.write("\n".join(setup) + "\n")
    proc.stdin.flush()
    while True:
        line = proc.stdout.readline()
        if not line or line.strip() == "bench-ready":
            break
    time.sleep(0.05)
    baseline = rss_anon_kib(proc.pid)
    peak = [baseline]
    done = threading.Event()

    def sample():
        while not done.is_set():
            v = rss_anon_kib(proc.pid)
            if v is not None and v > peak[0]:
                peak[0] = v
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    t0 = time.perf_counter()
    proc.stdin.write(sql + ";\nSELECT 'bench-done';\n")
    proc.stdin.flush()
    answer = []
    while True:
        line = proc.stdout.readline()
        if not line or line.strip() == "bench-done":
            break
        answer.append(line.strip())
    wall = time.perf_counter() - t0
    done.set()
    sampler.join()
    proc.stdin.write(".quit\n")
    proc.stdin.flush()
    _, err = proc.communicate(timeout=60)
    res = {"baseline_mib": baseline / 1024, "peak_mib": peak[0] / 1024,
           "growth_mib": (peak[0] - baseline) / 1024, "wall": wall,
           "answer": answer[-1] if answer else ""}
    if err.strip():
        res["error"] = err.strip()[:300]
    return res


def memory_cases(b, label):
    """RssAnon of one backup per method on the source database as it is now.
    The increment's case first makes its full base and changes CHANGE_FRACTION
    of the pages (not measured)."""
    bdir = b.work / "rss_backups"
    size = b.src.stat().st_size
    out = {}
    incremental = {"dir": bdir, "verify_on_create": "0", "incremental": "1"}

    def base_and_change():
        make_backup(b, b.src, bdir, settings=incremental)
        PageChanger(b.src).change(CHANGE_FRACTION)

    cases = [("wecare_backup_create verify=1", "SELECT wecare_backup_create()",
              {"dir": bdir, "verify_on_create": "1"}, None),
             ("wecare_backup_create verify=0", "SELECT wecare_backup_create()",
              {"dir": bdir, "verify_on_create": "0"}, None),
             ("wecare_backup_create incremental=1 verify=0 (increment, %g%% changed)"
              % (100 * CHANGE_FRACTION), "SELECT wecare_backup_create()", incremental,
              base_and_change),
             ("VACUUM INTO", "VACUUM INTO " + sql_quote(b.out / "copy.db"), {}, None)]
    b.warm(b.src)
    for name, sql, settings, prepare in cases:
        if prepare:
            ensure_backup_dir(settings)
            prepare()
        sync_all()
        res = rss_during(b, b.src, sql, settings)
        res["db_mib"] = size / MiB
        if prepare and not res["answer"].endswith(".incr"):
            res["error"] = "not an increment: %r" % res["answer"][:200]
        out[name] = res
        log("  memory %s %-30s growth %.1f MiB (%.1f s) %s" % (
            label, name, res["growth_mib"], res["wall"], res.get("error", "")))
        remove_files(bdir)
        remove_files(b.out)
    return out


@section("memory", needs_ext=True)
def section_memory(b):
    """{label: {method: figures}}: the database as generated, and in a full
    run (not --quick) the database grown to --big-mib, after every other
    section because growing it changes what they would measure."""
    if not b.args.quick:
        def big():
            b.generate(b.src, b.args.big_mib)
            label = "%d MiB" % b.args.big_mib
            b.results.setdefault("memory", {})[label] = memory_cases(b, label)
        b.defer("memory %d MiB" % b.args.big_mib, big)
    label = "%d MiB" % b.args.size_mib
    return {label: memory_cases(b, label)}


# ---------------------------------------------------------------- continuous capture

CAPTURE_INTERVAL_MS = 200   # wecare_backup_continuous(200)
WAL_SAMPLE_S = 0.05         # how often the -wal file's size is sampled
CAPTURE_NO_AUTOCHECKPOINT = "writer under capture, wal_autocheckpoint=0"
REPLAY_ROWS = 16000         # ids the replay's load writes (INSERT OR REPLACE), 1-4 KiB each


def start_capturer(b, db, cdir):
    """bench/capturer.py on db with dir cdir (made 0700), once its first base
    is taken and the timeline has a range; returns (process, its ready line)."""
    ensure_backup_dir({"dir": cdir})
    proc = subprocess.Popen(["/usr/bin/python3", str(BENCH / "capturer.py"), b.ext, str(db),
                             str(cdir), "--interval-ms", str(CAPTURE_INTERVAL_MS)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("ready "):
        proc.kill()
        _, err = proc.communicate()
        raise RuntimeError("capturer did not start: %r %r" % (line[:200], err[-300:]))
    return proc, json.loads(line[len("ready "):])


def stop_capturer(proc):
    """Tell the capturer to stop (a line on stdin); its final stats, or None."""
    out, err = proc.communicate("stop\n", timeout=120)
    try:
        return json.loads(last_line(out)).get("stats")
    except ValueError:
        raise RuntimeError("capturer: %r %r" % (out[-200:], err[-300:]))


class WalSampler:
    """Largest size of a -wal file, sampled every WAL_SAMPLE_S on a thread."""

    def __init__(self, db):
        self.wal = Path(str(db) + "-wal")
        self.peak = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.sample)

    def size(self):
        try:
            return self.wal.stat().st_size
        except FileNotFoundError:
            return 0

    def sample(self):
        while not self.done.is_set():
            self.peak = max(self.peak, self.size())
            time.sleep(WAL_SAMPLE_S)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()
        self.peak = max(self.peak, self.size())


def proc_cpu_s(pid):
    """user+sys CPU seconds of a running process (all its threads) so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def checkpoint_truncate(db):
    db_query(db, "PRAGMA wal_checkpoint(TRUNCATE)")


def copy_db(src, dst):
    """A consistent copy of a WAL database (its log folded in first)."""
    checkpoint_truncate(src)
    shutil.copyfile(src, dst)


def segment_bytes(directory):
    return sum(n for name, n in file_sizes(directory).items() if name.endswith(".wcseg"))


def fast_writer_window(b, db, synchronous, seconds, cdir=None, autocheckpoint=None):
    """bench/writer committing as fast as it can (--interval-ms 0.01) for
    `seconds`, with continuous capture running in another process when cdir
    is given (started, and its first base taken, before the writer starts).
    The -wal file's size is sampled meanwhile."""
    capturer, ready = None, None
    if cdir is not None:
        capturer, ready = start_capturer(b, db, cdir)
        time.sleep(2 * CAPTURE_INTERVAL_MS / 1000.0)  # a few idle ticks first
    try:
        cpu0 = proc_cpu_s(capturer.pid) if capturer else None
        with WalSampler(db) as wal:
            res = run_child([b.writer, db, "--seconds", seconds, "--interval-ms", "0.01",
                             "--synchronous", synchronous] +
                            ([] if autocheckpoint is None else
                             ["--autocheckpoint", autocheckpoint]), timeout=seconds + 60)
        if capturer:  # the capture's CPU during the writer's window
            res["capture_cpu_s"] = proc_cpu_s(capturer.pid) - cpu0
    finally:
        stats = stop_capturer(capturer) if capturer else None
    res["wal_peak_bytes"] = wal.peak
    try:
        w = json.loads(last_line(res["out"]))
    except ValueError:
        w = None
        res.setdefault("error", "writer output: %r" % res["out"][-200:])
    res["writer"] = w
    if w:
        res["commits_per_s"] = w["commits"] / w["seconds"] if w["seconds"] else 0.0
        if w["errors"]:
            res["error"] = "writer had %d failed commits" % w["errors"]
    if ready:
        res["capture_ready_s"] = ready["ready_s"]
        res["capture"] = stats
        if not stats or stats.get("last_error") or stats.get("gaps"):
            res.setdefault("error", "capture: %s" % json.dumps(stats)[:300])
    for k in ("out", "err"):
        res.pop(k, None)
    return res


def replay_load(db, cdir, target_bytes, limit_s):
    """Larger rows (1-4 KiB, random bytes) written in small transactions by
    INSERT OR REPLACE over REPLAY_ROWS ids until the segments in cdir reach
    target_bytes (or limit_s). Returns (seconds, commits)."""
    rnd = random.Random(13)
    conn = sqlite3.connect(str(db), isolation_level=None)
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("CREATE TABLE IF NOT EXISTS bench_replay(id INTEGER PRIMARY KEY, payload BLOB)")
    t0 = time.perf_counter()
    commits, last_check = 0, t0
    while True:
        conn.execute("BEGIN")
        for _ in range(8):
            conn.execute("INSERT OR REPLACE INTO bench_replay(id, payload) VALUES (?, randomblob(?))",
                         (rnd.randrange(REPLAY_ROWS), rnd.randint(1024, 4096)))
        conn.execute("COMMIT")
        commits += 1
        now = time.perf_counter()
        if now - last_check > WAL_SAMPLE_S:
            last_check = now
            if segment_bytes(cdir) >= target_bytes or now - t0 > limit_s:
                break
    conn.close()
    return time.perf_counter() - t0, commits


def replay_digest(db):
    return db_query(db, "SELECT count(*), total(length(payload)), total(id * length(payload)) "
                        "FROM bench_replay")[0]


@section("continuous", needs_ext=True)
def section_continuous(b):
    """Issue 14. Overhead: bench/writer committing as fast as it can, with
    continuous capture (200 ms) in another process and without, in the same
    rounds, per --writer-sync mode; the -wal file's largest size. Replay:
    restore_at('latest') of a timeline of tens of MiB of segments, against
    restore_at('latest') of a timeline of the same database with no points
    (safety backup and base restore only) and the durable copy."""
    result = {}
    db = b.work / "cont.db"
    cdir = b.work / "cont_backups"
    copy_db(b.src, db)
    seconds = 3.0 if b.args.quick else 5.0
    methods = []
    for sync in b.args.writer_sync:
        methods.append({"name": writer_row("writer alone", sync),
                        "prepare": lambda: checkpoint_truncate(db),
                        "run": lambda s=sync: fast_writer_window(b, db, s, seconds)})
        methods.append({"name": writer_row("writer under capture", sync),
                        "prepare": lambda: (checkpoint_truncate(db), remove_files(cdir)),
                        "run": lambda s=sync: fast_writer_window(b, db, s, seconds, cdir),
                        "cleanup": lambda: remove_files(cdir)})
        # README: on SQLite before 3.51.3 the application's own connections turn
        # their automatic checkpoints off while capture (the checkpointer) runs
        methods.append({"name": writer_row(CAPTURE_NO_AUTOCHECKPOINT, sync),
                        "prepare": lambda: (checkpoint_truncate(db), remove_files(cdir)),
                        "run": lambda s=sync: fast_writer_window(b, db, s, seconds, cdir,
                                                                 autocheckpoint=0),
                        "cleanup": lambda: remove_files(cdir)})
    runs = b.rounds(methods, "continuous overhead")
    overhead = summarize_all(runs)
    for name, rs in runs.items():
        overhead[name]["rounds_commits_per_s"] = [round(r.get("commits_per_s", 0.0), 1)
                                                  for r in rs]
        overhead[name]["wal_worst_peak_bytes"] = max(r.get("wal_peak_bytes", 0) for r in rs)
    for sync in b.args.writer_sync:  # the ratio of each round, then their median
        alone = runs[writer_row("writer alone", sync)]
        for row in ("writer under capture", CAPTURE_NO_AUTOCHECKPOINT):
            under = runs[writer_row(row, sync)]
            ratios = [u["commits_per_s"] / a["commits_per_s"] for a, u in zip(alone, under)
                      if "error" not in a and "error" not in u and a.get("commits_per_s")]
            overhead[writer_row(row, sync)]["round_ratios"] = ratios
            if ratios:
                overhead[writer_row(row, sync)]["ratio"] = statistics.median(ratios)
    result["overhead"] = overhead
    result["window_s"] = seconds
    result["interval_ms"] = CAPTURE_INTERVAL_MS
    conn = b.ext_connect(":memory:")
    result["wal_max_bytes"] = int(conn.execute(
        "SELECT wecare_backup_config('wal_max_bytes')").fetchone()[0])
    conn.close()
    for f in b.work.glob("cont.db*"):
        f.unlink()
    shutil.rmtree(cdir, ignore_errors=True)

    # replay: a timeline of tens of MiB of segments
    rdb = b.work / "replay.db"
    rdir = b.work / "replay_backups"
    copy_db(b.src, rdb)
    capturer, _ = start_capturer(b, rdb, rdir)
    try:
        target = (48 if b.args.quick else 160) * MiB
        load_s, load_commits = replay_load(rdb, rdir, target, 60.0 if b.args.quick else 180.0)
        time.sleep(3 * CAPTURE_INTERVAL_MS / 1000.0)
    finally:
        stop_capturer(capturer)
    expected = replay_digest(rdb)
    conn = b.ext_connect(rdb)
    conn.execute("SELECT wecare_backup_config('dir', ?)", (str(rdir),)).fetchall()
    timeline = [list(r) for r in conn.execute("SELECT * FROM wecare_backup_timeline")]
    conn.close()
    seg = segment_bytes(rdir)
    checkpoint_truncate(rdb)
    # the same final database with a timeline of no points: its base only
    ndb = b.work / "nopoints.db"
    ndir = b.work / "nopoints_backups"
    copy_db(rdb, ndb)
    capturer, _ = start_capturer(b, ndb, ndir)
    stop_capturer(capturer)
    result["replay_setup"] = {"segment_bytes": seg, "load_s": load_s,
                              "load_commits": load_commits, "timeline": timeline,
                              "db_bytes": rdb.stat().st_size,
                              "nopoints_segment_bytes": segment_bytes(ndir),
                              "rows": REPLAY_ROWS,
                              "base_bytes": sum(n for name, n in file_sizes(rdir).items()
                                                if name.endswith(".db")),
                              "segments": sum(1 for n in file_sizes(rdir)
                                              if n.endswith(".wcseg"))}
    tdir = b.work / "replay_target"
    tdir.mkdir()

    def restore_case(name, pristine_db, pristine_dir):
        tgt, wdir = tdir / pristine_db.name, b.work / "restore_at_backups"

        def prepare():
            for f in tdir.iterdir():
                f.unlink()
            shutil.rmtree(wdir, ignore_errors=True)
            shutil.copytree(pristine_dir, wdir)
            os.chmod(wdir, 0o700)
            shutil.copyfile(pristine_db, tgt)
            b.warm(tgt)
            for f in wdir.iterdir():
                b.warm(f)

        def check(res):
            try:
                doc = json.loads(last_line(res["out"]))
            except ValueError:
                return "not JSON: %r" % last_line(res["out"])[:200]
            res["answer"] = doc
            if replay_digest(tgt) != expected:
                return "the restored database is not the one captured"
            return None

        return {"name": name, "prepare": prepare, "check": check,
                "argv": lambda: b.ext_shell(
                    tgt, {"dir": wdir, "prefix": pristine_db.stem},
                    "SELECT wecare_backup_restore_at('latest', %s)" % sql_quote(PHRASE)),
                "cleanup": lambda: shutil.rmtree(wdir, ignore_errors=True)}

    ref = b.out / "replay_ref.db"
    methods = [
        restore_case("restore_at('latest'), with points", rdb, rdir),
        restore_case("restore_at('latest'), no points (base only)", ndb, ndir),
        {"name": "cp + sync (durable copy)",
         "argv": lambda: ["sh", "-c", 'cp "$0" "$1" && sync "$1"', rdb, ref],
         "cleanup": lambda: remove_files(b.out)},
    ]
    runs = b.rounds(methods, "continuous replay")
    replay = summarize_all(runs)
    for name, rs in runs.items():
        answers = [r["answer"] for r in rs if "answer" in r]
        if answers:
            replay[name]["answer"] = answers[-1]
    result["replay"] = replay
    shutil.rmtree(tdir)
    for d in (rdir, ndir):
        shutil.rmtree(d, ignore_errors=True)
    for f in list(b.work.glob("replay.db*")) + list(b.work.glob("nopoints.db*")):
        f.unlink()
    return result


# ---------------------------------------------------------------- the run

def machine(b):
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    df = subprocess.run(["df", "-hT", str(b.work)], capture_output=True,
                        text=True).stdout.strip().splitlines()
    mem = "?"
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = "%.1f GiB" % (int(line.split()[1]) / 1024 / 1024)
    info = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu, "cores": os.cpu_count(), "memory": mem,
        "kernel": platform.release(),
        "filesystem": df[-1] if df else "?",
        "sqlite3 shell": subprocess.run(["sqlite3", "--version"], capture_output=True,
                                        text=True).stdout.split()[0],
        "python sqlite3": sqlite3.sqlite_version,
        "load average at start": b.facts.get("load_start", "?"),
        "load average at end": " ".join("%.2f" % x for x in os.getloadavg()),
    }
    if b.has_ext:
        try:
            conn = b.ext_connect(":memory:")
            info["wecare_backup_version"] = conn.execute(
                "SELECT wecare_backup_version()").fetchone()[0]
            conn.close()
        except sqlite3.Error as e:
            info["wecare_backup_version"] = "error: %s" % e
        info["checksum algorithm"] = b.facts.get("checksum_algorithm", "?")
    return info


def measure(args, sections, argv):
    """Run `sections` (names from SECTIONS, in that order) and return the data.

    args: the parsed options of bench/run.py; argv: its command line (for the
    report's "Generated by"). The temp directory is removed unless --keep.
    """
    b = Bench(args)
    b.facts["load_start"] = " ".join("%.2f" % x for x in os.getloadavg())
    log("workdir %s" % b.work)
    try:
        b.build_writer()
        b.generate(b.src, args.size_mib)
        b.facts["src_mib"] = b.src.stat().st_size / MiB
        for name in sections:
            log("section %s" % name)
            s = SECTIONS[name]
            if s.needs_ext and not b.has_ext:
                continue
            try:
                result = s.fn(b)
            except Exception as e:  # keep going: report what could be measured
                b.notes.append("section %s failed: %s: %s" % (name, type(e).__name__, e))
                log("  FAILED: %s" % e)
                continue
            if result is not None:
                b.results[name] = result
        for label, fn in b.deferred:
            log(label)
            try:
                fn()
            except Exception as e:
                b.notes.append("%s failed: %s" % (label, e))
                log("  FAILED: %s" % e)
        if not b.has_ext:
            b.notes.append("extension not found at %s.so: only reference rows" % args.ext)
        run = {"argv": list(argv), "repeat": args.repeat, "quick": args.quick,
               "size_mib": args.size_mib, "big_mib": args.big_mib,
               "backup_timeout": args.backup_timeout, "sections": list(sections),
               "writer_sync": list(args.writer_sync), "ext": args.ext,
               "prime_bytes": PRIME_BYTES}
        data = {"run": run, "machine": machine(b), "results": b.results,
                "facts": b.facts, "notes": b.notes}
        # exactly what RESULTS.json will hold, so that rendering the JSON later
        # gives the same report as rendering now
        return json.loads(json.dumps(data, default=str))
    finally:
        if args.keep:
            log("kept %s" % b.work)
        else:
            shutil.rmtree(b.work, ignore_errors=True)
