"""Crash test, short version (the full one is `make crash-test`, 200 trials):
SIGKILL in the middle of create (full and incremental), cleanup and restore on WAL and rollback-journal
databases. See tests/crash/harness.py for what each trial checks.
"""
import os
import sys

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tests" / "crash"))
import harness  # noqa: E402

SHORT_TRIALS = int(os.environ.get("WECARE_CRASH_TRIALS", "24"))


def test_sigkill_during_create_cleanup_and_restore_loses_nothing(tmp_path):
    seed = int(os.environ.get("WECARE_CRASH_SEED") or int.from_bytes(os.urandom(4), "little"))
    counts, failures = harness.run(SHORT_TRIALS, seed=seed, root=str(tmp_path))
    print(f"seed={seed}", harness.summary(counts, failures))
    assert failures == [], f"seed={seed} (rerun: WECARE_CRASH_SEED={seed})\n" + "\n".join(failures)
    assert counts["trials"] == SHORT_TRIALS
    assert counts["kills"] == SHORT_TRIALS
    assert counts["lost"] == 0
    # The kills must land inside the operations, not only between them.
    assert counts["in_op"] >= SHORT_TRIALS // 3, harness.summary(counts, failures)


CAPTURE_TRIALS = int(os.environ.get("WECARE_CAPTURE_CRASH_TRIALS", "10"))


def test_sigkill_during_continuous_capture_loses_nothing_captured(tmp_path):
    """The short version of the capture lane of `make crash-test` (tests/crash/capture_harness.py)."""
    import capture_harness  # noqa: E402 (beside harness, in tests/crash)
    seed = int(os.environ.get("WECARE_CRASH_SEED") or int.from_bytes(os.urandom(4), "little"))
    counts, failures = capture_harness.run(CAPTURE_TRIALS, seed=seed, root=str(tmp_path))
    print(f"seed={seed}", capture_harness.summary(counts, failures))
    assert failures == [], f"seed={seed} (rerun: WECARE_CRASH_SEED={seed})\n" + "\n".join(failures)
    assert counts["trials"] == CAPTURE_TRIALS and counts["points"] > 0
