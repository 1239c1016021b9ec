"""The sqlite3 shell: `.load dist/wecare_backup`, then plain SQL, as in the README and from cron."""
import fcntl
import json
import os
import pty
import struct
import subprocess
import termios
import threading
import time

import pytest

from conftest import EXT, NAME_RE, PHRASE, ROOT, make_big, shell

import re


def test_shell_loads_the_extension_from_the_documented_path(db_path):
    out = subprocess.run(["sqlite3", str(db_path), ".load dist/wecare_backup", "SELECT wecare_backup_version()"],
                         cwd=ROOT, capture_output=True, text=True, check=True)
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


def run_on_terminal(args, columns, rows=24):
    """Runs `args` with standard error on a pseudo-terminal of `columns` x `rows`;
    returns (stdout, every byte written to the terminal, seconds it ran)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    chunks = []

    def drain():  # read while it runs: a full terminal buffer would block the writer
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer is gone
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain)
    reader.start()
    started = time.monotonic()
    try:
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=slave, text=True)
        os.close(slave)
        slave = None
        out, _ = proc.communicate(timeout=120)
        elapsed = time.monotonic() - started
        reader.join(timeout=10)
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
    assert proc.returncode == 0, b"".join(chunks).decode(errors="replace")
    return out, b"".join(chunks).decode(), elapsed


def play(stream, columns):
    """Plays `stream` on a model of one terminal line. Returns each redraw as the
    line showed it once drawn, and the line at the end. Fails on anything that
    would wrap, or on a redraw that leaves part of an earlier one behind."""
    line = [" "] * columns
    col = 0
    written = ""  # what this redraw wrote
    shown = []
    i = 0
    while i < len(stream):
        ch = stream[i]
        if ch == "\r":
            if written.strip():
                assert "".join(line).rstrip() == written.rstrip(), (
                    f"left over from an earlier redraw: {''.join(line)!r} after writing {written!r}")
                shown.append("".join(line).rstrip())
            col, written = 0, ""
        elif ch == "\x1b":
            m = re.match(r"\x1b\[([0-9;]*)([A-Za-z])", stream[i:])
            assert m, f"unknown escape at {stream[i:i + 10]!r}"
            if m.group(2) == "K":  # erase to the end of the line
                line[col:] = [" "] * (columns - col)
            i += len(m.group(0))
            continue
        elif ch == "\n":
            raise AssertionError(f"the bar wrote a new line: {stream!r}")
        else:
            assert col < columns, f"wider than the terminal ({columns}): {written + ch!r}"
            line[col] = ch
            col += 1
            written += ch
        i += 1
    return shown, "".join(line)


@pytest.mark.parametrize("columns", [40, 80, 200])
def test_progress_bar_fits_the_terminal_names_each_phase_and_is_gone_at_the_end(big_db, columns):
    out, drawn, elapsed = run_on_terminal(
        ["sqlite3", str(big_db), f".load {EXT}", "SELECT wecare_backup_create()",
         "SELECT json_extract(wecare_backup_verify((SELECT name FROM wecare_backup_list LIMIT 1)), '$.ok')",
         f"SELECT json_extract(wecare_backup_restore((SELECT name FROM wecare_backup_list LIMIT 1), '{PHRASE}'),"
         " '$.pages') > 0"], columns)
    lines = out.splitlines()
    assert re.match(r"^big_backup_\S+\.db$", lines[0]) and lines[1:] == ["1", "1"]
    shown, last = play(drawn, columns)
    assert shown, "nothing was drawn"
    assert all(len(text) < columns for text in shown)
    assert last.strip() == "" and drawn.endswith("\r")  # the line is gone, the cursor at its start
    phases = {p for p in ("copy", "verify", "safety backup", "restore") if any(p in text for text in shown)}
    assert phases == {"copy", "verify", "safety backup", "restore"}, shown
    assert any(re.search(r"\d+\.\d/\d+\.\d MiB", text) for text in shown), shown  # sizes, not pages
    assert any(re.search(r"\d+%", text) for text in shown), shown
    # At most ~10 redraws a second, plus one as each phase starts.
    assert len(shown) <= 10 * elapsed + 8, (len(shown), elapsed)


def test_progress_bar_shows_the_rate_and_the_time_left_once_a_phase_has_run_a_while(tmp_path):
    # The rate shows once a phase has run 0.3 s: verifying a 200 MB backup does on any machine here.
    db = make_big(tmp_path / "big.db", 200)
    out, drawn, _ = run_on_terminal(
        ["sqlite3", str(db), f".load {EXT}",
         "SELECT wecare_backup_create() IS NOT NULL",
         f"SELECT json_extract(wecare_backup_restore((SELECT name FROM wecare_backup_list LIMIT 1), '{PHRASE}'),"
         " '$.pages') > 0"], 120)
    assert out.split() == ["1", "1"]
    shown, last = play(drawn, 120)
    assert last.strip() == ""
    timed = [text for text in shown if re.search(r" \d+\.\d (MiB|GiB)/s \d+:\d\d left$", text)]
    assert timed, shown


def test_shell_draws_no_progress_bar_when_stderr_is_not_a_terminal(db_path):
    out = shell(db_path, "SELECT wecare_backup_create()")
    assert out.stderr == ""


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
