"""Rendering half of the benchmark: RESULTS.md from the data of a run.

render(data) takes what bench/measure.py returns (and bench/run.py writes to
RESULTS.json) and returns the markdown. It measures nothing and reads
nothing else, so the report can be changed and re-rendered from a saved
RESULTS.json (bench/run.py --render-only).

The targets of issue 3 live here: each section's renderer marks its rows
met ("ok") or missed ("**MISS**") and adds them to the Targets table, which
goes right after the machine description.

A section's renderer is one function registered with @renders("name"): it
gets that section's result and a Report (the whole data, and .target() to
add a line to the Targets table) and returns its lines. The report shows the
sections in registration order; results without a renderer get a plain
table (or their JSON) at the end.
"""

import json
import re

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


def fmt_s(x):
    return "—" if x is None else ("%.3f" % x if x < 10 else "%.2f" % x)


def fmt_ratio(x):
    return "—" if x is None else "%.2fx" % x


def fmt_runs(s):
    return ", ".join("%.3f" % w for w in s["walls"])


def verdict(ok):
    return "ok" if ok else "**MISS**"


class Report:
    def __init__(self, data):
        self.data = data
        self.run = data.get("run", {})
        self.facts = data.get("facts", {})
        self.summary = []  # (target, measured, ok)

    def target(self, what, measured, ok):
        """One line of the Targets table."""
        self.summary.append((what, measured, ok))


RENDERERS = {}  # section name -> fn(result, report) -> lines, in report order


def renders(name):
    def register(fn):
        RENDERERS[name] = fn
        return fn
    return register


@renders("create")
def render_create(create, rep):
    L = []
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
            rep.target("create verify-off wall <= %.1fx durable copy" % CREATE_WALL_MAX,
                       fmt_ratio(rw), ok_w)
            rep.target("create verify-off CPU <= %.0fx cp CPU" % CREATE_CPU_MAX,
                       fmt_ratio(rc), ok_c)
        mibs = "%.0f" % (rep.facts["src_mib"] / wall) if wall and name[0] != "(" else "—"
        errs = ("; errors: " + "; ".join(s["errors"])) if s["errors"] else ""
        L.append("| %s | %s | %s | %s | %s | %s | %s | %s%s |" % (
            name, fmt_s(wall), fmt_s(cpu), mibs, fmt_ratio(rw), fmt_ratio(rc),
            target, fmt_runs(s), errs))
    L.append("")
    return L


@renders("verify")
def render_verify(verify, rep):
    L = []
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
            rep.target("verify <= %.1fx integrity_check" % VERIFY_MAX, fmt_ratio(r), ok)
        errs = ("; errors: " + "; ".join(s["errors"])) if s["errors"] else ""
        L.append("| %s | %s | %s | %s | %s | %s%s |" % (
            name, fmt_s(wall), fmt_s(s.get("cpu")), fmt_ratio(r), target,
            fmt_runs(s), errs))
    L.append("")
    return L


@renders("restore")
def render_restore(restore, rep):
    L = []
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
            rep.target("restore <= %.1fx durable copy" % RESTORE_MAX, fmt_ratio(r), ok)
        errs = ("; errors: " + "; ".join(s["errors"])) if s["errors"] else ""
        L.append("| %s | %s | %s | %s | %s | %s%s |" % (
            name, fmt_s(wall), fmt_s(s.get("cpu")), fmt_ratio(r), target,
            fmt_runs(s), errs))
    L.append("")
    return L


# measure.writer_row: rows under a writer that is not synchronous=NORMAL
WRITER_MODE_SUFFIX = re.compile(r" \[synchronous=(\w+)\]$")


def writer_mode_text(names):
    """How the writer ran, for the section intros: "synchronous=NORMAL", or
    which rows ran with another mode."""
    under = [n for n in names if not n.endswith("(no writer)")]
    others = sorted({m.group(1) for m in map(WRITER_MODE_SUFFIX.search, under) if m})
    if not others:
        return "synchronous=NORMAL"
    if all(WRITER_MODE_SUFFIX.search(n) for n in under):
        return "synchronous=%s" % " or ".join(others)
    return "synchronous=NORMAL, or %s in the rows marked so" % " or ".join(others)


@renders("writer")
def render_writer(writer, rep):
    L = []
    L.append("## 4. Backup while a writer commits every 5 ms\n")
    modes = writer_mode_text(writer)
    L.append("bench/writer (WAL, %s, busy timeout 10 s) commits one "
             "small row every 5 ms; its latencies are collected only while the "
             "backup runs. Time limit per backup: %g s. / idle = wall time over the same "
             "method's median without the writer, run in the same rounds. Writer columns: medians over rounds "
             "(worst round in brackets).%s\n" % (
                 modes, rep.run["backup_timeout"],
                 "" if modes == "synchronous=NORMAL" else
                 " Targets are checked on the NORMAL rows, the mode they were set for; "
                 "with FULL every commit also waits for an fsync of the WAL "
                 "(see the writer-alone rows)."))
    L.append("| method | wall s | / idle | writer commits | p50 ms | p99 ms | max ms | target | runs (wall s) |")
    L.append("|---|---|---|---|---|---|---|---|---|")
    for name, s in writer.items():
        wall = s.get("wall")
        if name.endswith("(no writer)"):
            L.append("| %s | %s | | | | | | | %s |" % (name, fmt_s(wall), fmt_runs(s)))
            continue
        base = WRITER_MODE_SUFFIX.sub("", name)
        idle = writer.get(base + " (no writer)", {}).get("wall")
        r = wall / idle if wall and idle else None
        target = ""
        if base.startswith("wecare_backup_create") and base == name:  # NORMAL
            ok_t = r is not None and r <= WRITER_SLOWDOWN_MAX
            p99 = s.get("writer_worst_p99_ms")
            mx = s.get("writer_worst_max_ms")
            ok_p = p99 is not None and p99 <= WRITER_P99_MAX_MS
            ok_m = mx is not None and mx <= WRITER_MAX_MAX_MS
            target = "time <= %.1fx: %s; p99 <= %g: %s; max <= %g: %s" % (
                WRITER_SLOWDOWN_MAX, verdict(ok_t), WRITER_P99_MAX_MS, verdict(ok_p),
                WRITER_MAX_MAX_MS, verdict(ok_m))
            rep.target("%s under writer <= %.1fx idle" % (name, WRITER_SLOWDOWN_MAX),
                       fmt_ratio(r), ok_t)
            rep.target("%s: writer p99 <= %g ms, max <= %g ms" % (
                name, WRITER_P99_MAX_MS, WRITER_MAX_MAX_MS),
                "%s / %s ms" % (fmt_s(p99), fmt_s(mx)), ok_p and ok_m)
        errs = ("; " + "; ".join(s["errors"])) if s["errors"] else ""
        shown_wall = fmt_s(wall) if wall else "did not finish"
        wp = lambda k: "%s (%s)" % (fmt_s(s.get("writer_" + k)),
                                    fmt_s(s.get("writer_worst_" + k))) \
            if s.get("writer_worst_" + k) is not None else fmt_s(s.get("writer_" + k))
        L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s%s |" % (
            name, shown_wall, fmt_ratio(r),
            "%.0f" % s["writer_commits"] if "writer_commits" in s else "—",
            fmt_s(s.get("writer_p50_ms")), wp("p99_ms"), wp("max_ms"), target,
            fmt_runs(s), errs))
    L.append("")
    return L


@renders("list")
def render_list(lst, rep):
    L = []
    ok = lst.get("median_ms", 1e9) < LIST_MAX_MS and "error" not in lst
    rep.target("list of %d < %g ms" % (lst["files"], LIST_MAX_MS),
               "%.2f ms" % lst["median_ms"], ok)
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
    return L


@renders("memory")
def render_memory(memory, rep):
    L = []
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
                rep.target("RssAnon growth %s %s <= %g MiB" % (
                    name, label, RSS_GROWTH_MAX_MIB), "%.1f MiB" % r["growth_mib"], ok)
            L.append("| %.0f MiB | %s | %.1f | %.1f | %.1f | %s | %s%s |" % (
                r["db_mib"], name, r["baseline_mib"], r["peak_mib"],
                r["growth_mib"], fmt_s(r["wall"]), target,
                ("; error: " + r["error"]) if "error" in r else ""))
    L.append("")
    return L


def render_plain(name, result, rep):
    """A section without its own renderer: wall/CPU per method if it is a set
    of summarize() rows, else its JSON."""
    L = ["## %s\n" % name]
    if isinstance(result, dict) and result and all(
            isinstance(s, dict) and "walls" in s for s in result.values()):
        L.append("| method | wall s | CPU s | runs (wall s) |")
        L.append("|---|---|---|---|")
        for method, s in result.items():
            errs = ("; errors: " + "; ".join(s["errors"])) if s.get("errors") else ""
            L.append("| %s | %s | %s | %s%s |" % (
                method, fmt_s(s.get("wall")), fmt_s(s.get("cpu")), fmt_runs(s), errs))
    else:
        L.append("```json\n%s\n```" % json.dumps(result, indent=1))
    L.append("")
    return L


def render(data):
    """The whole RESULTS.md for data (see bench/measure.py)."""
    rep = Report(data)
    results = data.get("results", {})
    L = []
    L.append("# wecare_backup benchmark results\n")
    L.append("Generated by `%s`. Medians of %s rounds; methods alternate "
             "within each round on the same files. **Warm page cache** (the cache is "
             "not dropped; dirty pages are flushed with sync before every operation). "
             "Wall = elapsed time of the child process; CPU = its user+sys time "
             "(os.wait4), including processes it waited for.\n"
             % (" ".join(["bench/run.py"] + rep.run.get("argv", [])),
                rep.run.get("repeat", "?")))
    L.append("## Machine\n")
    for k, v in data.get("machine", {}).items():
        L.append("- %s: %s" % (k, v))
    L.append("- database: %d MiB WeCare-like (users, patients, visits + indexes), "
             "WAL mode, generated by bench/gen_db.py" % rep.facts.get("src_mib", 0))
    L.append("")

    body = []
    for name, fn in RENDERERS.items():
        if results.get(name):
            body += fn(results[name], rep)
    for name, result in results.items():
        if name not in RENDERERS and result:
            body += render_plain(name, result, rep)

    head = ["## Targets\n", "| target | measured | result |", "|---|---|---|"]
    for what, measured, ok in rep.summary:
        head.append("| %s | %s | %s |" % (what, measured, verdict(ok)))
    head.append("")
    notes = data.get("notes", [])
    if notes:
        head.append("Notes:\n")
        head += ["- " + n for n in notes]
        head.append("")
    # targets right after the machine description
    return "\n".join(L + head + body) + "\n"
