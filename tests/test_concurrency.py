"""Consistent under load, serialised across threads and processes."""
import os
import sqlite3
import threading

from conftest import config, connect, create, listing, names, one, spawn_python, table_rows, verify

# A second process committing every 5 ms: each transaction adds an event and bumps the counter,
# so in any single point in time counter.n == count(events).
WRITER = """
import os, sqlite3, sys, time
db, stop = sys.argv[1], sys.argv[2]
c = sqlite3.connect(db, isolation_level=None, timeout=60)
n = 0
while not os.path.exists(stop):
    c.execute("BEGIN IMMEDIATE")
    c.execute("INSERT INTO events(payload) VALUES (randomblob(200))")
    c.execute("UPDATE counter SET n = n + 1")
    c.execute("COMMIT")
    n += 1
    if n == 20:
        print("writing", flush=True)
    time.sleep(0.005)
print(n, flush=True)
"""


def committed(db):
    c = sqlite3.connect(str(db), timeout=60)
    try:
        return c.execute("SELECT n FROM counter").fetchone()[0]
    finally:
        c.close()


def backup_under_load(db, tmp_path):
    stop = tmp_path / "stop"
    writer = spawn_python(WRITER, db, stop)
    try:
        assert writer.stdout.readline().strip() == "writing", writer.stderr.read()
        c = connect(db)
        before = committed(db)
        name = create(c)
        after = committed(db)
    finally:
        stop.touch()
        out, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err
    path = tmp_path / "backups" / name
    [(n,)] = table_rows(path, "SELECT n FROM counter")
    [(events,)] = table_rows(path, "SELECT count(*) FROM events")
    return c, name, before, after, n, events, int(out.strip())


def test_backup_finishes_and_is_one_point_in_time_while_another_process_commits_every_5ms(big_db, tmp_path):
    c, name, before, after, n, events, total = backup_under_load(big_db, tmp_path)
    assert n == events, "the backup mixes two points in time"
    assert before <= n <= after
    assert after > before, "the writer made no progress while the backup ran: it was stalled"
    assert total >= after
    assert verify(c, name)["ok"] is True
    assert table_rows(tmp_path / "backups" / name, "SELECT count(*) FROM blobs") == [(30000,)]
    c.close()


def test_backup_of_a_rollback_journal_database_under_load_is_consistent(big_delete_db, tmp_path):
    c, name, before, after, n, events, total = backup_under_load(big_delete_db, tmp_path)
    assert one(c, "PRAGMA journal_mode") == "delete"
    assert n == events
    assert before <= n <= after
    assert total >= after  # the writer went on through the backup
    assert verify(c, name)["ok"] is True
    c.close()


def test_backup_while_this_process_writes_from_another_thread_is_consistent(big_db, tmp_path):
    c = connect(big_db)
    stop = threading.Event()
    progress = []

    def write():
        w = sqlite3.connect(str(big_db), isolation_level=None, timeout=60)
        while not stop.is_set():
            w.execute("BEGIN IMMEDIATE")
            w.execute("INSERT INTO events(payload) VALUES (randomblob(200))")
            w.execute("UPDATE counter SET n = n + 1")
            w.execute("COMMIT")
            progress.append(1)
        w.close()

    t = threading.Thread(target=write)
    t.start()
    try:
        name = create(c)
    finally:
        stop.set()
        t.join()
    path = tmp_path / "backups" / name
    assert table_rows(path, "SELECT n FROM counter") == table_rows(path, "SELECT count(*) FROM events")
    assert progress
    c.close()


def test_backups_from_many_threads_are_serialised_and_all_good(db_path):
    results, errors = [], []

    def work():
        try:
            c = connect(db_path)
            config(c, "keep_last", 100)
            for _ in range(3):
                results.append(create(c))
            c.close()
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(results) == len(set(results)) == 12
    c = connect(db_path)
    config(c, "keep_last", 100)
    rows = listing(c)
    assert sorted(r["name"] for r in rows) == sorted(results)
    assert all(r["verify_ok"] == 1 for r in rows)
    c.close()


def test_backups_from_two_processes_get_distinct_names(db_path):
    script = ("import sys\n"
              "from conftest import connect\n"
              "c = connect(sys.argv[1])\n"
              "c.execute(\"SELECT wecare_backup_config('keep_last', 100)\")\n"
              "for _ in range(4):\n"
              "    print(c.execute('SELECT wecare_backup_create()').fetchone()[0], flush=True)\n")
    procs = [spawn_python(script, db_path) for _ in range(2)]
    made = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        made += out.split()
    assert len(made) == len(set(made)) == 8
    c = connect(db_path)
    config(c, "keep_last", 100)
    assert sorted(names(c)) == sorted(made)
    assert all(verify(c, n)["ok"] for n in made)
    c.close()


def test_cleanup_in_one_process_and_create_in_another_do_not_lose_the_new_backup(db_path):
    c = connect(db_path)
    config(c, "keep_last", 100)
    for _ in range(5):
        create(c)
    script = ("import sys\n"
              "from conftest import connect\n"
              "c = connect(sys.argv[1])\n"
              "c.execute(\"SELECT wecare_backup_config('keep_last', 1)\")\n"
              "for _ in range(5):\n"
              "    c.execute('SELECT wecare_backup_cleanup()')\n")
    p = spawn_python(script, db_path)
    mine = [create(c) for _ in range(3)]
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    # Whatever cleanup removed, the newest backup is always there, whole, and listed.
    assert names(c)[0] == mine[-1]
    assert verify(c, mine[-1])["ok"] is True
    c.close()


def test_stale_temporary_files_are_removed_by_the_next_backup(conn, backup_dir):
    first = create(conn)
    stale = [f".{first}.tmp-999999", ".wecare_backup_2020-01-01_00-00-00.db.tmp-1"]
    for s in stale:
        (backup_dir / s).write_bytes(b"half a backup")
    orphan = "wecare_backup_2020-01-01_00-00-00.db.meta"  # a record whose backup is gone
    (backup_dir / orphan).write_text("wecare_backup_meta 1\nname=wecare_backup_2020-01-01_00-00-00.db\n")
    keep = backup_dir / ".other_app.tmp-5"
    keep.write_text("not ours")
    create(conn)
    left = set(os.listdir(backup_dir))
    assert not (set(stale) | {orphan}) & left
    assert keep.exists()


def test_a_backup_appears_in_the_list_only_complete_and_verified(big_db):
    worker = connect(big_db)
    watcher = connect(big_db)
    config(worker, "keep_last", 100)
    config(watcher, "keep_last", 100)
    done = threading.Event()
    seen = []

    def run():
        try:
            for _ in range(2):
                create(worker)
        finally:
            done.set()

    t = threading.Thread(target=run)
    t.start()
    while not done.is_set():
        seen.extend(listing(watcher))
    t.join()
    final = {r["name"]: r for r in listing(watcher)}
    assert len(final) == 2
    for row in seen:
        assert row["name"] in final
        assert row["size_bytes"] == final[row["name"]]["size_bytes"]
        assert row["checksum"] == final[row["name"]]["checksum"] is not None
        assert row["verify_ok"] == 1
    worker.close()
    watcher.close()
