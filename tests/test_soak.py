"""Concurrency soak, short version (the full one is `make soak`, 60 s): a
writer, two processes scheduling every second and one looping
create/verify/cleanup on one database. See tests/crash/soak.py for the checks.
"""
import json
import os
import sqlite3
import sys
import time

import pytest

from conftest import ROOT, connect, make_sample, one

sys.path.insert(0, str(ROOT / "tests" / "crash"))
import soak  # noqa: E402

SHORT_SECONDS = float(os.environ.get("WECARE_SOAK_SECONDS", "10"))


def test_soak_loses_duplicates_and_damages_nothing(tmp_path):
    figures, failures = soak.run(SHORT_SECONDS, root=str(tmp_path))
    print("soak:", figures)
    assert failures == [], "\n".join(failures)
    assert figures["lost"] == 0
    assert figures["manual_created"] > 0 and figures["auto_seen"] > 0, figures
    assert figures["writer_commits"] > 100, figures


def test_stopping_the_schedule_is_not_reported_as_corruption(tmp_path):
    db = make_sample(tmp_path / "wecare.db", patients=100)
    raw = sqlite3.connect(str(db), isolation_level=None)
    raw.execute("BEGIN")
    raw.executemany("INSERT INTO patients(name, notes) VALUES (?, ?)",
                    [(f"b{i}", os.urandom(400).hex()) for i in range(40000)])  # ~40 MB: verify takes a while
    raw.execute("COMMIT")
    raw.close()
    conn = connect(db)
    one(conn, "SELECT wecare_backup_schedule(1)")
    deadline = time.time() + 20
    op = None
    while time.time() < deadline:
        progress = json.loads(one(conn, "SELECT wecare_backup_stats()"))["progress"]
        op = progress and progress["op"]
        if op == "verify":
            break
        time.sleep(0.001)
    one(conn, "SELECT wecare_backup_schedule(0)")
    if op != "verify":
        pytest.skip("the scheduled run was not caught in its verify phase")
    error = json.loads(one(conn, "SELECT wecare_backup_stats()"))["last_error"] or ""
    assert "checksum mismatch" not in error and "failed verification" not in error, error
    conn.close()
