"""wecare_backup_cleanup() and rotation: what is kept, and what is never deleted."""
import datetime
import os

from conftest import (backup_file_name, config, create, listing, names, one, place_backup,
                      place_recorded_backup, sql_error, verify)

T = datetime.datetime


def cleanup(conn):
    return one(conn, "SELECT wecare_backup_cleanup()")


def place_all(backup_dir, source, times, kind="backup"):
    made = [backup_file_name(t, kind=kind) for t in times]
    for n in made:
        place_recorded_backup(backup_dir, n, source)
    return made


def test_cleanup_keeps_the_last_n_and_returns_how_many_it_deleted(conn):
    config(conn, "verify_on_create", 0)
    config(conn, "keep_last", 10)
    made = [create(conn) for _ in range(5)]
    config(conn, "keep_last", 2)
    assert cleanup(conn) == 3
    assert names(conn) == made[:-3:-1]
    assert cleanup(conn) == 0


def test_cleanup_deletes_exactly_the_backups_without_a_retain_reason(conn, backup_dir, other_db):
    place_all(backup_dir, other_db, [T(2024, 1, d) for d in range(1, 8)])
    config(conn, "keep_last", 3)
    doomed = {r["name"] for r in listing(conn) if r["retain_reason"] is None}
    kept = {r["name"] for r in listing(conn) if r["retain_reason"] is not None}
    assert len(doomed) == 4
    assert cleanup(conn) == 4
    assert set(names(conn)) == kept
    for n in doomed:
        assert not (backup_dir / n).exists()
        assert not (backup_dir / (n + ".meta")).exists()


def test_create_rotates_after_a_successful_backup(conn, backup_dir):
    config(conn, "keep_last", 2)
    made = [create(conn) for _ in range(4)]
    assert names(conn) == made[:-3:-1]
    assert not (backup_dir / made[0]).exists()
    assert not (backup_dir / (made[0] + ".meta")).exists()


def test_keep_daily_keeps_the_newest_backup_of_each_recent_day(conn, backup_dir, other_db):
    times = [T(2024, 5, 1, 8), T(2024, 5, 1, 20), T(2024, 5, 3, 9), T(2024, 5, 4, 7), T(2024, 5, 4, 23)]
    made = place_all(backup_dir, other_db, times)
    config(conn, "keep_last", 1)
    config(conn, "keep_daily", 3)
    reasons = {r["name"]: r["retain_reason"] for r in listing(conn)}
    assert reasons == {made[4]: "last", made[3]: None, made[2]: "daily", made[1]: "daily", made[0]: None}
    assert cleanup(conn) == 2
    assert names(conn) == [made[4], made[2], made[1]]


def test_keep_weekly_keeps_the_newest_backup_of_each_recent_iso_week(conn, backup_dir, other_db):
    # 2024-01-01 is a Monday: the 1st..7th are one ISO week, the 8th starts the next.
    times = [T(2024, 1, 1), T(2024, 1, 7), T(2024, 1, 8), T(2024, 1, 14), T(2024, 1, 15)]
    made = place_all(backup_dir, other_db, times)
    config(conn, "keep_last", 0)
    config(conn, "keep_weekly", 2)
    reasons = {r["name"]: r["retain_reason"] for r in listing(conn)}
    assert reasons == {made[4]: "weekly", made[3]: "weekly", made[2]: None, made[1]: None, made[0]: None}
    assert cleanup(conn) == 3


def test_keep_monthly_keeps_the_newest_backup_of_each_recent_month(conn, backup_dir, other_db):
    times = [T(2023, 12, 31), T(2024, 1, 31), T(2024, 2, 1), T(2024, 2, 29), T(2024, 3, 1)]
    made = place_all(backup_dir, other_db, times)
    config(conn, "keep_last", 0)
    config(conn, "keep_monthly", 3)
    reasons = {r["name"]: r["retain_reason"] for r in listing(conn)}
    assert reasons == {made[4]: "monthly", made[3]: "monthly", made[2]: None, made[1]: "monthly", made[0]: None}


def test_retention_rules_are_or_ed(conn, backup_dir, other_db):
    times = [T(2023, 11, 5), T(2023, 12, 5), T(2024, 1, 5), T(2024, 1, 6), T(2024, 1, 7, 1), T(2024, 1, 7, 2)]
    made = place_all(backup_dir, other_db, times)
    config(conn, "keep_last", 1)
    config(conn, "keep_daily", 2)
    config(conn, "keep_monthly", 3)
    reasons = {r["name"]: r["retain_reason"] for r in listing(conn)}
    assert reasons == {made[5]: "last", made[4]: None, made[3]: "daily", made[2]: None,
                       made[1]: "monthly", made[0]: "monthly"}


def test_keep_safety_keeps_the_newest_safety_backups(conn, backup_dir, other_db):
    safety = place_all(backup_dir, other_db, [T(2024, 1, d) for d in range(1, 6)], kind="safety")
    regular = place_all(backup_dir, other_db, [T(2024, 2, 1)])
    config(conn, "keep_safety", 2)
    reasons = {r["name"]: r["retain_reason"] for r in listing(conn)}
    assert [reasons[n] for n in safety] == [None, None, None, "safety", "safety"]
    assert reasons[regular[0]] == "last"
    assert cleanup(conn) == 3
    assert set(names(conn)) == {safety[3], safety[4], regular[0]}


def test_safety_backups_do_not_count_towards_keep_last(conn, backup_dir, other_db):
    regular = place_all(backup_dir, other_db, [T(2024, 1, 1), T(2024, 1, 2)])
    safety = place_all(backup_dir, other_db, [T(2024, 1, 3)], kind="safety")
    config(conn, "keep_last", 2)
    assert cleanup(conn) == 0
    assert set(names(conn)) == set(regular + safety)


def test_a_failed_backup_deletes_nothing(conn, backup_dir):
    config(conn, "keep_last", 10)
    made = [create(conn) for _ in range(3)]
    config(conn, "keep_last", 1)
    config(conn, "critical_tables", "appointments")  # missing: verification on create fails
    msg = sql_error(conn, "SELECT wecare_backup_create()")
    assert msg.startswith("wecare_backup_create: ")
    assert set(names(conn)) == set(made)
    config(conn, "critical_tables", "")
    newest = create(conn)
    assert names(conn) == [newest]


def test_the_newest_backup_that_verified_ok_is_never_deleted(conn, backup_dir):
    config(conn, "keep_last", 10)
    good, bad = create(conn), create(conn)
    with open(backup_dir / bad, "r+b") as f:
        f.seek(8192)
        f.write(b"\xff" * 64)
    assert verify(conn, bad)["ok"] is False
    config(conn, "keep_last", 1)
    reasons = {r["name"]: r["retain_reason"] for r in listing(conn)}
    assert reasons == {bad: "last", good: "last_good"}
    assert cleanup(conn) == 0
    assert set(names(conn)) == {good, bad}


def test_the_newest_good_backup_survives_keep_last_zero(conn, backup_dir):
    config(conn, "keep_last", 10)
    made = [create(conn) for _ in range(3)]
    config(conn, "keep_last", 0)
    assert cleanup(conn) == 2
    assert names(conn) == [made[-1]]
    assert listing(conn)[0]["retain_reason"] == "last_good"


def test_cleanup_never_deletes_files_that_are_not_backups_of_this_database(conn, backup_dir, other_db):
    foreign = ["notes.txt", "other_backup_2020-01-01_00-00-00.db", "other_backup_2020-01-01_00-00-00.db.meta",
               "wecare_backup_2020-02-30_00-00-00.db", "wecare_backup_old.db", "wecare.db",
               "wecare_backup_2020-01-01_00-00-00.db.bak", "README"]
    create(conn)
    for f in foreign:
        place_backup(backup_dir, f, other_db)
    (backup_dir / "wecare_backup_2020-01-01_00-00-00.db").mkdir()
    os.symlink(str(other_db), backup_dir / "wecare_backup_2020-01-02_00-00-00.db")
    config(conn, "keep_last", 1)
    create(conn)
    create(conn)
    cleanup(conn)
    for f in foreign:
        assert (backup_dir / f).exists(), f
    assert (backup_dir / "wecare_backup_2020-01-01_00-00-00.db").is_dir()
    assert os.path.islink(backup_dir / "wecare_backup_2020-01-02_00-00-00.db")
    assert other_db.exists()
    assert len(names(conn)) == 1


def test_cleanup_before_the_first_backup_deletes_and_creates_nothing(conn, backup_dir):
    assert one(conn, "SELECT wecare_backup_cleanup()") == 0
    assert not backup_dir.exists()


def test_without_a_good_backup_the_newest_not_failed_one_is_kept(conn, backup_dir):
    config(conn, "verify_on_create", 0)
    config(conn, "keep_last", 10)
    older, newest = create(conn), create(conn)
    with open(backup_dir / newest, "r+b") as f:
        f.seek(4096)
        f.write(b"\0" * 4096)
    assert verify(conn, newest)["ok"] is False
    config(conn, "keep_last", 0)
    reasons = {r["name"]: r["retain_reason"] for r in listing(conn)}
    assert reasons == {newest: None, older: "last_good"}
    assert cleanup(conn) == 1
    assert names(conn) == [older]
