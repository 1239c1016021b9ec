#!/usr/bin/env python3
"""Hostile input matrix: every SQL function of the extension (found in
pragma_function_list, so new functions are covered too) and the list table,
fed hostile values in every argument position, and run against hostile
backup directories.

    /usr/bin/python3 tests/crash/hostile_matrix.py SANDBOX_DIR

Each case runs on a fresh connection. Before it, a snapshot of the whole
sandbox (and /etc/passwd) is taken; after it, every change must be one the
extension is allowed to make:
  * a new or changed entry directly inside the backup directory in effect,
    named like its own files (backups, records, lock, temp files, continuous
    capture's segments, lease and restore marker);
  * the new file a successful wecare_backup_export returned (never an
    existing file replaced).
The database's logical content must be unchanged. The outcome must be an SQL
error whose message names the function, or a value; wecare_backup_verify of
a damaged target must say ok=false. A crash kills this process: the parent
sees the signal and the last case printed ("CASE ..." lines, flushed).

Prints one JSON line at the end: cases tried, errors, values, violations.
"""
import json
import os
import re
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

PHRASE = common.PHRASE
MB = 1024 * 1024


def sandbox_paths(root):
    p = {
        "root": root,
        "dbdir": os.path.join(root, "app"),
        "outside": os.path.join(root, "outside"),
        "cwd": os.path.join(root, "work", "cwd"),
    }
    p["db"] = os.path.join(p["dbdir"], "wecare.db")
    p["backups"] = os.path.join(p["dbdir"], "backups")
    return p


def setup(root):
    p = sandbox_paths(root)
    for d in ("dbdir", "outside", "cwd"):
        os.makedirs(p[d], exist_ok=True)
    conn = sqlite3.connect(p["db"], isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript("""
        CREATE TABLE IF NOT EXISTS users(id INTEGER PRIMARY KEY, email TEXT UNIQUE, role TEXT);
        CREATE TABLE IF NOT EXISTS patients(id INTEGER PRIMARY KEY, name TEXT, notes TEXT);
        INSERT INTO users(email, role) VALUES ('admin@wecare.test', 'ADMIN');
        INSERT INTO patients(name, notes) VALUES ('p1', 'n1'), ('p2', 'n2');
    """)
    conn.close()
    # Outside the backup directory: things an attack would like to touch.
    with open(os.path.join(p["outside"], "secret.txt"), "w") as f:
        f.write("do not touch\n")
    secret_db = os.path.join(p["outside"], "secret.db")
    s = sqlite3.connect(secret_db)
    s.execute("CREATE TABLE IF NOT EXISTS t(x)")
    s.commit()
    s.close()
    c = common.connect(p["db"])
    control = common.one(c, "SELECT wecare_backup_create('control')")
    c.close()
    b = p["backups"]
    # Hostile entries that carry valid backup names.
    names = {
        "symlink": "wecare_backup_2000-01-01_00-00-01.db",
        "fifo": "wecare_backup_2000-01-01_00-00-02.db",
        "directory": "wecare_backup_2000-01-01_00-00-03.db",
        "symlink_meta": "wecare_backup_2000-01-01_00-00-04.db",
        "fifo_meta": "wecare_backup_2000-01-01_00-00-05.db",
        "huge_meta": "wecare_backup_2000-01-01_00-00-06.db",
    }
    if not os.path.lexists(os.path.join(b, names["symlink"])):
        os.symlink(secret_db, os.path.join(b, names["symlink"]))
        os.mkfifo(os.path.join(b, names["fifo"]))
        os.mkdir(os.path.join(b, names["directory"]))
        for key in ("symlink_meta", "fifo_meta", "huge_meta"):
            with open(os.path.join(b, control), "rb") as src, open(os.path.join(b, names[key]), "wb") as dst:
                dst.write(src.read())
        os.symlink(os.path.join(p["outside"], "secret.txt"), os.path.join(b, names["symlink_meta"] + ".meta"))
        os.mkfifo(os.path.join(b, names["fifo_meta"] + ".meta"))
        with open(os.path.join(b, names["huge_meta"] + ".meta"), "w") as f:
            f.write("wecare_backup_meta 1\nname=" + names["huge_meta"] + "\nlabel=" + "x" * (2 * MB) + "\n")
        # Files where a directory should be, and where a file should be.
        with open(os.path.join(p["outside"], "plain_file"), "w") as f:
            f.write("a file, not a directory\n")
        os.mkfifo(os.path.join(p["outside"], "a_fifo"))
        os.symlink(p["outside"], os.path.join(p["root"], "link_to_outside"))
        os.mkdir(os.path.join(p["outside"], "a_directory"))
    return p, control, names


def hostile_values(p, names):
    """(label, value); a value is a Python object bound as a parameter, or
    ('sql', text) spliced into the statement as an expression."""
    b = p["backups"]
    long_unicode = "\U0001F9EA" * 70 + "\u00e9" * 60  # 400 bytes of valid UTF-8
    return [
        ("NULL", None),
        ("integer", 7),
        ("zero", 0),
        ("negative", -1),
        ("int64 max", 2**63 - 1),
        ("real", 3.5),
        ("huge real", 1e308),
        ("nan-ish real", ("sql", "(9e999 - 9e999)")),
        ("blob", b"\x00\xffwecare"),
        ("zeroblob 1MB", ("sql", "zeroblob(1048576)")),
        ("empty string", ""),
        ("1 MB string", "a" * MB),
        ("slash", "a/b.db"),
        ("absolute path outside", os.path.join(p["outside"], "secret.txt")),
        ("/etc/passwd", "/etc/passwd"),
        ("backslash", "wecare_backup\\2026-01-01_00-00-00.db"),
        ("dot dot", ".."),
        ("dot dot slash", "../../outside/secret.txt"),
        ("dot dot inside name", "wecare_backup_2026-01-01_00-00-00..db"),
        ("leading dot", ".wecare_backup.lock"),
        ("NUL inside", "wecare_backup_2026-01-01_00-00-00.db\x00../../x"),
        ("non-UTF-8", ("sql", "CAST(X'FFFE2F2E2E2F78' AS TEXT)")),
        ("long Unicode", long_unicode),
        ("control chars", "wecare\n_backup\r_2026\t.db"),
        ("other prefix", "other_backup_2026-01-01_00-00-00.db"),
        ("symlink name", names["symlink"]),
        ("FIFO name", names["fifo"]),
        ("directory name", names["directory"]),
        ("symlinked record", names["symlink_meta"]),
        ("FIFO record", names["fifo_meta"]),
        ("2 MB record", names["huge_meta"]),
        ("symlink path", os.path.join(b, names["symlink"])),
        ("FIFO path", os.path.join(b, names["fifo"])),
        ("directory path", os.path.join(b, names["directory"])),
        ("FIFO outside", os.path.join(p["outside"], "a_fifo")),
        ("directory outside", os.path.join(p["outside"], "a_directory")),
        ("file where a dir should be", os.path.join(p["outside"], "plain_file", "x")),
        ("symlinked dir", os.path.join(p["root"], "link_to_outside")),
    ]


OWN_FILE = re.compile(r"^(\.wecare_backup\.lock|\..*\.tmp-\d+|.*_(backup|safety)_[0-9_-]+\.(db|incr)(\.meta|\.manifest)?"
                      r"|.*_segment_[0-9_-]+\.wcseg|\..*\.capture(\.lock)?|\..*\.restoring)$")


def allowed_change(path, backup_dirs, exported):
    if path in exported:
        return True
    parent, base = os.path.split(path)
    if parent in backup_dirs and OWN_FILE.match(base):
        return True
    return path in backup_dirs  # the directory itself may be created


def full_snapshot(p):
    snap = {os.path.join(p["root"], k): v for k, v in common.tree_snapshot(p["root"]).items()}
    for k in list(snap):
        if os.path.basename(k).startswith("wecare.db"):  # compared by content instead
            del snap[k]
    st = os.stat("/etc/passwd")
    snap["/etc/passwd"] = (st.st_mode, st.st_size, st.st_mtime_ns, None)
    return snap


def db_content(path):
    c = sqlite3.connect(path)
    try:
        return (c.execute("SELECT group_concat(id || email || role) FROM users").fetchone(),
                c.execute("SELECT group_concat(id || name || notes) FROM patients").fetchone())
    finally:
        c.close()


def render(sql_template, args):
    """Splices ('sql', expr) values into the statement; binds the others."""
    parts = sql_template.split("?")
    out, params = parts[0], []
    for value, rest in zip(args, parts[1:]):
        if isinstance(value, tuple) and value and value[0] == "sql":
            out += value[1]
        else:
            out += "?"
            params.append(value)
        out += rest
    return out, params


class Matrix:
    def __init__(self, root):
        self.p, self.control, self.names = setup(root)
        os.chdir(self.p["cwd"])
        self.values = hostile_values(self.p, self.names)
        self.cases = 0
        self.errors = 0
        self.values_returned = 0
        self.violations = []
        self.bad_messages = []
        self.per_function = {}
        self.content = db_content(self.p["db"])

    def case(self, label, function, sql, args, prepare=None, after=None):
        self.cases += 1
        self.per_function[function] = self.per_function.get(function, 0) + 1
        print(f"CASE {self.cases} {function} {label}", flush=True)
        before = full_snapshot(self.p)
        conn = common.connect(self.p["db"])
        exported = set()
        try:
            if prepare:
                prepare(conn)
            backup_dirs = {self.p["backups"],
                           os.path.normpath(json.loads(common.one(conn, "SELECT wecare_backup_stats()"))["dir"])}
        except sqlite3.Error:
            backup_dirs = {self.p["backups"]}
        try:
            text, params = render(sql, args)
            try:
                row = conn.execute(text, params).fetchall()
                self.values_returned += 1
                value = row[0][0] if row and row[0] else None
                if function == "wecare_backup_verify" and isinstance(value, str):
                    verdict = json.loads(value)
                    if verdict.get("ok") is not False and label not in ("control",):
                        self.violations.append(f"{function}({label}): a hostile target verified ok: {value[:300]}")
                if function == "wecare_backup_export" and isinstance(value, str):
                    exported.add(os.path.realpath(value))  # a destination may be a link the caller chose
                    if os.path.abspath(value) in before:
                        self.violations.append(f"{function}({label}): replaced an existing file {value}")
                if function == "wecare_backup_schedule":
                    common.one(conn, "SELECT wecare_backup_schedule(0)")
                if function == "wecare_backup_continuous":
                    common.one(conn, "SELECT wecare_backup_continuous(0)")
                if after:
                    after(conn, backup_dirs)
            except UnicodeDecodeError as e:
                # The error message itself is not UTF-8: it echoed the hostile bytes.
                self.errors += 1
                self.bad_messages.append(f"{function}({label}): {e}")
            except sqlite3.Error as e:
                self.errors += 1
                message = str(e)
                expected = function if function.startswith("wecare_backup") else "wecare_backup"
                generic = ("unsafe use of", "wrong number of arguments", "too many arguments", "no such column",
                           "string or blob too big", "not authorized", "may not be modified", "may not be dropped",
                           "no such module")
                if not (message.startswith(expected) or any(g in message for g in generic)):
                    self.violations.append(f"{function}({label}): unclear error: {message[:300]}")
        finally:
            conn.close()
        after_snap = full_snapshot(self.p)
        for path in sorted(set(before) | set(after_snap)):
            if before.get(path) != after_snap.get(path) and not allowed_change(path, backup_dirs, exported):
                self.violations.append(f"{function}({label}): touched {path}: {before.get(path)} -> "
                                       f"{after_snap.get(path)}")
        if db_content(self.p["db"]) != self.content:
            self.violations.append(f"{function}({label}): the database content changed")
            self.content = db_content(self.p["db"])

    def functions(self):
        conn = common.connect(self.p["db"])
        rows = conn.execute("SELECT name, narg FROM pragma_function_list WHERE name LIKE 'wecare_backup%' "
                            "ORDER BY name, narg").fetchall()
        conn.close()
        return rows

    def benign(self, function, position):
        """A valid value for the other arguments, so the hostile one is what is judged."""
        if function == "wecare_backup_restore":
            return [self.control, PHRASE][position]
        if function == "wecare_backup_export":
            return [self.control, os.path.join(self.p["outside"], "export_target_new.db")][position]
        if function == "wecare_backup_config":
            return ["keep_last", "7"][position]
        return self.control

    def run(self):
        funcs = self.functions()
        for function, narg in funcs:
            if narg == 0:
                self.case("no arguments", function, f"SELECT {function}()", [])
                continue
            for position in range(narg):
                for label, value in self.values:
                    args = [self.benign(function, i) for i in range(narg)]
                    args[position] = value
                    placeholders = ", ".join("?" * narg)
                    self.case(f"arg{position + 1}={label}", function, f"SELECT {function}({placeholders})", args)
        # Every setting set to every hostile value, then the listing and a
        # create run with it in effect.
        conn = common.connect(self.p["db"])
        keys = [r[0] for r in conn.execute("SELECT value FROM json_each(?)", (json.dumps(
            ["dir", "prefix", "keep_last", "keep_daily", "keep_weekly", "keep_monthly", "keep_safety",
             "verify_on_create", "critical_tables", "max_snapshot_seconds", "busy_timeout_ms"]),))]
        conn.close()
        for key in keys:
            for label, value in self.values:
                def prepare(c, key=key, value=value):
                    text, params = render("SELECT wecare_backup_config(?, ?)", [key, value])
                    try:
                        c.execute(text, params).fetchall()
                    except (sqlite3.Error, UnicodeDecodeError):
                        pass

                def exercise(c, dirs):
                    for sql in ("SELECT count(*) FROM wecare_backup_list", "SELECT wecare_backup_create('m')",
                                "SELECT wecare_backup_cleanup()"):
                        try:
                            c.execute(sql).fetchall()
                        except UnicodeDecodeError as e:
                            self.bad_messages.append(f"config {key}={label} then {sql}: {e}")
                        except sqlite3.Error as e:
                            if not str(e).startswith("wecare_backup"):
                                self.violations.append(f"config {key}={label}: unclear error: {e}")
                self.case(f"{key}={label} then list/create/cleanup", "wecare_backup_config",
                          "SELECT wecare_backup_config(?)", [key], prepare=prepare, after=exercise)
        # The list table: constraints with hostile values, arguments it does not take.
        for label, value in self.values:
            self.case(f"name = {label}", "wecare_backup_list", "SELECT * FROM wecare_backup_list WHERE name = ?",
                      [value])
            self.case(f"table-valued arg {label}", "wecare_backup_list", "SELECT * FROM wecare_backup_list(?)",
                      [value])
        self.case("full scan", "wecare_backup_list", "SELECT * FROM wecare_backup_list", [])
        self.case("insert", "wecare_backup_list", "INSERT INTO wecare_backup_list(name) VALUES (?)", ["x"])
        self.case("delete", "wecare_backup_list", "DELETE FROM wecare_backup_list", [])
        self.case("drop", "wecare_backup_list", "DROP TABLE wecare_backup_list", [])
        self.case("create virtual", "wecare_backup_list",
                  "CREATE VIRTUAL TABLE temp.x USING wecare_backup_list('../../x')", [])
        return {"cases": self.cases, "sql_errors": self.errors, "values": self.values_returned,
                "hostile_values": len(self.values), "functions": [f"{f}/{n}" for f, n in funcs],
                "per_function": self.per_function, "violations": self.violations,
                "non_utf8_error_messages": self.bad_messages}


def main():
    root = os.path.abspath(sys.argv[1])
    os.makedirs(root, exist_ok=True)
    result = Matrix(root).run()
    print(json.dumps(result))
    return 1 if result["violations"] else 0


if __name__ == "__main__":
    sys.exit(main())
