"""sqlite3_interrupt (Ctrl-C in the shell, or an application's other thread) stops a long operation,
which leaves nothing partial: no temporary file, the database unchanged, the lock released.

The interrupter waits until the operation shows progress in stats (read on another connection), then
interrupts; no timing is asserted."""
import json
import shutil
import sqlite3
import threading

import pytest

from conftest import PHRASE, config, connect, create, make_big, one, poll, stats

OPS = ["create", "verify", "restore", "export"]


@pytest.fixture(scope="module")
def big_template(tmp_path_factory):
    return make_big(tmp_path_factory.mktemp("interrupt") / "big.db", 120)


@pytest.fixture
def big(tmp_path, big_template):
    db = tmp_path / "big.db"
    shutil.copyfile(big_template, db)
    return db


def interrupt_when_running(conn, watcher, ops):
    """Interrupts `conn` once stats (read through `watcher`) shows one of `ops` running."""
    done = threading.Event()

    def run():
        def running():
            p = json.loads(one(watcher, "SELECT wecare_backup_stats()"))["progress"]
            return done.is_set() or (p is not None and p["op"] in ops)
        poll(running, timeout=60, interval=0.005)
        while not done.is_set():
            conn.interrupt()
            done.wait(0.01)

    t = threading.Thread(target=run)
    t.start()
    return done, t


def attempt(conn, watcher, ops, sql, *args):
    done, t = interrupt_when_running(conn, watcher, ops)
    try:
        with pytest.raises(sqlite3.OperationalError) as info:
            conn.execute(sql, args).fetchone()
        return str(info.value)
    finally:
        done.set()
        t.join()


def leftovers(directory):
    return [p.name for p in directory.iterdir() if ".tmp-" in p.name] if directory.exists() else []


@pytest.mark.parametrize("op", OPS)
def test_an_interrupted_operation_stops_and_leaves_nothing_partial(big, tmp_path, op):
    conn = connect(big)
    watcher = connect(big)
    backups = big.parent / "backups"
    config(conn, "verify_on_create", 0)
    made = create(conn) if op != "create" else None
    config(conn, "verify_on_create", 1)
    before = one(conn, "SELECT count(*) FROM blobs")
    def backup_files():
        return sorted(p.name for p in backups.iterdir() if not p.name.startswith(".wecare")) \
            if backups.exists() else []
    listed_before = backup_files()
    if op == "create":
        message = attempt(conn, watcher, ("create", "copy", "verify"), "SELECT wecare_backup_create()")
    elif op == "verify":
        message = attempt(conn, watcher, ("verify",), "SELECT wecare_backup_verify(?)", made)
    elif op == "restore":
        conn.execute("DELETE FROM blobs WHERE id % 2 = 0")
        before = one(conn, "SELECT count(*) FROM blobs")
        # In WAL mode the safety backup is written beside the copy: one phase.
        message = attempt(conn, watcher, ("restore", "safety backup + restore"),
                          "SELECT wecare_backup_restore(?, ?)", made, PHRASE)
    else:
        (tmp_path / "out").mkdir()
        message = attempt(conn, watcher, ("export",), "SELECT wecare_backup_export(?, ?)", made,
                          str(tmp_path / "out"))
        assert list((tmp_path / "out").iterdir()) == []
    assert message.startswith(f"wecare_backup_{op}: interrupted"), message
    # Nothing partial, the database unchanged, no safety backup left by a failed restore.
    assert leftovers(backups) == []
    assert backup_files() == listed_before
    assert one(conn, "SELECT count(*) FROM blobs") == before
    # The lock is free and the connection works: the next operation succeeds at once.
    config(conn, "busy_timeout_ms", 0)
    config(conn, "verify_on_create", 0)
    assert create(conn)
    conn.close()
    watcher.close()


def test_the_interrupt_is_reported_with_sqlites_interrupt_code(big):
    conn = connect(big)
    watcher = connect(big)
    message = attempt(conn, watcher, ("create", "copy", "verify"), "SELECT wecare_backup_create()")
    assert "interrupted" in message
    assert stats(conn)["last_error"] is None or "interrupted" in stats(conn)["last_error"]
    conn.close()
    watcher.close()


def test_verify_of_a_file_with_a_huge_hole_after_its_pages_fails_at_once(conn, tmp_path):
    path = tmp_path / "holey.db"
    small = sqlite3.connect(str(path))
    small.execute("CREATE TABLE t(x)")
    small.commit()
    small.close()
    with open(path, "r+b") as f:
        f.truncate(20 * 1024 ** 3)  # 20 GB of hole after an 8 KB database
    report = json.loads(one(conn, "SELECT wecare_backup_verify(?)", str(path)))
    assert report["ok"] is False
    assert any("after the last page" in e for e in report["errors"]), report
