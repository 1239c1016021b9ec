"""Fault injection: a full disk (backup's and database's), a read-only,
vanished, file or symlink backup directory, I/O errors while reading a backup.

Each fault must end in a clear error naming the function, lose nothing, delete
no old backup, leave no temp file, and the next run must succeed once the
fault is gone.

How the faults are made (this machine runs the tests as root):
  * full disk: a small tmpfs (`mount -t tmpfs -o size=...`), grown again with
    `mount -o remount,size=...`; and RLIMIT_FSIZE in a child process with
    SIGXFSZ ignored, so writes fail with EFBIG instead of killing it.
  * read-only directory: root ignores permission bits, so a read-only bind
    mount of the directory (EROFS); and chmod 0500 with the child running as
    `nobody` through setpriv (EACCES).
  * I/O errors: there is no device-mapper here (no dm-error target), so
    tests/crash/eio_shim.c, an LD_PRELOAD library, fails read/pread on the
    backup file with EIO at the libc boundary: the extension and SQLite see
    exactly the errno a bad sector gives.
"""
import json
import os
import pathlib
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from contextlib import contextmanager

import pytest

from conftest import EXT, PHRASE, ROOT, connect, make_sample, one

sys.path.insert(0, str(ROOT / "tests" / "crash"))
import common  # noqa: E402

IS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not IS_ROOT, reason="mount and setpriv need root")


# ------------------------------------------------------------------ helpers

def _mount(*args):
    return subprocess.run(["mount", *args], capture_output=True, text=True)


@contextmanager
def tmpfs(path, size):
    path = pathlib.Path(path)
    path.mkdir(parents=True, exist_ok=True)
    r = _mount("-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path))
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def resize(path, size):
    r = _mount("-o", f"remount,size={size}", str(path))
    assert r.returncode == 0, r.stderr


def used_bytes(path):
    st = os.statvfs(str(path))
    return (st.f_blocks - st.f_bfree) * st.f_frsize


@contextmanager
def read_only_bind(path):
    path = str(path)
    r = _mount("--bind", path, path)
    if r.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {r.stderr.strip()}")
    try:
        r = _mount("-o", "remount,bind,ro", path)
        if r.returncode != 0:
            pytest.skip(f"cannot remount read-only here: {r.stderr.strip()}")
        yield path
    finally:
        subprocess.run(["umount", "-l", path], capture_output=True)


def grow(db, rows, size=400):
    conn = sqlite3.connect(str(db), isolation_level=None)
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO patients(name, notes) VALUES (?, ?)",
                     [(f"bulk {i}", os.urandom(size // 2).hex()) for i in range(rows)])
    conn.execute("COMMIT")
    conn.close()


def patient_count(db):
    conn = sqlite3.connect(str(db))
    try:
        return conn.execute("SELECT count(*) FROM patients").fetchone()[0]
    finally:
        conn.close()


def assert_backups_intact(conn, backup_dir, names, prefix="wecare"):
    """Every name is still there, lists, verifies ok; no temp file remains."""
    listed = {r["name"] for r in common.listed(conn)}
    for name in names:
        assert name in listed, f"{name} was lost; listed: {sorted(listed)}"
        v = common.verify(conn, name)
        assert v["ok"] and v["checksum"] == "match", v
    assert common.temp_files(backup_dir, prefix) == []
    for name in common.backup_files(backup_dir, prefix):
        assert os.path.exists(os.path.join(backup_dir, name + ".meta")), name


def error_of(conn, sql, *args):
    with pytest.raises(sqlite3.Error) as info:
        conn.execute(sql, args).fetchall()
    return str(info.value)


CHILD_PRELUDE = f"""
import json, os, resource, signal, sqlite3, sys
sys.path.insert(0, {str(ROOT / 'tests' / 'crash')!r})
import common
def attempt(sql, *args):
    try:
        return {{"ok": True, "value": common.one(conn, sql, *args)}}
    except sqlite3.Error as e:
        return {{"ok": False, "error": str(e)}}
"""


def run_child(code, env=None, user=None, timeout=120):
    """Runs `code` (after CHILD_PRELUDE) in Debian's python3; returns its last
    stdout line parsed as JSON."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    args = [sys.executable if sys.executable.startswith("/usr/bin/") else "/usr/bin/python3", "-c",
            CHILD_PRELUDE + code]
    if user is not None:
        args = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *args]
    r = subprocess.run(args, capture_output=True, text=True, env=full_env, timeout=timeout)
    assert r.returncode == 0, f"child failed ({r.returncode}): {r.stderr[-2000:]}"
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def eio_shim(tmp_path_factory):
    out = tmp_path_factory.mktemp("shim") / "eio_shim.so"
    r = subprocess.run(["gcc", "-shared", "-fPIC", "-O1", "-o", str(out),
                        str(ROOT / "tests" / "crash" / "eio_shim.c"), "-ldl"], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot build the EIO shim: {r.stderr}")
    return str(out)


def preload(lib):
    """LD_PRELOAD with `lib` after whatever is preloaded (the ASan runtime under make asan)."""
    current = os.environ.get("LD_PRELOAD", "")
    return f"{current}:{lib}" if current else lib


# ------------------------------------------------------------------ full disk

@needs_root
def test_full_backup_disk_is_a_clear_error_and_deletes_nothing(tmp_path):
    db = make_sample(tmp_path / "wecare.db", patients=200)
    with tmpfs(tmp_path / "small", "2m") as backups:
        conn = connect(db)
        one(conn, "SELECT wecare_backup_config('dir', ?)", str(backups))
        first = one(conn, "SELECT wecare_backup_create('first')")
        second = one(conn, "SELECT wecare_backup_create('second')")
        # A failed backup must not run retention, even with keep_last = 1.
        one(conn, "SELECT wecare_backup_config('keep_last', 1)")
        grow(db, 6000)  # now ~3 MB: does not fit in what is left
        message = error_of(conn, "SELECT wecare_backup_create()")
        assert message.startswith("wecare_backup_create: ")
        assert "No space left on device" in message and "free space" in message, message
        assert_backups_intact(conn, backups, [first, second])
        assert common.backup_files(backups, "wecare") == sorted([first, second])
        stats = json.loads(one(conn, "SELECT wecare_backup_stats()"))
        assert "No space left on device" in stats["last_error"]
        assert common.integrity(db) == "ok"

        resize(backups, "64m")
        third = one(conn, "SELECT wecare_backup_create('after the fault')")
        assert_backups_intact(conn, backups, [third])
        assert common.verify(conn, third)["rows"]["patients"] == 6200
        conn.close()


def test_file_size_limit_is_a_clear_error_and_deletes_nothing(db_path, backup_dir):
    grow(db_path, 3000)
    conn = connect(db_path)
    old = one(conn, "SELECT wecare_backup_create('old')")
    result = run_child(f"""
resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
conn = common.connect({str(db_path)!r})
print(json.dumps(attempt("SELECT wecare_backup_create()")))
""")
    assert not result["ok"]
    assert result["error"].startswith("wecare_backup_create: writing the backup failed: File too large"), result
    assert "file size limit" in result["error"]
    assert_backups_intact(conn, backup_dir, [old])
    assert common.backup_files(backup_dir, "wecare") == [old]
    new = one(conn, "SELECT wecare_backup_create('after the fault')")
    assert_backups_intact(conn, backup_dir, [old, new])
    conn.close()


@needs_root
@pytest.mark.parametrize("journal", ["wal", "delete"])
def test_full_database_disk_during_restore_keeps_the_old_database(tmp_path, journal):
    backups = tmp_path / "backups"
    with tmpfs(tmp_path / "dbdisk", "64m") as disk:
        db = make_sample(disk / "wecare.db", patients=100, wal=(journal == "wal"))
        grow(db, 8000)  # ~4 MB
        conn = connect(db)
        backups.mkdir(mode=0o700)
        one(conn, "SELECT wecare_backup_config('dir', ?)", str(backups))
        big = one(conn, "SELECT wecare_backup_create('big')")
        conn.execute("DELETE FROM patients WHERE id > 150")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert patient_count(db) == 150
        # Room for the small database and its journal, not for the big one.
        resize(disk, str(used_bytes(disk) + 1024 * 1024))
        message = error_of(conn, "SELECT wecare_backup_restore(?, ?)", big, PHRASE)
        assert message.startswith("wecare_backup_restore: "), message
        assert "database or disk is full" in message or "No space left" in message, message
        assert "unchanged" in message, message
        assert common.integrity(db) == "ok"
        assert patient_count(db) == 150, "the old content must stay"
        conn.execute("SELECT count(*) FROM patients").fetchone()  # the connection still works
        assert_backups_intact(conn, backups, [big])

        resize(disk, "64m")
        result = json.loads(one(conn, "SELECT wecare_backup_restore(?, ?)", big, PHRASE))
        assert result["restored"] == big
        assert patient_count(db) == 8100
        assert common.integrity(db) == "ok"
        conn.close()


def test_file_size_limit_during_restore_keeps_the_old_database(tmp_path):
    db = make_sample(tmp_path / "wecare.db", patients=100)
    grow(db, 4000)
    conn = connect(db)
    big = one(conn, "SELECT wecare_backup_create('big')")
    conn.execute("DELETE FROM patients WHERE id > 150")
    conn.execute("VACUUM")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    limit = os.path.getsize(db) + 64 * 1024
    result = run_child(f"""
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
conn = common.connect({str(db)!r})
print(json.dumps(attempt("SELECT wecare_backup_restore(?, ?)", {big!r}, {PHRASE!r})))
""")
    assert not result["ok"], result
    assert result["error"].startswith("wecare_backup_restore: "), result
    assert "unchanged" in result["error"], result
    assert common.integrity(db) == "ok"
    assert patient_count(db) == 150
    assert_backups_intact(conn, tmp_path / "backups", [big])
    json.loads(one(conn, "SELECT wecare_backup_restore(?, ?)", big, PHRASE))
    assert patient_count(db) == 4100
    conn.close()


# ------------------------------------------------------------------ read-only directory

@needs_root
def test_read_only_backup_dir_is_a_clear_error_and_changes_nothing(db_path, backup_dir):
    conn = connect(db_path)
    old = one(conn, "SELECT wecare_backup_create('old')")
    one(conn, "SELECT wecare_backup_config('keep_last', 1)")
    before = common.tree_snapshot(backup_dir)
    with read_only_bind(backup_dir):
        for sql, args in [("SELECT wecare_backup_create()", ()),
                          ("SELECT wecare_backup_cleanup()", ()),
                          ("SELECT wecare_backup_restore(?, ?)", (old, PHRASE))]:
            message = error_of(conn, sql, *args)
            function = sql.split("(")[0].split()[-1]
            assert message.startswith(function + ": "), message
            assert "Read-only file system" in message, message
            assert "permissions" in message, message
        # Reading still works: the listing, and an export to a writable place.
        assert [r["name"] for r in common.listed(conn)] == [old]
        exported = one(conn, "SELECT wecare_backup_export(?, ?)", old, str(db_path.parent))
        assert os.path.exists(exported)
        assert common.tree_snapshot(backup_dir) == before
    assert common.integrity(db_path) == "ok"
    assert_backups_intact(conn, backup_dir, [old])
    new = one(conn, "SELECT wecare_backup_create('after the fault')")
    assert_backups_intact(conn, backup_dir, [new])
    conn.close()


@needs_root
def test_unwritable_backup_dir_for_the_application_user(tmp_path):
    """chmod 0500 on the directory of a process running as `nobody` (root
    would ignore the permission bits)."""
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv is not installed")
    base = pathlib.Path(tempfile.mkdtemp(prefix="wecare_nobody_", dir="/tmp"))
    try:
        os.chmod(base, 0o777)
        db = make_sample(base / "wecare.db", patients=50)
        os.chmod(db, 0o666)
        conn = connect(db)
        older = one(conn, "SELECT wecare_backup_create('older')")
        old = one(conn, "SELECT wecare_backup_create('old')")
        conn.close()
        for p in [base / "backups", *(base / "backups").iterdir(), *base.glob("wecare.db*")]:
            os.chown(p, 65534, 65534)
        os.chmod(base / "backups", 0o500)
        nobody_env = {"HOME": "/tmp"}
        result = run_child(f"""
conn = common.connect({str(db)!r})
out = {{"create": attempt("SELECT wecare_backup_create()"),
        "config": attempt("SELECT wecare_backup_config('keep_last', 1)"),
        "cleanup": attempt("SELECT wecare_backup_cleanup()"),
        "list": [r["name"] for r in common.listed(conn)]}}
print(json.dumps(out))
""", env=nobody_env, user=65534)
        for fn in ("create", "cleanup"):
            assert not result[fn]["ok"], result
            assert result[fn]["error"].startswith(f"wecare_backup_{fn}: "), result
            assert "Permission denied" in result[fn]["error"], result
            assert "permissions" in result[fn]["error"], result
        assert "cannot delete the old backup" in result["cleanup"]["error"]
        assert result["list"] == [old, older], "nothing was deleted"
        os.chmod(base / "backups", 0o700)
        result = run_child(f"""
conn = common.connect({str(db)!r})
print(json.dumps({{"create": attempt("SELECT wecare_backup_create()"),
                   "list": [r["name"] for r in common.listed(conn)]}}))
""", env=nobody_env, user=65534)
        assert result["create"]["ok"], result
        assert old in result["list"] and older in result["list"] and len(result["list"]) == 3
    finally:
        shutil.rmtree(base, ignore_errors=True)


# ------------------------------------------------------------------ vanished, file, symlink

def test_vanished_backup_dir(db_path, backup_dir, tmp_path):
    conn = connect(db_path)
    old = one(conn, "SELECT wecare_backup_create()")
    shutil.move(str(backup_dir), str(tmp_path / "moved_away"))
    assert common.listed(conn) == []
    # Nothing to clean where nothing is (as before the first backup): 0, and
    # the directory is not made again.
    assert one(conn, "SELECT wecare_backup_cleanup()") == 0
    for sql, args in [("SELECT wecare_backup_verify(?)", (old,)),
                      ("SELECT wecare_backup_restore(?, ?)", (old, PHRASE)),
                      ("SELECT wecare_backup_path(?)", (old,)),
                      ("SELECT wecare_backup_export(?, ?)", (old, str(tmp_path)))]:
        message = error_of(conn, sql, *args)
        function = sql.split("(")[0].split()[-1]
        assert message.startswith(function + ": "), message
        assert "No such file or directory" in message or "there is no backup" in message, message
    assert json.loads(one(conn, "SELECT wecare_backup_stats()"))["count"] == 0
    assert not backup_dir.exists(), "only create may make the directory"
    # The next create makes the directory again, private.
    new = one(conn, "SELECT wecare_backup_create()")
    assert os.stat(backup_dir).st_mode & 0o777 == 0o700
    assert_backups_intact(conn, backup_dir, [new])
    # And the moved backups are intact where they went.
    assert (tmp_path / "moved_away" / old).exists()
    conn.close()


def test_backup_dir_whose_parent_is_missing(db_path, tmp_path):
    conn = connect(db_path)
    target = tmp_path / "no" / "such" / "parent" / "backups"
    one(conn, "SELECT wecare_backup_config('dir', ?)", str(target))
    message = error_of(conn, "SELECT wecare_backup_create()")
    assert message.startswith("wecare_backup_create: the backup directory '%s' does not exist" % target)
    assert "create it" in message
    assert not (tmp_path / "no").exists()
    target.mkdir(parents=True, mode=0o700)
    name = one(conn, "SELECT wecare_backup_create()")
    assert_backups_intact(conn, target, [name])
    conn.close()


def test_backup_dir_that_is_a_regular_file(db_path, backup_dir):
    backup_dir.write_bytes(b"precious, not a directory\n")
    st = os.stat(backup_dir)
    conn = connect(db_path)
    for sql in ["SELECT wecare_backup_create()", "SELECT wecare_backup_cleanup()",
                "SELECT * FROM wecare_backup_list", "SELECT wecare_backup_stats()"]:
        message = error_of(conn, sql)
        assert "is not a directory; remove that file or choose another dir" in message, message
    assert backup_dir.read_bytes() == b"precious, not a directory\n"
    assert os.stat(backup_dir).st_mtime_ns == st.st_mtime_ns
    backup_dir.unlink()
    name = one(conn, "SELECT wecare_backup_create()")
    assert_backups_intact(conn, backup_dir, [name])
    conn.close()


def test_backup_dir_that_is_a_symlink(db_path, backup_dir, tmp_path):
    real = tmp_path / "real_backups"
    real.mkdir()
    (real / "someone_elses.txt").write_text("keep me")
    backup_dir.symlink_to(real)
    before = common.tree_snapshot(real)
    conn = connect(db_path)
    for sql in ["SELECT wecare_backup_create()", "SELECT wecare_backup_cleanup()",
                "SELECT * FROM wecare_backup_list"]:
        message = error_of(conn, sql)
        assert "is a symbolic link" in message, message
    assert common.tree_snapshot(real) == before
    # Pointing dir at the real directory is the documented way out.
    one(conn, "SELECT wecare_backup_config('dir', ?)", str(real))
    name = one(conn, "SELECT wecare_backup_create()")
    assert_backups_intact(conn, real, [name])
    assert (real / "someone_elses.txt").read_text() == "keep me"
    conn.close()


# ------------------------------------------------------------------ I/O errors reading a backup

def test_io_error_reading_a_backup_in_verify_and_restore(db_path, backup_dir, eio_shim):
    grow(db_path, 2000)
    conn = connect(db_path)
    name = one(conn, "SELECT wecare_backup_create()")
    conn.execute("DELETE FROM patients WHERE id > 10")
    result = run_child(f"""
conn = common.connect({str(db_path)!r})
print(json.dumps({{"verify": attempt("SELECT wecare_backup_verify(?)", {name!r}),
                   "restore": attempt("SELECT wecare_backup_restore(?, ?)", {name!r}, {PHRASE!r})}}))
""", env={"LD_PRELOAD": preload(eio_shim), "WECARE_EIO_FILE": name})
    assert result["verify"]["ok"], "a damaged backup is a result, not an SQL error"
    verdict = json.loads(result["verify"]["value"])
    assert verdict["ok"] is False
    assert any("Input/output error" in e for e in verdict["errors"]), verdict
    assert not result["restore"]["ok"]
    assert "failed verification" in result["restore"]["error"]
    assert "Input/output error" in result["restore"]["error"]
    assert "the database is unchanged" in result["restore"]["error"]
    assert patient_count(db_path) == 10
    assert common.integrity(db_path) == "ok"
    # Once the disk reads again, the same backup verifies and restores.
    v = common.verify(conn, name)
    assert v["ok"] and v["checksum"] == "match", v
    json.loads(one(conn, "SELECT wecare_backup_restore(?, ?)", name, PHRASE))
    assert patient_count(db_path) == 2200
    conn.close()


def test_io_error_in_the_middle_of_the_restore_copy_rolls_back(db_path, backup_dir, eio_shim, tmp_path):
    grow(db_path, 3000)
    conn = connect(db_path)
    name = one(conn, "SELECT wecare_backup_create()")
    conn.execute("DELETE FROM patients WHERE id > 10")
    # A backup that verified ok is not re-read before a restore: each page is
    # checked against its recorded hash as the copy reads it. Let a third of
    # the copy succeed: the error lands in the copy itself.
    size = os.path.getsize(backup_dir / name)
    result = run_child(f"""
conn = common.connect({str(db_path)!r})
print(json.dumps(attempt("SELECT wecare_backup_restore(?, ?)", {name!r}, {PHRASE!r})))
""", env={"LD_PRELOAD": preload(eio_shim), "WECARE_EIO_FILE": name,
         "WECARE_EIO_AFTER": str(size // 3)})
    assert not result["ok"], result
    assert result["error"].startswith("wecare_backup_restore: the backup '%s' failed verification while it "
                                      "was copied" % name), result
    assert "Input/output error" in result["error"], result
    assert "the database is unchanged" in result["error"], result
    assert not [n for n in os.listdir(backup_dir) if "_safety_" in n], "the safety backup of a failed restore stays"
    assert patient_count(db_path) == 10
    assert common.integrity(db_path) == "ok"
    assert_backups_intact(conn, backup_dir, [name])
    json.loads(one(conn, "SELECT wecare_backup_restore(?, ?)", name, PHRASE))
    assert patient_count(db_path) == 3200
    conn.close()


def test_truncated_backup_is_refused_by_restore(db_path, backup_dir):
    conn = connect(db_path)
    grow(db_path, 1000)
    good = one(conn, "SELECT wecare_backup_create('good')")
    bad = one(conn, "SELECT wecare_backup_create('to be truncated')")
    path = backup_dir / bad
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)
    conn.execute("DELETE FROM patients")
    v = common.verify(conn, bad)
    assert v["ok"] is False and v["checksum"] == "mismatch"
    message = error_of(conn, "SELECT wecare_backup_restore(?, ?)", bad, PHRASE)
    assert "failed verification" in message and "the database is unchanged" in message
    assert patient_count(db_path) == 0
    # Retention keeps the newest good backup, not the damaged newer one.
    one(conn, "SELECT wecare_backup_config('keep_last', 0)")
    one(conn, "SELECT wecare_backup_cleanup()")
    assert good in [r["name"] for r in common.listed(conn)]
    json.loads(one(conn, "SELECT wecare_backup_restore(?, ?)", good, PHRASE))
    assert patient_count(db_path) == 1200
    conn.close()


# ------------------------------------------------------------------ metadata written by verify

def test_verify_keeps_a_record_without_kind_readable(db_path, backup_dir):
    conn = connect(db_path)
    name = one(conn, "SELECT wecare_backup_create()")
    meta = backup_dir / (name + ".meta")
    # A record as an older or hand-written tool may leave it: every field but kind.
    meta.write_text("".join(l for l in meta.read_text().splitlines(True) if not l.startswith("kind=")))
    first = common.verify(conn, name)
    assert first["ok"] and first["checksum"] == "match"
    second = common.verify(conn, name)
    assert second["ok"] and second["checksum"] == "match", second
    conn.close()
