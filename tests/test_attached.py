"""Only `main` is backed up: stats says so (schema "main") and names every
attached database that is not (attached_not_backed_up); temp is never listed.
"""
import sqlite3

from conftest import create, make_sample, stats, table_rows


def test_stats_says_only_main_is_backed_up_and_names_the_attached_databases(conn, tmp_path):
    s = stats(conn)
    assert s["schema"] == "main"
    assert s["attached_not_backed_up"] == []
    assert s["attached_note"] is None
    archive = make_sample(tmp_path / "archive.db", patients=3)
    conn.execute("ATTACH DATABASE ? AS archive", (str(archive),))
    conn.execute("ATTACH DATABASE ':memory:' AS scratch")
    conn.execute("CREATE TEMP TABLE t(x)")  # temp is the connection's own, never named
    s = stats(conn)
    assert s["schema"] == "main"
    assert s["attached_not_backed_up"] == ["archive", "scratch"]
    conn.execute("DETACH DATABASE scratch")
    assert stats(conn)["attached_not_backed_up"] == ["archive"]


def test_a_backup_holds_main_only_not_an_attached_database(conn, tmp_path, backup_dir):
    archive = tmp_path / "archive.db"
    a = sqlite3.connect(str(archive))
    a.execute("CREATE TABLE archived(x)")
    a.execute("INSERT INTO archived VALUES (1)")
    a.commit()
    a.close()
    conn.execute("ATTACH DATABASE ? AS archive", (str(archive),))
    name = create(conn)
    tables = {row[0] for row in table_rows(backup_dir / name, "SELECT name FROM sqlite_schema WHERE type = 'table'")}
    assert tables == {"users", "patients"}
    assert "archive" in stats(conn)["attached_not_backed_up"]
