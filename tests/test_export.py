"""wecare_backup_export(name, destination): the off-site copy, byte for byte, checked."""
import os

from conftest import create, one, sql_error, verify


def export(conn, name, destination):
    return one(conn, "SELECT wecare_backup_export(?, ?)", name, str(destination))


def test_export_into_a_directory_keeps_the_backup_name(conn, backup_dir, tmp_path):
    name = create(conn)
    share = tmp_path / "share"
    share.mkdir()
    path = export(conn, name, share)
    assert path == str(share / name)
    assert (share / name).read_bytes() == (backup_dir / name).read_bytes()


def test_export_to_a_file_path(conn, backup_dir, tmp_path):
    name = create(conn)
    target = tmp_path / "offsite-copy.db"
    assert export(conn, name, target) == str(target)
    assert target.read_bytes() == (backup_dir / name).read_bytes()


def test_export_leaves_no_temporary_file_behind(conn, tmp_path):
    name = create(conn)
    share = tmp_path / "share"
    share.mkdir()
    export(conn, name, share)
    assert os.listdir(share) == [name]


def test_exported_copy_verifies_against_the_recorded_checksum(conn, tmp_path):
    name = create(conn)
    path = export(conn, name, tmp_path)
    result = verify(conn, path)
    assert result["ok"] is True and result["checksum"] == "match"


def test_export_refuses_to_overwrite_an_existing_file(conn, tmp_path):
    name = create(conn)
    target = tmp_path / "precious.db"
    target.write_bytes(b"keep me")
    msg = sql_error(conn, "SELECT wecare_backup_export(?, ?)", name, str(target))
    assert msg.startswith("wecare_backup_export: ")
    assert "already exists" in msg
    assert target.read_bytes() == b"keep me"
    share = tmp_path / "share"
    share.mkdir()
    export(conn, name, share)
    msg = sql_error(conn, "SELECT wecare_backup_export(?, ?)", name, str(share))
    assert msg.startswith("wecare_backup_export: ")


def test_export_refuses_to_write_through_a_symbolic_link(conn, tmp_path):
    name = create(conn)
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched")
    link = tmp_path / "link.db"
    os.symlink(victim, link)
    msg = sql_error(conn, "SELECT wecare_backup_export(?, ?)", name, str(link))
    assert msg.startswith("wecare_backup_export: ")
    assert victim.read_text() == "untouched"


def test_export_refuses_a_damaged_backup(conn, backup_dir, tmp_path):
    name = create(conn)
    with open(backup_dir / name, "r+b") as f:
        f.seek(5000)
        f.write(b"\xff" * 8)
    share = tmp_path / "share"
    share.mkdir()
    msg = sql_error(conn, "SELECT wecare_backup_export(?, ?)", name, str(share))
    assert msg.startswith("wecare_backup_export: ")
    assert "checksum" in msg
    assert os.listdir(share) == []


def test_export_into_a_missing_folder_is_an_error(conn, tmp_path):
    name = create(conn)
    msg = sql_error(conn, "SELECT wecare_backup_export(?, ?)", name, str(tmp_path / "no" / "such" / "x.db"))
    assert msg.startswith("wecare_backup_export: ")
    assert not (tmp_path / "no").exists()


def test_export_of_an_unknown_backup_is_an_error(conn, tmp_path):
    create(conn)
    msg = sql_error(conn, "SELECT wecare_backup_export(?, ?)", "wecare_backup_2001-01-01_00-00-00.db",
                    str(tmp_path))
    assert msg.startswith("wecare_backup_export: ")
    assert "wecare_backup_list" in msg
