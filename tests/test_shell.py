"""The sqlite3 shell: `.load dist/wecare_backup`, then plain SQL, as in the README and from cron."""
import json
import os
import pty
import subprocess

from conftest import EXT, NAME_RE, PHRASE, shell

import re


def test_shell_loads_the_extension_from_the_documented_path(db_path, layout_root):
    out = subprocess.run(["sqlite3", str(db_path), ".load dist/wecare_backup", "SELECT wecare_backup_version()"],
                         cwd=layout_root, capture_output=True, text=True, check=True)
    assert re.fullmatch(r"\d+\.\d+\.\d+", out.stdout.strip())


def test_shell_creates_lists_and_verifies_a_backup(db_path, backup_dir):
    out = shell(db_path, "SELECT wecare_backup_create('nightly')")
    name = out.stdout.strip()
    assert re.match(NAME_RE, name)
    assert out.stderr == ""  # not a terminal: no progress bar
    out = shell(db_path, ".mode list", "SELECT name, kind, label, verify_ok FROM wecare_backup_list")
    assert out.stdout.strip() == f"{name}|manual|nightly|1"
    out = shell(db_path, f"SELECT wecare_backup_verify('{name}')")
    result = json.loads(out.stdout)
    assert result["ok"] is True and result["checksum"] == "match"
    assert (backup_dir / name).is_file()


def test_shell_nightly_job_creates_and_cleans_up(db_path):
    for _ in range(3):
        shell(db_path, "SELECT wecare_backup_config('keep_last', 2)", "SELECT wecare_backup_create('cron')",
              "SELECT wecare_backup_cleanup()")
    out = shell(db_path, "SELECT count(*) FROM wecare_backup_list")
    assert out.stdout.strip() == "2"


def test_shell_stats_is_json(db_path):
    shell(db_path, "SELECT wecare_backup_create()")
    out = shell(db_path, "SELECT wecare_backup_stats()")
    s = json.loads(out.stdout)
    assert s["count"] == 1 and s["prefix"] == "wecare"


def test_shell_restore_drill(db_path):
    name = shell(db_path, "SELECT wecare_backup_create()").stdout.strip()
    shell(db_path, "DELETE FROM patients")
    out = shell(db_path, f"SELECT wecare_backup_restore('{name}', '{PHRASE}')")
    assert json.loads(out.stdout)["restored"] == name
    assert shell(db_path, "SELECT count(*) FROM patients").stdout.strip() == "200"


def test_shell_reports_errors_with_the_function_name(db_path):
    name = shell(db_path, "SELECT wecare_backup_create()").stdout.strip()
    out = shell(db_path, f"SELECT wecare_backup_restore('{name}', 'yes')", check=False)
    assert out.returncode != 0
    assert "wecare_backup_restore: the confirmation phrase does not match" in out.stderr


def test_shell_draws_a_progress_bar_only_on_a_terminal(db_path):
    name = shell(db_path, "SELECT wecare_backup_create()").stdout.strip()
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(["sqlite3", str(db_path), f".load {EXT}", "SELECT wecare_backup_create()",
                                 f"SELECT wecare_backup_verify('{name}')",
                                 f"SELECT wecare_backup_restore('{name}', '{PHRASE}')"],
                                stdout=subprocess.PIPE, stderr=slave, text=True)
        os.close(slave)
        slave = None
        out, _ = proc.communicate(timeout=60)
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
    drawn = b"".join(chunks).decode(errors="replace")
    assert re.match(NAME_RE, out.splitlines()[0])
    assert "\r" in drawn and "%" in drawn
    for op in ["create", "verify", "restore"]:
        assert f"wecare_backup {op}" in drawn, drawn


def test_python_sees_no_progress_output_when_stderr_is_not_a_terminal(db_path):
    from conftest import run_python
    out = run_python("import sys, json\n"
                     "from conftest import connect, PHRASE\n"
                     "c = connect(sys.argv[1])\n"
                     "n = c.execute('SELECT wecare_backup_create()').fetchone()[0]\n"
                     "c.execute('SELECT wecare_backup_verify(?)', (n,)).fetchone()\n"
                     "c.execute('SELECT wecare_backup_restore(?, ?)', (n, PHRASE)).fetchone()\n"
                     "print('done')\n", db_path)
    assert out.stdout == "done\n"
    assert out.stderr == ""
