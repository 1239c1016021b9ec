"""wecare_backup_config(key[, value]) and wecare_backup_setting(key): per-connection settings with documented
defaults."""
import pytest

from conftest import config, connect, create, make_sample, names, one, sql_error

KEYS = ["dir", "prefix", "keep_last", "keep_daily", "keep_weekly", "keep_monthly", "keep_safety",
        "verify_on_create", "critical_tables", "max_snapshot_seconds", "busy_timeout_ms"]


def test_every_setting_reads_its_default(conn, db_path):
    assert config(conn, "dir") == str(db_path.parent / "backups")
    assert config(conn, "prefix") == "wecare"
    assert [config(conn, k) for k in ["keep_last", "keep_daily", "keep_weekly", "keep_monthly", "keep_safety",
                                      "verify_on_create"]] == ["7", "0", "0", "0", "3", "1"]
    assert config(conn, "critical_tables") == ""
    assert config(conn, "max_snapshot_seconds") == "3600"
    assert config(conn, "busy_timeout_ms") == "10000"


def test_prefix_defaults_to_the_file_name_without_extension(tmp_path):
    c = connect(make_sample(tmp_path / "clinic.sqlite3"))
    assert config(c, "prefix") == "clinic"
    assert create(c).startswith("clinic_backup_")


@pytest.mark.parametrize("key,value", [("keep_last", "3"), ("keep_daily", "7"), ("keep_weekly", "4"),
                                       ("keep_monthly", "12"), ("keep_safety", "1"), ("verify_on_create", "0"),
                                       ("critical_tables", "patients,users"), ("prefix", "nightly-wecare"),
                                       ("max_snapshot_seconds", "60"), ("busy_timeout_ms", "250")])
def test_a_setting_can_be_set_and_read_back(conn, key, value):
    assert config(conn, key, value) == value
    assert config(conn, key) == value


def test_integer_values_may_be_passed_as_integers(conn):
    assert config(conn, "keep_last", 3) == "3"


def test_settings_belong_to_one_connection(conn, db_path):
    config(conn, "keep_last", 2)
    other = connect(db_path)
    assert config(other, "keep_last") == "7"
    other.close()


def test_a_relative_dir_is_relative_to_the_database_folder(conn, db_path, tmp_path, monkeypatch):
    monkeypatch.chdir("/")
    assert config(conn, "dir", "vault") == str(db_path.parent / "vault")
    (db_path.parent / "vault").mkdir(mode=0o700)
    name = create(conn)
    assert (db_path.parent / "vault" / name).is_file()


def test_an_absolute_dir_is_used_as_it_is(conn, tmp_path):
    target = tmp_path / "elsewhere" / "vault"
    target.mkdir(parents=True)
    config(conn, "dir", str(target))
    name = create(conn)
    assert (target / name).is_file()


def test_a_configured_dir_that_does_not_exist_is_an_error_and_is_not_created(conn, tmp_path):
    # An unmounted backup disk looks like a missing directory: backups must not
    # land on the disk underneath it. Only the default directory is created.
    target = tmp_path / "mnt" / "backupdisk"
    target.parent.mkdir()
    config(conn, "dir", str(target))
    msg = sql_error(conn, "SELECT wecare_backup_create()")
    assert msg.startswith("wecare_backup_create: the backup directory '%s' does not exist; create it" % target), msg
    assert "mount its disk" in msg
    assert not target.exists()
    target.mkdir(mode=0o700)
    assert (target / create(conn)).is_file()


def test_a_custom_prefix_names_the_backups(conn):
    config(conn, "prefix", "wecare-prod")
    name = create(conn)
    assert name.startswith("wecare-prod_backup_")
    assert names(conn) == [name]


def test_an_unknown_key_is_an_error_listing_the_valid_keys(conn):
    for call in ["SELECT wecare_backup_config('keep_forever')", "SELECT wecare_backup_config('keep_forever', 1)"]:
        msg = sql_error(conn, call)
        assert msg.startswith("wecare_backup_config: ")
        assert "keep_forever" in msg
        for key in KEYS:
            assert key in msg, key


@pytest.mark.parametrize("key,bad", [("keep_last", "-1"), ("keep_last", "many"), ("keep_last", "1.5"),
                                     ("keep_daily", ""), ("keep_safety", "99999999999999"),
                                     ("verify_on_create", "yes"), ("verify_on_create", "2"),
                                     ("prefix", "a/b"), ("prefix", "../x"), ("prefix", ".hidden"),
                                     ("max_snapshot_seconds", "0"), ("busy_timeout_ms", "-5")])
def test_a_bad_value_is_an_error_and_the_old_value_stays(conn, key, bad):
    old = config(conn, key)
    msg = sql_error(conn, "SELECT wecare_backup_config(?, ?)", key, bad)
    assert msg.startswith("wecare_backup_config: ")
    assert key in msg
    assert config(conn, key) == old


@pytest.mark.parametrize("value", ["NULL", "1.5", "x'01'"])
def test_a_value_of_the_wrong_type_is_an_error(conn, value):
    msg = sql_error(conn, f"SELECT wecare_backup_config('keep_last', {value})")
    assert msg.startswith("wecare_backup_config: ")
    assert config(conn, "keep_last") == "7"


def test_the_value_names_the_valid_values(conn):
    msg = sql_error(conn, "SELECT wecare_backup_config('verify_on_create', 'yes')")
    assert "0 or 1" in msg
    msg = sql_error(conn, "SELECT wecare_backup_config('keep_last', 'many')")
    assert "whole number" in msg


def test_an_empty_dir_or_prefix_means_the_default(conn, db_path):
    config(conn, "dir", "/somewhere")
    config(conn, "prefix", "other")
    config(conn, "dir", "")
    config(conn, "prefix", "")
    assert config(conn, "dir") == str(db_path.parent / "backups")
    assert config(conn, "prefix") == "wecare"


def test_setting_reads_what_config_reads_and_changes_nothing(conn):
    config(conn, "keep_last", 12)
    for key in KEYS:
        assert one(conn, "SELECT wecare_backup_setting(?)", key) == config(conn, key)
    assert one(conn, "SELECT wecare_backup_setting('keep_last')") == "12"


@pytest.mark.parametrize("key", ["nope", "", "KEEP_LAST"])
def test_setting_has_the_errors_of_config_for_an_unknown_key(conn, key):
    by_setting = sql_error(conn, "SELECT wecare_backup_setting(?)", key)
    by_config = sql_error(conn, "SELECT wecare_backup_config(?)", key)
    assert by_setting.startswith("wecare_backup_setting: ")
    assert by_setting.split(": ", 1)[1] == by_config.split(": ", 1)[1]


def test_setting_takes_one_text_argument(conn):
    assert "wrong number of arguments" in sql_error(conn, "SELECT wecare_backup_setting('dir', 'x')")
    assert sql_error(conn, "SELECT wecare_backup_setting(NULL)").startswith("wecare_backup_setting: ")
