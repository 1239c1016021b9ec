"""Messages and error types: every refusal says what was wrong and what to do,
in terms that match what is accepted, with a code drivers treat as operational.
"""
import json
import time
import sqlite3

import pytest

from conftest import PHRASE, config, connect, create, listing, one, sql_error, stats as json_stats


def verify_json(conn, name_or_path):
    return json.loads(one(conn, "SELECT wecare_backup_verify(?)", str(name_or_path)))


def operational_error(conn, sql, *args):
    with pytest.raises(sqlite3.OperationalError) as info:
        conn.execute(sql, args).fetchall()
    return info.value


# ------------------------------------------------------------------ limits are named

def test_a_too_long_label_is_refused_with_the_limit(conn):
    err = operational_error(conn, "SELECT wecare_backup_create(?)", "x" * 1001)
    assert str(err) == ("wecare_backup_create: the label is too long (1001 bytes); "
                        "it may have at most 1000 bytes")
    assert listing(conn) == []
    name = create(conn, "y" * 1000)  # the limit itself is accepted
    assert listing(conn)[0]["label"] == "y" * 1000 and listing(conn)[0]["name"] == name


def test_a_too_long_setting_value_is_refused_with_the_limit(conn):
    msg = sql_error(conn, "SELECT wecare_backup_config('dir', ?)", "d" * 70000)
    assert msg.endswith("is too long (70000 bytes); it may have at most 65536 bytes"), msg


# ------------------------------------------------------------------ the schedule takes numbers as text, as config does

def test_schedule_accepts_a_number_given_as_text_as_config_does(conn):
    config(conn, "keep_last", "9")  # config takes an integer as text ...
    try:
        assert one(conn, "SELECT wecare_backup_schedule('86400')") == 1  # ... and so does the schedule
        assert json_stats(conn)["schedule_seconds"] == 86400
        assert one(conn, "SELECT wecare_backup_schedule('7200')") == 1
        assert json_stats(conn)["schedule_seconds"] == 7200
    finally:
        assert one(conn, "SELECT wecare_backup_schedule('0')") == 0
    assert json_stats(conn)["schedule_seconds"] == 0


@pytest.mark.parametrize("bad", ["daily", "-5", "1.5", " 60", "", "1e3"])
def test_schedule_refuses_text_that_config_would_refuse_as_an_integer(conn, bad):
    msg = sql_error(conn, "SELECT wecare_backup_schedule(?)", bad)
    assert msg == f"wecare_backup_schedule: the interval must be a whole number of seconds, not '{bad}'", msg
    assert "must be a whole number" in sql_error(conn, "SELECT wecare_backup_config('keep_last', ?)", bad)
    assert json_stats(conn)["schedule_seconds"] == 0


@pytest.mark.parametrize("big", ["31622401", "99999999999999999999"])
def test_schedule_text_beyond_a_year_names_the_range(conn, big):
    msg = sql_error(conn, "SELECT wecare_backup_schedule(?)", big)
    assert msg == "wecare_backup_schedule: the interval must be from 1 to 31622400 seconds, or 0 to stop"


# ------------------------------------------------------------------ the prefix rule stated is the rule applied

PREFIX_RULE = ("a prefix is at most 160 bytes of letters, digits, spaces, '_', '-', '.' and non-ASCII "
               "characters (UTF-8), not starting with '.' nor containing '..'")


@pytest.mark.parametrize("prefix", ["My Clinic", "clinic-1.prod_x", "Clínica", "คลินิก", "p" * 160])
def test_a_prefix_the_rule_allows_is_accepted_and_names_the_backups(conn, prefix):
    assert config(conn, "prefix", prefix) == prefix
    name = create(conn)
    assert name.startswith(prefix + "_backup_")
    assert [r["name"] for r in listing(conn)] == [name]
    assert one(conn, "SELECT json_extract(wecare_backup_verify(?), '$.ok')", name) == 1


@pytest.mark.parametrize("prefix,problem", [
    ("a+b", "the prefix contains '+'"), ("it's", "the prefix contains '''"), ("x?y", "the prefix contains '?'"),
    ("a#b", "the prefix contains '#'"), ("50%", "the prefix contains '%'"), ("a/b", "the prefix contains '/'"),
    ("a..b", "the prefix contains '..'"), (".hidden", "the prefix starts with '.'"),
    ("tab\there", "the prefix contains a control character"), ("p" * 161, "the prefix is longer than 160 bytes"),
])
def test_a_prefix_the_rule_does_not_allow_is_refused_with_the_rule(conn, prefix, problem):
    msg = sql_error(conn, "SELECT wecare_backup_config('prefix', ?)", prefix)
    assert msg == f"wecare_backup_config: {problem}; {PREFIX_RULE} ('' = the default)", msg
    assert config(conn, "prefix") == "wecare"


def test_a_database_whose_name_a_prefix_may_not_hold_gets_a_usable_default(tmp_path):
    from conftest import make_sample
    c = connect(make_sample(tmp_path / "my+clinic (2).db"))
    assert config(c, "prefix") == "my_clinic _2_"
    assert create(c).startswith("my_clinic _2__backup_")
    c.close()


# ------------------------------------------------------------------ a verified copy says whether a record exists

def test_an_exported_copy_verified_by_path_says_whether_a_record_exists(conn, tmp_path):
    share = tmp_path / "share"
    share.mkdir()
    name = create(conn)
    copy = one(conn, "SELECT wecare_backup_export(?, ?)", name, str(share))
    with_record = verify_json(conn, copy)
    assert with_record["ok"] is True and with_record["record"] is True
    assert with_record["checksum"] == "match"
    # Rotation deletes the backup, and with it the record the copy was compared with.
    config(conn, "keep_last", 1)
    create(conn)
    create(conn)
    assert name not in [r["name"] for r in listing(conn)]
    alone = verify_json(conn, copy)
    assert alone["record"] is False
    assert alone["checksum"] == "no record"
    assert alone["ok"] is True and alone["integrity"] == "ok"  # the file itself is sound


def test_a_backup_with_its_record_says_so(conn):
    report = verify_json(conn, create(conn))
    assert report["record"] is True and report["checksum"] == "match"


# ------------------------------------------------------------------ create inside the caller's own write transaction

@pytest.mark.parametrize("rows", [1, 3000])  # a small transaction, and one that spilled to the file
def test_create_inside_its_own_write_transaction_in_rollback_mode_refuses_at_once(delete_db_path, rows):
    c = connect(delete_db_path)
    config(c, "busy_timeout_ms", 10000)
    c.execute("PRAGMA cache_size = 10")
    c.execute("BEGIN")
    c.executemany("INSERT INTO patients(name, notes) VALUES (?, ?)", [("new", "n" * 500)] * rows)
    started = time.monotonic()
    err = operational_error(c, "SELECT wecare_backup_create()")
    assert time.monotonic() - started < 2  # not busy_timeout_ms
    assert str(err).startswith("wecare_backup_create: this connection has an open write transaction"), str(err)
    assert "COMMIT (or ROLLBACK) first" in str(err) and "writer" not in str(err)
    assert err.sqlite_errorcode == sqlite3.SQLITE_ERROR
    c.execute("COMMIT")
    name = create(c)
    assert verify_json(c, name)["rows"]["patients"] == 200 + rows
    c.close()


def test_create_inside_a_read_transaction_in_rollback_mode_works(delete_db_path):
    c = connect(delete_db_path)
    c.execute("BEGIN")
    assert one(c, "SELECT count(*) FROM patients") == 200
    assert create(c)
    c.execute("COMMIT")
    c.close()


def test_create_inside_its_own_write_transaction_in_wal_mode_backs_up_the_last_commit(conn):
    conn.execute("BEGIN")
    conn.execute("INSERT INTO patients(name) VALUES ('not yet committed')")
    name = create(conn)
    conn.execute("ROLLBACK")
    assert verify_json(conn, name)["rows"]["patients"] == 200


# ------------------------------------------------------------------ restore names the statement that holds the lock

def test_restore_with_an_unfinished_cursor_names_that_cursor_not_the_calling_statement(delete_db_path):
    c = connect(delete_db_path)
    name = create(c)
    cursor = c.execute("SELECT id FROM patients")
    cursor.fetchone()  # an unfinished query of the same connection
    err = operational_error(c, "SELECT wecare_backup_restore(?, ?)", name, PHRASE)
    assert str(err).startswith("wecare_backup_restore: another statement of this connection is still open"), err
    assert "the statement that calls it" not in str(err)
    assert "finish it first" in str(err)
    cursor.fetchall()  # finished: the restore goes ahead
    assert json.loads(one(c, "SELECT wecare_backup_restore(?, ?)", name, PHRASE))["restored"] == name
    c.close()


def test_restore_called_from_a_statement_that_reads_a_table_names_the_calling_statement(delete_db_path):
    c = connect(delete_db_path)
    name = create(c)
    err = operational_error(c, "SELECT wecare_backup_restore(?, ?) FROM patients LIMIT 1", name, PHRASE)
    assert str(err).startswith("wecare_backup_restore: the statement that calls it reads the database"), err
    c.close()
