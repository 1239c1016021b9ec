"""kill -9 of a restoring process at random moments (WAL mode). Usage: wal_restore_kill.py DIR ITER [MB]"""
import os, sys, time, random, shutil, signal, subprocess, sqlite3, json, pathlib
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/
from conftest import connect, create, PHRASE, one, config, PYTHON, subprocess_env
from test_attack_wal_restore import content, integrity, backup_content, make_db

CHILD = """
import sys, json
from conftest import connect, PHRASE, one
c = connect(sys.argv[1])
print('go', flush=True)
print(one(c, "SELECT wecare_backup_restore(?, ?)", sys.argv[2], PHRASE), flush=True)
"""

def main():
    root = pathlib.Path(sys.argv[1]); iters = int(sys.argv[2]); mb = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    root.mkdir(parents=True, exist_ok=True)
    tmpl = root / "tmpl"
    if not tmpl.exists():
        tmpl.mkdir()
        db = make_db(tmpl / "a.db", rows=mb * 250, blob=3900)
        c = connect(db); config(c, "verify_on_create", 1); base = create(c)
        c.execute("UPDATE t SET v = randomblob(1000) WHERE id % 2 = 0")
        c.execute("INSERT INTO t(v) VALUES ('new')")
        c.close()
        (tmpl / "base").write_text(base)
    base = (tmpl / "base").read_text()
    old_digest = content(tmpl / "a.db")
    new_digest = backup_content(tmpl / "backups" / base)
    # time a full run
    results = {"old": 0, "new": 0, "safety_ok": 0, "safety_none": 0}
    rnd = random.Random(int(os.environ.get("SEED", "1")))
    dur = None
    for i in range(iters):
        work = root / f"w{i}"
        if work.exists(): shutil.rmtree(work)
        shutil.copytree(tmpl, work)
        w = None
        if os.environ.get("FRAMES"):
            # commits left in the log (not checkpointed) when the restore starts
            w = sqlite3.connect(str(work / "a.db"), isolation_level=None)
            w.execute("PRAGMA wal_autocheckpoint=0")
            w.execute("UPDATE t SET v = randomblob(2000) WHERE id % 7 = 0")
            if os.environ.get("FRAMES") == "backfilled":
                w.execute("PRAGMA wal_checkpoint(PASSIVE)")
            old_digest = content(work / "a.db")
        # keep uncheckpointed frames: the template's last writes are in its -wal? copytree copied a.db only if closed
        p = subprocess.Popen([PYTHON, "-c", CHILD, str(work / "a.db"), base], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=subprocess_env())
        assert p.stdout.readline().strip() == "go"
        t0 = time.monotonic()
        if dur is None:
            out = p.stdout.read(); p.wait(); dur = time.monotonic() - t0
            print("full run", dur, out.strip()[:200], p.stderr.read()[-300:])
        else:
            time.sleep(rnd.uniform(0, dur * 1.1))
            p.send_signal(signal.SIGKILL); p.wait()
        ig = integrity(work / "a.db")
        d = content(work / "a.db")
        state = "old" if d == old_digest else "new" if d == new_digest else "OTHER"
        safeties = [n for n in os.listdir(work / "backups") if "_safety_" in n and n.endswith(".db")]
        tmp = [n for n in os.listdir(work / "backups") if ".tmp" in n]
        s_ok = None
        if safeties:
            s_ok = backup_content(work / "backups" / safeties[0]) == old_digest
        print(i, state, ig, "safety:", s_ok, "tmp:", tmp, flush=True)
        assert ig == [("ok",)] and state != "OTHER" and s_ok in (None, True), (i, state, ig, s_ok)
        if state == "new": assert s_ok, "restored but no valid safety backup"
        if w is not None: w.close()
        shutil.rmtree(work)

main()
