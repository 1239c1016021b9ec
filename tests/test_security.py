"""Security: DIRECTONLY functions and table, hostile names, private files, the authorizer role table."""
import json
import os
import sqlite3

import pytest

from conftest import (PHRASE, config, connect, create, listing, one, place_backup,
                      sql_error, stats, tree_state)

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
    expected = {("wecare_backup_version", 0, DETERMINISTIC | INNOCUOUS)} | {
        (name, narg, DIRECTONLY) for name, narg in [
            ("wecare_backup_create", 0), ("wecare_backup_create", 1), ("wecare_backup_verify", 1),
            ("wecare_backup_stats", 0), ("wecare_backup_cleanup", 0), ("wecare_backup_restore", 2),
            ("wecare_backup_schedule", 1), ("wecare_backup_export", 2), ("wecare_backup_config", 1),
            ("wecare_backup_config", 2), ("wecare_backup_path", 1)]}
    assert expected <= got
    # Functions added later (e.g. off-site) must be DIRECTONLY too: only the version is innocuous.
    for name, narg, flags in got - expected:
        assert flags & DIRECTONLY and not flags & INNOCUOUS, (name, narg, flags)


def test_the_list_table_is_an_eponymous_module(conn):
    assert one(conn, "SELECT count(*) FROM pragma_module_list WHERE name = 'wecare_backup_list'") == 1


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


# --- the role table with SQLite's authorizer ----------------------------------------------------------

ADMIN = {"wecare_backup_create", "wecare_backup_stats", "wecare_backup_export", "wecare_backup_verify",
         "wecare_backup_cleanup", "wecare_backup_path", "wecare_backup_config", "wecare_backup_version"}
ROLES = {"ADMIN": ADMIN, "DEVELOPER": ADMIN | {"wecare_backup_restore"}, "USER": set()}


def authorize(conn, role):
    """The README's recipe: allow the role's functions, and the list table to ADMIN and DEVELOPER."""
    allowed = ROLES[role]

    def authorizer(action, arg1, arg2, db, source):
        if action == SQLITE_FUNCTION and arg2 and arg2.lower().startswith("wecare_backup_"):
            return sqlite3.SQLITE_OK if arg2.lower() in allowed else sqlite3.SQLITE_DENY
        if action == SQLITE_READ and arg1 == "wecare_backup_list":
            return sqlite3.SQLITE_OK if allowed else sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    conn.set_authorizer(authorizer)


def test_admin_may_create_list_see_stats_export_verify_and_clean_up(conn, tmp_path):
    authorize(conn, "ADMIN")
    name = create(conn)
    assert [r["name"] for r in listing(conn)] == [name]
    assert json.loads(one(conn, "SELECT wecare_backup_stats()"))["count"] == 1
    assert json.loads(one(conn, "SELECT wecare_backup_verify(?)", name))["ok"] is True
    assert one(conn, "SELECT wecare_backup_export(?, ?)", name, str(tmp_path)) == str(tmp_path / name)
    assert one(conn, "SELECT wecare_backup_cleanup()") == 0
    assert one(conn, "SELECT wecare_backup_path(?)", name).endswith(name)
    assert one(conn, "SELECT wecare_backup_config('keep_last')") == "7"


def test_admin_may_not_restore(conn):
    name = create(conn)
    authorize(conn, "ADMIN")
    conn.execute("DELETE FROM patients")
    msg = sql_error(conn, "SELECT wecare_backup_restore(?, ?)", name, PHRASE)
    assert "not authorized" in msg
    assert one(conn, "SELECT count(*) FROM patients") == 0
    assert [r["kind"] for r in listing(conn)] == ["manual"]  # no safety backup either


def test_developer_may_also_restore(conn):
    authorize(conn, "DEVELOPER")
    name = create(conn)
    conn.execute("DELETE FROM patients")
    result = json.loads(one(conn, "SELECT wecare_backup_restore(?, ?)", name, PHRASE))
    assert result["restored"] == name
    assert one(conn, "SELECT count(*) FROM patients") == 200


@pytest.mark.parametrize("sql", ["SELECT wecare_backup_create()", "SELECT * FROM wecare_backup_list",
                                 "SELECT wecare_backup_stats()", "SELECT wecare_backup_cleanup()"])
def test_a_role_without_rights_may_do_nothing(conn, backup_dir, sql):
    authorize(conn, "USER")
    msg = sql_error(conn, sql)
    assert "not authorized" in msg or "prohibited" in msg
    assert not backup_dir.exists()
