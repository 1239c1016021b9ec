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
