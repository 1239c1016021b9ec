#!/usr/bin/python3
"""Benchmark wecare_backup against cp, the sqlite3 shell's .backup and VACUUM INTO.

Usage (Debian's python3: it can load SQLite extensions):
    /usr/bin/python3 bench/run.py            # 1 GiB DB, 3 rounds, plus 4 GiB RssAnon
    /usr/bin/python3 bench/run.py --quick    # 64 MiB DB, 3 rounds, no 4 GiB part

Sections (see bench/README.md for what each number means):
  1 create   cp, cp+sync (durable copy), .backup, VACUUM INTO (each also +sync),
             wecare_backup_create() with verify_on_create 0 and 1
  2 verify   wecare_backup_verify() vs PRAGMA integrity_check vs sha256sum
  3 restore  wecare_backup_restore() vs cp+sync of the backup over the database
  4 writer   .backup / VACUUM INTO / create while bench/writer commits every 5 ms
  5 list     SELECT * FROM wecare_backup_list with 1000 backups in the directory
  6 memory   peak RssAnon growth of the sqlite3 shell during a backup

How it measures: every measured operation is a child process (cp, sh, the
sqlite3 shell with `.load`), reaped with os.wait4 so wall time and CPU time
(user+sys, including its own children) belong to that operation only. The
methods of a section alternate inside each round (rotated order) on the same
files, and medians over the rounds are reported. Dirty pages are flushed
(sync) before each operation but the page cache is NOT dropped: all numbers
are warm-cache numbers.
"""

import argparse
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

# Targets from issue 3.
CREATE_WALL_MAX = 1.0     # x durable copy (cp + sync)
CREATE_CPU_MAX = 2.0      # x plain cp CPU
WRITER_SLOWDOWN_MAX = 1.2  # x idle create time
WRITER_P99_MAX_MS = 5.0
WRITER_MAX_MAX_MS = 50.0
VERIFY_MAX = 1.1          # x PRAGMA integrity_check
RESTORE_MAX = 1.5         # x durable copy
LIST_MAX_MS = 20.0
RSS_GROWTH_MAX_MIB = 64.0


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
        """Run each method once per round, rotating the order every round."""
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
    return out


# ---------------------------------------------------------------- sections

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
    runs = b.rounds(methods, "create")
    b.results["create"] = {name: summarize(r) for name, r in runs.items()}


def make_backup(b, db, bdir, verify="0"):
    """One untimed backup with the extension; returns its file name."""
    res = run_child(b.ext_shell(db, {"dir": bdir, "verify_on_create": verify},
                                "SELECT wecare_backup_create()"))
    if "error" in res:
        raise RuntimeError("wecare_backup_create failed: " + res["error"])
    return last_line(res["out"])


def section_verify(b):
    if not b.has_ext:
        return
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
    runs = b.rounds(methods, "verify")
    b.results["verify"] = {n: summarize(r) for n, r in runs.items()}
    shutil.rmtree(bdir)


def section_restore(b):
    if not b.has_ext:
        return
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
    runs = b.rounds(methods, "restore")
    b.results["restore"] = {n: summarize(r) for n, r in runs.items()}
    shutil.rmtree(rdir)
    for f in b.work.glob("tgt.db*"):
        f.unlink()


def with_writer(b, argv, timeout=None, settle=0.5):
    """Run argv while the writer commits to the source database."""
    writer = subprocess.Popen([b.writer, str(b.src)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
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


def section_writer(b):
    src, out, bdir = b.src, b.out, b.bdir
    dst = out / "copy.db"
    bdir.mkdir(exist_ok=True)
    limit = b.args.backup_timeout

    def check_copy(res):
        return None if dst.exists() else "no output file"

    methods = [
        {"name": "writer alone (no backup, 3 s)",
         "run": lambda: with_writer(b, None, timeout=3.0)},
        {"name": ".backup",
         "run": lambda: with_writer(b, b.shell(src, ".backup " + sql_quote(dst)),
                                    timeout=limit),
         "check": check_copy, "cleanup": lambda: remove_files(out)},
        {"name": "VACUUM INTO",
         "run": lambda: with_writer(b, b.shell(src, "VACUUM INTO " + sql_quote(dst)),
                                    timeout=limit),
         "argv_idle": lambda: run_child(b.shell(src, "VACUUM INTO " + sql_quote(dst))),
         "check": check_copy, "cleanup": lambda: remove_files(out)},
    ]
    if b.has_ext:
        for verify in ("0", "1"):
            ext_argv = (lambda v=verify: b.ext_shell(
                src, {"dir": bdir, "verify_on_create": v}, "SELECT wecare_backup_create()"))
            methods.append({
                "name": "wecare_backup_create verify=" + verify,
                "run": (lambda f=ext_argv: with_writer(b, f(), timeout=limit)),
                "argv_idle": (lambda f=ext_argv: run_child(f())),
                "check": lambda res: None if (bdir / last_line(res["out"])).is_file()
                else "no backup file",
                "cleanup": lambda: remove_files(bdir)})
    # the same backups without the writer in the same rounds: the slowdown is
    # measured against them, so that load from elsewhere hits both alike
    for m in list(methods[2:]):
        idle = dict(m)
        idle["name"] = m["name"] + " (no writer)"
        idle["run"] = idle.pop("argv_idle")
        methods.append(idle)
    for m in methods:
        m.pop("argv_idle", None)
    runs = b.rounds(methods, "writer")
    b.results["writer"] = {n: summarize(r) for n, r in runs.items()}
    # the writer's rows stay in the source db (a few KiB); fold its WAL back
    sqlite3.connect(str(src)).execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


def section_list(b, count=1000, reps=50):
    if not b.has_ext:
        return
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
        return
    b.facts["sidecar_example"] = meta.read_text()

    # Clone the real backup and its sidecar under 999 other valid names,
    # rewriting the name and timestamp in the sidecar so each clone is
    # self-consistent. Timestamps go back one hour per clone.
    m = re.match(r"^(.*)_backup_(\d{4})-(\d\d)-(\d\d)_(\d\d)-(\d\d)-(\d\d)\.db$", name)
    if not m:
        b.notes.append("list: unexpected backup name %r; list timing skipped" % name)
        return
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
    b.results["list"] = res
    shutil.rmtree(ldir)


def ensure_backup_dir(settings):
    """The extension never creates a configured backup directory (it could be an
    unmounted disk): the benchmark makes its own, mode 0700."""
    if "dir" in settings:
        os.makedirs(str(settings["dir"]), mode=0o700, exist_ok=True)


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


def section_memory(b, label):
    if not b.has_ext:
        return
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
    b.results.setdefault("memory", {})[label] = out


# ---------------------------------------------------------------- report

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


def fmt_s(x):
    return "—" if x is None else ("%.3f" % x if x < 10 else "%.2f" % x)


def fmt_ratio(x):
    return "—" if x is None else "%.2fx" % x


def verdict(ok):
    return "ok" if ok else "**MISS**"


def render(b):
    L = []
    args = b.args
    L.append("# wecare_backup benchmark results\n")
    L.append("Generated by `%s`. Medians of %d rounds; methods alternate "
             "within each round on the same files. **Warm page cache** (the cache is "
             "not dropped; dirty pages are flushed with sync before every operation). "
             "Wall = elapsed time of the child process; CPU = its user+sys time "
             "(os.wait4), including processes it waited for.\n"
             % (" ".join(["bench/run.py"] + sys.argv[1:]), args.repeat))
    L.append("## Machine\n")
    for k, v in machine(b).items():
        L.append("- %s: %s" % (k, v))
    L.append("- database: %d MiB WeCare-like (users, patients, visits + indexes), "
             "WAL mode, generated by bench/gen_db.py" % b.facts.get("src_mib", 0))
    L.append("")
    summary = []

    create = b.results.get("create")
    if create:
        ref_wall = create.get("cp + sync (durable copy)", {}).get("wall")
        ref_cpu = create.get("cp", {}).get("cpu")
        L.append("## 1. Create a backup\n")
        L.append("References: wall = `cp + sync` (durable copy), CPU = plain `cp`. "
                 "`+ sync` rows add `sync FILE` (fsync of the copy). "
                 "The row in parentheses is the fixed cost of starting the sqlite3 "
                 "shell and loading the extension, included in every extension row "
                 "(it matters for small databases).\n")
        L.append("| method | wall s | CPU s | MiB/s | wall / durable copy | CPU / cp | target | runs (wall s) |")
        L.append("|---|---|---|---|---|---|---|---|")
        for name, s in create.items():
            wall, cpu = s.get("wall"), s.get("cpu")
            rw = wall / ref_wall if wall and ref_wall else None
            rc = cpu / ref_cpu if cpu is not None and ref_cpu else None
            target = ""
            if name == "wecare_backup_create verify=0":
                ok_w = rw is not None and rw <= CREATE_WALL_MAX
                ok_c = rc is not None and rc <= CREATE_CPU_MAX
                target = "wall <= %.1fx: %s; CPU <= %.0fx: %s" % (
                    CREATE_WALL_MAX, verdict(ok_w), CREATE_CPU_MAX, verdict(ok_c))
                summary.append(("create verify-off wall <= %.1fx durable copy" % CREATE_WALL_MAX,
                                fmt_ratio(rw), ok_w))
                summary.append(("create verify-off CPU <= %.0fx cp CPU" % CREATE_CPU_MAX,
                                fmt_ratio(rc), ok_c))
            mibs = "%.0f" % (b.facts["src_mib"] / wall) if wall and name[0] != "(" else "—"
            errs = ("; errors: " + "; ".join(s["errors"])) if s["errors"] else ""
            L.append("| %s | %s | %s | %s | %s | %s | %s | %s%s |" % (
                name, fmt_s(wall), fmt_s(cpu), mibs, fmt_ratio(rw), fmt_ratio(rc),
                target, ", ".join("%.3f" % w for w in s["walls"]), errs))
        L.append("")

    verify = b.results.get("verify")
    if verify:
        ref = verify.get("PRAGMA integrity_check", {}).get("wall")
        L.append("## 2. Verify a backup\n")
        L.append("Reference: `PRAGMA integrity_check` of the backup file alone "
                 "(sqlite3 -readonly). wecare_backup_verify also checks the checksum and "
                 "counts rows.\n")
        L.append("| method | wall s | CPU s | wall / integrity_check | target | runs (wall s) |")
        L.append("|---|---|---|---|---|---|")
        for name, s in verify.items():
            wall = s.get("wall")
            r = wall / ref if wall and ref else None
            target = ""
            if name == "wecare_backup_verify":
                ok = r is not None and r <= VERIFY_MAX
                target = "<= %.1fx: %s" % (VERIFY_MAX, verdict(ok))
                summary.append(("verify <= %.1fx integrity_check" % VERIFY_MAX, fmt_ratio(r), ok))
            errs = ("; errors: " + "; ".join(s["errors"])) if s["errors"] else ""
            L.append("| %s | %s | %s | %s | %s | %s%s |" % (
                name, fmt_s(wall), fmt_s(s.get("cpu")), fmt_ratio(r), target,
                ", ".join("%.3f" % w for w in s["walls"]), errs))
        L.append("")

    restore = b.results.get("restore")
    if restore:
        ref = restore.get("cp + sync over the db (durable copy)", {}).get("wall")
        L.append("## 3. Restore\n")
        L.append("Reference: `cp` of the backup over the (closed) database + `sync`. "
                 "The restore also takes a safety backup first.\n")
        L.append("| method | wall s | CPU s | wall / durable copy | target | runs (wall s) |")
        L.append("|---|---|---|---|---|---|")
        for name, s in restore.items():
            wall = s.get("wall")
            r = wall / ref if wall and ref else None
            target = ""
            if name == "wecare_backup_restore":
                ok = r is not None and r <= RESTORE_MAX
                target = "<= %.1fx: %s" % (RESTORE_MAX, verdict(ok))
                summary.append(("restore <= %.1fx durable copy" % RESTORE_MAX, fmt_ratio(r), ok))
            errs = ("; errors: " + "; ".join(s["errors"])) if s["errors"] else ""
            L.append("| %s | %s | %s | %s | %s | %s%s |" % (
                name, fmt_s(wall), fmt_s(s.get("cpu")), fmt_ratio(r), target,
                ", ".join("%.3f" % w for w in s["walls"]), errs))
        L.append("")

    writer = b.results.get("writer")
    if writer:
        L.append("## 4. Backup while a writer commits every 5 ms\n")
        L.append("bench/writer (WAL, synchronous=NORMAL, busy timeout 10 s) commits one "
                 "small row every 5 ms; its latencies are collected only while the "
                 "backup runs. Time limit per backup: %g s. / idle = wall time over the same "
                 "method's median without the writer, run in the same rounds. Writer columns: medians over rounds "
                 "(worst round in brackets).\n" % b.args.backup_timeout)
        L.append("| method | wall s | / idle | writer commits | p50 ms | p99 ms | max ms | target | runs (wall s) |")
        L.append("|---|---|---|---|---|---|---|---|---|")
        for name, s in writer.items():
            wall = s.get("wall")
            if name.endswith("(no writer)"):
                L.append("| %s | %s | | | | | | | %s |" % (
                    name, fmt_s(wall), ", ".join("%.3f" % w for w in s["walls"])))
                continue
            idle = writer.get(name + " (no writer)", {}).get("wall")
            r = wall / idle if wall and idle else None
            target = ""
            if name.startswith("wecare_backup_create"):
                ok_t = r is not None and r <= WRITER_SLOWDOWN_MAX
                p99 = s.get("writer_worst_p99_ms")
                mx = s.get("writer_worst_max_ms")
                ok_p = p99 is not None and p99 <= WRITER_P99_MAX_MS
                ok_m = mx is not None and mx <= WRITER_MAX_MAX_MS
                target = "time <= %.1fx: %s; p99 <= %g: %s; max <= %g: %s" % (
                    WRITER_SLOWDOWN_MAX, verdict(ok_t), WRITER_P99_MAX_MS, verdict(ok_p),
                    WRITER_MAX_MAX_MS, verdict(ok_m))
                summary.append(("%s under writer <= %.1fx idle" % (name, WRITER_SLOWDOWN_MAX),
                                fmt_ratio(r), ok_t))
                summary.append(("%s: writer p99 <= %g ms, max <= %g ms" % (
                    name, WRITER_P99_MAX_MS, WRITER_MAX_MAX_MS),
                    "%s / %s ms" % (fmt_s(p99), fmt_s(mx)), ok_p and ok_m))
            errs = ("; " + "; ".join(s["errors"])) if s["errors"] else ""
            shown_wall = fmt_s(wall) if wall else "did not finish"
            wp = lambda k: "%s (%s)" % (fmt_s(s.get("writer_" + k)),
                                        fmt_s(s.get("writer_worst_" + k))) \
                if s.get("writer_worst_" + k) is not None else fmt_s(s.get("writer_" + k))
            L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s%s |" % (
                name, shown_wall, fmt_ratio(r),
                "%.0f" % s["writer_commits"] if "writer_commits" in s else "—",
                fmt_s(s.get("writer_p50_ms")), wp("p99_ms"), wp("max_ms"), target,
                ", ".join("%.3f" % w for w in s["walls"]), errs))
        L.append("")

    lst = b.results.get("list")
    if lst:
        ok = lst.get("median_ms", 1e9) < LIST_MAX_MS and "error" not in lst
        summary.append(("list of %d < %g ms" % (lst["files"], LIST_MAX_MS),
                        "%.2f ms" % lst["median_ms"], ok))
        L.append("## 5. List %d backups\n" % lst["files"])
        L.append("One real backup of a tiny database plus its `.meta` sidecar, cloned "
                 "under %d other valid names (name and timestamps rewritten in each "
                 "sidecar). `SELECT * FROM wecare_backup_list` fetched in-process "
                 "(Python sqlite3) %d times.\n" % (lst["files"] - 1, lst["reps"]))
        L.append("| rows | first call ms | median ms | min ms | rows with checksum | target |")
        L.append("|---|---|---|---|---|---|")
        L.append("| %d | %.2f | %.2f | %.2f | %s | < %g ms: %s%s |" % (
            lst["rows"], lst["first_ms"], lst["median_ms"], lst["min_ms"],
            lst.get("rows_with_checksum", "—"), LIST_MAX_MS, verdict(ok),
            ("; " + lst["error"]) if "error" in lst else ""))
        L.append("")

    memory = b.results.get("memory")
    if memory:
        L.append("## 6. Memory (RssAnon of the sqlite3 shell)\n")
        L.append("/proc/<pid>/status RssAnon sampled every 10 ms; baseline = after `.load` "
                 "and settings, before the statement. Page cache and mmap'd file pages "
                 "are not anonymous memory and do not count.\n")
        L.append("| database | method | baseline MiB | peak MiB | growth MiB | wall s | target |")
        L.append("|---|---|---|---|---|---|---|")
        for label, cases in memory.items():
            for name, r in cases.items():
                target = ""
                if name.startswith("wecare_backup_create"):
                    ok = r["growth_mib"] <= RSS_GROWTH_MAX_MIB and "error" not in r
                    target = "<= %g MiB: %s" % (RSS_GROWTH_MAX_MIB, verdict(ok))
                    summary.append(("RssAnon growth %s %s <= %g MiB" % (
                        name, label, RSS_GROWTH_MAX_MIB), "%.1f MiB" % r["growth_mib"], ok))
                L.append("| %.0f MiB | %s | %.1f | %.1f | %.1f | %s | %s%s |" % (
                    r["db_mib"], name, r["baseline_mib"], r["peak_mib"],
                    r["growth_mib"], fmt_s(r["wall"]), target,
                    ("; error: " + r["error"]) if "error" in r else ""))
        L.append("")

    head = ["## Targets\n", "| target | measured | result |", "|---|---|---|"]
    for what, measured, ok in summary:
        head.append("| %s | %s | %s |" % (what, measured, verdict(ok)))
    head.append("")
    if b.notes:
        head.append("Notes:\n")
        head += ["- " + n for n in b.notes]
        head.append("")
    # targets right after the machine description
    idx = L.index("## Machine\n")
    end = idx + 1
    while end < len(L) and L[end] != "":
        end += 1
    return "\n".join(L[:end + 1] + head + L[end + 1:]) + "\n"


# ---------------------------------------------------------------- main

SECTIONS = ("create", "verify", "restore", "writer", "list", "memory")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mib", type=int, default=None,
                    help="database size (default 1024, or 64 with --quick)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds per section (>= 3)")
    ap.add_argument("--quick", action="store_true",
                    help="64 MiB database, no 4 GiB memory run")
    ap.add_argument("--out", default=str(BENCH / "RESULTS.md"))
    ap.add_argument("--ext", default=str(REPO / "dist" / "wecare_backup"),
                    help="extension path as given to .load (without .so)")
    ap.add_argument("--workdir", default="/tmp", help="where the temp directory goes")
    ap.add_argument("--writer", default=None, help="prebuilt writer (default: build bench/writer.c)")
    ap.add_argument("--backup-timeout", type=float, default=None,
                    help="time limit of a backup under the writer (default 60 s, 20 s with --quick)")
    ap.add_argument("--big-mib", type=int, default=4096,
                    help="size of the large database for the memory run (full run only)")
    ap.add_argument("--sections", default=",".join(SECTIONS),
                    help="comma list among " + ",".join(SECTIONS))
    ap.add_argument("--keep", action="store_true", help="keep the temp directory")
    args = ap.parse_args()
    if args.size_mib is None:
        args.size_mib = 64 if args.quick else 1024
    if args.backup_timeout is None:
        args.backup_timeout = 20.0 if args.quick else 60.0
    args.ext = str(Path(args.ext).resolve())
    if args.ext.endswith(".so"):
        args.ext = args.ext[:-3]
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    for s in sections:
        if s not in SECTIONS:
            ap.error("unknown section %r" % s)

    b = Bench(args)
    b.facts["load_start"] = " ".join("%.2f" % x for x in os.getloadavg())
    log("workdir %s" % b.work)
    try:
        b.build_writer()
        b.generate(b.src, args.size_mib)
        b.facts["src_mib"] = b.src.stat().st_size / MiB
        steps = {
            "create": lambda: section_create(b),
            "verify": lambda: section_verify(b),
            "restore": lambda: section_restore(b),
            "writer": lambda: section_writer(b),
            "list": lambda: section_list(b),
            "memory": lambda: section_memory(b, "%d MiB" % args.size_mib),
        }
        for s in sections:
            log("section %s" % s)
            try:
                steps[s]()
            except Exception as e:  # keep going: report what could be measured
                b.notes.append("section %s failed: %s: %s" % (s, type(e).__name__, e))
                log("  FAILED: %s" % e)
        if "memory" in sections and not args.quick and b.has_ext:
            b.generate(b.src, args.big_mib)
            try:
                section_memory(b, "%d MiB" % args.big_mib)
            except Exception as e:
                b.notes.append("memory %d MiB failed: %s" % (args.big_mib, e))
        if not b.has_ext:
            b.notes.append("extension not found at %s.so: only reference rows" % args.ext)
        report = render(b)
        print(report)
        Path(args.out).write_text(report)
        with open(str(Path(args.out).with_suffix(".json")), "w") as f:
            json.dump({"results": b.results, "facts": b.facts, "notes": b.notes},
                      f, indent=1, default=str)
        log("wrote %s" % args.out)
    finally:
        if args.keep:
            log("kept %s" % b.work)
        else:
            shutil.rmtree(b.work, ignore_errors=True)


if __name__ == "__main__":
    main()
