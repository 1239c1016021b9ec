"""Attacks on continuous capture and point-in-time restore: files planted in the backup directory (random
bytes named like a segment, a real segment of another database renamed, a forged restore point, a segment
truncated in the middle of a point, a restore marker full of garbage), and a SIGKILL of the capturing
process right after a restore_at.

Each must give a clear error or be ignored: never a crash, never a restore of the wrong content (what a
restore gives is compared with what the database held), capture goes on capturing, and nothing outside the
backup directory is touched."""
import json
import os
import pathlib
import shutil
import signal
import sqlite3
import subprocess
import time

import pytest

import attack_tools as at
from conftest import EXT, PHRASE, config, connect, listing, one, poll, spawn_python

INTERVAL_MS = 100


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ("%.6f" % (t % 1))[1:] + "Z"


def timeline(conn):
    cur = conn.execute("SELECT * FROM wecare_backup_timeline")
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def continuous(conn):
    return json.loads(one(conn, "SELECT wecare_backup_stats()"))["continuous"]


def captured_since(conn, t):
    return poll(lambda: (continuous(conn)["last_captured_at"] or "") >= iso(t))


def segments(backups):
    return sorted(n for n in os.listdir(backups) if n.endswith(".wcseg"))


def ids_of(path):
    c = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return sorted(r[0] for r in c.execute("SELECT id FROM events"))
    finally:
        c.close()


def live_ids(conn):
    return sorted(r[0] for r in conn.execute("SELECT id FROM events"))


def materialise(backups, at_time, target, prefix="app"):
    """recover into a new file (the live database is left alone); returns (result, error)."""
    mem = connect(":memory:")
    config(mem, "dir", str(backups))
    config(mem, "prefix", prefix)
    try:
        return json.loads(one(mem, "SELECT wecare_backup_recover(?, ?, ?)", str(target), at_time, PHRASE)), None
    except sqlite3.OperationalError as e:
        return None, str(e)
    finally:
        mem.close()


def verify_timeline(conn):
    return json.loads(one(conn, "SELECT wecare_backup_verify('timeline')"))


def make_app(folder):
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "app.db"
    c = sqlite3.connect(str(db), isolation_level=None)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("CREATE TABLE events(id INTEGER PRIMARY KEY, payload TEXT)")
    c.close()
    return db


@pytest.fixture
def app(tmp_path):
    """A capturing database with five commits, each its own restore point."""
    db = make_app(tmp_path)
    conn = connect(db)
    assert one(conn, "SELECT wecare_backup_continuous(?)", INTERVAL_MS) == 1
    commits = []
    for i in range(1, 6):
        conn.execute("INSERT INTO events(id, payload) VALUES (?, ?)", (i, "p" * (300 * i)))
        t = time.time()
        assert captured_since(conn, t), (i, iso(t), continuous(conn), sorted(os.listdir(tmp_path / "backups")))
        commits.append((time.time(), i))
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.db").write_bytes(b"not yours")
    ctx = {"conn": conn, "db": db, "backups": tmp_path / "backups", "commits": commits, "tmp": tmp_path,
           "outside": outside, "outside_tree": at.tree(outside)}
    yield ctx
    try:
        one(conn, "SELECT wecare_backup_continuous(0)")
    except sqlite3.Error:
        pass
    conn.close()
    assert at.tree(outside) == ctx["outside_tree"], "a file outside the backup directory changed"


def assert_still_capturing(ctx, new_id):
    """A new commit is captured: 'latest' comes to restore exactly the live database (polled: what 'latest'
    restores is the claim, whatever capture's stats say meanwhile)."""
    conn = ctx["conn"]
    conn.execute("INSERT INTO events(id, payload) VALUES (?, 'later')", (new_id,))
    want = live_ids(conn)

    def latest():
        target = ctx["tmp"] / f"latest-{new_id}-{time.monotonic_ns()}.db"
        result, error = materialise(ctx["backups"], "latest", target)
        assert error is None, error
        return ids_of(target)
    assert poll(lambda: latest() == want), (latest(), want, continuous(conn))


def later_name(ctx, seconds=5):
    return "app_segment_" + time.strftime("%Y-%m-%d_%H-%M-%S", time.gmtime(time.time() + seconds)) + ".wcseg"


# ------------------------------------------------------------------ planted segments

@pytest.mark.parametrize("kind", ["random bytes", "magic then garbage", "empty", "a directory", "a FIFO",
                                  "a symbolic link"])
def test_junk_named_like_a_segment_is_ignored_and_reported(app, kind):
    backups = app["backups"]
    name = later_name(app)
    path = backups / name
    if kind == "random bytes":
        path.write_bytes(os.urandom(20000))
    elif kind == "magic then garbage":
        path.write_bytes(b"WCSEG001" + os.urandom(5000))
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "a directory":
        path.mkdir()
    elif kind == "a FIFO":
        os.mkfifo(path)
    else:
        os.symlink(app["outside"] / "secret.db", path)
    before = [r for r in timeline(app["conn"])]
    assert before and all(r["kind"] == "range" for r in before)
    report = verify_timeline(app["conn"])
    assert report["ok"] is False and any(name in e for e in report["errors"]), report
    assert_still_capturing(app, 100)
    # A time inside the real range still restores what was committed by then.
    t, i = app["commits"][2]
    result, error = materialise(backups, iso(t), app["tmp"] / "mid.db")
    assert error is None, error
    assert ids_of(app["tmp"] / "mid.db") == list(range(1, i + 1))
    assert os.path.lexists(path)  # never deleted: it is not capture's


def capture_other(folder, first_rows=()):
    """Another database called app.db in `folder`, captured: rows `first_rows` before capture starts (so
    its base differs from ours), then rows 500-504. Returns its newest segment file."""
    other_db = make_app(folder)
    oc = connect(other_db)
    for i in first_rows:
        oc.execute("INSERT INTO events(id, payload) VALUES (?, 'theirs, before')", (i,))
    one(oc, "SELECT wecare_backup_continuous(?)", INTERVAL_MS)
    for i in range(500, 505):
        oc.execute("INSERT INTO events(id, payload) VALUES (?, 'theirs')", (i,))
    assert captured_since(oc, time.time())
    one(oc, "SELECT wecare_backup_continuous(0)")
    oc.close()
    return folder / "backups" / segments(folder / "backups")[-1]


def assert_never_restores_the_other(app, tmp_path):
    conn = app["conn"]
    result, error = materialise(app["backups"], "latest", tmp_path / "latest.db")
    if error is None:
        assert ids_of(tmp_path / "latest.db") == live_ids(conn), "another database's transactions were restored"
    else:
        assert error.startswith("wecare_backup_recover: ") and "verification" in error, error
        assert not (tmp_path / "latest.db").exists()
    # restore_at on the live database: our own latest state, or a refusal that changes nothing.
    before = live_ids(conn)
    try:
        one(conn, "SELECT wecare_backup_restore_at('latest', ?)", PHRASE)
    except sqlite3.OperationalError as e:
        assert str(e).startswith("wecare_backup_restore_at: "), str(e)
    assert live_ids(conn) == before
    # Times in our own range still restore.
    t, i = app["commits"][3]
    result, error = materialise(app["backups"], iso(t), tmp_path / "mid.db")
    assert error is None, error
    assert ids_of(tmp_path / "mid.db") == list(range(1, i + 1))


def test_a_real_segment_of_another_database_renamed_into_the_directory(app, tmp_path):
    """Another database called app.db, in another folder, is captured too; one of its segments is copied
    here under a later name. It must never be restored: 'latest' restores our database or refuses."""
    theirs = capture_other(tmp_path / "other", first_rows=[900])
    shutil.copyfile(theirs, app["backups"] / later_name(app))
    assert_never_restores_the_other(app, tmp_path)
    assert verify_timeline(app["conn"])["ok"] is False


def test_a_segment_of_a_database_created_alike_is_never_restored(tmp_path):
    # Two databases made by the same schema script, captured from the same second (a deployment that
    # starts every clinic's application at once): their first bases have the same name and content.
    ours_db, theirs_db = make_app(tmp_path / "ours"), make_app(tmp_path / "theirs")
    time.sleep(1.02 - time.time() % 1)
    ours, theirs = connect(ours_db), connect(theirs_db)
    one(ours, "SELECT wecare_backup_continuous(?)", INTERVAL_MS)
    one(theirs, "SELECT wecare_backup_continuous(?)", INTERVAL_MS)
    base_of = lambda d: sorted(n for n in os.listdir(d / "backups") if n.startswith("app_backup_"))[0]
    if base_of(tmp_path / "ours") != base_of(tmp_path / "theirs"):
        pytest.skip("the two bases were not made in the same second")
    ours.execute("INSERT INTO events(id, payload) VALUES (1, 'ours')")
    assert captured_since(ours, time.time())
    theirs.execute("INSERT INTO events(id, payload) VALUES (500, 'theirs')")
    assert captured_since(theirs, time.time())
    one(theirs, "SELECT wecare_backup_continuous(0)")
    one(ours, "SELECT wecare_backup_continuous(0)")
    segment = tmp_path / "theirs" / "backups" / segments(tmp_path / "theirs" / "backups")[-1]
    shutil.copyfile(segment, tmp_path / "ours" / "backups" / later_name(None))
    result, error = materialise(tmp_path / "ours" / "backups", "latest", tmp_path / "latest.db")
    ours.close()
    theirs.close()
    if error is None:
        assert ids_of(tmp_path / "latest.db") == [1], "'latest' restored another database's transactions"


def test_a_segment_truncated_in_the_middle_of_a_point(app):
    conn, backups = app["conn"], app["backups"]
    one(conn, "SELECT wecare_backup_continuous(0)")
    name = segments(backups)[-1]
    data = (backups / name).read_bytes()
    header = at.parse_segment_header(data)
    points = at.parse_points(data, header["page_size"])
    assert len(points) >= 5
    offset, length, last = points[-1]
    (backups / name).write_bytes(data[:offset + length // 2])
    rows = timeline(conn)
    assert rows[-1]["to_at"] < at.iso_ns(last["captured_ns"])
    result, error = materialise(backups, "latest", app["tmp"] / "torn.db")
    assert error is None, error
    # The torn point was the fifth commit: 'latest' is now the fourth.
    assert ids_of(app["tmp"] / "torn.db") == [1, 2, 3, 4]
    assert verify_timeline(conn)["ok"], verify_timeline(conn)
    # Capture, started again, continues; the lost point's commit is captured again from the log (or a new
    # base holds it): 'latest' is the live database.
    assert one(conn, "SELECT wecare_backup_continuous(?)", INTERVAL_MS) == 1
    assert_still_capturing(app, 101)


def forged_segment(base_segment, generation, created_ns, points):
    """A segment of a new generation on the same base as `base_segment` (bytes), holding `points`."""
    h = at.parse_segment_header(base_segment)
    return at.segment_header(h["page_size"], generation, 0, created_ns, h["base_checksum"], h["base"],
                             h["base_created_ns"]) + \
        b"".join(points), h


def test_a_forged_point_with_a_huge_page_count_is_refused_by_restore(app):
    conn, backups = app["conn"], app["backups"]
    one(conn, "SELECT wecare_backup_continuous(0)")
    first = (backups / segments(backups)[0]).read_bytes()
    ns = time.time_ns() + 10**9
    h = at.parse_segment_header(first)
    data, _ = forged_segment(first, 424242, ns, [at.point(ns + 1000, 0xFFFFFFFF, {}, h["base_checksum"],
                                                          h["base_checksum"])])
    (backups / later_name(app, 10)).write_bytes(data)
    before = live_ids(conn)
    with pytest.raises(sqlite3.OperationalError) as info:
        one(conn, "SELECT wecare_backup_restore_at('latest', ?)", PHRASE)
    assert "failed verification" in str(info.value)
    assert live_ids(conn) == before
    assert verify_timeline(conn)["ok"] is False


CAPTURER_UNDER_A_MEMORY_LIMIT = r"""
import json, os, resource, sqlite3, sys, time
# A forged size must not take the machine down (under make asan the sanitizer's shadow memory needs more
# address space than any limit, and its allocator reports a huge allocation on its own).
if not os.environ.get("WECARE_SANITIZED"):
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
c = sqlite3.connect(sys.argv[1], isolation_level=None, check_same_thread=False)
c.enable_load_extension(True); c.load_extension(sys.argv[2])
state = c.execute("SELECT wecare_backup_continuous(100)").fetchone()[0]
c.execute("INSERT INTO events(id, payload) VALUES (200, 'after the forgery')")
deadline = time.time() + 3
while time.time() < deadline:
    s = json.loads(c.execute("SELECT wecare_backup_stats()").fetchone()[0])["continuous"]
    if s["state"] == "capturing" and s["lag_ms"] == 0:
        break
    time.sleep(0.1)
print(json.dumps({"state": state, "continuous": s}), flush=True)
c.execute("SELECT wecare_backup_continuous(0)").fetchone()
"""


def test_a_forged_point_with_a_huge_page_count_does_not_stop_capture(app):
    conn, backups = app["conn"], app["backups"]
    one(conn, "SELECT wecare_backup_continuous(0)")
    first = (backups / segments(backups)[0]).read_bytes()
    h = at.parse_segment_header(first)
    ns = time.time_ns() + 10**9
    data, _ = forged_segment(first, 424242, ns, [at.point(ns + 1000, 0xFFFFFFFF, {}, h["base_checksum"],
                                                          h["base_checksum"])])
    (backups / later_name(app, 10)).write_bytes(data)
    r = subprocess.run(["/usr/bin/python3", "-c", CAPTURER_UNDER_A_MEMORY_LIMIT, str(app["db"]), EXT],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["continuous"]["state"] == "capturing", out
    assert "bad_alloc" not in (out["continuous"]["last_error"] or ""), out


# ------------------------------------------------------------------ the restore marker

@pytest.mark.parametrize("kind", ["random bytes", "the magic then garbage", "the magic and this log's place",
                                  "a directory", "a FIFO", "a link to a file outside"])
def test_a_planted_restore_marker_never_stops_or_skews_capture(app, kind):
    conn, backups = app["conn"], app["backups"]
    marker = backups / ".app.restoring"
    if kind == "random bytes":
        marker.write_bytes(os.urandom(3000))
    elif kind == "the magic then garbage":
        marker.write_bytes(b"wecare_backup_restoring 1\nsalt1=\xff\xfe\nframe=-99999999999999999999\n=\n")
    elif kind == "the magic and this log's place":
        # Where the log is now, as a real restore would write it: but no restore follows.
        wal = pathlib.Path(str(app["db"]) + "-wal").read_bytes()
        salt1, salt2 = int.from_bytes(wal[16:20], "big"), int.from_bytes(wal[20:24], "big")
        frames = (len(wal) - 32) // (24 + 4096)
        marker.write_text(f"wecare_backup_restoring 1\nsalt1={salt1}\nsalt2={salt2}\nframe={frames}\nwhat=x\n")
    elif kind == "a directory":
        marker.mkdir()
    elif kind == "a FIFO":
        os.mkfifo(marker)
    else:
        os.symlink(app["outside"] / "secret.db", marker)
    bases_before = [r["name"] for r in listing(conn) if r["label"] == "continuous capture base"]
    for k in range(3):
        assert_still_capturing(app, 300 + k)
    assert continuous(conn)["state"] == "capturing" and not continuous(conn)["last_error"]
    # A planted marker may cost one new base (a restore may have happened), never one per tick.
    bases = [r["name"] for r in listing(conn) if r["label"] == "continuous capture base"]
    assert len(bases) <= len(bases_before) + 1, bases
    gaps = [r for r in timeline(conn) if r["kind"] == "gap"]
    assert len(gaps) <= 1, gaps
    assert verify_timeline(conn)["ok"], verify_timeline(conn)


# ------------------------------------------------------------------ SIGKILL right after restore_at

RESTORER = r"""
import json, sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, check_same_thread=False)
c.enable_load_extension(True); c.load_extension(sys.argv[2])
print("state", c.execute("SELECT wecare_backup_continuous(100)").fetchone()[0], flush=True)
assert sys.stdin.readline().strip() == "go"
r = c.execute("SELECT wecare_backup_restore_at(?, ?)", (sys.argv[3], sys.argv[4])).fetchone()[0]
print("restored", r, flush=True)
time.sleep(60)
"""


# A capturer killed 50 ms after restore_at used to record the restore twice about one run in fifteen: killed
# after it had started the 'restored' generation but before it removed the restore marker, so the next
# capturer took the marker for a restore not yet recorded. The marker now names the generation that records
# it (written under the backup lock before that generation's base); see also the deterministic test below.
@pytest.mark.parametrize("delay", [
    0.0, 0.05, 0.3])
def test_sigkill_of_the_capturing_process_right_after_restore_at(app, delay):
    conn, db, backups = app["conn"], app["db"], app["backups"]
    one(conn, "SELECT wecare_backup_continuous(0)")
    t3, _ = app["commits"][2]
    target_time = iso(t3)
    child = spawn_python(RESTORER, db, EXT, target_time, PHRASE)
    assert child.stdout.readline().split() == ["state", "1"]
    child.stdin.write("go\n")
    child.stdin.flush()
    line = child.stdout.readline()
    assert line.startswith("restored"), (line, child.stderr.read() if child.poll() is not None else "")
    time.sleep(delay)
    child.send_signal(signal.SIGKILL)
    child.communicate()
    assert live_ids(conn) == [1, 2, 3]
    # A new capturer: the timeline goes on from the restored state.
    assert one(conn, "SELECT wecare_backup_continuous(?)", INTERVAL_MS) == 1
    conn.execute("INSERT INTO events(id, payload) VALUES (50, 'after the restore')")

    def latest():
        target = app["tmp"] / f"latest-{time.monotonic_ns()}.db"
        result, error = materialise(backups, "latest", target)
        assert error is None, error
        return ids_of(target)
    # Polled: 'latest' comes to hold the insert once capture has it.
    assert poll(lambda: latest() == [1, 2, 3, 50]), latest()
    # The time before the restore still gives what was committed then, never a mix.
    t5, _ = app["commits"][4]
    result, error = materialise(backups, iso(t5), app["tmp"] / "before.db")
    if error is None:
        assert ids_of(app["tmp"] / "before.db") == [1, 2, 3, 4, 5]
    else:
        assert "gap" in error or "restorable" in error, error
    rows = timeline(conn)
    assert [r["gap_reason"] for r in rows if r["kind"] == "gap"].count("restored") == 1, rows
    assert verify_timeline(conn)["ok"], verify_timeline(conn)
    assert not (backups / ".app.restoring").exists() or continuous(conn)["state"] == "capturing"


def newest_generation(backups):
    """The generation id (u64 at byte 16 of a segment's header) of the newest segment file."""
    newest = segments(backups)[-1]
    with open(backups / newest, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"WCSEG001", head
    return int.from_bytes(head[16:24], "little")


@pytest.mark.parametrize("recorded", [True, False])
def test_a_restore_marker_left_by_a_killed_capturer_is_recorded_once(app, recorded):
    """The state a capturer killed between recording a restore and removing its marker leaves behind: the
    marker names the generation that recorded it. The next capturer removes it and records nothing again;
    a marker that names no recorded generation is a restore not yet recorded."""
    conn, backups = app["conn"], app["backups"]
    t3, _ = app["commits"][2]
    one(conn, "SELECT wecare_backup_restore_at(?, ?)", iso(t3), PHRASE)
    marker = backups / ".app.restoring"

    def restored_gaps():
        return [r["gap_reason"] for r in timeline(conn) if r["kind"] == "gap"].count("restored")
    assert poll(lambda: restored_gaps() == 1 and not marker.exists()), (timeline(conn), marker.exists())
    one(conn, "SELECT wecare_backup_continuous(0)")
    # The log starts over while nothing captures, so the next capturer cannot simply continue.
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    generation = newest_generation(backups) if recorded else 12345
    fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, ("wecare_backup_restoring 1\nsalt1=1\nsalt2=2\nframe=3\nwhat=x\n"
                  f"generation={generation}\n").encode())
    os.close(fd)
    assert one(conn, "SELECT wecare_backup_continuous(?)", INTERVAL_MS) == 1
    conn.execute("INSERT INTO events(id, payload) VALUES (60, 'after')")
    t = time.time()
    assert captured_since(conn, t), continuous(conn)
    assert not marker.exists()
    assert restored_gaps() == (1 if recorded else 2), timeline(conn)
    assert verify_timeline(conn)["ok"], verify_timeline(conn)


# ------------------------------------------------------------------ the times the timeline lists

def test_the_times_the_timeline_lists_restore_to_themselves(app):
    conn = app["conn"]
    rows = timeline(conn)
    assert [r["kind"] for r in rows] == ["range"]
    first, last = rows[0]["from_at"], rows[0]["to_at"]
    out, error = materialise(app["backups"], first, app["tmp"] / "first.db")
    assert error is None, error  # 'is before the oldest restore point (<first>); choose a time from <first> on'
    assert out["restored_to"] == first
    out, error = materialise(app["backups"], last, app["tmp"] / "last.db")
    assert error is None, error
    # The last point listed holds the fifth commit.
    assert (out["restored_to"], ids_of(app["tmp"] / "last.db")) == (last, [1, 2, 3, 4, 5])


SLOW_BASE_CAPTURER = r"""
import json, sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, check_same_thread=False)
c.enable_load_extension(True); c.load_extension(sys.argv[2])
def stats():
    return json.loads(c.execute("SELECT wecare_backup_stats()").fetchone()[0])["continuous"]
def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ("%.6f" % (t % 1))[1:] + "Z"
assert c.execute("SELECT wecare_backup_continuous(100)").fetchone()[0] == 1
marks = []
for i in (1, 2, 3):
    c.execute("INSERT INTO events(id) VALUES (?)", (i,))
    t = time.time()
    while (stats()["last_captured_at"] or "") < iso(t):
        time.sleep(0.02)
    marks.append(time.time())
# A restore makes capture take a new base; the shim holds that base for 1.5 s after its snapshot.
c.execute("SELECT wecare_backup_restore_at(?, ?)", (iso(marks[1]), sys.argv[3])).fetchone()
print("restored", flush=True)
time.sleep(30)
"""


def test_a_range_start_holds_what_was_committed_before_it(tmp_path):
    shim = tmp_path / "swap_shim.so"
    r = subprocess.run(["gcc", "-shared", "-fPIC", "-O1", "-o", str(shim),
                        str(pathlib.Path(__file__).parent / "crash" / "swap_shim.c"), "-ldl"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot build the swap shim: {r.stderr}")
    db = make_app(tmp_path)
    log = tmp_path / "shim.log"
    preloaded = os.environ.get("LD_PRELOAD", "")  # the ASan runtime under make asan comes first
    env = dict(os.environ, LD_PRELOAD=f"{preloaded}:{shim}" if preloaded else str(shim), WECARE_SWAP_WATCH=".app_backup_*.meta.tmp-*",
               WECARE_SWAP_ON="open", WECARE_SWAP_AFTER="2", WECARE_SWAP_ACTION="sleep", WECARE_SWAP_A="1500",
               WECARE_SWAP_LOG=str(log))
    child = subprocess.Popen(["/usr/bin/python3", "-c", SLOW_BASE_CAPTURER, str(db), EXT, PHRASE],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout.readline().strip() == "restored", child.stderr.read()
        # The second base (after the restore) has taken its snapshot and now writes its record, slowly.
        assert poll(lambda: log.exists() and log.read_text().startswith("sleeping"), timeout=10)
        writer = sqlite3.connect(str(db), isolation_level=None, timeout=10)
        writer.execute("INSERT INTO events(id) VALUES (50)")
        committed = time.time()
        writer.close()
        conn = connect(db)
        # The new range appears once its base is written; what was committed meanwhile is its first point,
        # at its start (so its to_at may be its from_at until the next commit).
        assert poll(lambda: len(timeline(conn)) == 3)
        start = timeline(conn)[-1]["from_at"]
        conn.close()
        # The range's listed start (a listed time restores to itself: see the test above).
        instant = start
        assert instant > iso(committed + 1.0)  # the commit is more than 10 intervals before it
        out, error = materialise(tmp_path / "backups", instant, tmp_path / "at.db")
        assert error is None, error
        assert 50 in ids_of(tmp_path / "at.db"), (instant, iso(committed), out)
    finally:
        child.kill()
        child.communicate()
