"""The pure modules (naming, settings, retention, metadata, checksum, and the
off-site stream codec, S3 XML answers and index) tested directly: the
GoogleTest binary (`make unit`) and a short libFuzzer run of every target
(`make fuzz-short`, skipped without clang)."""
import os
import shutil
import subprocess

import pytest

from conftest import ROOT

FUZZ_SECONDS = os.environ.get("WECARE_FUZZ_SECONDS", "3")


def clean_env():
    """The tools run without the ASan preload of `make asan`: the unit binary
    is not instrumented and the fuzzers carry clang's own runtime."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    return env


def test_unit_tests_of_the_pure_modules_pass():
    r = subprocess.run(["make", "-s", "unit"], cwd=ROOT, capture_output=True, text=True, env=clean_env(),
                       timeout=600)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    assert "PASSED" in r.stdout and "FAILED" not in r.stdout, r.stdout[-4000:]


@pytest.mark.skipif(shutil.which("clang++") is None, reason="libFuzzer needs clang++")
def fuzz_targets():
    """FUZZ_TARGETS of mk/reliability.mk (continued over backslash lines)."""
    text = (ROOT / "mk" / "reliability.mk").read_text().replace("\\\n", " ")
    line = next(l for l in text.splitlines() if l.startswith("FUZZ_TARGETS"))
    targets = line.split(":=", 1)[1].split()
    assert len(targets) >= 9 and all((ROOT / "fuzz" / f"{t}.cpp").exists() for t in targets)
    return targets


def test_fuzz_targets_find_nothing_in_a_short_run():
    r = subprocess.run(["make", "-s", "fuzz-short", f"FUZZ_SHORT_SECONDS={FUZZ_SECONDS}"], cwd=ROOT,
                       capture_output=True, text=True, env=clean_env(), timeout=900)
    print(r.stdout)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    assert r.stdout.count("no failure") == len(fuzz_targets()), r.stdout
