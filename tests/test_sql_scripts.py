"""The ready-to-run scripts in sql/ do what the README says, on any database (not only the demo's
users and patients), from the source tree and as `make install` puts them; the README's cron and
drill recipes work as copied."""
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess

import pytest

from conftest import ROOT, connect, listing, tree_state

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ")
NIGHTLY = ROOT / "sql" / "nightly.sh"
DRILL = ROOT / "sql" / "restore_drill.sh"


def make_clinic(path, patients=200, visits=500, billing=300):
    """A database that is not the demo: patients, visits and billing, no users."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(
        """
        CREATE TABLE patients(id INTEGER PRIMARY KEY, name TEXT NOT NULL);
        CREATE TABLE visits(id INTEGER PRIMARY KEY, patient INTEGER REFERENCES patients, at TEXT);
        CREATE TABLE billing(visit INTEGER PRIMARY KEY, amount_cents INTEGER) WITHOUT ROWID;
        """
    )
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO patients(name) VALUES (?)", [(f"p{i}",) for i in range(patients)])
    conn.executemany("INSERT INTO visits(patient, at) VALUES (?, ?)",
                     [(i % patients + 1, "2026-01-01") for i in range(visits)])
    conn.executemany("INSERT INTO billing VALUES (?, ?)", [(i + 1, 100 * i) for i in range(billing)])
    conn.execute("COMMIT")
    conn.close()
    return path


@pytest.fixture
def clinic(tmp_path):
    folder = tmp_path / "clinic"
    folder.mkdir()
    return make_clinic(folder / "clinic.db")


@pytest.fixture
def scratch_tmp(tmp_path):
    """TMPDIR for the scripts, so a test sees every folder a drill makes by itself."""
    path = tmp_path / "tmp"
    path.mkdir()
    return path


def script_env(tmpdir=None, extension=True):
    env = dict(os.environ)
    if not extension:
        env.pop("WECARE_BACKUP_EXT", None)
    if tmpdir is not None:
        env["TMPDIR"] = str(tmpdir)
    return env


def run(cmd, env=None, cwd=None, timeout=120):
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def assert_stamped(*outputs):
    """Every line a script writes starts with the UTC time (a cron log has no time otherwise)."""
    for text in outputs:
        for line in text.splitlines():
            assert STAMP.match(line), f"no timestamp: {line!r}"


def backups_of(db):
    return sorted(f for f in os.listdir(db.parent / "backups") if f.endswith(".db"))


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def nightly(db, *options, env=None):
    r = run([NIGHTLY, *options, db], env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


# ---------------------------------------------------------------- the demo

def test_demo_shows_create_list_verify_stats_and_cleanup():
    r = run(["sh", "sql/run_demo.sh"], cwd=ROOT)
    assert r.returncode == 0, r.stderr
    for heading in ("== five backups", "== the list", "== verify", "== stats", "clean up"):
        assert heading in r.stdout
    assert "match" in r.stdout and "last_good" not in r.stderr


# ---------------------------------------------------------------- nightly.sh

def test_nightly_backs_up_a_database_that_is_not_the_demo(clinic):
    r = nightly(clinic)
    assert_stamped(r.stdout, r.stderr)
    out = r.stdout
    assert re.search(r" created clinic_backup_\S+\.db$", out, re.M)
    for rule in ("keep_last = 7", "keep_daily = 7", "keep_weekly = 4", "keep_monthly = 6"):
        assert re.search(rf" {rule}$", out, re.M), out
    assert re.search(r" critical_tables = $", out, re.M)  # none unless asked for
    stats = json.loads(re.search(r" stats (\{.*\})$", out, re.M).group(1))
    assert stats["count"] == 1 and stats["prefix"] == "clinic"
    rows = listing(connect(clinic))
    assert [(b["kind"], b["label"], b["verify_ok"]) for b in rows] == [("manual", "nightly", 1)]


def test_nightly_options_set_critical_tables_keep_rules_label_export_and_any_setting(clinic, tmp_path):
    share = tmp_path / "share"
    share.mkdir()
    r = nightly(clinic, "--critical", "patients,visits", "--keep-last", "2", "--keep-monthly", "0",
                "--label", "it's night", "--export", share, "--set", "keep_safety=5")
    assert_stamped(r.stdout, r.stderr)
    for line in ("critical_tables = patients,visits", "keep_last = 2", "keep_monthly = 0", "keep_safety = 5"):
        assert re.search(rf" {line}$", r.stdout, re.M), r.stdout
    name = backups_of(clinic)[0]
    assert f" exported {share / name}" in r.stdout
    assert (share / name).read_bytes() == (clinic.parent / "backups" / name).read_bytes()
    assert listing(connect(clinic))[0]["label"] == "it's night"


def test_nightly_backs_up_into_a_directory_given_with_dir(clinic, tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    nightly(clinic, "--dir", target)
    assert [f for f in os.listdir(target) if f.endswith(".db")]
    assert not (clinic.parent / "backups").exists()


def test_nightly_fails_loudly_and_deletes_nothing_when_a_critical_table_is_empty(clinic):
    nightly(clinic, "--critical", "billing")
    conn = sqlite3.connect(str(clinic))
    conn.execute("DELETE FROM billing")
    conn.commit()
    conn.close()
    r = run([NIGHTLY, "--critical", "billing", clinic])
    assert r.returncode == 1
    assert_stamped(r.stdout, r.stderr)
    assert "wecare_backup_create: the new backup failed verification" in r.stderr
    assert "critical table 'billing' is empty" in r.stderr
    assert "nightly.sh: FAILED" in r.stderr
    assert len(backups_of(clinic)) == 1


def test_nightly_refuses_bad_usage_without_touching_anything(clinic):
    for args in (["--bogus", clinic], ["--set", "keep_last", clinic], ["--set", "a;b=1", clinic],
                 ["--keep-last"], [clinic.parent / "missing.db"], []):
        r = run([NIGHTLY, *args])
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert_stamped(r.stdout, r.stderr)
    assert not (clinic.parent / "backups").exists()


def test_nightly_and_the_drill_refuse_a_user_who_does_not_own_the_database(clinic, scratch_tmp):
    if os.geteuid() != 0:
        pytest.skip("needs root to give the database to another user")
    nightly(clinic)
    before = tree_state(clinic.parent)
    os.chown(clinic, 4242, 4242)
    for script in (NIGHTLY, DRILL):
        r = run([script, clinic], env=script_env(scratch_tmp))
        assert r.returncode == 2
        assert "run this as the owner of" in r.stderr and "could not read" in r.stderr
    os.chown(clinic, 0, 0)
    assert tree_state(clinic.parent) == before
    assert not os.listdir(scratch_tmp)


# ---------------------------------------------------------------- restore_drill.sh

def test_restore_drill_passes_on_a_database_that_is_not_the_demo_and_touches_nothing_live(clinic, scratch_tmp):
    nightly(clinic)
    live_before = tree_state(clinic.parent / "backups")
    db_before = digest(clinic)
    r = run([DRILL, clinic], env=script_env(scratch_tmp))
    assert r.returncode == 0, r.stdout + r.stderr
    assert_stamped(r.stdout, r.stderr)
    assert re.search(r" DRILL PASSED$", r.stdout, re.M)
    assert " 3 tables, 1000 rows: every count is the one recorded at backup time" in r.stdout
    assert "the drill folder was removed" in r.stdout
    assert os.listdir(scratch_tmp) == []  # the folder it made for itself is gone
    assert tree_state(clinic.parent / "backups") == live_before
    assert digest(clinic) == db_before
    assert sorted(os.listdir(clinic.parent)) == ["backups", "clinic.db"]


def test_restore_drill_works_in_a_new_or_an_empty_folder_and_keeps_it(clinic, tmp_path):
    nightly(clinic)
    new = tmp_path / "new-drill"
    empty = tmp_path / "empty-drill"
    empty.mkdir()
    for folder in (new, empty):
        r = run([DRILL, clinic, folder])
        assert r.returncode == 0, r.stdout + r.stderr
        assert " DRILL PASSED" in r.stdout
        restored = sqlite3.connect(str(folder / "scratch.db"))
        assert restored.execute("SELECT count(*) FROM visits").fetchone() == (500,)
        restored.close()
    assert oct(new.stat().st_mode & 0o777) == "0o700"


def test_restore_drill_refuses_a_folder_that_is_not_empty_and_changes_nothing(clinic, tmp_path, scratch_tmp):
    nightly(clinic)
    folder = tmp_path / "precious"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    before = tree_state(tmp_path)
    r = run([DRILL, clinic, folder], env=script_env(scratch_tmp))
    assert r.returncode == 2
    assert_stamped(r.stdout, r.stderr)
    assert "is not empty; give a new or empty folder" in r.stderr
    assert tree_state(tmp_path) == before


def test_restore_drill_refuses_the_databases_own_folder_and_changes_nothing(clinic, scratch_tmp):
    nightly(clinic)
    before = tree_state(clinic.parent)
    for folder in (clinic.parent, clinic.parent / "."):
        r = run([DRILL, clinic, folder], env=script_env(scratch_tmp))
        assert r.returncode == 2
        assert "is the database's own folder" in r.stderr
    assert tree_state(clinic.parent) == before
    assert os.listdir(scratch_tmp) == []


def test_restore_drill_refuses_a_folder_inside_the_backup_directory(clinic, scratch_tmp):
    nightly(clinic)
    before = tree_state(clinic.parent)
    r = run([DRILL, clinic, clinic.parent / "backups" / "drill"], env=script_env(scratch_tmp))
    assert r.returncode == 2
    assert "is in the backup directory" in r.stderr
    assert tree_state(clinic.parent) == before


def test_restore_drill_fails_when_no_backup_has_verified_and_makes_nothing(clinic, scratch_tmp):
    r = run([DRILL, clinic], env=script_env(scratch_tmp))
    assert r.returncode == 1
    assert "no backup in" in r.stderr and "has verified ok" in r.stderr
    assert os.listdir(scratch_tmp) == []
    assert sorted(os.listdir(clinic.parent)) == ["clinic.db"]


def change_recorded_count(backup_dir, name, table, old, new):
    """Edits the record of backup `name` so that `table` was recorded with `new` rows instead of `old`.

    The counts live in the binary, checksummed manifest; the record is rewritten in the form 1.0.0 used
    (counts in the record itself, no manifest), which verification still reads."""
    meta = backup_dir / (name + ".meta")
    conn = sqlite3.connect(f"file:{backup_dir / name}?mode=ro&immutable=1", uri=True)
    tables = conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table' AND rootpage > 0 "
                          "AND name NOT LIKE 'sqlite%'").fetchall()
    counts = {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for (t,) in tables}
    conn.close()
    assert counts[table] == old
    counts[table] = new
    lines = [l for l in meta.read_text().splitlines() if not l.startswith("manifest=")]
    meta.write_text("\n".join(lines + [f"table={t} {n}" for t, n in counts.items()]) + "\n")
    (backup_dir / (name + ".manifest")).unlink()


def test_restore_drill_detects_a_table_whose_count_differs_from_the_record(clinic, scratch_tmp):
    nightly(clinic)
    name = backups_of(clinic)[0]
    change_recorded_count(clinic.parent / "backups", name, "visits", 500, 499)
    r = run([DRILL, clinic], env=script_env(scratch_tmp))
    assert r.returncode == 1
    assert_stamped(r.stdout, r.stderr)
    assert "the copy does not match the record made at backup time" in r.stdout
    assert "table 'visits' has 500 rows, 499 were recorded" in r.stdout
    assert re.search(r" DRILL FAILED$", r.stdout, re.M)
    kept = os.listdir(scratch_tmp)
    assert len(kept) == 1 and f"kept for a look: {scratch_tmp / kept[0]}" in r.stderr


def test_restore_drill_sql_compares_every_restored_table_with_the_record(clinic, tmp_path):
    """The second half alone: a record that says ok, but whose counts differ from what the restore gives."""
    nightly(clinic)
    first = tmp_path / "first"
    assert run([DRILL, clinic, first]).returncode == 0
    report = json.loads((first / "record.json").read_text())
    assert report["rows"] == {"billing": 300, "patients": 200, "visits": 500}
    report["rows"]["visits"] = 499
    report["rows"]["invoices"] = 3
    del report["rows"]["billing"]
    second = tmp_path / "second"
    (second / "backups").mkdir(parents=True, mode=0o700)
    name = report["name"]
    shutil.copyfile(first / "backups" / name, second / "backups" / name)
    (second / "record.json").write_text(json.dumps(report))
    ext = os.environ.get("WECARE_BACKUP_EXT") or str(ROOT / "dist" / "wecare_backup")
    params = (f"REPLACE INTO temp.sqlite_parameters(key, value) VALUES ('@backup_dir', '{second / 'backups'}'), "
              f"('@prefix', 'clinic'), ('@name', '{name}')")
    with open(ROOT / "sql" / "restore_drill.sql") as script:
        r = subprocess.run(["sqlite3", "-bail", "-cmd", f".load {ext}", "-cmd", ".parameter init", "-cmd", params,
                            "scratch.db"], stdin=script, cwd=second, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "table 'visits': 500 rows restored, 499 recorded at backup time" in lines
    assert "table 'invoices': missing after the restore (3 rows recorded)" in lines
    assert "table 'billing': restored with 300 rows, but not in the record" in lines
    assert "table 'patients'" not in r.stdout
    assert lines[-1] == "DRILL FAILED"


# ---------------------------------------------------------------- make install and the README recipes

def readme_recipes():
    """The cron lines and the drill command of the README, as written there."""
    text = (ROOT / "README.md").read_text()
    cron = re.findall(r"^\d+ \d+ \* \* [\d*]\s+(/usr/local/share/wecare_backup/\S+\.sh .*)$", text, re.M)
    drill = re.findall(r"^(sudo -u wecare /usr/local/share/wecare_backup/restore_drill\.sh .*?)(?:\s+#.*)?$",
                       text, re.M)
    return cron, drill


def test_make_install_puts_the_library_and_scripts_under_prefix_and_the_readme_recipes_work(clinic, tmp_path):
    dest = tmp_path / "dest"
    r = run(["make", "-s", "install", f"DESTDIR={dest}"], cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    prefix = dest / "usr" / "local"
    lib = prefix / "lib" / "wecare_backup" / "wecare_backup.so"
    share = prefix / "share" / "wecare_backup"
    assert lib.is_file()
    for script in ("nightly.sh", "restore_drill.sh"):
        assert os.access(share / script, os.X_OK)
    for data in ("nightly.sql", "restore_drill.sql", "common.sh"):
        assert (share / data).is_file()

    cron, drill = readme_recipes()
    assert len(cron) == 2 and "nightly.sh" in cron[0] and "restore_drill.sh" in cron[1], cron
    assert len(drill) == 1, drill
    log_dir = tmp_path / "log"
    log_dir.mkdir()

    def as_here(command):
        # The recipes as copied: only the install root, the database and the log folder differ.
        return (command.replace("sudo -u wecare ", "").replace("/usr/local", str(prefix))
                .replace("/var/lib/wecare/wecare.db", str(clinic)).replace("/var/log/wecare", str(log_dir)))

    env = script_env(tmp_path, extension=False)  # the installed scripts find the installed library
    for command in cron:
        r = subprocess.run(["sh", "-c", as_here(command)], env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, command + "\n" + "".join(p.read_text() for p in log_dir.iterdir())
    logs = {p.name: p.read_text() for p in log_dir.iterdir()}
    assert len(logs) == 2
    for text in logs.values():
        assert_stamped(text)
    nightly_log, drill_log = (logs[n] for n in sorted(logs, key=lambda n: "drill" in n))
    assert " created clinic_backup_" in nightly_log
    assert " DRILL PASSED" in drill_log and " 3 tables, 1000 rows" in drill_log
    r = subprocess.run(["sh", "-c", as_here(drill[0])], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and " DRILL PASSED" in r.stdout, r.stdout + r.stderr

    r = run(["make", "-s", "uninstall", f"DESTDIR={dest}"], cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert not lib.exists() and not share.exists()
