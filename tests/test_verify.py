"""wecare_backup_verify(name_or_path): damage is a result with ok false, never an SQL error."""
import datetime
import os
import re

import pytest

from conftest import (backup_file_name, config, create, listing, one, place_backup, sql_error, verify)

PAGE = 4096


def flip_middle(path):
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.seek(size // 2)
        data = f.read(16)
        f.seek(size // 2)
        f.write(bytes(b ^ 0xFF for b in data))


def truncate_half(path):
    os.truncate(path, os.path.getsize(path) // 2)


def zero_page(path, page=2):
    with open(path, "r+b") as f:
        f.seek((page - 1) * PAGE)
        f.write(b"\0" * PAGE)


def test_verify_reports_a_good_backup(conn):
    name = create(conn)
    result = verify(conn, name)
    assert result["ok"] is True
    assert result["name"] == name
    assert result["checksum"] == "match"
    assert result["integrity"] == "ok"
    assert result["tables"] == 2
    assert result["errors"] == []
    assert result["rows"] == {"patients": 200, "users": 2}


@pytest.mark.parametrize("damage", [flip_middle, truncate_half, zero_page], ids=["flipped", "truncated", "zeroed"])
def test_verify_finds_a_damaged_backup(conn, backup_dir, damage):
    name = create(conn)
    damage(backup_dir / name)
    result = verify(conn, name)
    assert result["ok"] is False
    assert result["checksum"] == "mismatch"
    assert result["errors"], result


@pytest.mark.parametrize("damage", [truncate_half, zero_page], ids=["truncated", "zeroed"])
def test_verify_finds_structural_damage_with_integrity_check(conn, backup_dir, damage):
    name = create(conn)
    damage(backup_dir / name)
    result = verify(conn, name)
    assert result["integrity"] != "ok"


def test_verify_finds_a_changed_recorded_checksum(conn, backup_dir):
    name = create(conn)
    meta = backup_dir / (name + ".meta")
    text = meta.read_text()
    recorded = re.search(r"checksum=xxh3t:([0-9a-f]{32})", text).group(1)
    other = ("0" if recorded[0] != "0" else "1") + recorded[1:]
    meta.write_text(text.replace(recorded, other))
    result = verify(conn, name)
    assert result["ok"] is False
    assert result["checksum"] == "mismatch"
    assert result["integrity"] == "ok"


def test_verify_reports_a_file_that_is_not_a_database(conn, backup_dir):
    create(conn)
    name = backup_file_name(datetime.datetime(2024, 1, 1))
    (backup_dir / name).write_bytes(b"this is not a database" * 100)
    result = verify(conn, name)
    assert result["ok"] is False
    assert result["checksum"] == "no record"
    assert result["integrity"] != "ok"


def test_verify_checks_a_hand_placed_backup_without_a_checksum(conn, backup_dir, other_db):
    name = backup_file_name(datetime.datetime(2024, 1, 2, 3, 4, 5))
    place_backup(backup_dir, name, other_db)
    result = verify(conn, name)
    assert result["ok"] is True
    assert result["checksum"] == "no record"
    assert result["integrity"] == "ok"
    assert result["rows"] == {"patients": 5, "users": 2}
    row = listing(conn)[0]
    assert row["verify_ok"] == 1 and row["verified_at"] is not None


def test_verify_finds_a_damaged_hand_placed_backup_by_integrity(conn, backup_dir, other_db):
    name = backup_file_name(datetime.datetime(2024, 1, 2, 3, 4, 5))
    path = place_backup(backup_dir, name, other_db)
    zero_page(path, 2)
    result = verify(conn, name)
    assert result["ok"] is False
    assert result["checksum"] == "no record"
    assert result["integrity"] != "ok"


def test_verify_requires_the_critical_tables_to_be_present(conn):
    name = create(conn)
    config(conn, "critical_tables", "patients, appointments")
    result = verify(conn, name)
    assert result["ok"] is False
    assert result["checksum"] == "match"
    assert any("appointments" in e and "missing" in e for e in result["errors"]), result


def test_verify_requires_the_critical_tables_to_be_non_empty(conn):
    conn.execute("CREATE TABLE appointments(id INTEGER PRIMARY KEY)")
    config(conn, "verify_on_create", 0)
    name = create(conn)
    config(conn, "critical_tables", "patients,appointments")
    result = verify(conn, name)
    assert result["ok"] is False
    assert any("appointments" in e and "empty" in e for e in result["errors"]), result


def test_verify_passes_when_the_critical_tables_have_rows(conn):
    config(conn, "critical_tables", "patients,users")
    name = create(conn)
    assert verify(conn, name)["ok"] is True


def test_verify_records_its_result_for_the_list(conn, backup_dir):
    config(conn, "verify_on_create", 0)
    good, bad = create(conn), create(conn)
    flip_middle(backup_dir / bad)
    verify(conn, good)
    verify(conn, bad)
    rows = {r["name"]: r for r in listing(conn)}
    assert rows[good]["verify_ok"] == 1
    assert rows[bad]["verify_ok"] == 0
    assert rows[good]["verified_at"] and rows[bad]["verified_at"]


def test_verify_accepts_the_path_of_an_exported_copy(conn, tmp_path):
    name = create(conn)
    (tmp_path / "offsite").mkdir()
    copy = one(conn, "SELECT wecare_backup_export(?, ?)", name, str(tmp_path / "offsite"))
    result = verify(conn, copy)
    assert result["ok"] is True
    assert result["checksum"] == "match"
    flip_middle(copy)
    assert verify(conn, copy)["checksum"] == "mismatch"


def test_verify_of_a_path_writes_nothing_beside_it(conn, tmp_path):
    name = create(conn)
    outside = tmp_path / "offsite"
    outside.mkdir()
    copy = one(conn, "SELECT wecare_backup_export(?, ?)", name, str(outside))
    before = sorted(os.listdir(outside))
    verify(conn, copy)
    assert sorted(os.listdir(outside)) == before


def test_verify_of_an_unknown_backup_is_an_error_pointing_to_the_list(conn):
    create(conn)
    msg = sql_error(conn, "SELECT wecare_backup_verify('wecare_backup_2001-01-01_00-00-00.db')")
    assert msg.startswith("wecare_backup_verify: ")
    assert "wecare_backup_list" in msg


def test_verify_compares_the_row_counts_recorded_at_creation(conn, backup_dir):
    # A record as 1.0.0 wrote it: the row counts in the record itself.
    name = create(conn)
    meta = backup_dir / (name + ".meta")
    lines = [l for l in meta.read_text().splitlines() if not l.startswith("manifest=")]
    meta.write_text("\n".join(lines + ["table=patients 199", "table=users 2"]) + "\n")
    (backup_dir / (name + ".manifest")).unlink()
    result = verify(conn, name)
    assert result["ok"] is False
    assert result["checksum"] == "match"
    assert any("patients" in e and "199" in e for e in result["errors"]), result


def test_the_row_counts_live_in_the_manifest_and_a_changed_manifest_fails_verify(conn, backup_dir):
    name = create(conn)
    assert "table=" not in (backup_dir / (name + ".meta")).read_text()
    assert verify(conn, name)["rows"] == {"patients": 200, "users": 2}
    manifest = backup_dir / (name + ".manifest")
    data = bytearray(manifest.read_bytes())
    data[60] ^= 1
    manifest.write_bytes(bytes(data))
    result = verify(conn, name)
    assert result["ok"] is False and any("manifest" in e and "damaged" in e for e in result["errors"]), result


def test_a_damaged_record_still_lists_and_fails_verification(conn, backup_dir):
    name = create(conn)
    (backup_dir / (name + ".meta")).write_bytes(b"\x00garbage\xff")
    [row] = listing(conn)
    assert row["name"] == name and row["checksum"] is None
    result = verify(conn, name)
    assert result["ok"] is False
    assert any("metadata" in e for e in result["errors"]), result


def test_verify_counts_tables_with_any_name(conn):
    conn.execute('CREATE TABLE "odd ""na\\me""\n" (x)')
    conn.execute('INSERT INTO "odd ""na\\me""\n" VALUES (1)')
    name = create(conn)
    result = verify(conn, name)
    assert result["ok"] is True
    assert result["rows"]['odd "na\\me"\n'] == 1
