"""Run by the scratch venv's python, outside the repository: loads the extension
with the installed wecare_backup, then create, list, verify and restore. Prints
one JSON line of what it saw, for test_wheel.py to check.
    python roundtrip.py DIR        (DIR: an empty folder for the database)
"""
import json
import os
import sqlite3
import sys

import wecare_backup

PHRASE = "I understand this will replace the current database"

conn = sqlite3.connect(os.path.join(sys.argv[1], "clinic.db"), isolation_level=None)
conn.execute("PRAGMA journal_mode = WAL")
conn.executescript(
    "CREATE TABLE patients (id INTEGER PRIMARY KEY, name TEXT);"
    "INSERT INTO patients (name) VALUES ('Ana'), ('Ben'), ('Chai');"
)
wecare_backup.load(conn)


def value(sql, *args):
    return conn.execute(sql, args).fetchone()[0]


name = value("SELECT wecare_backup_create('from the wheel')")
rows = conn.execute("SELECT name, kind, label, verify_ok FROM wecare_backup_list").fetchall()
verify = json.loads(value("SELECT wecare_backup_verify(?)", name))
conn.execute("DELETE FROM patients")
restore = json.loads(value("SELECT wecare_backup_restore(?, ?)", name, PHRASE))

# load() switched extension loading off again.
try:
    conn.load_extension(wecare_backup.loadable_path())
    loading_off = False
except sqlite3.OperationalError:
    loading_off = True

print(json.dumps({
    "module": wecare_backup.__file__,
    "loadable_path": wecare_backup.loadable_path(),
    "version": value("SELECT wecare_backup_version()"),
    "name": name,
    "list": [list(row) for row in rows],
    "verify_ok": verify["ok"],
    "restore": restore,
    "rows_after_restore": value("SELECT count(*) FROM patients"),
    "loading_off": loading_off,
}))
