"""Security: DIRECTONLY functions and table, planted schemas (CHECK, DEFAULT, indexes, generated columns),
shared cache, hostile names, private files, the authorizer role table (README "Roles with the authorizer")."""
import json
import os
import sqlite3

import pytest

from conftest import (EXT, PHRASE, ROOT, config, connect, create, listing, load, make_sample, one,
                      place_backup, stats, tree_state)

SQLITE_READ = 20
SQLITE_FUNCTION = 31
DIRECTONLY = 0x80000
DETERMINISTIC = 0x800
INNOCUOUS = 0x200000

OLD = "wecare_backup_2020-01-01_00-00-00.db"

# One call of each file-touching function, as a view or trigger would plant it.
PLANTED_CALLS = {
    "wecare_backup_create": "wecare_backup_create()",
    "wecare_backup_create/1": "wecare_backup_create('planted')",
    "wecare_backup_verify": f"wecare_backup_verify('{OLD}')",
    "wecare_backup_stats": "wecare_backup_stats()",
    "wecare_backup_cleanup": "wecare_backup_cleanup()",
    "wecare_backup_restore": f"wecare_backup_restore('{OLD}', '{PHRASE}')",
    "wecare_backup_schedule": "wecare_backup_schedule(1)",
    "wecare_backup_export": f"wecare_backup_export('{OLD}', '/tmp')",
    "wecare_backup_config": "wecare_backup_config('dir')",
    "wecare_backup_config/2": "wecare_backup_config('dir', '/tmp/attacker')",
    "wecare_backup_path": f"wecare_backup_path('{OLD}')",
}


def sql_error(conn, sql, *args):
    """Run `sql`, expect a refusal, return its message. Every refusal in this file is an operational
    error to the driver (SQLITE_ERROR or SQLITE_PERM), never SQLITE_MISUSE, SQLITE_AUTH or SQLITE_NOTFOUND."""
    with pytest.raises(sqlite3.OperationalError) as info:
        conn.execute(sql, args).fetchall()
    return str(info.value)


def plant(db_path, sql):
    """Write a schema object into the database file without the extension, as an attacker would."""
    c = sqlite3.connect(str(db_path), isolation_level=None)
    c.executescript(sql)
    c.close()


def fn_name(key):
    return key.split("/")[0]


@pytest.mark.parametrize("key", PLANTED_CALLS)
def test_a_view_planted_in_the_database_cannot_call_a_backup_function(db_path, backup_dir, key):
    plant(db_path, f"CREATE VIEW planted AS SELECT {PLANTED_CALLS[key]} AS x;")
    c = connect(db_path)
    c.execute("PRAGMA trusted_schema = 1")  # DIRECTONLY holds even in a trusted schema
    msg = sql_error(c, "SELECT * FROM planted")
    assert f"unsafe use of {fn_name(key)}()" in msg
    assert not backup_dir.exists()
    assert config(c, "dir") == str(backup_dir)
    assert stats(c)["schedule_seconds"] == 0
    c.close()


@pytest.mark.parametrize("key", PLANTED_CALLS)
def test_a_trigger_planted_in_the_database_cannot_call_a_backup_function(db_path, backup_dir, key):
    plant(db_path, f"CREATE TRIGGER planted AFTER INSERT ON users BEGIN SELECT {PLANTED_CALLS[key]}; END;")
    c = connect(db_path)
    c.execute("PRAGMA trusted_schema = 1")
    msg = sql_error(c, "INSERT INTO users(email, role) VALUES ('x@y', 'ADMIN')")
    assert f"unsafe use of {fn_name(key)}()" in msg
    assert one(c, "SELECT count(*) FROM users") == 2
    assert not backup_dir.exists()
    assert stats(c)["schedule_seconds"] == 0
    c.close()


def test_the_list_table_cannot_be_read_from_a_view(db_path, conn):
    create(conn)
    plant(db_path, "CREATE VIEW planted AS SELECT name, path FROM wecare_backup_list;")
    c = connect(db_path)
    c.execute("PRAGMA trusted_schema = 1")
    msg = sql_error(c, "SELECT * FROM planted")
    assert "unsafe use of virtual table" in msg and "wecare_backup_list" in msg
    c.close()


def test_the_list_table_cannot_be_read_from_a_trigger(db_path, conn):
    create(conn)
    plant(db_path, "CREATE TABLE leak(name TEXT);"
                   "CREATE TRIGGER planted AFTER INSERT ON users BEGIN "
                   "INSERT INTO leak SELECT path FROM wecare_backup_list; END;")
    c = connect(db_path)
    msg = sql_error(c, "INSERT INTO users(email, role) VALUES ('x@y', 'ADMIN')")
    assert "unsafe use of virtual table" in msg
    assert one(c, "SELECT count(*) FROM leak") == 0
    c.close()


def test_the_version_may_be_used_in_a_view(db_path):
    plant(db_path, "CREATE VIEW about AS SELECT wecare_backup_version() AS v;")
    c = connect(db_path)
    assert one(c, "SELECT v FROM about") == one(c, "SELECT wecare_backup_version()")
    c.close()


def test_function_list_pins_every_function_and_its_flags(conn):
    got = set(conn.execute("SELECT name, narg, flags FROM pragma_function_list "
                           "WHERE name LIKE 'wecare\\_backup\\_%' ESCAPE '\\'").fetchall())
    # DETERMINISTIC too: SQLite refuses a DIRECTONLY function in a CHECK constraint only when it is.
    expected = {("wecare_backup_version", 0, DETERMINISTIC | INNOCUOUS)} | {
        (name, narg, DIRECTONLY | DETERMINISTIC) for name, narg in [
            ("wecare_backup_create", 0), ("wecare_backup_create", 1), ("wecare_backup_verify", 1),
            ("wecare_backup_stats", 0), ("wecare_backup_cleanup", 0), ("wecare_backup_restore", 2),
            ("wecare_backup_schedule", 1), ("wecare_backup_export", 2), ("wecare_backup_config", 1),
            ("wecare_backup_config", 2), ("wecare_backup_setting", 1), ("wecare_backup_path", 1),
            ("wecare_backup_fetch", 1), ("wecare_backup_recover", 3), ("wecare_backup_continuous", 0),
            ("wecare_backup_continuous", 1), ("wecare_backup_restore_at", 2)]}
    assert got == expected


def test_the_list_table_is_an_eponymous_module(conn):
    assert one(conn, "SELECT count(*) FROM pragma_module_list WHERE name = 'wecare_backup_list'") == 1
    assert one(conn, "SELECT count(*) FROM pragma_module_list WHERE name = 'wecare_backup_timeline'") == 1


# --- hostile names ---------------------------------------------------------------------------------

NAME_FUNCTIONS = {
    "verify": "SELECT wecare_backup_verify({})",
    "restore": "SELECT wecare_backup_restore({}, '" + PHRASE + "')",
    "export": "SELECT wecare_backup_export({}, ?)",
    "path": "SELECT wecare_backup_path({})",
}

# (id, SQL expression or None for the bound parameter, parameter value, also for verify?)
HOSTILE = [
    ("slash", None, "sub/" + OLD, False),
    ("parent-path", None, "../outside/" + OLD, False),
    ("absolute", None, "/etc/passwd", False),
    ("backslash", None, "..\\outside\\" + OLD, True),
    ("dotdot", None, "..", True),
    ("dotdot-inside", None, "wecare_backup_2020-01-01_00-00-00..db", True),
    ("leading-dot", None, "." + OLD, True),
    ("lock-file", None, ".wecare_backup.lock", True),
    ("sidecar", None, OLD + ".meta", True),
    ("nul-python", None, OLD + "\x00../../outside/" + OLD, True),
    ("nul-blob-cast", "CAST(x'" + (OLD.encode() + b"\x00x").hex() + "' AS TEXT)", None, True),
    ("non-utf8", "CAST(x'" + (b"wecare_backup_\xff\xfe" + OLD[14:].encode()).hex() + "' AS TEXT)", None, True),
    ("newline", None, OLD + "\n", True),
    ("empty", None, "", True),
    ("huge", None, "a" * 1_000_000, True),
    ("other-prefix", None, "other_backup_2020-01-01_00-00-00.db", True),
    ("null", "NULL", None, True),
    ("integer", "42", None, True),
    ("blob", "x'00'", None, True),
]


@pytest.fixture
def arena(tmp_path, conn, backup_dir, other_db):
    """A backup dir with one real backup, plus an outside folder with files an attacker would aim at."""
    create(conn)
    outside = tmp_path / "outside"
    outside.mkdir()
    place_backup(outside, OLD, other_db)
    (outside / "secret.txt").write_text("patient records")
    (backup_dir / "sub").mkdir()
    return outside


def assert_untouched(tmp_path, before):
    after = tree_state(tmp_path)
    for k in list(before) + list(after):
        if k.endswith(("-wal", "-shm")):
            before.pop(k, None)
            after.pop(k, None)
    assert after == before


@pytest.mark.parametrize("fn", NAME_FUNCTIONS)
@pytest.mark.parametrize("case", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_a_hostile_name_is_rejected_before_any_file_is_touched(conn, tmp_path, arena, fn, case):
    label, expr, value, for_verify = case
    if fn == "verify" and not for_verify:
        pytest.skip("verify takes a path when the argument contains '/'")
    sql = NAME_FUNCTIONS[fn].format("?" if expr is None else expr)
    args = [] if expr is not None else [value]
    if fn == "export":
        args.append(str(arena))
    before = tree_state(tmp_path)
    patients = one(conn, "SELECT count(*) FROM patients")
    msg = sql_error(conn, sql, *args)
    assert msg.startswith(f"wecare_backup_{fn}: "), msg[:200]
    assert "internal error" not in msg
    assert len(msg) < 5000
    assert one(conn, "SELECT count(*) FROM patients") == patients
    assert_untouched(tmp_path, before)


def special(kind, backup_dir, outside):
    name = "wecare_backup_2020-06-06_06-06-06.db"
    if kind == "symlink":
        os.symlink(outside / OLD, backup_dir / name)
    elif kind == "fifo":
        os.mkfifo(backup_dir / name)
    elif kind == "directory":
        (backup_dir / name).mkdir()
    return name


@pytest.mark.parametrize("fn", NAME_FUNCTIONS)
@pytest.mark.parametrize("kind", ["symlink", "fifo", "directory"])
def test_a_special_file_named_like_a_backup_is_refused(conn, tmp_path, backup_dir, arena, fn, kind):
    name = special(kind, backup_dir, arena)
    sql = NAME_FUNCTIONS[fn].format("?")
    args = [name] + ([str(tmp_path / "exported")] if fn == "export" else [])
    before = tree_state(tmp_path)
    msg = sql_error(conn, sql, *args)
    assert msg.startswith(f"wecare_backup_{fn}: ")
    assert_untouched(tmp_path, before)
    assert one(conn, "SELECT count(*) FROM patients") == 200


@pytest.mark.parametrize("kind", ["symlink", "fifo", "directory"])
def test_a_special_file_named_like_a_backup_is_not_listed_nor_deleted(conn, tmp_path, backup_dir, arena, kind):
    name = special(kind, backup_dir, arena)
    assert name not in [r["name"] for r in listing(conn)]
    config(conn, "keep_last", 1)
    create(conn)
    one(conn, "SELECT wecare_backup_cleanup()")
    assert os.path.lexists(backup_dir / name)
    assert (arena / OLD).exists()


def test_verify_refuses_a_symbolic_link_path(conn, tmp_path, arena):
    os.symlink(arena / OLD, tmp_path / "link.db")
    msg = sql_error(conn, "SELECT wecare_backup_verify(?)", str(tmp_path / "link.db"))
    assert msg.startswith("wecare_backup_verify: ")
    assert "symbolic link" in msg


def test_verify_of_a_fifo_path_does_not_hang(conn, tmp_path):
    os.mkfifo(tmp_path / "pipe.db")
    msg = sql_error(conn, "SELECT wecare_backup_verify(?)", str(tmp_path / "pipe.db"))
    assert msg.startswith("wecare_backup_verify: ")


def test_a_backup_directory_that_is_a_symbolic_link_is_refused(conn, tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    os.symlink(real, tmp_path / "backups")
    msg = sql_error(conn, "SELECT wecare_backup_create()")
    assert msg.startswith("wecare_backup_create: ")
    assert "symbolic link" in msg
    assert os.listdir(real) == []


@pytest.mark.parametrize("label_expr", ["'" + "x" * 100_000 + "'", "CAST(x'610062' AS TEXT)", "42", "x'00'"])
def test_a_bad_label_is_rejected_and_nothing_is_created(conn, backup_dir, label_expr):
    msg = sql_error(conn, f"SELECT wecare_backup_create({label_expr})")
    assert msg.startswith("wecare_backup_create: ")
    assert not backup_dir.exists()


@pytest.mark.parametrize("dest_expr", ["''", "NULL", "CAST(x'2f746d70002f78' AS TEXT)", "'" + "d" * 1_000_000 + "'"])
def test_a_bad_export_destination_is_rejected(conn, tmp_path, dest_expr):
    name = create(conn)
    before = tree_state(tmp_path)
    msg = sql_error(conn, f"SELECT wecare_backup_export(?, {dest_expr})", name)
    assert msg.startswith("wecare_backup_export: ")
    assert_untouched(tmp_path, before)


# --- a schema planted by an attacker's own tool (issue 10, point 1) ------------------------------------

OUR_NAMES = ["wecare_backup_create", "wecare_backup_verify", "wecare_backup_stats", "wecare_backup_cleanup",
             "wecare_backup_restore", "wecare_backup_schedule", "wecare_backup_export", "wecare_backup_config",
             "wecare_backup_setting", "wecare_backup_path", "wecare_backup_fetch"]


def attackers_tool(path, sql):
    """Writes `sql` into the database file `path` with the attacker's own SQLite, in which functions of the
    same names exist (returning 1, deterministic), so that SQLite accepts every CHECK, index, generated
    column and DEFAULT that calls them."""
    c = sqlite3.connect(str(path), isolation_level=None)
    for name in OUR_NAMES:
        c.create_function(name, -1, lambda *args: 1, deterministic=True)
    c.executescript(sql)
    c.close()


@pytest.fixture
def victim(conn, backup_dir):
    """One backup, then a patient added after it (a restore would remove it), and what must never change."""
    name = create(conn)
    conn.execute("INSERT INTO patients(name, notes) VALUES ('added after the backup', '')")
    return {"name": name, "entries": sorted(os.listdir(backup_dir)), "patients": 201}


def planted_calls(name):
    """What the planted schema calls: a restore, a setting change, a backup and a schedule."""
    return {
        "wecare_backup_restore": f"wecare_backup_restore('{name}', '{PHRASE}')",
        "wecare_backup_config": "wecare_backup_config('keep_last', '0')",
        "wecare_backup_create": "wecare_backup_create('planted')",
        "wecare_backup_schedule": "wecare_backup_schedule(1)",
    }


def assert_nothing_changed(conn, backup_dir, victim):
    """No backup made or deleted, no setting changed, no schedule, no restore: the live data is intact."""
    for attached in [r[1] for r in conn.execute("PRAGMA database_list")][1:]:
        if attached != "temp":
            conn.execute(f"DETACH {attached}")
    assert sorted(os.listdir(backup_dir)) == victim["entries"]
    assert one(conn, "SELECT wecare_backup_setting('keep_last')") == "7"
    assert stats(conn)["schedule_seconds"] == 0
    assert one(conn, "SELECT count(*) FROM patients") == victim["patients"]


def run_steps(conn, steps):
    """Runs each (sql, args, fetch) in order, keeping cursors open (an outer SELECT still being stepped);
    returns the messages of the steps that SQLite or the extension refused."""
    refusals, cursors = [], []
    for sql, args, fetch in steps:
        try:
            cursor = conn.execute(sql, args)
            cursors.append(cursor)
            cursor.fetchone() if fetch == "one" else cursor.fetchall()
        except sqlite3.DatabaseError as e:
            refusals.append(str(e))
    for cursor in cursors:
        cursor.close()
    return refusals


def open_attached_before_load(db_path, imp, query):
    """The worst case: the untrusted database is attached, and its schema parsed, before the load."""
    c = sqlite3.connect(str(db_path), isolation_level=None, check_same_thread=False)
    c.execute("ATTACH ? AS imp", (str(imp),))
    c.execute(query).fetchall()
    return load(c)


BYPASSES = {
    # (a) a string literal names the function
    "literal": lambda fn: [("INSERT INTO imp.notes VALUES (?)", (f"ran {fn}(name, phrase)",), "all")],
    # (b) a comment names it
    "comment": lambda fn: [(f"INSERT INTO imp.notes VALUES ('x') /* {fn}(name, phrase) */", (), "all"),
                           (f"INSERT INTO imp.notes VALUES ('x') -- {fn}(name, phrase)", (), "all")],
    # (c) an outer SELECT calling a function is still being stepped while the application inserts
    "outer-select": lambda fn: [("SELECT wecare_backup_config('keep_last') FROM patients", (), "one"),
                                ("INSERT INTO imp.notes VALUES ('x')", (), "all")],
}


@pytest.mark.parametrize("attached", ["after the load", "before the load"])
@pytest.mark.parametrize("fn", ["wecare_backup_restore", "wecare_backup_config", "wecare_backup_create",
                                "wecare_backup_schedule"])
@pytest.mark.parametrize("bypass", BYPASSES)
def test_a_planted_check_constraint_never_fires(db_path, conn, backup_dir, tmp_path, victim, bypass, fn, attached):
    imp = tmp_path / "untrusted.db"
    attackers_tool(imp, f"CREATE TABLE notes(t CHECK ({planted_calls(victim['name'])[fn]} IS NOT NULL));")
    if attached == "before the load":
        conn.close()
        conn = open_attached_before_load(db_path, imp, "SELECT count(*) FROM imp.notes")
        steps = BYPASSES[bypass](fn)
    else:
        steps = [("ATTACH ? AS imp", (str(imp),), "all")] + BYPASSES[bypass](fn)
    refusals = run_steps(conn, steps)
    assert refusals, "nothing was refused"
    assert f"malformed database schema (notes) - unsafe use of {fn}()" in refusals[0]
    # After a refused ATTACH, the inserts find no such table; before the load, each is refused alike.
    assert all(m in (refusals[0], "no such table: imp.notes") for m in refusals), refusals
    assert_nothing_changed(conn, backup_dir, victim)


@pytest.mark.parametrize("writable_schema_at_reattach", ["OFF", "ON"])
def test_writable_schema_and_a_reattach_cannot_plant_a_check_under_an_authorizer(
        conn, backup_dir, tmp_path, victim, writable_schema_at_reattach):
    # (d) The role may not call wecare_backup_restore; it writes a CHECK that calls it into a scratch
    # database with writable_schema, re-attaches it so that SQLite parses it, and inserts.
    conn.set_authorizer(lambda action, arg1, arg2, db, source:
                        sqlite3.SQLITE_DENY if action == SQLITE_FUNCTION and arg2 == "wecare_backup_restore"
                        else sqlite3.SQLITE_OK)
    scratch = str(tmp_path / "scratch.db")
    check = f"CREATE TABLE notes(t CHECK ({planted_calls(victim['name'])['wecare_backup_restore']} IS NOT NULL))"
    refusals = run_steps(conn, [
        ("ATTACH ? AS s", (scratch,), "all"),
        ("CREATE TABLE s.notes(t)", (), "all"),
        ("PRAGMA writable_schema=ON", (), "all"),
        ("UPDATE s.sqlite_schema SET sql = ? WHERE name = 'notes'", (check,), "all"),
        (f"PRAGMA writable_schema={writable_schema_at_reattach}", (), "all"),
        ("DETACH s", (), "all"),
        ("ATTACH ? AS s", (scratch,), "all"),
        ("INSERT INTO s.notes VALUES ('ran wecare_backup_restore(name, phrase)')", (), "all"),
    ])
    if writable_schema_at_reattach == "OFF":
        assert len(refusals) == 2, refusals  # the re-attach, then the insert into a database not attached
        assert "malformed database schema (notes) - unsafe use of wecare_backup_restore()" in refusals[0]
    else:
        # With writable_schema on, SQLite ignores schema errors: it drops the CHECK it refuses.
        assert refusals == []
    conn.execute("PRAGMA writable_schema=OFF")
    conn.set_authorizer(None)
    assert_nothing_changed(conn, backup_dir, victim)


PLANTED_SCHEMAS = {
    "check": "CREATE TABLE t(x CHECK ({call} IS NOT NULL)); INSERT INTO t VALUES (1);",
    "expression-index": "CREATE TABLE t(x); CREATE INDEX i ON t(({call}) + x); INSERT INTO t VALUES (1);",
    "partial-index": "CREATE TABLE t(x); CREATE INDEX i ON t(x) WHERE {call}; INSERT INTO t VALUES (1);",
    "virtual-generated-column": "CREATE TABLE t(x, y AS ({call}) VIRTUAL); INSERT INTO t(x) VALUES (1);",
    "stored-generated-column": "CREATE TABLE t(x, y AS ({call}) STORED); INSERT INTO t(x) VALUES (1);",
}
# What a statement does with the planted table: write it, read it, or check the database.
USES = {"insert": "INSERT INTO imp.t(x) VALUES (2)", "select": "SELECT * FROM imp.t",
        "integrity_check": "PRAGMA imp.integrity_check", "quick_check": "PRAGMA imp.quick_check"}


@pytest.mark.parametrize("use", USES)
@pytest.mark.parametrize("kind", PLANTED_SCHEMAS)
def test_a_planted_index_or_generated_column_never_fires(db_path, conn, backup_dir, tmp_path, victim, kind, use):
    imp = tmp_path / "untrusted.db"
    call = planted_calls(victim["name"])["wecare_backup_config"]
    attackers_tool(imp, PLANTED_SCHEMAS[kind].format(call=call))
    # Attached after the load, the ATTACH is refused; before it, every statement after the load is.
    assert "unsafe use of wecare_backup_config()" in run_steps(conn, [("ATTACH ? AS imp", (str(imp),), "all")])[0]
    conn.close()
    conn = open_attached_before_load(db_path, imp, "SELECT x FROM imp.t")
    refusals = run_steps(conn, [(USES[use], (), "all")])
    assert refusals == ["malformed database schema (" + ("i" if "index" in kind else "t") +
                        ") - unsafe use of wecare_backup_config()"]
    assert_nothing_changed(conn, backup_dir, victim)


def test_a_planted_default_never_fires(db_path, conn, backup_dir, tmp_path, victim):
    imp = tmp_path / "untrusted.db"
    call = planted_calls(victim["name"])["wecare_backup_restore"]
    attackers_tool(imp, f"CREATE TABLE t(x, y DEFAULT ({call}));")
    conn.execute("ATTACH ? AS imp", (str(imp),))  # SQLite resolves a DEFAULT only when a statement uses it
    assert sql_error(conn, "INSERT INTO imp.t(x) VALUES (1)") == "unsafe use of wecare_backup_restore()"
    assert_nothing_changed(conn, backup_dir, victim)


@pytest.mark.parametrize("how", ["plain", "inside a running statement", "inside an open transaction"])
def test_a_schema_parsed_before_the_load_is_parsed_again(tmp_path, how):
    # The table is read (so its schema parsed, without the functions) before the extension is loaded:
    # the load makes SQLite parse it again, and the CHECK is refused.
    db_path = make_sample(tmp_path / "wecare.db")
    attackers_tool(db_path, "CREATE TABLE notes(t CHECK (wecare_backup_create('planted') IS NOT NULL));")
    raw = sqlite3.connect(str(db_path), isolation_level=None)
    assert raw.execute("SELECT count(*) FROM notes").fetchone() == (0,)
    raw.enable_load_extension(True)
    if how == "plain":
        raw.load_extension(EXT)
    elif how == "inside a running statement":
        outer = raw.execute("SELECT id FROM patients")
        assert outer.fetchone() == (1,)
        raw.execute("SELECT load_extension(?)", (EXT,)).fetchall()
        assert len(outer.fetchall()) == 199  # the outer statement finishes normally
    else:
        raw.execute("BEGIN")
        raw.execute("INSERT INTO patients(name, notes) VALUES ('uncommitted', '')")
        raw.execute("SELECT load_extension(?)", (EXT,)).fetchall()
    with pytest.raises(sqlite3.DatabaseError) as info:
        raw.execute("INSERT INTO notes VALUES ('ran wecare_backup_create()')")
    assert str(info.value) == "malformed database schema (notes) - unsafe use of wecare_backup_create()"
    if how == "inside an open transaction":
        raw.execute("ROLLBACK")
    raw.close()
    assert not (tmp_path / "backups").exists()
    check = sqlite3.connect(str(db_path))
    assert check.execute("SELECT count(*) FROM patients").fetchone() == (200,)
    check.close()


def test_loading_inside_a_transaction_keeps_its_changes(db_path, tmp_path):
    raw = sqlite3.connect(str(db_path), isolation_level=None)
    raw.execute("BEGIN")
    raw.execute("CREATE TABLE drafts(t)")
    raw.execute("INSERT INTO drafts VALUES ('uncommitted')")
    raw.enable_load_extension(True)
    raw.execute("SELECT load_extension(?)", (EXT,)).fetchall()
    assert raw.in_transaction
    assert raw.execute("SELECT t FROM drafts").fetchall() == [("uncommitted",)]
    raw.execute("COMMIT")
    assert one(raw, "SELECT wecare_backup_setting('keep_last')") == "7"
    raw.close()


def test_the_load_gives_writable_schema_back(db_path):
    raw = sqlite3.connect(str(db_path), isolation_level=None)
    raw.execute("PRAGMA writable_schema=ON")
    load(raw)
    assert one(raw, "PRAGMA writable_schema") == 1
    raw.close()
    off = connect(db_path)
    assert one(off, "PRAGMA writable_schema") == 0
    off.close()


def test_a_load_that_cannot_reparse_the_schemas_fails_and_registers_nothing(db_path):
    raw = sqlite3.connect(str(db_path), isolation_level=None)
    raw.set_authorizer(lambda action, arg1, *rest: sqlite3.SQLITE_DENY
                       if action == sqlite3.SQLITE_PRAGMA and arg1 == "writable_schema" else sqlite3.SQLITE_OK)
    raw.enable_load_extension(True)
    with pytest.raises(sqlite3.OperationalError) as info:
        raw.load_extension(EXT)
    assert "PRAGMA writable_schema=RESET" in str(info.value)
    assert "load the extension before installing an authorizer" in str(info.value)
    with pytest.raises(sqlite3.OperationalError, match="no such function"):
        raw.execute("SELECT wecare_backup_create()")
    raw.close()


def test_a_call_with_constant_arguments_runs_once_per_statement(conn, backup_dir):
    # The price of SQLITE_DETERMINISTIC (README): one backup, not one per row.
    conn.execute("SELECT wecare_backup_create() FROM patients LIMIT 5").fetchall()
    assert len([r for r in listing(conn) if r["kind"] == "manual"]) == 1


# --- shared cache ------------------------------------------------------------------------------------

def test_a_database_opened_with_a_shared_cache_is_refused_at_load(db_path):
    raw = sqlite3.connect(f"file:{db_path}?cache=shared", uri=True, isolation_level=None)
    raw.enable_load_extension(True)
    with pytest.raises(sqlite3.OperationalError) as info:
        raw.load_extension(EXT)
    assert "database 'main' is opened with cache=shared" in str(info.value)
    raw.close()


def test_a_database_attached_with_a_shared_cache_is_refused_by_every_call(conn, tmp_path, backup_dir, victim):
    conn.execute("ATTACH ? AS s", (f"file:{tmp_path / 'other.db'}?cache=shared",))
    for sql in [f"SELECT {call}" for call in planted_calls(victim["name"]).values()] + [
            "SELECT wecare_backup_setting('dir')", "SELECT * FROM wecare_backup_list"]:
        assert "database 's' is opened with cache=shared" in sql_error(conn, sql), sql
    assert_nothing_changed(conn, backup_dir, victim)


def test_a_shared_cache_connection_without_the_extension_cannot_plant_a_parse(tmp_path):
    # Why shared cache is refused: another connection parses the shared schema without the functions.
    db_path = make_sample(tmp_path / "wecare.db")
    attackers_tool(db_path, "CREATE TABLE notes(t CHECK (wecare_backup_create('planted') IS NOT NULL));")
    uri = f"file:{db_path}?cache=shared"
    other = sqlite3.connect(uri, uri=True)
    assert other.execute("SELECT count(*) FROM notes").fetchone() == (0,)
    app = sqlite3.connect(uri, uri=True)
    app.enable_load_extension(True)
    with pytest.raises(sqlite3.OperationalError, match="cache=shared"):
        app.load_extension(EXT)
    with pytest.raises(sqlite3.OperationalError):
        app.execute("INSERT INTO notes VALUES ('x')")  # unknown function: nothing was registered
    app.close()
    other.close()
    assert not (tmp_path / "backups").exists()


# --- the role table with SQLite's authorizer (README "Roles with the authorizer") ---------------------

def readme_recipe():
    """authorizer_for() exactly as the README's recipe defines it."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Roles with the authorizer"):]
    code = section[section.index("```python") + len("```python"):]
    code = code[:code.index("```")]
    namespace = {}
    exec(code[:code.index("conn.enable_load_extension")], namespace)
    return namespace["authorizer_for"]


def authorize(conn, role):
    conn.set_authorizer(readme_recipe()(role))


# Every function of the README's table, called as a role would call it: (SQL, ADMIN may?).
ROLE_TABLE = {
    "create": ("SELECT wecare_backup_create()", True),
    "create/1": ("SELECT wecare_backup_create('by a role')", True),
    "list": ("SELECT name FROM wecare_backup_list", True),
    "stats": ("SELECT wecare_backup_stats()", True),
    "verify": ("SELECT wecare_backup_verify(:name)", True),
    "path": ("SELECT wecare_backup_path(:name)", True),
    "cleanup": ("SELECT wecare_backup_cleanup()", True),
    "version": ("SELECT wecare_backup_version()", True),
    "setting": ("SELECT wecare_backup_setting('dir')", True),
    "config/1": ("SELECT wecare_backup_config('keep_last')", False),
    "config/2": ("SELECT wecare_backup_config('keep_last', 1)", False),
    "config/2-dir": ("SELECT wecare_backup_config('dir', :outside)", False),
    "restore": ("SELECT wecare_backup_restore(:name, :phrase)", False),
    "export": ("SELECT wecare_backup_export(:name, :outside)", False),
    "schedule": ("SELECT wecare_backup_schedule(3600)", False),
    "fetch": ("SELECT wecare_backup_fetch(:name)", False),
    "recover": ("SELECT wecare_backup_recover(:outside || '/x.db', :name, :phrase)", False),
    "restore_at": ("SELECT wecare_backup_restore_at('latest', :phrase)", False),
    "continuous": ("SELECT wecare_backup_continuous(1000)", False),
    "timeline": ("SELECT * FROM wecare_backup_timeline", True),
}


def effects(conn, backup_dir, outside):
    """What any of the DEVELOPER-only functions would change, read without the authorizer."""
    conn.set_authorizer(None)
    return {"backups": sorted(os.listdir(backup_dir)), "outside": sorted(os.listdir(outside)),
            "keep_last": one(conn, "SELECT wecare_backup_setting('keep_last')"),
            "dir": one(conn, "SELECT wecare_backup_setting('dir')"),
            "schedule": stats(conn)["schedule_seconds"], "patients": one(conn, "SELECT count(*) FROM patients")}


@pytest.mark.parametrize("role", ["ADMIN", "DEVELOPER"])
@pytest.mark.parametrize("call", ROLE_TABLE)
def test_the_recipe_enforces_the_role_table(conn, backup_dir, tmp_path, role, call):
    sql, admin_may = ROLE_TABLE[call]
    name = create(conn)
    outside = tmp_path / "outside"
    outside.mkdir()
    params = {"name": name, "phrase": PHRASE, "outside": str(outside)}
    before = effects(conn, backup_dir, outside)
    authorize(conn, role)
    if role == "DEVELOPER" or admin_may:
        try:
            conn.execute(sql, {k: v for k, v in params.items() if f":{k}" in sql}).fetchall()
        except sqlite3.OperationalError as e:
            # Allowed, then refused by the extension itself (fetch: no off-site target is set; recover: no
            # backup directory beside that path; restore_at: no timeline).
            assert call in ("fetch", "recover", "restore_at") and str(e).startswith(f"wecare_backup_{call}: "), str(e)
        conn.execute("SELECT wecare_backup_schedule(0)") if call == "schedule" else None
        conn.execute("SELECT wecare_backup_continuous(0)") if call == "continuous" else None
    else:
        fn = "wecare_backup_" + call.split("/")[0]
        msg = sql_error(conn, sql, *[params[k] for k in ("name", "phrase", "outside") if f":{k}" in sql])
        assert msg == f"not authorized to use function: {fn}"
        assert effects(conn, backup_dir, outside) == before


@pytest.mark.parametrize("role", ["USER", "AUDITOR", "admin", ""])
@pytest.mark.parametrize("call", ROLE_TABLE)
def test_any_other_role_may_use_no_function(conn, backup_dir, role, call):
    authorize(conn, role)
    # SQLite's own refusal: a denied function is SQLITE_ERROR, a denied read of the list table
    # SQLITE_AUTH (Python: DatabaseError).
    with pytest.raises(sqlite3.DatabaseError) as info:
        conn.execute(ROLE_TABLE[call][0], ["x"] * ROLE_TABLE[call][0].count(":")).fetchall()
    assert ("not authorized to use function: wecare_backup_" in str(info.value)
            or "access to wecare_backup_list.name is prohibited" in str(info.value)
            or "access to wecare_backup_timeline.kind is prohibited" in str(info.value))


def test_functions_added_later_are_developer_only():
    authorizer_for = readme_recipe()
    for later in ["wecare_backup_recover", "wecare_backup_restore_at", "wecare_backup_continuous",
                  "WECARE_BACKUP_RECOVER", "wecare_backup_added_in_2030"]:
        assert authorizer_for("ADMIN")(SQLITE_FUNCTION, None, later, None, None) == sqlite3.SQLITE_DENY
        assert authorizer_for("DEVELOPER")(SQLITE_FUNCTION, None, later, None, None) == sqlite3.SQLITE_OK
    # ... while the application's other functions are left alone.
    assert authorizer_for("ADMIN")(SQLITE_FUNCTION, None, "lower", None, None) == sqlite3.SQLITE_OK


def test_admin_may_read_every_setting_but_change_none(conn):
    keys = sql_error(conn, "SELECT wecare_backup_setting('no such key')").split("valid settings are: ")[1].split(", ")
    assert "dir" in keys and "encrypt_key_file" in keys
    authorize(conn, "ADMIN")
    for key in keys:
        one(conn, "SELECT wecare_backup_setting(?)", key)
        assert sql_error(conn, "SELECT wecare_backup_config(?, '')", key) == \
            "not authorized to use function: wecare_backup_config"


# The attack of point 1 by a role: every way to plant a call that the authorizer does not see.
ADMIN_ATTACKS = {
    "attached CHECK": [("ATTACH ? AS imp", ("{untrusted}",))],
    "TEMP DEFAULT": [("CREATE TEMP TABLE t(x, y DEFAULT ({call}))", ()), ("INSERT INTO t(x) VALUES (1)", ())],
    "TEMP DEFAULT, qualified": [("CREATE TABLE temp.t(x, y DEFAULT ({call}))", ()),
                                ("INSERT INTO temp.t(x) VALUES (1)", ())],
    "ALTER TABLE on TEMP": [("ALTER TABLE temp.drafts ADD COLUMN y CHECK (({call}) IS NOT NULL)", ()),
                            ("INSERT INTO temp.drafts VALUES (1, 2)", ())],
    "writable_schema": [("PRAGMA writable_schema=ON", ()),
                        ("UPDATE sqlite_temp_schema SET sql = 'CREATE TABLE drafts(x DEFAULT ({call}))'", ()),
                        ("PRAGMA writable_schema=RESET", ()), ("INSERT INTO temp.drafts DEFAULT VALUES", ())],
}


@pytest.mark.parametrize("fn", ["wecare_backup_restore", "wecare_backup_config", "wecare_backup_schedule"])
@pytest.mark.parametrize("attack", ADMIN_ATTACKS)
def test_admin_cannot_plant_a_call_the_authorizer_does_not_see(conn, backup_dir, tmp_path, victim, attack, fn):
    call = planted_calls(victim["name"])[fn].replace("'", "''") if attack == "writable_schema" else \
        planted_calls(victim["name"])[fn]
    untrusted = tmp_path / "untrusted.db"
    attackers_tool(untrusted, f"CREATE TABLE notes(t CHECK ({planted_calls(victim['name'])[fn]} IS NOT NULL));")
    conn.execute("CREATE TEMP TABLE drafts(x)")  # the application's own
    authorize(conn, "ADMIN")
    refusals = run_steps(conn, [(sql.format(call=call), tuple(a.format(untrusted=untrusted) for a in args), "all")
                                for sql, args in ADMIN_ATTACKS[attack]])
    assert refusals
    assert ("not authorized" in refusals[0] or f"unsafe use of {fn}()" in refusals[0]), refusals
    conn.set_authorizer(None)
    assert_nothing_changed(conn, backup_dir, victim)


def test_sqlite_shows_an_authorizer_no_default_of_a_temp_table(conn):
    # Why the recipe keeps restricted roles out of the TEMP schema: an authorizer that only denies the
    # function does not stop a TEMP table's DEFAULT from calling it (SQLite 3.40; any function).
    conn.set_authorizer(lambda action, arg1, arg2, db, source:
                        sqlite3.SQLITE_DENY if action == SQLITE_FUNCTION and arg2 == "wecare_backup_config"
                        else sqlite3.SQLITE_OK)
    assert sql_error(conn, "SELECT wecare_backup_config('keep_last', 3)").startswith("not authorized")
    conn.execute("CREATE TEMP TABLE t(x, y DEFAULT (wecare_backup_config('keep_last', 3)))")
    conn.execute("INSERT INTO t(x) VALUES (1)")
    conn.set_authorizer(None)
    assert one(conn, "SELECT wecare_backup_setting('keep_last')") == "3"
