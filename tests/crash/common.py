"""Helpers shared by the crash harness, the soak and the fault tests.

Plain functions, no pytest: the harness also runs as a program
(`python3 tests/crash/harness.py --trials 200`).
"""
import fcntl
import json
import os
import pathlib
import re
import sqlite3

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
EXT = os.environ.get("WECARE_BACKUP_EXT") or str(ROOT / "dist" / "wecare_backup")
PHRASE = "I understand this will replace the current database"
LOCK_NAME = ".wecare_backup.lock"


def connect(path, ext=EXT, timeout=30.0):
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=timeout)
    conn.enable_load_extension(True)
    conn.load_extension(ext)
    conn.enable_load_extension(False)
    return conn


def one(conn, sql, *args):
    return conn.execute(sql, args).fetchone()[0]


def configure(conn, **settings):
    for key, value in settings.items():
        conn.execute("SELECT wecare_backup_config(?, ?)", (key, str(value)))


def backup_name_re(prefix):
    return re.compile(re.escape(prefix) + r"_(backup|safety)_\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d(_[1-9]\d{0,4})?\.(db|incr)$")


def temp_files(backup_dir, prefix):
    """Temp files a killed operation may leave: `.<prefix>_...tmp-<pid>`."""
    if not os.path.isdir(backup_dir):
        return []
    return sorted(n for n in os.listdir(backup_dir) if n.startswith("." + prefix + "_") and ".tmp-" in n)


def orphan_sidecars(backup_dir, prefix):
    if not os.path.isdir(backup_dir):
        return []
    names = set(os.listdir(backup_dir))
    pat = backup_name_re(prefix)
    return sorted(n for n in names
                  if (n.endswith(".meta") and pat.match(n[:-5]) and n[:-5] not in names)
                  or (n.endswith(".manifest") and pat.match(n[:-9]) and n[:-9] not in names))


def backup_files(backup_dir, prefix):
    """Every directory entry that carries a backup name (listed or not)."""
    if not os.path.isdir(backup_dir):
        return []
    pat = backup_name_re(prefix)
    return sorted(n for n in os.listdir(backup_dir) if pat.match(n))


def lock_is_free(backup_dir):
    path = os.path.join(backup_dir, LOCK_NAME)
    if not os.path.exists(path):
        return True
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def integrity(path):
    """integrity_check of a database file, opened the way an application does
    (read-write, so a hot journal left by a crash is rolled back first)."""
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=30)
    try:
        rows = [r[0] for r in conn.execute("PRAGMA integrity_check")]
        return rows[0] if len(rows) == 1 else "; ".join(rows[:5])
    finally:
        conn.close()


def listed(conn):
    cur = conn.execute("SELECT name, kind, verify_ok, checksum, retain_reason, size_bytes FROM wecare_backup_list")
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row)) for row in cur.fetchall()]


def verify(conn, name):
    return json.loads(one(conn, "SELECT wecare_backup_verify(?)", name))


def tree_snapshot(root, exclude=()):
    """(type, size, mtime_ns, mode, link target) of every entry under `root`,
    except the subtrees in `exclude`: what "no file touched" compares."""
    root = str(root)
    exclude = {os.path.realpath(str(e)) for e in exclude}
    out = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        if os.path.realpath(dirpath) in exclude:
            dirnames[:] = []
            continue
        dirnames[:] = [d for d in dirnames if os.path.realpath(os.path.join(dirpath, d)) not in exclude
                       or os.path.islink(os.path.join(dirpath, d))]
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            target = os.readlink(p) if os.path.islink(p) else None
            size = st.st_size if not os.path.isdir(p) or os.path.islink(p) else 0
            mtime = st.st_mtime_ns if not os.path.isdir(p) or os.path.islink(p) else 0
            out[os.path.relpath(p, root)] = (st.st_mode, size, mtime, target)
    return out


def tree_diff(before, after):
    changes = []
    for k in sorted(set(before) | set(after)):
        if before.get(k) != after.get(k):
            changes.append((k, before.get(k), after.get(k)))
    return changes
