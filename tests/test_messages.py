"""Messages and error types: every refusal says what was wrong and what to do,
in terms that match what is accepted, with a code drivers treat as operational.
"""
import sqlite3

import pytest

from conftest import config, connect, create, listing, one, sql_error


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
