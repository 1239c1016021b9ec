'use strict';
// wecare-backup: the wecare_backup SQLite extension (consistent, verified online
// backups driven from SQL), ready to load into better-sqlite3 or node:sqlite.
//
//   const Database = require('better-sqlite3');
//   const wecareBackup = require('wecare-backup');
//   const db = new Database('app.db');
//   wecareBackup.load(db);
//   db.prepare('SELECT wecare_backup_create()').pluck().get();
//
// getLoadablePath() is the library's absolute path, for any other driver. The
// install step (install.js) chose it: the prebuilt the package carries for this
// platform, or one built from the sources it carries. lib/paths.js lists the
// places, in the order they are tried.

const fs = require('node:fs');
const paths = require('./lib/paths');

function getLoadablePath() {
  const candidates = [paths.builtPath(), paths.prebuiltPath(), paths.checkoutPath()].filter(Boolean);
  const found = candidates.find((file) => fs.existsSync(file));
  if (found) return found;
  const root = paths.checkoutRoot();
  if (root) {
    throw new Error(
      `wecare-backup: the extension is not built in this checkout: run \`make\` in ${root} ` +
        '(it builds dist/wecare_backup.so)',
    );
  }
  throw new Error(
    `wecare-backup: no wecare_backup library for ${paths.platformKey()} in ${paths.PACKAGE_DIR}: ` +
      'its install step did not run or failed; run `npm rebuild wecare-backup` and read its message',
  );
}

function loadFailed(err, file) {
  err.message = `wecare-backup: cannot load ${file}: ${err.message}`;
  if (/cannot open shared object file/.test(err.message)) {
    err.message +=
      ' (a library it links is missing: on Debian install libcurl4 libzstd1 libsodium23 libexpat1, ' +
      'or set WECARE_BACKUP_BUILD_FROM_SOURCE=1 and run `npm rebuild wecare-backup`)';
  }
  return err;
}

// Loads the extension into db: a better-sqlite3 Database, or a node:sqlite
// DatabaseSync opened with { allowExtension: true } (Node 22.13 / 23.5 and
// later). For DatabaseSync, extension loading is switched on for the load
// only and off again afterwards, so SQL can never load a library itself.
function load(db) {
  if (!db || typeof db.loadExtension !== 'function') {
    throw new TypeError(
      'wecare-backup: load(db) takes a better-sqlite3 Database or a node:sqlite DatabaseSync ' +
        '(anything with loadExtension(path)); for other drivers load getLoadablePath() yourself',
    );
  }
  const file = getLoadablePath();
  if (typeof db.enableLoadExtension !== 'function') {
    try {
      db.loadExtension(file);
    } catch (err) {
      throw loadFailed(err, file);
    }
    return;
  }
  try {
    db.enableLoadExtension(true);
  } catch (err) {
    err.message =
      `wecare-backup: this DatabaseSync cannot load extensions: ${err.message} ` +
      '(open it with new DatabaseSync(path, { allowExtension: true }))';
    throw err;
  }
  try {
    db.loadExtension(file);
  } catch (err) {
    throw loadFailed(err, file);
  } finally {
    db.enableLoadExtension(false);
  }
}

module.exports = { getLoadablePath, load };
