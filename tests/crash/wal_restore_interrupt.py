"""sqlite3_interrupt at random moments of a WAL restore (in-process, from another thread)."""
import os, sys, time, random, shutil, threading, sqlite3, json, pathlib, tempfile
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/
from conftest import connect, create, PHRASE, one
from test_attack_wal_restore import content, integrity, backup_content, make_db

root = pathlib.Path(tempfile.mkdtemp())
tmpl = root / "tmpl"; tmpl.mkdir()
db = make_db(tmpl / "a.db", rows=6000, blob=3900)
c = connect(db); base = create(c); c.close()
rnd = random.Random(5)
dur = None
tally = {}
for i in range(30):
    work = root / f"w{i}"; shutil.copytree(tmpl, work)
    conn = connect(work / "a.db")
    w = sqlite3.connect(str(work / "a.db"), isolation_level=None); w.execute("PRAGMA wal_autocheckpoint=0")
    w.execute("UPDATE t SET v = randomblob(1000) WHERE id % 3 = 0")
    old = content(work / "a.db")
    delay = None if dur is None else rnd.uniform(0, dur)
    stop = threading.Event()
    def intr():
        if delay is None: return
        time.sleep(delay)
        while not stop.is_set():
            conn.interrupt(); stop.wait(0.0005)
    t = threading.Thread(target=intr); t.start()
    t0 = time.monotonic()
    try:
        r = json.loads(one(conn, "SELECT wecare_backup_restore(?, ?)", base, PHRASE)); err = None
    except sqlite3.Error as e:
        r = None; err = str(e)
    stop.set(); t.join()
    if dur is None: dur = time.monotonic() - t0
    d = content(work / "a.db")
    safeties = [n for n in os.listdir(work / "backups") if "_safety_" in n and n.endswith(".db")]
    junk = [n for n in os.listdir(work / "backups") if n.startswith(".") and n != ".wecare_backup.lock"]
    ok = integrity(work / "a.db") == [("ok",)]
    if err == "interrupted" and d != old:
        # SQLite's own interrupt of the SELECT after the function returned: the restore completed.
        r = {"safety_backup": safeties[0]}
    if r:
        state = "restored"
        assert d == backup_content(work / "backups" / base)
        assert backup_content(work / "backups" / r["safety_backup"]) == old
    else:
        state = "refused:" + err[:60]
        if d != old:
            print(i, "REFUSED BUT CHANGED", err, "is backup:", d == backup_content(work / "backups" / base), "safeties", safeties, "delay", delay, "dur", dur)
            sys.exit(1)
        assert safeties == [], (safeties, err)
    assert ok and not [j for j in junk if j != ".a.restoring"], (ok, junk)
    if junk: print(i, state, junk)
    tally[state] = tally.get(state, 0) + 1
    conn.close(); w.close(); shutil.rmtree(work)
print(dur, tally)
