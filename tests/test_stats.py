"""wecare_backup_stats(): a JSON summary of the backups and the schedule."""
import json
import re
import threading

from conftest import PHRASE, config, connect, create, listing, one, poll, sql_error, stats

ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


def test_stats_has_every_documented_field(conn):
    s = stats(conn)
    for key in ["count", "total_bytes", "oldest", "newest", "dir", "prefix", "keep_last", "keep_daily",
                "keep_weekly", "keep_monthly", "keep_safety", "last_success_at", "last_error",
                "schedule_seconds", "next_run_at", "progress", "dir_missing"]:
        assert key in s, key


def test_stats_before_any_backup(conn, backup_dir):
    s = stats(conn)
    assert s["count"] == 0
    assert s["total_bytes"] == 0
    assert s["oldest"] is None and s["newest"] is None
    assert s["dir"] == str(backup_dir)
    assert s["prefix"] == "wecare"
    assert s["schedule_seconds"] == 0
    assert s["next_run_at"] is None
    assert s["progress"] is None


def test_stats_counts_the_listed_backups(conn):
    config(conn, "keep_last", 100)
    for _ in range(3):
        create(conn)
    rows = listing(conn)
    s = stats(conn)
    assert s["count"] == 3
    assert s["total_bytes"] == sum(r["size_bytes"] for r in rows)
    assert s["newest"] == rows[0]["created_at"]
    assert s["oldest"] == rows[-1]["created_at"]


def test_stats_shows_the_retention_settings(conn):
    for key, value in [("keep_last", 3), ("keep_daily", 7), ("keep_weekly", 4), ("keep_monthly", 12),
                       ("keep_safety", 2)]:
        config(conn, key, value)
    s = stats(conn)
    assert (s["keep_last"], s["keep_daily"], s["keep_weekly"], s["keep_monthly"], s["keep_safety"]) == (3, 7, 4, 12, 2)


def test_stats_shows_the_last_success(conn):
    create(conn)
    s = stats(conn)
    assert re.fullmatch(ISO, s["last_success_at"])
    assert s["last_success_at"] >= listing(conn)[0]["created_at"]
    assert s["last_error"] is None


def test_stats_shows_the_last_error_after_a_failed_backup(conn):
    create(conn)
    config(conn, "critical_tables", "appointments")
    sql_error(conn, "SELECT wecare_backup_create()")
    s = stats(conn)
    assert "appointments" in s["last_error"]
    assert s["count"] == 1


def test_stats_shows_the_schedule(conn):
    assert one(conn, "SELECT wecare_backup_schedule(3600)") == 1
    s = poll(lambda: (lambda s: s if s["count"] >= 1 and s["next_run_at"] else None)(stats(conn)))
    assert s, "the scheduled first backup never appeared"
    assert s["schedule_seconds"] == 3600
    assert re.fullmatch(ISO, s["next_run_at"])
    assert s["next_run_at"] > s["newest"]
    one(conn, "SELECT wecare_backup_schedule(0)")
    s = stats(conn)
    assert s["schedule_seconds"] == 0
    assert s["next_run_at"] is None


def progress_seen_while(watcher, action):
    """Runs `action` on a thread; returns every progress report that
    wecare_backup_stats() showed on `watcher` meanwhile."""
    done = threading.Event()
    seen = []

    def run():
        try:
            action()
        finally:
            done.set()

    t = threading.Thread(target=run)
    t.start()
    while not done.is_set():
        p = json.loads(one(watcher, "SELECT wecare_backup_stats()"))["progress"]
        if p is not None:
            seen.append(p)
    t.join()
    return seen


def test_stats_shows_the_progress_of_a_running_backup(big_db):
    worker = connect(big_db)
    watcher = connect(big_db)
    seen = progress_seen_while(watcher, lambda: create(worker))
    assert seen, "no progress was ever reported while the backup ran"
    assert {p["op"] for p in seen} <= {"create", "verify"}
    assert any(p["pages_total"] > 0 and 0 <= p["pages_done"] <= p["pages_total"] for p in seen)
    assert stats(watcher)["progress"] is None
    worker.close()
    watcher.close()


def test_stats_shows_the_progress_of_a_running_restore(big_db):
    worker = connect(big_db)
    watcher = connect(big_db)
    config(worker, "verify_on_create", 0)
    name = create(worker)
    seen = progress_seen_while(watcher, lambda: one(worker, "SELECT wecare_backup_restore(?, ?)", name, PHRASE))
    ops = {p["op"] for p in seen}
    assert "restore" in ops or "safety" in ops or "verify" in ops, seen[:3]
    assert any(p["pages_total"] > 0 for p in seen)
    worker.close()
    watcher.close()
