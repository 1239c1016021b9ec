"""The benchmark's report (bench/report.py) renders from the saved numbers alone.

No timing is asserted: these tests only pin that RESULTS.md can be rebuilt from
RESULTS.json byte for byte, and how a missed target reads.
"""
import json
import sys

from conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import report  # noqa: E402


def test_results_md_is_rendered_from_results_json():
    data = json.loads((ROOT / "bench" / "RESULTS.json").read_text())
    assert report.render(data) == (ROOT / "bench" / "RESULTS.md").read_text()


def row(wall, cpu, **figures):
    return dict({"n": 3, "ok": 3, "errors": [], "walls": [wall] * 3, "wall": wall,
                 "cpu": cpu}, **figures)


def test_a_missed_target_says_why(monkeypatch):
    data = {"run": {"argv": [], "repeat": 3}, "facts": {"src_mib": 1},
            "results": {"recover": {
                "wecare_backup_recover (header overwritten)": row(2.0, 1.0, written_bytes=1),
                "cp + sync (durable copy)": row(1.0, 0.5, written_bytes=1),
                "cp": row(0.5, 0.5, written_bytes=1)}}}
    monkeypatch.setitem(report.MISS_REASONS, "recover wall", "the reason")
    text = report.render(data)
    assert ("| recover (damaged header) wall <= 1.3x durable copy | 2.00x | **MISS**: the reason |"
            in text)


def test_a_met_target_shows_no_reason(monkeypatch):
    data = {"run": {"argv": [], "repeat": 3}, "facts": {"src_mib": 1},
            "results": {"recover": {
                "wecare_backup_recover (header overwritten)": row(1.2, 1.0),
                "cp + sync (durable copy)": row(1.0, 0.5),
                "cp": row(0.5, 0.5)}}}
    monkeypatch.setitem(report.MISS_REASONS, "recover wall", "the reason")
    text = report.render(data)
    assert "| recover (damaged header) wall <= 1.3x durable copy | 1.20x | ok |" in text


def writer_row(commits_per_s, p99, wal, **figures):
    return dict({"n": 3, "ok": 3, "errors": [], "walls": [3.0] * 3, "wall": 3.0, "cpu": 1.0,
                 "commits_per_s": commits_per_s, "writer_p50_ms": 0.01,
                 "writer_p99_ms": p99, "writer_worst_p99_ms": p99, "writer_max_ms": 5.0,
                 "writer_worst_max_ms": 5.0, "wal_peak_bytes": wal,
                 "wal_worst_peak_bytes": wal, "rounds_commits_per_s": [commits_per_s] * 3},
                **figures)


def continuous(ratio, replay_wall):
    mib = 1024 * 1024
    return {"window_s": 3.0, "interval_ms": 200, "wal_max_bytes": 64 * mib,
            "overhead": {
                "writer alone": writer_row(1000.0, 0.05, 4 * mib),
                "writer under capture": writer_row(1000.0 * ratio, 0.06, 30 * mib,
                                                   ratio=ratio, capture_ready_s=0.5)},
            "replay_setup": {"segment_bytes": 100 * 1000 * 1000, "segments": 2,
                             "load_s": 2.0, "load_commits": 100, "db_bytes": 1, "rows": 10},
            "replay": {
                "restore_at('latest'), with points": row(replay_wall, 0.2),
                "restore_at('latest'), no points (base only)": row(0.1, 0.1),
                "cp + sync (durable copy)": row(0.05, 0.02)}}


def test_the_continuous_section_checks_its_targets(monkeypatch):
    data = {"run": {"argv": [], "repeat": 3}, "facts": {"src_mib": 1},
            "results": {"continuous": continuous(0.90, 1.0)}}
    monkeypatch.setitem(report.MISS_REASONS, "capture overhead", "the reason")
    text = report.render(data)
    assert ("| writer commits/s with continuous capture >= 0.95x without (synchronous=NORMAL) "
            "| 0.90x | **MISS**: the reason |" in text)
    assert "| restore_at('latest') replays >= 200 MB/s of segments (whole call) | 100 MB/s | **MISS**" in text
    assert "| -wal file under continuous capture <= wal_max_bytes (64.0 MiB), largest of every round | 30.0 MiB | ok |" in text
    data["results"]["continuous"] = continuous(0.97, 0.25)
    text = report.render(data)
    assert "| 0.97x | ok |" in text and "| 400 MB/s | ok |" in text
    assert "took 0.150 s more than the one with no points" in text
    assert "667 MB/s of segments over that difference" in text
