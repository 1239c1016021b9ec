"""Incremental backups (settings `incremental` and `full_every`): a chain of a full backup and increments that
hold only the changed pages. Every backup of a chain must give back exactly the database it was taken of;
a chain that is damaged or broken is never trusted, restored, or built on."""
import hashlib
import json
import os
import random
import sqlite3

import pytest

from conftest import PHRASE, config, connect, create, listing, make_sample, one, sql_error, verify


def fingerprint(path):
    """The content of a database: every row of every table, in order, and the schema."""
    c = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        h = hashlib.sha256()
        for (name, sql) in c.execute("SELECT name, sql FROM sqlite_schema ORDER BY name"):
            h.update(f"{name}:{sql}".encode())
        for (name,) in c.execute("SELECT name FROM sqlite_schema WHERE type='table' AND name NOT LIKE 'sqlite_%' "
                                 "ORDER BY name"):
            for row in c.execute(f'SELECT * FROM "{name}" ORDER BY rowid'):
                h.update(repr(row).encode())
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return h.hexdigest()
    finally:
        c.close()


def live_fingerprint(conn):
    h = hashlib.sha256()
    for (name, sql) in conn.execute("SELECT name, sql FROM sqlite_schema ORDER BY name").fetchall():
        h.update(f"{name}:{sql}".encode())
    for (name,) in conn.execute("SELECT name FROM sqlite_schema WHERE type='table' AND name NOT LIKE 'sqlite_%' "
                                "ORDER BY name").fetchall():
        for row in conn.execute(f'SELECT * FROM "{name}" ORDER BY rowid'):
            h.update(repr(row).encode())
    return h.hexdigest()


def change(conn, rng, step):
    """One round of the kinds of change an application makes, VACUUM and schema changes included."""
    kind = step % 6
    conn.execute("BEGIN")
    if kind == 0:
        conn.executemany("INSERT INTO patients(name, notes) VALUES (?, ?)",
                         [(f"new {step}.{i}", "n" * rng.randrange(10, 400)) for i in range(rng.randrange(1, 300))])
    elif kind == 1:
        conn.execute("UPDATE patients SET notes = ? WHERE id % ? = 0", ("u" * rng.randrange(1, 300), rng.randrange(2, 9)))
    elif kind == 2:
        conn.execute("DELETE FROM patients WHERE id % ? = 1", (rng.randrange(3, 7),))
    elif kind == 3:
        conn.execute(f"CREATE TABLE IF NOT EXISTS extra{step}(k INTEGER PRIMARY KEY, v BLOB)")
        conn.executemany(f"INSERT INTO extra{step}(v) VALUES (?)", [(os.urandom(rng.randrange(1, 5000)),)
                                                                   for _ in range(20)])
        conn.execute(f"CREATE INDEX IF NOT EXISTS extra{step}_v ON extra{step}(v)")
    elif kind == 4:
        conn.execute("DELETE FROM patients WHERE id > (SELECT max(id) FROM patients) / 2")
    conn.execute("COMMIT")
    if kind == 5:
        conn.execute("VACUUM")  # renumbers pages and shrinks the file


def same_pages(a, b, page_size):
    """Whether two database files hold the same pages, but for the page-1 header bytes SQLite legitimately
    changes: 18-19 (journal mode), 24-27 (change counter), 92-99 (version-valid-for, SQLite version)."""
    x, y = bytearray(open(a, "rb").read()), bytearray(open(b, "rb").read())
    if len(x) != len(y):
        return f"{len(x)} bytes against {len(y)}"
    for buf in (x, y):
        for lo, hi in ((18, 20), (24, 28), (92, 100)):
            buf[lo:hi] = bytes(hi - lo)
    for p in range(len(x) // page_size):
        if x[p * page_size:(p + 1) * page_size] != y[p * page_size:(p + 1) * page_size]:
            return f"page {p + 1} differs"
    return ""


def export(conn, name, folder):
    return one(conn, "SELECT wecare_backup_export(?, ?)", name, str(folder))


@pytest.fixture
def incremental(conn):
    config(conn, "incremental", "1")
    config(conn, "keep_last", "100")
    return conn


@pytest.mark.parametrize("page_size,wal", [(4096, True), (4096, False), (512, True), (65536, False)])
def test_every_backup_of_a_chain_gives_back_its_database(tmp_path, page_size, wal):
    db = tmp_path / "app.db"
    c = sqlite3.connect(str(db), isolation_level=None)
    c.execute(f"PRAGMA page_size={page_size}")
    c.close()
    make_sample(db, patients=500, wal=wal)
    conn = connect(db)
    config(conn, "incremental", "1")
    config(conn, "keep_last", "100")
    config(conn, "full_every", "10")
    rng = random.Random(page_size)
    expected = {}
    pages = {}
    for step in range(12):
        name = create(conn)
        expected[name] = live_fingerprint(conn)
        # The database's own pages: checkpointed into its file (nothing else writes), then copied.
        assert conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
        pages[name] = tmp_path / f"copy{step}.db"
        pages[name].write_bytes(db.read_bytes())
        change(conn, rng, step)
    rows = {r["name"]: r for r in listing(conn)}
    types = [rows[n]["type"] for n in expected]
    # full_every=10: a full backup, nine increments, then a new chain.
    assert types == ["full"] + ["incremental"] * 9 + ["full", "incremental"]
    names = list(expected)
    for i, name in enumerate(names):
        if rows[name]["type"] == "incremental":
            assert rows[name]["base"] == names[i - 1]
            assert rows[name]["size_bytes"] < rows[name]["restore_bytes"]
        assert verify(conn, name)["ok"], name
        out = tmp_path / f"out{i}"
        out.mkdir()
        path = export(conn, name, out)
        assert path.endswith(".db")
        assert fingerprint(path) == expected[name], name
        assert same_pages(path, pages[name], page_size) == "", name
    conn.close()


def test_restore_and_recover_from_an_increment(db_path, incremental, tmp_path):
    conn = incremental
    first = create(conn)
    conn.execute("INSERT INTO patients(name, notes) VALUES ('after first', 'x')")
    second = create(conn)
    wanted = live_fingerprint(conn)
    conn.execute("DELETE FROM patients")
    assert second.endswith(".incr")
    result = json.loads(one(conn, "SELECT wecare_backup_restore(?, ?)", second, PHRASE))
    assert result["restored"] == second and result["safety_backup"].endswith(".db")
    assert live_fingerprint(conn) == wanted
    conn.close()

    # The database file is damaged: recover it from the increment, from any connection.
    with open(db_path, "r+b") as f:
        f.write(b"garbage" * 20)
    mem = connect(":memory:")
    out = json.loads(one(mem, "SELECT wecare_backup_recover(?, ?, ?)", str(db_path), second, PHRASE))
    assert out["recovered"] == second
    assert fingerprint(db_path) == wanted
    mem.close()
    assert first.endswith(".db")


def test_an_increment_holds_only_what_changed(incremental):
    conn = incremental
    conn.executemany("INSERT INTO patients(name, notes) VALUES (?, ?)", [("bulk", "b" * 500)] * 5000)
    full = create(conn)
    conn.execute("UPDATE patients SET notes = 'changed' WHERE id = 3")
    inc = create(conn)
    rows = {r["name"]: r for r in listing(conn)}
    assert rows[full]["type"] == "full" and rows[inc]["type"] == "incremental"
    # One changed row: one or two pages, the header and the map, out of hundreds.
    assert rows[inc]["size_bytes"] <= 4096 + 4 * 4096 + 4 * 16
    assert rows[inc]["restore_bytes"] == rows[full]["restore_bytes"]
    # Nothing changed at all: an increment of no pages.
    same = create(conn)
    assert listing(conn)[0]["size_bytes"] == 4096
    assert verify(conn, same)["ok"]


def test_a_safety_backup_is_always_full_and_never_a_parent(incremental):
    conn = incremental
    a = create(conn)
    conn.execute("INSERT INTO patients(name) VALUES ('x')")
    b = create(conn)
    result = json.loads(one(conn, "SELECT wecare_backup_restore(?, ?)", a, PHRASE))
    safety = result["safety_backup"]
    assert safety.endswith(".db")
    c = create(conn)
    rows = {r["name"]: r for r in listing(conn)}
    assert rows[c]["type"] == "incremental" and rows[c]["base"] == b


def test_a_changed_page_size_starts_a_new_chain(tmp_path):
    db = make_sample(tmp_path / "app.db", wal=False)
    conn = connect(db)
    config(conn, "incremental", "1")
    create(conn)
    conn.execute("PRAGMA page_size=8192")
    conn.execute("VACUUM")
    name = create(conn)
    row = listing(conn)[0]
    assert row["name"] == name and row["type"] == "full"
    assert verify(conn, name)["ok"]
    conn.close()


def test_retention_keeps_every_backup_a_kept_increment_builds_on(incremental):
    conn = incremental
    config(conn, "keep_last", "2")
    made = []
    for i in range(5):
        conn.execute("INSERT INTO patients(name) VALUES (?)", (f"r{i}",))
        made.append(create(conn))
    rows = {r["name"]: r for r in listing(conn)}
    # The two newest are kept by keep_last, and the chain under them as their base, naming the newest.
    assert set(rows) == set(made)
    assert rows[made[4]]["retain_reason"] == "last" and rows[made[3]]["retain_reason"] == "last"
    for name in made[:3]:
        assert rows[name]["retain_reason"] == f"base of {made[4]}"  # the newest that needs it
    # A new chain: the old one can go once nothing kept builds on it.
    config(conn, "full_every", "1")
    newest = create(conn)
    config(conn, "full_every", "7")
    conn.execute("INSERT INTO patients(name) VALUES ('z')")
    create(conn)
    one(conn, "SELECT wecare_backup_cleanup()")
    left = [r["name"] for r in listing(conn)]
    assert newest in left and not set(made) & set(left)


def test_a_damaged_increment_is_never_restored_nor_built_on(incremental, backup_dir):
    conn = incremental
    first = create(conn)
    conn.execute("UPDATE patients SET notes = 'one' WHERE id < 50")
    middle = create(conn)
    conn.execute("UPDATE patients SET notes = 'two' WHERE id > 150")
    last = create(conn)
    before = live_fingerprint(conn)
    # Flip a byte inside the middle increment's first page.
    with open(backup_dir / middle, "r+b") as f:
        f.seek(4096 + 200)
        byte = f.read(1)
        f.seek(4096 + 200)
        f.write(bytes([byte[0] ^ 0xFF]))
    for name in (middle, last):
        result = verify(conn, name)
        assert not result["ok"], name
    assert "checksum mismatch" in " ".join(verify(conn, middle)["errors"])
    assert any(middle in e for e in verify(conn, last)["errors"])
    for name in (middle, last):
        error = sql_error(conn, "SELECT wecare_backup_restore(?, ?)", name, PHRASE)
        assert "failed verification" in error and "unchanged" in error
    assert live_fingerprint(conn) == before
    # Backups that failed verification are never built on: the next one builds on the sound full backup.
    name = create(conn)
    row = listing(conn)[0]
    assert row["name"] == name and row["base"] == first
    assert verify(conn, name)["ok"]
    out = backup_dir.parent / "out"
    out.mkdir()
    assert fingerprint(export(conn, name, out)) == before


def test_damage_found_only_on_reading_makes_the_next_backup_full(incremental, backup_dir):
    """A chain whose records all say ok, but whose full backup was damaged since (never re-verified): the new
    increment's own verification reads the chain, finds it, and a full backup is taken instead."""
    conn = incremental
    full = create(conn)
    conn.execute("UPDATE patients SET notes = 'one' WHERE id = 1")
    create(conn)
    size = os.path.getsize(backup_dir / full)
    with open(backup_dir / full, "r+b") as f:
        f.seek(size - 3000)  # a page no increment replaced
        f.write(b"\xff" * 64)
    conn.execute("UPDATE patients SET notes = 'two' WHERE id = 2")
    name = create(conn)
    row = listing(conn)[0]
    assert row["name"] == name and row["type"] == "full" and row["verify_ok"] == 1


def test_a_missing_parent_breaks_the_chain(incremental, backup_dir):
    conn = incremental
    full = create(conn)
    conn.execute("INSERT INTO patients(name) VALUES ('x')")
    inc = create(conn)
    os.remove(backup_dir / full)
    result = verify(conn, inc)
    assert not result["ok"]
    assert any("broken at '" + full + "': it is missing" in e for e in result["errors"])
    error = sql_error(conn, "SELECT wecare_backup_restore(?, ?)", inc, PHRASE)
    assert "failed verification" in error
    error = sql_error(conn, "SELECT wecare_backup_export(?, ?)", inc, str(backup_dir.parent))
    assert "cannot be read" in error and "it is missing" in error
    assert listing(conn)[0]["name"] == inc
    name = create(conn)
    assert listing(conn)[0]["name"] == name and listing(conn)[0]["type"] == "full"


def test_swapped_increments_are_found(incremental, backup_dir):
    conn = incremental
    create(conn)
    conn.execute("INSERT INTO patients(name) VALUES ('a')")
    one_ = create(conn)
    conn.execute("INSERT INTO patients(name) VALUES ('b')")
    two = create(conn)
    a, b = backup_dir / one_, backup_dir / two
    tmp = backup_dir / "swap"
    os.rename(a, tmp)
    os.rename(b, a)
    os.rename(tmp, b)
    for name in (one_, two):
        result = verify(conn, name)
        assert not result["ok"]
        assert any("another increment renamed" in e for e in result["errors"]), result


def test_an_increment_is_not_a_file_to_download_or_verify_by_path(incremental, backup_dir):
    conn = incremental
    create(conn)
    conn.execute("INSERT INTO patients(name) VALUES ('x')")
    inc = create(conn)
    error = sql_error(conn, "SELECT wecare_backup_path(?)", inc)
    assert "incremental backup" in error and "wecare_backup_export" in error
    result = verify(conn, backup_dir / inc)
    assert not result["ok"]
    assert "export it" in result["errors"][0]


def test_increments_under_a_concurrent_writer_are_consistent(db_path, incremental, tmp_path):
    """Each increment is one consistent snapshot: the row count it restores to is one the writer committed."""
    import threading
    conn = incremental
    stop = threading.Event()
    committed = set()

    def writer():
        w = sqlite3.connect(str(db_path), isolation_level=None, timeout=30)
        n = 0
        while not stop.is_set():
            w.execute("BEGIN IMMEDIATE")
            w.execute("INSERT INTO patients(name, notes) VALUES (?, ?)", (f"w{n}", "w" * 300))
            w.execute("UPDATE patients SET notes = ? WHERE id = 1", (str(n),))
            count = w.execute("SELECT count(*) FROM patients").fetchone()[0]
            w.execute("COMMIT")
            committed.add(count)
            n += 1
        w.close()

    committed.add(one(conn, "SELECT count(*) FROM patients"))
    t = threading.Thread(target=writer)
    t.start()
    made = []
    try:
        for _ in range(6):
            made.append(create(conn))
    finally:
        stop.set()
        t.join()
    assert sum(1 for r in listing(conn) if r["type"] == "incremental") >= 5
    for i, name in enumerate(made):
        out = tmp_path / f"x{i}"
        out.mkdir()
        path = export(conn, name, out)
        count = sqlite3.connect(path).execute("SELECT count(*) FROM patients").fetchone()[0]
        assert count in committed
        assert verify(conn, name)["ok"]


def test_full_every_one_means_every_backup_is_full(incremental):
    conn = incremental
    config(conn, "full_every", "1")
    for _ in range(3):
        conn.execute("INSERT INTO patients(name) VALUES ('x')")
        create(conn)
    assert {r["type"] for r in listing(conn)} == {"full"}
