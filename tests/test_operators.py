"""What an operator meets: a backup directory that is missing or unmounted, one
that this process may not read, and a schedule that survives restarts.

A directory set with wecare_backup_config that is missing is an error for every
function that would read it (stats says `dir_missing: true`), never an empty
listing; the default directory before the first backup still lists as empty.
"""
import datetime
import json
import os
import sqlite3
import time

import pytest

from conftest import (backup_file_name, config, connect, create, listing, make_sample, names, one,
                      place_backup, poll, run_python, sql_error, stats, verify, without_root_override)

MISSING_DIR_SQL = [
    "SELECT * FROM wecare_backup_list",
    "SELECT wecare_backup_cleanup()",
    "SELECT wecare_backup_create()",
]


def missing_dir_message(fn, target):
    return f"{fn}: the backup directory '{target}' does not exist; create it (mkdir -m 700) or mount its disk"


@pytest.mark.parametrize("sql", MISSING_DIR_SQL)
def test_a_configured_backup_directory_that_is_missing_is_an_error_not_an_empty_listing(conn, tmp_path, sql):
    create(conn)  # backups exist, on the disk that is now "unmounted"
    target = tmp_path / "mnt" / "backupdisk"
    target.parent.mkdir()
    config(conn, "dir", str(target))
    fn = "wecare_backup_list" if "wecare_backup_list" in sql else sql.split("(")[0].split()[-1]
    msg = sql_error(conn, sql)
    assert msg.startswith(missing_dir_message(fn, target)), msg
    assert not target.exists()


def test_a_configured_missing_directory_is_a_cantopen_error_everywhere(conn, tmp_path):
    name = create(conn)
    target = tmp_path / "unmounted"
    config(conn, "dir", str(target))
    for sql, args in [("SELECT wecare_backup_path(?)", [name]), ("SELECT wecare_backup_verify(?)", [name]),
                      ("SELECT wecare_backup_export(?, ?)", [name, str(tmp_path)])]:
        fn = sql.split("(")[0].split()[-1]
        with pytest.raises(sqlite3.OperationalError) as info:
            conn.execute(sql, args).fetchall()
        assert str(info.value).startswith(missing_dir_message(fn, target)), str(info.value)
        assert info.value.sqlite_errorcode == sqlite3.SQLITE_CANTOPEN
    assert not target.exists()


def test_stats_says_when_the_configured_directory_is_missing(conn, tmp_path):
    create(conn)
    assert stats(conn)["dir_missing"] is False
    target = tmp_path / "unmounted"
    config(conn, "dir", str(target))
    s = stats(conn)
    assert s["dir_missing"] is True
    assert s["dir"] == str(target)
    assert s["count"] == 0
    target.mkdir(mode=0o700)
    assert stats(conn)["dir_missing"] is False


def test_the_default_directory_before_the_first_backup_lists_as_empty(conn, backup_dir):
    assert not backup_dir.exists()
    assert names(conn) == []
    assert one(conn, "SELECT wecare_backup_cleanup()") == 0
    s = stats(conn)
    assert s["dir_missing"] is False and s["count"] == 0
    assert not backup_dir.exists()


def test_a_directory_this_process_cannot_read_is_an_error_naming_its_owner(conn, backup_dir, db_path):
    # The cron-as-root trap, turned around so a test can build it: the directory
    # belongs to another user, mode 0700, and this process may not read it.
    if os.geteuid() != 0:
        pytest.skip("giving the directory to another user needs root")
    create(conn)
    os.chown(backup_dir, 65534, 65534)  # nobody
    os.chmod(backup_dir, 0o700)
    try:
        out = run_python(
            "import sys, sqlite3\n"
            "from conftest import connect\n"
            "c = connect(sys.argv[1])\n"
            "for sql in ['SELECT count(*) FROM wecare_backup_list', 'SELECT wecare_backup_create()']:\n"
            "    try:\n"
            "        print(c.execute(sql).fetchone()[0])\n"
            "    except sqlite3.Error as e:\n"
            "        print('ERROR', e.sqlite_errorcode, e)\n", db_path, prefix=without_root_override())
    finally:
        os.chown(backup_dir, 0, 0)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 2, out.stdout
    import pwd
    owner = pwd.getpwuid(65534).pw_name
    for line, fn in zip(lines, ["wecare_backup_list", "wecare_backup_create"]):
        assert line.startswith(f"ERROR {sqlite3.SQLITE_PERM} {fn}: "), line
        assert f"'{backup_dir}'" in line
        assert f"belongs to user '{owner}'" in line, line
        assert f"run the application and its cron jobs as '{owner}'" in line, line


def test_a_directory_of_this_user_without_read_permission_says_to_fix_its_mode(conn, backup_dir, db_path):
    create(conn)
    os.chmod(backup_dir, 0o000)
    try:
        out = run_python(
            "import sys, sqlite3\n"
            "from conftest import connect\n"
            "c = connect(sys.argv[1])\n"
            "try:\n"
            "    print(c.execute('SELECT count(*) FROM wecare_backup_list').fetchone()[0])\n"
            "except sqlite3.Error as e:\n"
            "    print('ERROR', e)\n", db_path, prefix=without_root_override())
    finally:
        os.chmod(backup_dir, 0o700)
    assert out.stdout.startswith("ERROR wecare_backup_list: "), out.stdout + out.stderr
    assert "mode 0000" in out.stdout and "chmod 700" in out.stdout, out.stdout


# ------------------------------------------------------------------ the schedule counts from the newest backup

def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0, tzinfo=None)


def iso(when):
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def autos(conn):
    return [r for r in listing(conn) if r["kind"] == "auto"]


def test_the_next_scheduled_run_is_due_an_interval_after_the_newest_backup(conn, backup_dir, other_db):
    made_at = utc_now() - datetime.timedelta(seconds=1000)
    place_backup(backup_dir, backup_file_name(made_at), other_db)
    one(conn, "SELECT wecare_backup_schedule(3600)")
    try:
        # Not "now + 3600": a restart does not push the schedule back.
        assert stats(conn)["next_run_at"] == iso(made_at + datetime.timedelta(seconds=3600))
        assert autos(conn) == []
    finally:
        one(conn, "SELECT wecare_backup_schedule(0)")


def test_a_restarted_schedule_keeps_its_time(db_path, backup_dir, other_db):
    made_at = utc_now() - datetime.timedelta(seconds=600)
    place_backup(backup_dir, backup_file_name(made_at), other_db)
    due = iso(made_at + datetime.timedelta(seconds=3600))
    for _ in range(3):  # the application restarts three times
        c = connect(db_path)
        one(c, "SELECT wecare_backup_schedule(3600)")
        assert stats(c)["next_run_at"] == due
        c.close()
    c = connect(db_path)
    assert [r for r in listing(c) if r["kind"] == "auto"] == []
    c.close()


def test_a_schedule_whose_newest_backup_is_older_than_the_interval_runs_at_once(conn, backup_dir, other_db):
    place_backup(backup_dir, backup_file_name(utc_now() - datetime.timedelta(days=2)), other_db)
    one(conn, "SELECT wecare_backup_schedule(86400)")
    try:
        assert poll(lambda: autos(conn))
        made = autos(conn)[0]["created_at"]
        expected = iso(datetime.datetime.strptime(made, "%Y-%m-%dT%H:%M:%SZ") + datetime.timedelta(days=1))
        assert poll(lambda: stats(conn)["next_run_at"] == expected), stats(conn)["next_run_at"]
    finally:
        one(conn, "SELECT wecare_backup_schedule(0)")


def test_a_short_schedule_runs_when_the_newest_backup_is_an_interval_old(conn, backup_dir, other_db):
    made_at = utc_now() - datetime.timedelta(seconds=1)
    place_backup(backup_dir, backup_file_name(made_at), other_db)
    one(conn, "SELECT wecare_backup_schedule(3)")
    try:
        assert stats(conn)["next_run_at"] == iso(made_at + datetime.timedelta(seconds=3))
        assert poll(lambda: autos(conn), timeout=20)
        first = datetime.datetime.strptime(autos(conn)[0]["created_at"], "%Y-%m-%dT%H:%M:%SZ")
        assert first >= made_at + datetime.timedelta(seconds=3)
    finally:
        one(conn, "SELECT wecare_backup_schedule(0)")


def test_a_manual_backup_moves_the_next_scheduled_run(conn, backup_dir, other_db):
    place_backup(backup_dir, backup_file_name(utc_now() - datetime.timedelta(seconds=100)), other_db)
    one(conn, "SELECT wecare_backup_schedule(3600)")
    try:
        before = stats(conn)["next_run_at"]
        create(conn)
        made = listing(conn)[0]["created_at"]
        # The next run is computed when the schedule (re)starts or after a run.
        one(conn, "SELECT wecare_backup_schedule(3600)")
        after = stats(conn)["next_run_at"]
        assert after == iso(datetime.datetime.strptime(made, "%Y-%m-%dT%H:%M:%SZ")
                            + datetime.timedelta(seconds=3600))
        assert after > before
    finally:
        one(conn, "SELECT wecare_backup_schedule(0)")
