"""Security point 3: the backup directory must be private, and files the extension did not record never
count. Someone who can write near the backup directory cannot make rotation delete real backups."""
import datetime
import os

import pytest

from conftest import (backup_file_name, config, create, listing, names, one, place_backup,
                      place_recorded_backup, sql_error, stats)

FUTURE = [datetime.datetime(2031, 1, d, 12) for d in range(1, 8)]


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o722])
def test_a_backup_directory_others_can_write_is_refused_by_every_function(conn, backup_dir, mode):
    name = create(conn)
    os.chmod(backup_dir, mode)
    for sql, args in [("SELECT wecare_backup_create()", ()), ("SELECT wecare_backup_cleanup()", ()),
                      ("SELECT * FROM wecare_backup_list", ()), ("SELECT wecare_backup_verify(?)", (name,)),
                      ("SELECT wecare_backup_path(?)", (name,)), ("SELECT wecare_backup_stats()", ())]:
        msg = sql_error(conn, sql, *args)
        assert "can be written by" in msg and f"chmod 700 '{backup_dir}'" in msg, (sql, msg)
    os.chmod(backup_dir, 0o700)
    assert names(conn) == [name]


def test_a_backup_directory_owned_by_another_user_is_refused(conn, backup_dir):
    create(conn)
    if os.geteuid() != 0:
        pytest.skip("only root can give the directory to another user")
    os.chown(backup_dir, 65534, 65534)
    try:
        msg = sql_error(conn, "SELECT wecare_backup_create()")
        assert "belongs to" in msg and "run as its owner" in msg, msg
    finally:
        os.chown(backup_dir, 0, 0)


def test_junk_named_like_future_backups_never_causes_a_real_backup_to_be_deleted(conn, backup_dir, other_db):
    config(conn, "verify_on_create", 0)
    real = [create(conn) for _ in range(3)]
    junk = [backup_file_name(t) for t in FUTURE]
    for n in junk:
        place_backup(backup_dir, n, other_db)
    config(conn, "keep_last", 3)
    newest = create(conn)  # rotation: of the 4 real backups, the 3 newest stay
    assert one(conn, "SELECT wecare_backup_cleanup()") == 0
    rows = {r["name"]: r for r in listing(conn)}
    assert real[0] not in rows
    for n in real[1:] + [newest]:
        assert n in rows and rows[n]["retain_reason"] == "last"
    for n in junk:
        assert rows[n]["kind"] == "unknown" and rows[n]["retain_reason"] == "unknown"
        assert (backup_dir / n).exists()  # never deleted by rotation either
    assert stats(conn)["count"] == 3 + len(junk)


def test_a_backup_dated_in_the_future_never_pushes_out_one_from_the_past(conn, backup_dir, other_db):
    config(conn, "verify_on_create", 0)
    real = [create(conn) for _ in range(2)]
    future = [backup_file_name(t) for t in FUTURE]
    for n in future:
        place_recorded_backup(backup_dir, n, other_db)
    config(conn, "keep_last", 2)
    assert one(conn, "SELECT wecare_backup_cleanup()") == 0
    rows = {r["name"]: r["retain_reason"] for r in listing(conn)}
    assert all(rows[n] == "last" for n in real)
    assert all(rows[n] == "future" for n in future)


def test_an_offsite_directory_others_can_write_is_refused(conn, tmp_path):
    target = tmp_path / "nas"
    target.mkdir()
    os.chmod(target, 0o777)
    config(conn, "offsite", str(target))
    config(conn, "offsite_plaintext", 1)  # so the directory check, not the missing key, refuses
    create(conn)
    error = stats(conn)["offsite_last_error"]
    assert error and "can be written by" in error and "chmod 700" in error, error
    assert list(target.iterdir()) == []
