"""Attacks by swapping files (issue 10, point 2): a backup swapped for another file, by rename or by a
symbolic link, while a restore runs; the backup directory swapped for a link to another folder while a
create or a restore runs.

The swap is made to land at the worst moment, between the extension's check of a file and its use of it:
tests/crash/swap_shim.c (LD_PRELOAD) does it from inside the process, right after the open of a file whose
name matches, or right before its Nth read; and a second process swaps in a tight loop while restores and
creates run over and over. Whatever the moment:
  * a restore restores exactly the backup that was verified, or refuses and leaves the database as it was;
    it never restores the file swapped in;
  * a create or a restore writes nothing outside the backup directory it opened.
"""
import hashlib
import json
import os
import pathlib
import shutil
import sqlite3
import subprocess
import sys
import time

import pytest

from conftest import EXT, PHRASE, ROOT, connect, create, listing, make_sample, one, poll, tree_state, verify

CHILD = r"""
import json, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.enable_load_extension(True); conn.load_extension(sys.argv[2]); conn.enable_load_extension(False)
for key, value in json.loads(sys.argv[4]).items():
    conn.execute("SELECT wecare_backup_config(?, ?)", (key, value)).fetchone()
try:
    print(json.dumps({"ok": True, "value": conn.execute(sys.argv[3], json.loads(sys.argv[5])).fetchone()[0]}))
except sqlite3.Error as e:
    print(json.dumps({"ok": False, "error": str(e)}))
"""


@pytest.fixture(scope="module")
def swap_shim(tmp_path_factory):
    out = tmp_path_factory.mktemp("shim") / "swap_shim.so"
    r = subprocess.run(["gcc", "-shared", "-fPIC", "-O1", "-o", str(out),
                        str(ROOT / "tests" / "crash" / "swap_shim.c"), "-ldl"], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot build the swap shim: {r.stderr}")
    return str(out)


def preload(lib):
    current = os.environ.get("LD_PRELOAD", "")
    return f"{current}:{lib}" if current else lib


def run_swapped(shim, log, db, sql, args=(), settings=None, **swap):
    """Runs `sql` in a child process with the shim armed (swap: watch, on, after, action, a, b, c)."""
    env = dict(os.environ)
    env["LD_PRELOAD"] = preload(shim)
    env["WECARE_SWAP_LOG"] = str(log)
    for key, value in swap.items():
        env["WECARE_SWAP_" + key.upper()] = str(value)
    r = subprocess.run(["/usr/bin/python3", "-c", CHILD, str(db), EXT, sql, json.dumps(settings or {}),
                        json.dumps(list(args))], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def shim_log(log):
    return pathlib.Path(log).read_text().splitlines() if os.path.exists(log) else []


def swaps_done(log):
    """The swaps the shim made (each `rc=0` when it worked)."""
    return [line for line in shim_log(log) if not line.startswith("reopened ")]


def reopened(log):
    """The opens, after the swap, of a file named like the one swapped: each reaches the file put there."""
    return [line for line in shim_log(log) if line.startswith("reopened ")]


def content(path):
    """Every patient row, and the integrity check, of a database file."""
    c = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = c.execute("SELECT id, name, notes FROM patients ORDER BY id").fetchall()
        return hashlib.sha256(repr(rows).encode()).hexdigest(), len(rows)
    finally:
        c.close()


def digest(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


@pytest.fixture
def scene(tmp_path):
    """The database (3000 patients: a few hundred pages, so reads are many), two backups of it with
    different content (`wanted`, then `decoy`, each with its own valid record), then more changes. What a
    restore of `wanted` must give, and an unrelated database outside."""
    db = make_sample(tmp_path / "wecare.db", patients=3000)
    conn = connect(db)
    conn.execute("SELECT wecare_backup_config('keep_safety', 100)").fetchone()
    wanted = create(conn)
    want = content(db)
    conn.execute("DELETE FROM patients WHERE id % 3 = 0")
    conn.execute("INSERT INTO patients(name, notes) VALUES ('only in the decoy', 'd')")
    time.sleep(0.01)
    decoy = create(conn)
    decoy_content = content(db)
    conn.execute("DELETE FROM patients WHERE id > 100")
    conn.close()
    outside = tmp_path / "outside"
    outside.mkdir()
    make_sample(outside / "unrelated.db", patients=7)
    backups = tmp_path / "backups"
    # A hard link keeps each backup's bytes whatever the swap does to its name.
    os.link(backups / wanted, tmp_path / "wanted.keep")
    os.link(backups / decoy, tmp_path / "decoy.keep")
    return {"db": db, "backups": backups, "wanted": wanted, "decoy": decoy, "want": want,
            "decoy_content": decoy_content, "before": content(db), "outside": outside,
            "tmp": tmp_path}


def assert_restored_or_refused(scene, result, fn="wecare_backup_restore"):
    now = content(scene["db"])
    if result["ok"]:
        assert now == scene["want"], "the restore did not restore the backup it verified"
    else:
        assert result["error"].startswith(f"{fn}: "), result
        assert now == scene["before"], "a refused restore changed the database"
    assert now != scene["decoy_content"]


# (how the swap is triggered: on, after, watch pattern ("{wanted}" is the backup's name))
RESTORE_MOMENTS = {
    "right after the backup is opened": ("open", 1, "{wanted}"),
    "before its first read": ("read", 1, "{wanted}"),
    "during verification": ("read", 2, "{wanted}"),
    # A restore reads a verified backup four times: its header, page 1 as the image opens, page 1 as
    # the copy starts, then every other page in one run (the image reads ahead in 1 MiB runs).
    "in the middle of the copy": ("read", 3, "{wanted}"),
    "near the end of the copy": ("read", 4, "{wanted}"),
    "as the safety backup starts": ("open", 1, ".wecare_safety_*"),
    "as its record is read": ("open", 1, "{wanted}.meta"),
    "as its manifest is read": ("open", 1, "{wanted}.manifest"),
}


@pytest.mark.parametrize("action", ["rename", "symlink"])
@pytest.mark.parametrize("moment", RESTORE_MOMENTS)
def test_a_backup_swapped_during_restore_is_never_restored(scene, swap_shim, tmp_path, action, moment):
    on, after, watch = RESTORE_MOMENTS[moment]
    target = scene["backups"] / scene["wanted"]
    # The file put in its place: the decoy backup of the same database (valid, with its own record),
    # through its own hard link, so that the decoy itself stays in place.
    planted = tmp_path / "planted.db"
    os.link(scene["tmp"] / "decoy.keep", planted)
    log = tmp_path / "swap.log"
    result = run_swapped(swap_shim, log, scene["db"], "SELECT wecare_backup_restore(?, ?)",
                         [scene["wanted"], PHRASE], watch=watch.format(wanted=scene["wanted"]), on=on,
                         after=after, action=action, a=planted, b=target)
    assert swaps_done(log) and swaps_done(log)[0].endswith("rc=0"), (swaps_done(log), result)
    assert_restored_or_refused(scene, result)
    assert reopened(log) == [], "the backup was opened again by its name after the swap"
    assert digest(scene["tmp"] / "decoy.keep") == digest(scene["backups"] / scene["decoy"])


@pytest.mark.parametrize("action", ["rename", "symlink"])
@pytest.mark.parametrize("moment", ["right after the backup is opened", "during verification"])
def test_a_backup_swapped_during_recover_is_never_recovered(scene, swap_shim, tmp_path, action, moment):
    on, after, watch = RESTORE_MOMENTS[moment]
    target = scene["backups"] / scene["wanted"]
    planted = tmp_path / "planted.db"
    os.link(scene["tmp"] / "decoy.keep", planted)
    log = tmp_path / "swap.log"
    result = run_swapped(swap_shim, log, ":memory:", "SELECT wecare_backup_recover(?, ?, ?)",
                         [str(scene["db"]), scene["wanted"], PHRASE],
                         settings={"dir": str(scene["backups"]), "prefix": "wecare"},
                         watch=watch.format(wanted=scene["wanted"]), on=on, after=after, action=action,
                         a=planted, b=target)
    assert swaps_done(log) and swaps_done(log)[0].endswith("rc=0"), (swaps_done(log), result)
    assert_restored_or_refused(scene, result, "wecare_backup_recover")
    assert reopened(log) == [], "the backup was opened again by its name after the swap"


def test_a_decoy_renamed_over_the_backup_between_two_restores_is_refused(scene):
    # No race at all: the decoy (a valid backup of the same database, with its own record) simply lies
    # under the name now. Its bytes are not the ones the name's record describes.
    os.replace(scene["tmp"] / "decoy.keep", scene["backups"] / scene["wanted"])
    conn = connect(scene["db"])
    with pytest.raises(sqlite3.OperationalError) as info:
        conn.execute("SELECT wecare_backup_restore(?, ?)", (scene["wanted"], PHRASE)).fetchall()
    assert "failed verification" in str(info.value)
    conn.close()
    assert content(scene["db"]) == scene["before"]


# ------------------------------------------------------------------ the directory swapped for a link

DIR_MOMENTS = {
    "as the lock file is opened": ("open", 1, ".wecare_backup.lock"),
    "as the temporary backup is created": ("open", 1, ".wecare_backup_*.{ext}.tmp-*"),
    "while the live database is read": ("read", 5, "wecare.db"),
    "as the manifest is written": ("open", 1, ".wecare_backup_*.manifest.tmp-*"),
    "as the record is written": ("open", 1, ".wecare_backup_*.meta.tmp-*"),
}


def restore_dir(backups, away):
    """Undoes a directory swap: the link goes, the real directory comes back."""
    if os.path.islink(backups):
        os.unlink(backups)
    if os.path.isdir(away) and not os.path.exists(backups):
        os.rename(away, backups)


@pytest.mark.parametrize("incremental", [False, True], ids=["full", "incremental"])
@pytest.mark.parametrize("moment", DIR_MOMENTS)
def test_a_directory_swap_during_create_touches_nothing_outside(scene, swap_shim, tmp_path, moment, incremental):
    on, after, watch = DIR_MOMENTS[moment]
    backups, away, outside = scene["backups"], tmp_path / "backups.away", scene["outside"]
    # The outside folder holds what an attacker would aim at: an unrelated database, and files named
    # like this database's backups and their records.
    for name in (scene["wanted"], scene["wanted"] + ".meta", scene["wanted"] + ".manifest",
                 ".wecare_backup.lock"):
        shutil.copyfile(backups / name, outside / name)
    before_outside = tree_state(outside)
    before_names = set(os.listdir(backups))
    log = tmp_path / "swap.log"
    result = run_swapped(swap_shim, log, scene["db"], "SELECT wecare_backup_create('during a swap')",
                         settings={"incremental": "1" if incremental else "0"},
                         watch=watch.format(ext="incr" if incremental else "db"), on=on, after=after,
                         action="dir", a=outside, b=backups, c=away)
    assert swaps_done(log) and swaps_done(log)[0].endswith("rc=0"), (swaps_done(log), result)
    assert tree_state(outside) == before_outside, "the create wrote outside the backup directory"
    restore_dir(backups, away)
    if result["ok"]:
        made = result["value"]
        assert made in set(os.listdir(backups)) - before_names
        conn = connect(scene["db"])
        assert verify(conn, made)["ok"]
        conn.close()
    else:
        assert result["error"].startswith("wecare_backup_create: "), result
    assert not [n for n in os.listdir(backups) if ".tmp-" in n]


@pytest.mark.parametrize("moment", ["as the safety backup starts", "during verification"])
def test_a_directory_swap_during_restore_touches_nothing_outside(scene, swap_shim, tmp_path, moment):
    on, after, watch = RESTORE_MOMENTS[moment]
    backups, away, outside = scene["backups"], tmp_path / "backups.away", scene["outside"]
    # A decoy under the backup's name in the folder the link points to.
    os.link(scene["tmp"] / "decoy.keep", outside / scene["wanted"])
    shutil.copyfile(backups / (scene["decoy"] + ".meta"), outside / (scene["decoy"] + ".meta"))
    before_outside = tree_state(outside)
    log = tmp_path / "swap.log"
    result = run_swapped(swap_shim, log, scene["db"], "SELECT wecare_backup_restore(?, ?)",
                         [scene["wanted"], PHRASE], watch=watch.format(wanted=scene["wanted"]), on=on,
                         after=after, action="dir", a=outside, b=backups, c=away)
    assert swaps_done(log) and swaps_done(log)[0].endswith("rc=0"), (swaps_done(log), result)
    assert tree_state(outside) == before_outside, "the restore wrote outside the backup directory"
    assert_restored_or_refused(scene, result)
    restore_dir(backups, away)
    if result["ok"]:
        safety = json.loads(result["value"])["safety_backup"]
        assert (backups / safety).exists()


# ------------------------------------------------------------------ swaps in a tight loop

SWAPPER = r"""
import os, sys, time
mode, target, good, bad, stop_after = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
tmp_good, tmp_bad = target + ".swap-good", target + ".swap-bad"
deadline = time.monotonic() + stop_after
n = 0
while time.monotonic() < deadline and not os.path.exists(target + ".stop"):
    for p in (tmp_good, tmp_bad):
        if os.path.lexists(p):
            os.unlink(p)
    if mode == "rename":
        os.link(bad, tmp_bad)
    else:
        os.symlink(bad, tmp_bad)
    os.rename(tmp_bad, target)  # the decoy (or a link to it) takes the name
    os.link(good, tmp_good)
    os.rename(tmp_good, target)  # the real backup comes back
    n += 1
print(n, flush=True)
"""

DIR_SWAPPER = r"""
import os, sys, time
backups, away, outside, stop_after = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
deadline = time.monotonic() + stop_after
n = 0
created = 0
while time.monotonic() < deadline and not os.path.exists(away + ".stop"):
    os.rename(backups, away)
    os.symlink(outside, backups)
    os.unlink(backups)
    try:
        os.rename(away, backups)
    except OSError:
        # A directory was made at the path while it was missing (see
        # test_a_configured_directory_that_vanishes_is_never_created_again): set it aside.
        created += 1
        os.rename(backups, f"{backups}.created-{created}")
        os.rename(away, backups)
    n += 1
    if n % 50 == 0:
        time.sleep(0.001)
print(n, created, flush=True)
"""


@pytest.mark.parametrize("mode", ["rename", "symlink"])
def test_restores_under_a_swapping_loop_restore_only_the_verified_backup(scene, tmp_path, mode):
    target = scene["backups"] / scene["wanted"]
    swapper = subprocess.Popen(["/usr/bin/python3", "-c", SWAPPER, mode, str(target),
                                str(scene["tmp"] / "wanted.keep"), str(scene["tmp"] / "decoy.keep"), "20"],
                               stdout=subprocess.PIPE, text=True)
    conn = connect(scene["db"])
    conn.execute("SELECT wecare_backup_config('keep_safety', 1)").fetchone()
    outcomes = {"restored": 0, "refused": 0}
    try:
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline or outcomes["restored"] + outcomes["refused"] < 5:
            conn.execute("DELETE FROM patients WHERE id > 100")
            before = content(scene["db"])
            try:
                conn.execute("SELECT wecare_backup_restore(?, ?)", (scene["wanted"], PHRASE)).fetchone()
                assert content(scene["db"]) == scene["want"], "a restore took the swapped-in file"
                outcomes["restored"] += 1
            except sqlite3.OperationalError as e:
                assert str(e).startswith("wecare_backup_restore: "), str(e)
                assert content(scene["db"]) == before
                outcomes["refused"] += 1
    finally:
        pathlib.Path(str(target) + ".stop").touch()
        swaps = int(swapper.communicate(timeout=30)[0].strip() or 0)
        conn.close()
    assert swaps > 100, swaps
    assert outcomes["restored"] + outcomes["refused"] >= 5, outcomes
    print("restores under the loop:", outcomes, "swaps:", swaps)


def test_creates_under_a_directory_swapping_loop_write_nothing_outside(scene, tmp_path):
    backups, away, outside = scene["backups"], tmp_path / "backups.away", scene["outside"]
    for name in (scene["wanted"], scene["wanted"] + ".meta", ".wecare_backup.lock"):
        shutil.copyfile(backups / name, outside / name)
    before_outside = tree_state(outside)
    swapper = subprocess.Popen(["/usr/bin/python3", "-c", DIR_SWAPPER, str(backups), str(away), str(outside),
                                "20"], stdout=subprocess.PIPE, text=True)
    conn = connect(scene["db"])
    conn.execute("SELECT wecare_backup_config('keep_last', 1000)").fetchone()
    # Set explicitly, so never created: the default directory would be made again while it is away.
    conn.execute("SELECT wecare_backup_config('dir', ?)", (str(backups),)).fetchone()
    made, refused = [], 0
    try:
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            conn.execute("INSERT INTO patients(name, notes) VALUES ('loop', 'x')")
            try:
                made.append(create(conn))
            except sqlite3.OperationalError as e:
                assert str(e).startswith("wecare_backup_create: "), str(e)
                refused += 1
    finally:
        pathlib.Path(str(away) + ".stop").touch()
        swaps, created = map(int, swapper.communicate(timeout=30)[0].split())
    restore_dir(backups, away)
    assert swaps > 100, swaps
    assert tree_state(outside) == before_outside, "a create wrote outside the backup directory"
    assert made, "no create succeeded at all"
    print("creates under the loop:", len(made), "refused:", refused, "swaps:", swaps,
          "directories made at the configured path:", created)
    present = {r["name"] for r in listing(conn)}
    for k in range(1, created + 1):
        present |= set(os.listdir(f"{backups}.created-{k}"))
    assert set(made) <= present
    for name in made[-3:]:
        assert verify(conn, name)["ok"], name
    conn.close()
    assert not [n for n in os.listdir(backups) if ".tmp-" in n]


# ------------------------------------------------------------------ a configured directory that vanishes

def test_a_configured_directory_that_vanishes_is_never_created_again(tmp_path, swap_shim):
    """README: a directory set with wecare_backup_config is never created (a missing one is often an
    unmounted disk, and backups must not land on the disk underneath). The directory vanishes (the disk
    is unmounted) between the create's check that it exists and its opening of it: the second lstat."""
    db = make_sample(tmp_path / "wecare.db")
    mounted = tmp_path / "mnt" / "backups"
    mounted.mkdir(parents=True, mode=0o700)
    log = tmp_path / "swap.log"
    result = run_swapped(swap_shim, log, db, "SELECT wecare_backup_create()", settings={"dir": str(mounted)},
                         watch="backups", on="stat", after=2, action="rename", a=mounted,
                         b=tmp_path / "unmounted")
    assert swaps_done(log) == ["rename stat rc=0"]
    made_again = mounted.exists()
    landed = sorted(os.listdir(mounted)) if made_again else []
    assert not made_again, f"the configured directory was created again, and the backup landed in it: {landed}"
    assert not result["ok"] and "does not exist" in result["error"], result


# ------------------------------------------------------------------ a segment swapped during restore_at

def test_a_segment_swapped_during_restore_at_is_never_read(tmp_path, swap_shim):
    """Continuous capture's segment is swapped, right after restore_at opens it, for a copy of itself cut
    after two restore points: had it been opened again by name, the restore would lack the third commit."""
    import attack_tools as at
    db = tmp_path / "app.db"
    c = sqlite3.connect(str(db), isolation_level=None)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("CREATE TABLE events(id INTEGER PRIMARY KEY, payload TEXT)")
    c.close()
    conn = connect(db)
    assert one(conn, "SELECT wecare_backup_continuous(100)") == 1
    marks = []
    for i in range(1, 5):
        conn.execute("INSERT INTO events(id, payload) VALUES (?, ?)", (i, "e" * 500 * i))
        t = time.time()
        assert poll(lambda: (json.loads(one(conn, "SELECT wecare_backup_stats()"))["continuous"]["last_captured_at"]
                             or "") >= time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ("%.6f" % (t % 1))[1:])
        marks.append(time.time())
    one(conn, "SELECT wecare_backup_continuous(0)")
    conn.close()
    backups = tmp_path / "backups"
    segment = sorted(n for n in os.listdir(backups) if n.endswith(".wcseg"))[-1]
    data = (backups / segment).read_bytes()
    points = at.parse_points(data, at.parse_segment_header(data)["page_size"])
    assert len(points) >= 4
    cut = tmp_path / "cut.wcseg"
    cut.write_bytes(data[:points[1][0] + points[1][1]])
    t3 = marks[2]
    when = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t3)) + ("%.6f" % (t3 % 1))[1:] + "Z"
    for action in ("rename", "symlink"):
        (backups / segment).write_bytes(data)
        log = tmp_path / f"swap-{action}.log"
        result = run_swapped(swap_shim, log, db, "SELECT wecare_backup_restore_at(?, ?)", [when, PHRASE],
                             watch="app_segment_*", on="open", after=1, action=action, a=cut,
                             b=backups / segment)
        assert swaps_done(log) and swaps_done(log)[0].endswith("rc=0"), (swaps_done(log), result)
        # The retention pass after the restore opens the segments again, on its own, to read which bases
        # they name (cleanup keeps those); the restored pages come from the first handle, which is what
        # the restored rows prove: read again by name, the cut copy would lack the third commit.
        got = sorted(r[0] for r in sqlite3.connect(str(db)).execute("SELECT id FROM events"))
        if result["ok"]:
            assert got == [1, 2, 3], (action, got)
        else:
            assert result["error"].startswith("wecare_backup_restore_at: "), result
        if action == "rename":
            cut.write_bytes(data[:points[1][0] + points[1][1]])  # the rename took it
        if os.path.islink(backups / segment):
            os.unlink(backups / segment)
