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
import json
import os
import platform
import re
import shutil
import signal
import sqlite3
import statistics
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


def summarize(runs):
    """Medians of the rounds of one method (and of the writer's figures)."""
    ok = [r for r in runs if "error" not in r]
    errors = sorted({r["error"] for r in runs if "error" in r})
    out = {"n": len(runs), "ok": len(ok), "errors": errors,
           "walls": [round(r["wall"], 4) for r in runs]}
    if ok:
        out["wall"] = statistics.median(r["wall"] for r in ok)
        out["cpu"] = statistics.median(r["cpu"] for r in ok)
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


def make_backup(b, db, bdir, verify="0"):
    """One untimed backup with the extension; returns its file name."""
    res = run_child(b.ext_shell(db, {"dir": bdir, "verify_on_create": verify},
                                "SELECT wecare_backup_create()"))
    if "error" in res:
        raise RuntimeError("wecare_backup_create failed: " + res["error"])
    return last_line(res["out"])


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
    tgt = b.work / "tgt.db"
    rdir = b.work / "restore_backups"
    shutil.copyfile(b.src, tgt)
    name = make_backup(b, tgt, rdir)
    path = rdir / name
    expected = sqlite3.connect(str(tgt)).execute(
        "SELECT count(*) FROM patients").fetchone()[0]

    def drop_safety():
        for f in rdir.iterdir():
            if "_safety_" in f.name:
                f.unlink()

    def check_restore(res):
        try:
            doc = json.loads(last_line(res["out"]))
        except ValueError:
            return "not JSON: %r" % last_line(res["out"])[:200]
        if doc.get("restored") != name:
            return "unexpected answer: %s" % json.dumps(doc)[:200]
        got = sqlite3.connect(str(tgt)).execute(
            "SELECT count(*) FROM patients").fetchone()[0]
        if got != expected:
            return "restored db has %d patients, expected %d" % (got, expected)
        return None

    methods = [
        {"name": "wecare_backup_restore",
         "argv": lambda: b.ext_shell(
             tgt, {"dir": rdir},
             "SELECT wecare_backup_restore(%s, %s)" % (sql_quote(name), sql_quote(PHRASE))),
         "check": check_restore, "cleanup": drop_safety},
        {"name": "cp + sync over the db (durable copy)",
         "argv": lambda: ["sh", "-c", 'cp "$0" "$1" && sync "$1"', path, tgt]},
    ]
    b.warm(path)
    result = summarize_all(b.rounds(methods, "restore"))
    shutil.rmtree(rdir)
    for f in b.work.glob("tgt.db*"):
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
    """RssAnon of one backup per method on the source database as it is now."""
    bdir = b.work / "rss_backups"
    size = b.src.stat().st_size
    out = {}
    cases = [("wecare_backup_create verify=1", "SELECT wecare_backup_create()",
              {"dir": bdir, "verify_on_create": "1"}),
             ("wecare_backup_create verify=0", "SELECT wecare_backup_create()",
              {"dir": bdir, "verify_on_create": "0"}),
             ("VACUUM INTO", "VACUUM INTO " + sql_quote(b.out / "copy.db"), {})]
    b.warm(b.src)
    for name, sql, settings in cases:
        sync_all()
        res = rss_during(b, b.src, sql, settings)
        res["db_mib"] = size / MiB
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
               "writer_sync": list(args.writer_sync), "ext": args.ext}
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
