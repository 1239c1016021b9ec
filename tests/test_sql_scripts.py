"""The ready-to-run scripts in sql/ do what the README says."""
import os
import subprocess

from conftest import EXT, connect, make_sample


def run(cmd, cwd, **kw):
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120, **kw)


def test_demo_shows_create_list_verify_stats_and_cleanup(layout_root):
    r = run(["sh", "sql/run_demo.sh"], layout_root)
    assert r.returncode == 0, r.stderr
    for heading in ("== five backups", "== the list", "== verify", "== stats", "clean up"):
        assert heading in r.stdout
    assert "match" in r.stdout and "last_good" not in r.stderr


def test_nightly_script_creates_a_backup_and_prints_stats(tmp_path, layout_root):
    db = make_sample(tmp_path / "wecare.db")
    with open(layout_root / "sql" / "nightly.sql") as script:
        r = subprocess.run(["sqlite3", "-bail", str(db)], stdin=script, cwd=layout_root,
                           capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert " created wecare_backup_" in r.stdout
    assert '"count":1' in r.stdout
    conn = connect(db)
    assert conn.execute("SELECT kind, label, verify_ok FROM wecare_backup_list").fetchall() == [
        ("manual", "nightly", 1)]


def test_nightly_script_fails_loudly_and_deletes_nothing_when_the_backup_fails(tmp_path, layout_root):
    db = make_sample(tmp_path / "wecare.db")
    conn = connect(db)
    conn.execute("SELECT wecare_backup_create()")
    conn.execute("DELETE FROM patients")  # critical table now empty: the backup must not verify
    conn.close()
    with open(layout_root / "sql" / "nightly.sql") as script:
        r = subprocess.run(["sqlite3", "-bail", str(db)], stdin=script, cwd=layout_root,
                           capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "wecare_backup_create: the new backup failed verification" in r.stderr
    assert "critical table 'patients' is empty" in r.stderr
    assert len([f for f in os.listdir(tmp_path / "backups") if f.endswith(".db")]) == 1


def test_restore_drill_restores_the_newest_backup_into_a_scratch_database(tmp_path, layout_root):
    db = make_sample(tmp_path / "wecare.db")
    conn = connect(db)
    conn.execute("SELECT wecare_backup_create()")
    conn.close()
    before = os.listdir(tmp_path / "backups")
    r = run(["sh", "sql/restore_drill.sh", str(db), str(tmp_path / "drill")], layout_root)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "DRILL PASSED" in r.stdout
    assert sorted(os.listdir(tmp_path / "backups")) == sorted(before)  # the live directory is untouched
