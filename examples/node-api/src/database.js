'use strict';
// Opens the demo database, creates its tables when they are missing, loads the
// wecare_backup extension and applies the backup settings; and opens the backup
// worker's own connection to it.

const fs = require('node:fs');
const path = require('node:path');
const Database = require('better-sqlite3');

const SCHEMA = `
CREATE TABLE IF NOT EXISTS users (
  id         INTEGER PRIMARY KEY,
  email      TEXT NOT NULL UNIQUE,
  role       TEXT NOT NULL CHECK (role IN ('ADMIN', 'DEVELOPER', 'USER')),
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE TABLE IF NOT EXISTS patients (
  id            INTEGER PRIMARY KEY,
  name          TEXT NOT NULL,
  date_of_birth TEXT,
  created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
`;

const DEMO_USERS = [
  ['admin@example.org', 'ADMIN'],
  ['developer@example.org', 'DEVELOPER'],
  ['user@example.org', 'USER'],
];
const DEMO_PATIENTS = [
  ['Ada Example', '1961-04-12'],
  ['Ben Example', '1978-09-30'],
  ['Cleo Example', '1995-01-05'],
];

function createSchema(db) {
  const hadTables = db
    .prepare("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('users', 'patients')")
    .pluck()
    .get();
  db.exec(SCHEMA);
  if (hadTables > 0) return;
  // A new database gets a few demo rows so that backups have something in them.
  const seed = db.transaction(() => {
    const addUser = db.prepare('INSERT INTO users (email, role) VALUES (?, ?)');
    for (const user of DEMO_USERS) addUser.run(...user);
    const addPatient = db.prepare('INSERT INTO patients (name, date_of_birth) VALUES (?, ?)');
    for (const patient of DEMO_PATIENTS) addPatient.run(...patient);
  });
  seed();
}

function loadBackupExtension(db, extensionPath) {
  try {
    // SQLite appends the platform suffix (.so) itself and derives the entry
    // point sqlite3_wecarebackup_init from the file name.
    db.loadExtension(extensionPath);
  } catch (err) {
    err.message =
      `cannot load the wecare_backup extension from '${extensionPath}': ${err.message} ` +
      '(build it with `make` at the repository root, or set WECARE_BACKUP_EXT)';
    throw err;
  }
}

// Returns an open better-sqlite3 connection with the extension loaded.
// backupDir (optional) overrides the extension's default <db folder>/backups.
function openDatabase({ dbPath, extensionPath, backupDir }) {
  fs.mkdirSync(path.dirname(dbPath), { recursive: true, mode: 0o700 });
  const db = new Database(dbPath);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 10000');
    createSchema(db);
    loadBackupExtension(db, extensionPath);
    if (backupDir) {
      // The extension never creates a configured directory (an unmounted disk
      // looks like a missing one); the server creates its own at start-up.
      fs.mkdirSync(backupDir, { recursive: true, mode: 0o700 });
      db.prepare("SELECT wecare_backup_config('dir', ?)").pluck().get(backupDir);
    }
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

// The backup worker's own connection (backupWorker.js) to the database that
// openDatabase opened: the extension and the same backup directory; the tables
// and the journal mode are the server's business.
function openWorkerConnection({ dbPath, extensionPath, backupDir }) {
  const db = new Database(dbPath, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 10000');
    loadBackupExtension(db, extensionPath);
    if (backupDir) db.prepare("SELECT wecare_backup_config('dir', ?)").pluck().get(backupDir);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

module.exports = { openDatabase, openWorkerConnection };
