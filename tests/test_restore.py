"""wecare_backup_restore(name, phrase): verified, with a safety backup, seen by every connection."""
import json
import os
import sqlite3

import pytest

from conftest import (PHRASE, connect, create, listing, make_sample, names, one, spawn_python, sql_error,
                      table_rows, verify)


def restore(conn, name, phrase=PHRASE):
    return json.loads(one(conn, "SELECT wecare_backup_restore(?, ?)", name, phrase))


def patients(conn):
    return one(conn, "SELECT count(*) FROM patients")


def test_restore_brings_back_the_backed_up_content(conn):
    name = create(conn)
    expected = conn.execute("SELECT * FROM patients ORDER BY id").fetchall()
    conn.execute("DELETE FROM patients WHERE id > 10")
    conn.execute("UPDATE patients SET name = 'changed'")
    conn.execute("CREATE TABLE added_later(x)")
    result = restore(conn, name)
    assert result["restored"] == name
    assert conn.execute("SELECT * FROM patients ORDER BY id").fetchall() == expected
    assert one(conn, "SELECT count(*) FROM sqlite_schema WHERE name = 'added_later'") == 0
    assert one(conn, "PRAGMA integrity_check") == "ok"


@pytest.mark.parametrize("wal", [True, False], ids=["wal", "delete"])
def test_restore_works_in_both_journal_modes(tmp_path, wal):
    db = make_sample(tmp_path / "wecare.db", wal=wal)
    c = connect(db)
    name = create(c)
    c.execute("DELETE FROM patients")
    restore(c, name)
    assert patients(c) == 200
    assert one(c, "PRAGMA journal_mode") == ("wal" if wal else "delete")
    c.close()


def test_restore_takes_a_safety_backup_of_the_current_database_first(conn, backup_dir):
    name = create(conn)
    conn.execute("DELETE FROM patients WHERE id > 50")
    result = restore(conn, name)
    safety = result["safety_backup"]
    assert safety.startswith("wecare_safety_") and safety.endswith(".db")
    rows = {r["name"]: r for r in listing(conn)}
    assert rows[safety]["kind"] == "safety"
    assert rows[safety]["retain_reason"] == "safety"
    assert table_rows(backup_dir / safety, "SELECT count(*) FROM patients") == [(50,)]
    assert verify(conn, safety)["ok"] is True


def test_restore_is_seen_by_other_connections_in_this_process(conn, db_path):
    name = create(conn)
    other = sqlite3.connect(str(db_path), isolation_level=None)
    third = connect(db_path)
    conn.execute("DELETE FROM patients")
    conn.execute("CREATE TABLE added_later(x)")
    assert patients(other) == 0
    assert one(other, "SELECT count(*) FROM added_later") == 0
    restore(conn, name)
    assert patients(other) == 200
    assert patients(third) == 200
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        other.execute("SELECT count(*) FROM added_later")
    other.close()
    third.close()


def test_a_restore_can_be_undone_with_its_safety_backup(conn):
    name = create(conn)
    conn.execute("INSERT INTO patients(name) VALUES ('admitted after the backup')")
    safety = restore(conn, name)["safety_backup"]
    assert patients(conn) == 200
    restore(conn, safety)
    assert patients(conn) == 201


def test_restore_refuses_a_read_only_connection(db_path):
    rw = connect(db_path)
    name = create(rw)
    rw.execute("DELETE FROM patients")
    ro = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, isolation_level=None)
    from conftest import load
    load(ro)
    try:
        msg = sql_error(ro, "SELECT wecare_backup_restore(?, ?)", name, PHRASE)
        assert msg.startswith("wecare_backup_restore: ")
        assert patients(rw) == 0
    finally:
        ro.close()
        rw.close()


@pytest.mark.parametrize("wal", [True, False], ids=["wal", "delete"])
def test_restore_is_seen_by_another_process_without_reopening(tmp_path, wal):
    db_path = make_sample(tmp_path / "wecare.db", wal=wal)
    conn = connect(db_path)
    name = create(conn)
    conn.execute("DELETE FROM patients WHERE id > 1")
    reader = spawn_python(
        "import sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "q = 'SELECT count(*) FROM patients'\n"
        "print(c.execute(q).fetchone()[0], flush=True)\n"
        "sys.stdin.readline()\n"
        "print(c.execute(q).fetchone()[0], flush=True)\n", db_path)
    try:
        assert reader.stdout.readline().strip() == "1"
        restore(conn, name)
        reader.stdin.write("go\n")
        reader.stdin.flush()
        assert reader.stdout.readline().strip() == "200"
    finally:
        reader.communicate(timeout=30)
        conn.close()


def test_restore_refuses_a_wrong_confirmation_phrase_and_changes_nothing(conn, backup_dir):
    name = create(conn)
    conn.execute("DELETE FROM patients")
    before = sorted(os.listdir(backup_dir))
    for phrase in ["yes", PHRASE.lower(), PHRASE + " ", " " + PHRASE, ""]:
        msg = sql_error(conn, "SELECT wecare_backup_restore(?, ?)", name, phrase)
        assert msg.startswith("wecare_backup_restore: ")
        assert PHRASE in msg  # says exactly what to pass
    msg = sql_error(conn, "SELECT wecare_backup_restore(?, NULL)", name)
    assert msg.startswith("wecare_backup_restore: ")
    assert patients(conn) == 0
    assert sorted(os.listdir(backup_dir)) == before


def test_restore_of_an_unknown_backup_is_an_error(conn):
    create(conn)
    conn.execute("DELETE FROM patients")
    msg = sql_error(conn, "SELECT wecare_backup_restore(?, ?)", "wecare_backup_2001-01-01_00-00-00.db", PHRASE)
    assert msg.startswith("wecare_backup_restore: ")
    assert "wecare_backup_list" in msg
    assert patients(conn) == 0


def test_restore_refuses_a_backup_that_fails_verification(conn, backup_dir):
    name = create(conn)
    with open(backup_dir / name, "r+b") as f:
        f.seek(4096)
        f.write(b"\0" * 4096)
    conn.execute("DELETE FROM patients WHERE id > 3")
    before = names(conn)
    msg = sql_error(conn, "SELECT wecare_backup_restore(?, ?)", name, PHRASE)
    assert msg.startswith("wecare_backup_restore: ")
    assert "verification" in msg
    assert patients(conn) == 3
    assert names(conn) == before  # and no safety backup was taken


def test_restore_refuses_a_backup_missing_a_critical_table(conn):
    name = create(conn)
    conn.execute("CREATE TABLE appointments(id)")
    conn.execute("INSERT INTO appointments VALUES (1)")
    one(conn, "SELECT wecare_backup_config('critical_tables', 'appointments')")
    msg = sql_error(conn, "SELECT wecare_backup_restore(?, ?)", name, PHRASE)
    assert msg.startswith("wecare_backup_restore: ")
    assert one(conn, "SELECT count(*) FROM appointments") == 1


def test_restore_refuses_inside_an_open_transaction(conn):
    name = create(conn)
    conn.execute("DELETE FROM patients")
    conn.execute("BEGIN")
    msg = sql_error(conn, "SELECT wecare_backup_restore(?, ?)", name, PHRASE)
    assert msg.startswith("wecare_backup_restore: ")
    assert "transaction" in msg
    conn.execute("ROLLBACK")
    assert patients(conn) == 0
    restore(conn, name)
    assert patients(conn) == 200


def test_restore_of_a_hand_placed_backup(conn, backup_dir, other_db):
    from conftest import backup_file_name, place_backup
    import datetime
    name = backup_file_name(datetime.datetime(2024, 1, 1))
    place_backup(backup_dir, name, other_db)
    restore(conn, name)
    assert patients(conn) == 5


def test_a_failed_restore_leaves_the_database_unchanged(conn, backup_dir):
    # A WAL database cannot take a copy with another page size: the restore fails half-way in SQLite.
    from conftest import backup_file_name
    import datetime
    create(conn)
    name = backup_file_name(datetime.datetime(2024, 1, 1))
    other = sqlite3.connect(str(backup_dir / name))
    other.executescript("PRAGMA page_size = 8192; CREATE TABLE patients(x); INSERT INTO patients VALUES (1);")
    other.close()
    conn.execute("DELETE FROM patients WHERE id > 7")
    msg = sql_error(conn, "SELECT wecare_backup_restore(?, ?)", name, PHRASE)
    assert msg.startswith("wecare_backup_restore: ")
    assert "unchanged" in msg
    assert "journal_mode=DELETE" in msg  # it says what to do
    assert patients(conn) == 7
    assert one(conn, "PRAGMA integrity_check") == "ok"
    # Refused before any work: no safety backup was taken for nothing.
    assert not [n for n in names(conn) if "_safety_" in n]


def test_the_safety_backup_named_by_a_restore_exists(conn):
    name = create(conn)
    try:
        one(conn, "SELECT wecare_backup_config('keep_safety', 0)")
    except sqlite3.Error:
        return  # refusing keep_safety 0 is a fine fix too
    safety = restore(conn, name)["safety_backup"]
    assert safety is None or safety in names(conn)


def test_restore_holds_a_verified_backup_to_todays_critical_tables(conn):
    # A backup that verified ok is only re-read for its checksum before a
    # restore; the critical tables are still checked, against its recorded counts.
    name = create(conn)
    conn.execute("DELETE FROM patients WHERE id > 10")
    one(conn, "SELECT wecare_backup_config('critical_tables', 'patients,appointments')")
    msg = sql_error(conn, "SELECT wecare_backup_restore(?, ?)", name, PHRASE)
    assert msg.startswith("wecare_backup_restore: the backup '%s' failed verification" % name), msg
    assert "critical table 'appointments' is missing" in msg
    assert patients(conn) == 10
    one(conn, "SELECT wecare_backup_config('critical_tables', 'patients')")
    restore(conn, name)
    assert patients(conn) > 10


def test_restore_gives_a_never_verified_backup_the_full_verification(conn, backup_dir):
    one(conn, "SELECT wecare_backup_config('verify_on_create', 0)")
    name = create(conn)
    # A page damaged after the checksum was recorded, and the record made to
    # match: only integrity_check can tell.
    path = backup_dir / name
    with open(path, "r+b") as f:
        f.seek(4096)  # the b-tree header of page 2
        f.write(b"\xff" * 8)
    digest = json.loads(one(conn, "SELECT wecare_backup_verify(?)", str(path)))["checksum_value"]
    meta = backup_dir / (name + ".meta")
    lines = [l for l in meta.read_text().splitlines() if not l.startswith(("checksum=", "verified_at=", "verify_ok=",
                                                                           "verify_error="))]
    meta.write_text("\n".join(lines + ["checksum=" + digest]) + "\n")
    conn.execute("DELETE FROM patients WHERE id > 10")
    msg = sql_error(conn, "SELECT wecare_backup_restore(?, ?)", name, PHRASE)
    assert "failed verification" in msg and "integrity" in msg, msg
    assert patients(conn) == 10
