"""Hostile input matrix: every SQL function and the list table x hostile values
(NULL, integer, real, blob, empty, 1 MB, '/', '\\', '..', NUL, non-UTF-8, long
Unicode, symlink, FIFO, directory where a file should be), and every setting x
the same values followed by list/create/cleanup. Never a crash, never a file
touched outside the backup directory, an error that names the function.
The driver is tests/crash/hostile_matrix.py (runs in a child process, so a
crash is seen as a signal).

Also: an untrusted database whose schema calls every function from views,
triggers, CHECK constraints and DEFAULT clauses: nothing fires, also when the
database was attached before the extension was loaded.
"""
import json
import os
import sqlite3
import subprocess
import sys

import pytest

from conftest import EXT, PHRASE, ROOT, connect, load, make_sample, one

sys.path.insert(0, str(ROOT / "tests" / "crash"))
import common  # noqa: E402

MATRIX = ROOT / "tests" / "crash" / "hostile_matrix.py"


@pytest.fixture(scope="module")
def matrix(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    r = subprocess.run(["/usr/bin/python3", str(MATRIX), str(root / "sandbox")], capture_output=True, text=True,
                       timeout=900)
    lines = r.stdout.strip().splitlines()
    if r.returncode < 0:
        last = [l for l in lines if l.startswith("CASE")][-1:]
        pytest.fail(f"the matrix process died of signal {-r.returncode} at {last}: {r.stderr[-3000:]}")
    assert lines and lines[-1].startswith("{"), r.stderr[-3000:]
    result = json.loads(lines[-1])
    print(f"hostile matrix: {result['cases']} inputs tried ({result['hostile_values']} hostile values; "
          f"{result['sql_errors']} SQL errors, {result['values']} values); per function: {result['per_function']}")
    return result


def test_every_function_and_the_list_table_meet_every_hostile_value(matrix):
    assert matrix["violations"] == [], "\n".join(matrix["violations"][:50])
    functions = {f.split("/")[0] for f in matrix["functions"]}
    for expected in ("wecare_backup_create", "wecare_backup_verify", "wecare_backup_stats", "wecare_backup_cleanup",
                     "wecare_backup_restore", "wecare_backup_schedule", "wecare_backup_export",
                     "wecare_backup_config", "wecare_backup_setting", "wecare_backup_path", "wecare_backup_version"):
        assert expected in functions
        assert matrix["per_function"].get(expected, 0) >= 1
    assert matrix["per_function"]["wecare_backup_list"] >= 2 * matrix["hostile_values"]
    assert matrix["cases"] >= 500


def test_error_messages_are_utf8_even_for_non_utf8_input(matrix, db_path):
    conn = connect(db_path)
    for sql in ["SELECT wecare_backup_config(CAST(X'FFFE' AS TEXT))",
                "SELECT wecare_backup_config('keep_last', CAST(X'FFFE' AS TEXT))",
                "SELECT wecare_backup_verify(CAST(X'2F746D702FFFFE' AS TEXT))"]:
        with pytest.raises(sqlite3.Error):
            conn.execute(sql).fetchall()
    conn.close()
    assert matrix["non_utf8_error_messages"] == []


# ------------------------------------------------------------------ untrusted schema

# Every function with plausible arguments, as an untrusted schema would call it.
CALLS = {
    "wecare_backup_create": "wecare_backup_create('planted')",
    "wecare_backup_create0": "wecare_backup_create()",
    "wecare_backup_verify": "wecare_backup_verify('wecare_backup_2026-01-01_00-00-00.db')",
    "wecare_backup_stats": "wecare_backup_stats()",
    "wecare_backup_cleanup": "wecare_backup_cleanup()",
    "wecare_backup_restore": f"wecare_backup_restore('wecare_backup_2026-01-01_00-00-00.db', '{PHRASE}')",
    "wecare_backup_schedule": "wecare_backup_schedule(1)",
    "wecare_backup_export": "wecare_backup_export('wecare_backup_2026-01-01_00-00-00.db', '/tmp')",
    "wecare_backup_config": "wecare_backup_config('dir', '/tmp/planted')",
    "wecare_backup_config1": "wecare_backup_config('dir')",
    "wecare_backup_path": "wecare_backup_path('wecare_backup_2026-01-01_00-00-00.db')",
    "wecare_backup_fetch": "wecare_backup_fetch('wecare_backup_2026-01-01_00-00-00.db')",
}


def plant_schema(path):
    """Writes the schema an attacker would craft. Views and triggers can be
    created plainly; DEFAULT expressions are resolved when created, so they are
    written into sqlite_schema directly (writable_schema), as a hand-crafted
    file would hold them. SQLite resolves these three only when a statement
    uses them. (CHECK constraints are resolved when the schema is parsed: see
    plant_checks.)"""
    raw = sqlite3.connect(str(path), isolation_level=None)
    rewrites = []
    for key, call in CALLS.items():
        raw.execute(f"CREATE VIEW v_{key} AS SELECT {call} AS x")
        raw.execute(f"CREATE TABLE t_{key}(x)")
        raw.execute(f"CREATE TRIGGER tr_{key} AFTER INSERT ON t_{key} BEGIN SELECT {call}; END")
        raw.execute(f"CREATE TABLE d_{key}(x, y)")
        rewrites.append((f"d_{key}", f"CREATE TABLE d_{key}(x, y DEFAULT ({call}))"))
    raw.execute("CREATE VIEW v_list AS SELECT * FROM wecare_backup_list")
    raw.execute("CREATE TABLE t_list(x)")
    raw.execute("CREATE TRIGGER tr_list AFTER INSERT ON t_list BEGIN SELECT count(*) FROM wecare_backup_list; END")
    raw.execute("CREATE VIEW v_version AS SELECT wecare_backup_version() AS x")
    raw.execute("PRAGMA writable_schema=ON")
    for name, sql in rewrites:
        raw.execute("UPDATE sqlite_schema SET sql = ? WHERE type = 'table' AND name = ?", (sql, name))
    raw.execute("PRAGMA writable_schema=OFF")
    raw.close()


def plant_checks(path):
    """A database whose tables' CHECK constraints call every function, written
    the same way. (Generated columns are left out: SQLite refuses a schema whose
    generated column calls a non-deterministic function, and the attacker's
    tool here registers none.)"""
    raw = sqlite3.connect(str(path), isolation_level=None)
    for key, call in CALLS.items():
        raw.execute(f"CREATE TABLE c_{key}(x)")
    raw.execute("PRAGMA writable_schema=ON")
    for key, call in CALLS.items():
        raw.execute("UPDATE sqlite_schema SET sql = ? WHERE type = 'table' AND name = ?",
                    (f"CREATE TABLE c_{key}(x CHECK (({call}) IS NOT NULL OR x IS NOT NULL))", f"c_{key}"))
    raw.execute("PRAGMA writable_schema=OFF")
    raw.close()


@pytest.mark.parametrize("trusted_schema", ["ON", "OFF"])
def test_a_planted_schema_calling_every_function_fires_nothing(tmp_path, trusted_schema):
    db = make_sample(tmp_path / "wecare.db")
    plant_schema(db)
    before = common.tree_snapshot(tmp_path)
    conn = connect(db)
    conn.execute(f"PRAGMA trusted_schema={trusted_schema}")
    refused = 0
    for key in list(CALLS) + ["list"]:
        function = "wecare_backup_list" if key == "list" else key.rstrip("01")
        statements = [f"SELECT * FROM v_{key}", f"INSERT INTO t_{key} VALUES (1)"]
        if key != "list":
            statements += [f"INSERT INTO d_{key}(x) VALUES (1)"]
        for sql in statements:
            with pytest.raises(sqlite3.Error) as info:
                conn.execute(sql).fetchall()
            message = str(info.value)
            assert "unsafe use of" in message and function in message, (sql, message)
            refused += 1
    # The pure function is innocuous: a view may use it.
    assert one(conn, "SELECT x FROM v_version") == one(conn, "SELECT wecare_backup_version()")
    conn.close()
    after = common.tree_snapshot(tmp_path)
    changed = [c for c in common.tree_diff(before, after) if not os.path.basename(c[0]).startswith("wecare.db")]
    assert changed == [], changed
    assert not (tmp_path / "backups").exists()
    assert not os.path.exists("/tmp/planted")
    assert refused >= 3 * len(CALLS)


@pytest.mark.parametrize("attached", ["before the load", "after the load"])
@pytest.mark.parametrize("trusted_schema", ["ON", "OFF"])
def test_a_planted_check_constraint_fires_nothing(tmp_path, trusted_schema, attached):
    # SQLite refuses the deterministic, DIRECTONLY functions while it parses a
    # CHECK constraint, so the whole schema is refused ("malformed database
    # schema ... unsafe use of ..."): at the ATTACH, or, when the database was
    # attached (and parsed) before the extension was loaded, at every statement
    # after the load, which made SQLite parse it again.
    db = make_sample(tmp_path / "wecare.db")
    checks = tmp_path / "checks.db"
    plant_checks(checks)
    if attached == "before the load":
        conn = sqlite3.connect(str(db), isolation_level=None)
        conn.execute(f"PRAGMA trusted_schema={trusted_schema}")
        conn.execute("ATTACH ? AS imp", (str(checks),))
        assert conn.execute("SELECT count(*) FROM imp.c_wecare_backup_create").fetchone() == (0,)
        load(conn)
    else:
        conn = connect(db)
        conn.execute(f"PRAGMA trusted_schema={trusted_schema}")
    messages = []
    if attached == "after the load":
        # The ATTACH itself is refused, and there is nothing left to try.
        steps = [("ATTACH ? AS imp", (str(checks),))]
    else:
        steps = [(f"INSERT INTO imp.c_{key} VALUES (1)", ())
                 for key in ("wecare_backup_create", "wecare_backup_config", "wecare_backup_stats")]
        steps += [("PRAGMA imp.integrity_check", ()), ("PRAGMA imp.quick_check", ())]
    for sql, args in steps:
        with pytest.raises(sqlite3.DatabaseError) as info:
            conn.execute(sql, args).fetchall()
        messages.append(str(info.value))
    for message in messages:
        assert "malformed database schema" in message and "unsafe use of wecare_backup_" in message, message
    if attached == "before the load":
        conn.execute("DETACH imp")
    assert [r[1] for r in conn.execute("PRAGMA database_list")] == ["main"]
    assert one(conn, "SELECT count(*) FROM patients") == 200
    assert one(conn, "SELECT wecare_backup_setting('dir')") == str(tmp_path / "backups")
    conn.close()
    assert not (tmp_path / "backups").exists()
    assert not os.path.exists("/tmp/planted")
