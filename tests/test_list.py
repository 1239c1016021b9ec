"""SELECT * FROM wecare_backup_list: one row per backup of this database, newest first."""
import datetime
import os

from conftest import (backup_file_name, config, connect, create, listing, make_sample, names, place_backup,
                      verify)

COLUMNS = ["name", "path", "kind", "label", "created_at", "size_bytes", "checksum", "page_count",
           "verified_at", "verify_ok", "retain_reason"]


def test_list_has_the_documented_columns(conn):
    cur = conn.execute("SELECT * FROM wecare_backup_list")
    cols = [d[0] for d in cur.description]
    assert cols[:len(COLUMNS)] == COLUMNS


def test_list_is_empty_before_the_first_backup_and_creates_nothing(conn, backup_dir):
    assert listing(conn) == []
    assert not backup_dir.exists()


def test_list_is_newest_first_across_days(conn, backup_dir, other_db):
    day = lambda d: datetime.datetime(2024, 3, d, 12, 0, 0)
    for d in (2, 9, 5):
        place_backup(backup_dir, backup_file_name(day(d)), other_db)
    fresh = create(conn)
    assert names(conn) == [fresh, backup_file_name(day(9)), backup_file_name(day(5)), backup_file_name(day(2))]


def test_hand_placed_backup_lists_with_what_can_be_known(conn, backup_dir, other_db):
    name = backup_file_name(datetime.datetime(2024, 1, 2, 3, 4, 5))
    path = place_backup(backup_dir, name, other_db)
    [row] = listing(conn)
    assert row["name"] == name
    assert row["path"] == str(path)
    assert row["kind"] == "unknown"  # no record: not trusted as a backup
    assert row["retain_reason"] == "unknown"  # never deleted by rotation, never counted
    assert row["created_at"] == "2024-01-02T03:04:05Z"
    assert row["size_bytes"] == path.stat().st_size
    assert row["checksum"] is None
    assert row["label"] is None
    assert row["verify_ok"] is None
    assert row["verified_at"] is None


def test_hand_placed_safety_backup_lists_as_unknown(conn, backup_dir, other_db):
    name = backup_file_name(datetime.datetime(2024, 1, 2, 3, 4, 5), kind="safety")
    place_backup(backup_dir, name, other_db)
    assert [(r["name"], r["kind"]) for r in listing(conn)] == [(name, "unknown")]


def test_list_ignores_files_that_are_not_backups_of_this_database(conn, backup_dir, other_db):
    name = create(conn)
    foreign = ["notes.txt", "other_backup_2024-01-01_00-00-00.db", "wecare_backup_latest.db",
               "wecare_backup_2024-02-30_00-00-00.db", "wecare_backup_2024-01-01_00-00-00_01.db",
               "wecare_backup_2024-01-01_00-00-00.db.bak", "wecare_backup_2024-01-01_00-00-00.sqlite"]
    for f in foreign:
        place_backup(backup_dir, f, other_db)
    (backup_dir / "wecare_backup_2024-01-01_00-00-00.db").mkdir()  # a directory, not a backup
    assert names(conn) == [name]


def test_list_only_shows_the_backups_of_its_own_database(tmp_path):
    a = connect(make_sample(tmp_path / "clinic.db"))
    b = connect(make_sample(tmp_path / "billing.db"))
    na, nb = create(a), create(b)
    assert names(a) == [na] and na.startswith("clinic_backup_")
    assert names(b) == [nb] and nb.startswith("billing_backup_")


def test_list_follows_the_dir_setting(conn, tmp_path):
    first = create(conn)
    config(conn, "dir", str(tmp_path / "vault"))
    (tmp_path / "vault").mkdir(mode=0o700)
    assert names(conn) == []
    second = create(conn)
    assert names(conn) == [second]
    config(conn, "dir", "")
    assert names(conn) == [first]


def test_list_shows_the_retention_reason_of_each_backup(conn):
    config(conn, "keep_last", 2)
    config(conn, "verify_on_create", 0)
    made = [create(conn) for _ in range(2)]
    config(conn, "keep_last", 1)
    assert [(r["name"], r["retain_reason"]) for r in listing(conn)] == [(made[1], "last"), (made[0], None)]


def test_list_shows_the_last_verification(conn, backup_dir):
    config(conn, "verify_on_create", 0)
    name = create(conn)
    assert listing(conn)[0]["verify_ok"] is None
    verify(conn, name)
    assert listing(conn)[0]["verify_ok"] == 1
    with open(backup_dir / name, "r+b") as f:
        f.seek(os.path.getsize(backup_dir / name) // 2)
        f.write(b"\xde\xad\xbe\xef")
    verify(conn, name)
    row = listing(conn)[0]
    assert row["verify_ok"] == 0
    assert row["verified_at"] is not None
