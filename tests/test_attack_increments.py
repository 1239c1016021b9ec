"""Attacks on incremental backups: hostile `.incr` files planted in the backup directory with records that
match them (an attacker who can write files can compute every unkeyed hash the formats use; see
tests/attack_tools.py). A header whose names point outside the directory, a page map that claims pages the
file does not hold, a huge page count with no pages, an increment taken from another database's directory,
records whose parents form a loop.

Each must be refused with a clear error by verify, restore, export and recover (never a crash, never a
restore of anything), ignored as a parent by the next create (which makes a sound backup), survive list and
cleanup, and leave every file outside the backup directory untouched."""
import json
import os
import pathlib
import shutil
import sqlite3
import time

import pytest

import attack_tools as at
from conftest import PHRASE, config, connect, create, listing, make_sample, one, verify

PAGE = 4096


def fingerprint(path_or_conn):
    c = path_or_conn if isinstance(path_or_conn, sqlite3.Connection) else \
        sqlite3.connect(f"file:{path_or_conn}?mode=ro", uri=True)
    try:
        rows = c.execute("SELECT id, name, notes FROM patients ORDER BY id").fetchall()
        return len(rows), hash(tuple(rows))
    finally:
        if c is not path_or_conn:
            c.close()


@pytest.fixture
def chain(tmp_path):
    """A full backup and an increment of the database, then more changes; an unrelated database's backup
    (with its record) outside; and what every hostile file is named like."""
    db = make_sample(tmp_path / "wecare.db", patients=300)
    conn = connect(db)
    config(conn, "incremental", "1")
    config(conn, "keep_last", "100")
    full = create(conn)
    conn.execute("UPDATE patients SET notes = 'changed' WHERE id % 7 = 0")
    inc = create(conn)
    assert inc.endswith(".incr")
    conn.execute("INSERT INTO patients(name, notes) VALUES ('after the chain', 'x')")
    backups = tmp_path / "backups"
    outside = tmp_path / "outside"
    outside.mkdir()
    other = make_sample(outside / "other.db", patients=9, wal=False)
    oc = connect(other)
    outside_backup = create(oc)
    oc.close()
    # A second of names of our own, after the real ones: the planted files are the newest.
    stamp = inc[len("wecare_backup_"):len("wecare_backup_") + 19]
    yield {"conn": conn, "db": db, "backups": backups, "full": full, "inc": inc, "outside": outside,
           "outside_backup": outside_backup, "planted": f"wecare_backup_{stamp}_40.incr",
           "planted2": f"wecare_backup_{stamp}_41.incr", "tmp": tmp_path,
           "inc_header": at.parse_increment_header((backups / inc).read_bytes())}
    conn.close()


def plant(chain, name, data, **record):
    (chain["backups"] / name).write_bytes(data)
    h = at.parse_increment_header(data) if data[:8] == b"WCINCR01" else {}
    fields = {"kind": "manual", "created_ns": time.time_ns(), "page_count": h.get("page_count", 1),
              "page_size": PAGE, "journal_mode": "wal", "type": "incremental",
              "base": h.get("base", chain["inc"]), "db_checksum": "%016x" % h.get("after", 0)}
    fields.update(record)
    at.write_record(chain["backups"], name, data, **fields)


def assert_refused_everywhere(chain, name, words=(), export=True):
    """verify, restore, export and recover refuse `name`; list and cleanup work; the next create makes a
    sound backup that does not build on it; nothing outside the backup directory changes. (`export` False:
    a full backup is exported as the bytes it is, checked against its record only, so a forged record lets
    its file through; the copy is the attacker's own bytes, never another file.)"""
    conn, backups = chain["conn"], chain["backups"]
    outside_before = at.tree(chain["outside"])
    live = fingerprint(conn)

    listing(conn)  # never a crash
    report = verify(conn, name)
    assert report["ok"] is False and report["errors"], report
    text = " ".join(report["errors"])
    for w in words:
        assert w in text, (w, report["errors"])

    with pytest.raises(sqlite3.OperationalError) as info:
        conn.execute("SELECT wecare_backup_restore(?, ?)", (name, PHRASE)).fetchall()
    assert str(info.value).startswith("wecare_backup_restore: "), str(info.value)
    assert "internal error" not in str(info.value)
    assert fingerprint(conn) == live

    out = chain["tmp"] / "export"
    out.mkdir(exist_ok=True)
    if export:
        with pytest.raises(sqlite3.OperationalError) as info:
            conn.execute("SELECT wecare_backup_export(?, ?)", (name, str(out))).fetchall()
        assert str(info.value).startswith("wecare_backup_export: "), str(info.value)
        assert os.listdir(out) == []

    target = chain["tmp"] / "recovered" / "wecare.db"
    target.parent.mkdir(exist_ok=True)
    mem = connect(":memory:")
    config(mem, "dir", str(backups))
    config(mem, "prefix", "wecare")
    with pytest.raises(sqlite3.OperationalError) as info:
        mem.execute("SELECT wecare_backup_recover(?, ?, ?)", (str(target), name, PHRASE)).fetchall()
    assert str(info.value).startswith("wecare_backup_recover: "), str(info.value)
    assert not target.exists()
    mem.close()

    made = create(conn)
    row = {r["name"]: r for r in listing(conn)}[made]
    assert row["base"] != name
    assert verify(conn, made)["ok"]
    exported = pathlib.Path(one(conn, "SELECT wecare_backup_export(?, ?)", made, str(out)))
    assert fingerprint(exported) == fingerprint(conn)
    one(conn, "SELECT wecare_backup_cleanup()")
    assert at.tree(chain["outside"]) == outside_before


# ------------------------------------------------------------------ headers

def test_a_header_whose_page_map_lies_beyond_the_file(chain):
    h = chain["inc_header"]
    page = at.file_pages(chain["backups"] / chain["full"], PAGE)[1]
    data = at.increment(chain["planted"], chain["inc"], PAGE, h["page_count"], {2: page}, h["after"],
                        map_offset=1 << 40)
    plant(chain, chain["planted"], data)
    assert_refused_everywhere(chain, chain["planted"], ["page map is not where it belongs"])


def test_a_header_that_claims_more_pages_than_the_file_holds(chain):
    h = chain["inc_header"]
    page = at.file_pages(chain["backups"] / chain["full"], PAGE)[1]
    data = at.increment(chain["planted"], chain["inc"], PAGE, h["page_count"], {2: page, 3: page, 4: page},
                        h["after"])
    data = data[:at.INCR_HEADER + PAGE]  # two of its three pages and its map are gone
    plant(chain, chain["planted"], data)
    assert_refused_everywhere(chain, chain["planted"], ["size is not what its header says"])


@pytest.mark.parametrize("where", ["relative", "absolute"])
def test_names_in_the_header_and_record_that_point_outside(chain, where):
    """The increment names, as its parent, a real backup (with its record) in a folder outside."""
    target = chain["outside"] / "backups" / chain["outside_backup"]
    base = os.path.relpath(target, chain["backups"]) if where == "relative" else str(target)
    h = chain["inc_header"]
    pages = at.file_pages(target, PAGE)
    data = at.increment(chain["planted"], base, PAGE, len(pages), {2: pages[1]}, at.db_checksum(pages),
                        parent_hashes=[at.page_hash(i + 1, p) for i, p in enumerate(pages)])
    plant(chain, chain["planted"], data, base=base)
    assert h["base"] == chain["full"]
    assert_refused_everywhere(chain, chain["planted"], ["not a backup name of this database"])


def test_a_header_that_names_another_file_than_itself(chain):
    """A copy of the real increment under another name: the header still names the original."""
    data = (chain["backups"] / chain["inc"]).read_bytes()
    plant(chain, chain["planted"], data)
    assert_refused_everywhere(chain, chain["planted"], ["another increment renamed"])


# ------------------------------------------------------------------ page maps

def test_a_map_that_claims_a_page_beyond_the_database(chain):
    h = chain["inc_header"]
    page = at.file_pages(chain["backups"] / chain["full"], PAGE)[1]
    data = at.increment(chain["planted"], chain["inc"], PAGE, h["page_count"], {h["page_count"] + 5: page},
                        h["after"])
    plant(chain, chain["planted"], data)
    assert_refused_everywhere(chain, chain["planted"], ["page map out of order"])


def test_a_map_whose_pages_do_not_match_their_hashes(chain):
    """A consistent header and map, but the page bytes are another page's: found when the page is read."""
    h = chain["inc_header"]
    pages = at.file_pages(chain["backups"] / chain["full"], PAGE)
    data = bytearray(at.increment(chain["planted"], chain["inc"], PAGE, h["page_count"], {2: pages[1]},
                                  h["after"], after=h["after"]))
    data[at.INCR_HEADER:at.INCR_HEADER + PAGE] = pages[2]
    plant(chain, chain["planted"], bytes(data))
    assert_refused_everywhere(chain, chain["planted"])


@pytest.mark.parametrize("page_count", [0xFFFFFFFF, 0x7FFFFFFF, 1 << 24])
def test_a_huge_page_count_with_no_pages(chain, page_count):
    """The database 'grows' to 4 billion pages and the increment carries none of them."""
    h = chain["inc_header"]
    data = at.increment(chain["planted"], chain["inc"], PAGE, page_count, {}, h["after"], after=h["after"])
    plant(chain, chain["planted"], data)
    assert_refused_everywhere(chain, chain["planted"], ["lacks pages its parent does not have"])


def test_a_full_backup_whose_record_claims_a_huge_page_count(chain):
    """A hand-placed full backup (a copy of the real one) with a record claiming 2^40 pages."""
    name = chain["planted"].replace(".incr", ".db")
    data = (chain["backups"] / chain["full"]).read_bytes()
    (chain["backups"] / name).write_bytes(data)
    at.write_record(chain["backups"], name, data, kind="manual", created_ns=time.time_ns(),
                    page_count=1 << 40, page_size=PAGE, journal_mode="wal", type="full")
    conn = chain["conn"]
    listing(conn)
    report = verify(conn, name)
    # Its bytes are the real backup's: what matters is that it neither crashes nor reads 4 PB.
    assert isinstance(report["ok"], bool)
    one(conn, "SELECT wecare_backup_cleanup()")


# ------------------------------------------------------------------ from elsewhere

def test_an_increment_from_another_databases_directory(chain, tmp_path):
    """Another database with the same file name (so the same prefix) in another folder makes its own chain;
    its increment is copied here and re-labelled, header and record, to build on our full backup."""
    other_dir = tmp_path / "elsewhere"
    other_dir.mkdir()
    other = make_sample(other_dir / "wecare.db", patients=300)
    oc = connect(other)
    oc.execute("UPDATE patients SET name = 'another clinic' WHERE id = 2")
    config(oc, "incremental", "1")
    create(oc)
    oc.execute("UPDATE patients SET notes = 'theirs' WHERE id % 5 = 0")
    theirs = create(oc)
    oc.close()
    src = (other_dir / "backups" / theirs).read_bytes()
    h = at.parse_increment_header(src)
    body = src[at.INCR_HEADER:]
    head = at.increment_header(chain["planted"], chain["full"], h["page_size"], h["page_count"], h["entries"],
                               h["before"], h["after"], h["created_ns"], map_checksum=h["map_checksum"])
    plant(chain, chain["planted"], head + body)
    assert_refused_everywhere(chain, chain["planted"], ["does not start where"])


def test_an_increment_from_another_directory_copied_as_it_is(chain, tmp_path):
    """The same, copied unchanged with its record: the backup it builds on is not here."""
    other_dir = tmp_path / "elsewhere"
    other_dir.mkdir()
    other = make_sample(other_dir / "wecare.db", patients=50)
    oc = connect(other)
    config(oc, "incremental", "1")
    time.sleep(1.1)  # another second: its full backup's name is not ours
    create(oc)
    oc.execute("DELETE FROM patients WHERE id > 20")
    theirs = create(oc)
    oc.close()
    for suffix in ("", ".meta", ".manifest"):
        shutil.copyfile(other_dir / "backups" / (theirs + suffix), chain["backups"] / (theirs + suffix))
    assert_refused_everywhere(chain, theirs, ["it is missing"])


# ------------------------------------------------------------------ loops

def test_records_whose_parents_form_a_loop(chain):
    h = chain["inc_header"]
    page = at.file_pages(chain["backups"] / chain["full"], PAGE)[1]
    a, b = chain["planted"], chain["planted2"]
    da = at.increment(a, b, PAGE, h["page_count"], {2: page}, h["after"])
    db = at.increment(b, a, PAGE, h["page_count"], {2: page}, h["after"])
    plant(chain, a, da, base=b)
    plant(chain, b, db, base=a)
    started = time.monotonic()
    assert_refused_everywhere(chain, a, ["loop"])
    assert time.monotonic() - started < 30
    assert "loop" in " ".join(verify(chain["conn"], b)["errors"])


def test_an_increment_that_is_its_own_parent(chain):
    h = chain["inc_header"]
    page = at.file_pages(chain["backups"] / chain["full"], PAGE)[1]
    a = chain["planted"]
    plant(chain, a, at.increment(a, a, PAGE, h["page_count"], {2: page}, h["after"]), base=a)
    assert_refused_everywhere(chain, a, ["loop"])


def test_a_loop_does_not_make_retention_delete_or_spin(chain):
    h = chain["inc_header"]
    page = at.file_pages(chain["backups"] / chain["full"], PAGE)[1]
    a, b = chain["planted"], chain["planted2"]
    plant(chain, a, at.increment(a, b, PAGE, h["page_count"], {2: page}, h["after"]), base=b)
    plant(chain, b, at.increment(b, a, PAGE, h["page_count"], {2: page}, h["after"]), base=a)
    conn = chain["conn"]
    config(conn, "keep_last", "1")
    one(conn, "SELECT wecare_backup_cleanup()")
    rows = {r["name"]: r for r in listing(conn)}
    # Locally, a recorded increment counts for the keep rules even when its chain cannot be restored
    # (ext/policy/retention.hpp: only the off-site rules mark a broken chain): the loop's newest takes
    # keep_last. What must hold: the walk ends, and the newest sound backup and the chain under it stay.
    assert {rows[a]["retain_reason"], rows[b]["retain_reason"]} <= {"last", f"base of {b}", f"base of {a}"}
    assert rows[chain["inc"]]["retain_reason"] == "last_good"
    assert rows[chain["full"]]["retain_reason"] == f"base of {chain['inc']}"


def test_an_increment_named_like_a_full_backup(chain):
    """The bytes of an increment under a `.db` name, with a record that says full."""
    name = chain["planted"].replace(".incr", ".db")
    data = (chain["backups"] / chain["inc"]).read_bytes()
    (chain["backups"] / name).write_bytes(data)
    at.write_record(chain["backups"], name, data, kind="manual", created_ns=time.time_ns(), page_count=16,
                    page_size=PAGE, journal_mode="wal", type="full")
    assert_refused_everywhere(chain, name, ["incremental backup"], export=False)
