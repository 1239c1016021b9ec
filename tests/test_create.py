"""wecare_backup_create([label]): a consistent, verified, private, plain SQLite file."""
import datetime
import os
import re
import sqlite3
import stat
import subprocess

import pytest

from conftest import (NAME_RE, config, connect, create, listing, make_sample, names, one, sql_error,
                      table_rows)


def test_create_returns_the_name_of_the_new_backup_file(conn, backup_dir):
    name = create(conn)
    assert re.match(NAME_RE, name)
    assert (backup_dir / name).is_file()
    assert names(conn) == [name]


def test_backup_name_carries_the_utc_time_it_was_made(conn):
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    name = create(conn)
    after = datetime.datetime.now(datetime.timezone.utc)
    stamp = datetime.datetime.strptime(name[len("wecare_backup_"):][:19], "%Y-%m-%d_%H-%M-%S")
    stamp = stamp.replace(tzinfo=datetime.timezone.utc)
    assert before <= stamp <= after
    row = listing(conn)[0]
    assert row["created_at"] == stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("wal", [True, False], ids=["wal", "delete"])
def test_backup_is_a_plain_database_the_sqlite3_shell_opens_read_only(tmp_path, wal):
    db = make_sample(tmp_path / "wecare.db", wal=wal)
    c = connect(db)
    path = tmp_path / "backups" / create(c)
    c.close()
    out = subprocess.run(["sqlite3", "-readonly", str(path), "PRAGMA integrity_check",
                          "SELECT count(*) FROM patients"], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["ok", "200"]
    assert not os.path.exists(f"{path}-wal")
    assert not os.path.exists(f"{path}-shm")
    assert not os.path.exists(f"{path}-journal")


def test_backup_of_a_wal_database_is_not_marked_wal(conn, backup_dir):
    header = (backup_dir / create(conn)).read_bytes()[:100]
    assert header[:16] == b"SQLite format 3\0"
    assert header[18:20] == b"\x01\x01"  # legacy (rollback) read/write versions, not WAL (2)


def test_backup_holds_exactly_the_committed_data(conn, db_path, backup_dir):
    conn.execute("INSERT INTO patients(name, notes) VALUES ('Zoë Ünicode', 'naïve')")
    path = backup_dir / create(conn)
    expected = conn.execute("SELECT * FROM patients ORDER BY id").fetchall()
    assert table_rows(path, "SELECT * FROM patients ORDER BY id") == expected
    assert table_rows(path, "SELECT email, role FROM users ORDER BY id") == [
        ("admin@wecare.test", "ADMIN"), ("dev@wecare.test", "DEVELOPER")]


def test_backup_leaves_out_what_another_connection_has_not_committed(conn, db_path, backup_dir):
    other = sqlite3.connect(str(db_path), isolation_level=None)
    other.execute("BEGIN")
    other.execute("INSERT INTO patients(name) VALUES ('uncommitted')")
    path = backup_dir / create(conn)
    other.execute("ROLLBACK")
    other.close()
    assert table_rows(path, "SELECT count(*) FROM patients WHERE name = 'uncommitted'") == [(0,)]
    assert table_rows(path, "SELECT count(*) FROM patients") == [(200,)]


def test_backup_and_its_record_are_readable_by_the_owner_only(conn, backup_dir):
    name = create(conn)
    assert stat.S_IMODE(os.stat(backup_dir / name).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(backup_dir / (name + ".meta")).st_mode) == 0o600


def test_a_new_backup_directory_is_private(conn, backup_dir):
    assert not backup_dir.exists()
    create(conn)
    assert stat.S_IMODE(os.stat(backup_dir).st_mode) == 0o700


def test_label_is_stored_and_listed(conn):
    create(conn, "before the upgrade – ünïcode")
    create(conn)
    rows = listing(conn)
    assert [r["label"] for r in rows] == [None, "before the upgrade – ünïcode"]


def test_a_label_with_any_characters_is_stored_exactly(conn):
    label = 'a=b\nc%d "quoted" \\ 100% \t'
    create(conn, label)
    assert listing(conn)[0]["label"] == label


def test_a_null_label_is_no_label(conn):
    one(conn, "SELECT wecare_backup_create(NULL)")
    assert listing(conn)[0]["label"] is None


def test_created_backup_is_manual_with_checksum_size_and_page_count(conn, backup_dir):
    name = create(conn)
    row = listing(conn)[0]
    path = backup_dir / name
    assert row["name"] == name
    assert row["path"] == str(path)
    assert row["kind"] == "manual"
    assert re.fullmatch(r"xxh3t:[0-9a-f]{32}", row["checksum"])
    assert row["size_bytes"] == path.stat().st_size
    assert row["page_count"] == table_rows(path, "PRAGMA page_count")[0][0]


def test_create_verifies_the_new_backup_by_default(conn):
    create(conn)
    row = listing(conn)[0]
    assert row["verify_ok"] == 1
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", row["verified_at"])


def test_create_without_verification_leaves_the_backup_unverified(conn):
    config(conn, "verify_on_create", 0)
    create(conn)
    row = listing(conn)[0]
    assert row["verify_ok"] is None
    assert row["verified_at"] is None


def test_two_backups_in_the_same_second_get_distinct_names_listed_newest_first(conn):
    made = []
    # Keep going until two of them share a second (a few ms each: almost at once).
    while len(made) < 40:
        made.append(create(conn))
        stamps = [n[:len("wecare_backup_YYYY-MM-DD_HH-MM-SS")] for n in made]
        if len(made) >= 3 and len(set(stamps)) < len(stamps):
            break
    assert len(set(stamps)) < len(stamps), "no two backups were made within one second"
    assert len(set(made)) == len(made)
    config(conn, "keep_last", 1000)
    assert names(conn) == list(reversed(made))


def test_create_refuses_an_in_memory_database():
    c = connect(":memory:")
    msg = sql_error(c, "SELECT wecare_backup_create()")
    assert msg.startswith("wecare_backup_create: ")
    assert "open a database file" in msg


def test_a_backup_that_fails_verification_on_create_is_not_published(conn, backup_dir):
    first = create(conn)
    conn.execute("CREATE TABLE appointments(id INTEGER PRIMARY KEY)")
    config(conn, "critical_tables", "patients,appointments")
    msg = sql_error(conn, "SELECT wecare_backup_create()")
    assert msg.startswith("wecare_backup_create: ")
    assert "appointments" in msg and "empty" in msg
    assert names(conn) == [first]
    assert sorted(p.name for p in backup_dir.iterdir()) == sorted(
        [first, first + ".meta", first + ".manifest", ".wecare_backup.lock"])


def test_path_gives_the_absolute_path_of_an_existing_backup(conn, backup_dir):
    name = create(conn)
    assert one(conn, "SELECT wecare_backup_path(?)", name) == str(backup_dir / name)
    assert os.path.isabs(one(conn, "SELECT wecare_backup_path(?)", name))


def test_path_of_an_unknown_backup_is_an_error(conn):
    create(conn)
    msg = sql_error(conn, "SELECT wecare_backup_path('wecare_backup_2001-01-01_00-00-00.db')")
    assert msg.startswith("wecare_backup_path: ")
    assert "wecare_backup_list" in msg


def test_version_is_a_semantic_version(conn):
    assert re.fullmatch(r"\d+\.\d+\.\d+", one(conn, "SELECT wecare_backup_version()"))


def test_create_never_returns_a_backup_its_own_rotation_deleted(conn, backup_dir, other_db):
    from conftest import backup_file_name, place_backup, verify
    for day in range(1, 8):
        name = backup_file_name(datetime.datetime(2099, 1, day))
        place_backup(backup_dir, name, other_db)
        assert verify(conn, name)["ok"] is True
    name = create(conn)
    assert (backup_dir / name).is_file()
    assert name in names(conn)
