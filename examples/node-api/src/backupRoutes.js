'use strict';
// /api/backup/* : each endpoint is one call into the wecare_backup extension.
//
//   POST /create               wecare_backup_create([label])    ADMIN, DEVELOPER
//   GET  /list                 SELECT * FROM wecare_backup_list ADMIN, DEVELOPER
//   GET  /stats                wecare_backup_stats()            ADMIN, DEVELOPER
//   GET  /download/:filename   wecare_backup_path(name), stream ADMIN, DEVELOPER
//   POST /verify/:filename     wecare_backup_verify(name)       ADMIN, DEVELOPER
//   POST /restore/:filename    wecare_backup_restore(name, ..)  DEVELOPER
//   POST /cleanup              wecare_backup_cleanup()          ADMIN, DEVELOPER
//   GET  /settings/:key        wecare_backup_setting(key)       ADMIN, DEVELOPER
//   PUT  /settings/:key        wecare_backup_config(key, value) DEVELOPER
//   POST /export/:filename     wecare_backup_export(name, dest) DEVELOPER
//   POST /schedule             wecare_backup_schedule(seconds)  DEVELOPER
//   POST /fetch/:filename      wecare_backup_fetch(name)        DEVELOPER
//   POST /recover/:filename    wecare_backup_recover(db, name, ..)  DEVELOPER
//   POST /restore-at           wecare_backup_restore_at(time, ..)   DEVELOPER
//   GET  /timeline             SELECT * FROM wecare_backup_timeline DEVELOPER
//   GET  /features             which later functions the extension has   ADMIN, DEVELOPER
//   POST /download-ticket/:filename  a one-time link, see GET /download  ADMIN, DEVELOPER
//   GET  /download?ticket=...  the download, the ticket instead of a token  ADMIN, DEVELOPER
//
// The long operations (create, verify, restore, cleanup, export, fetch,
// recover, restore-at) run on the backup worker's own connection
// (backupJobs.js), so the event loop keeps serving other requests meanwhile;
// the quick ones (list, stats, path, settings, schedule, timeline) on the
// server's connection. A setting changed here is given to the worker's
// connection too.
//
// Backup names are checked by the extension (wecare_backup_path) before anything
// touches a file. The :filename routes take every remaining path segment, so
// "a/b" or "..%2Fx" reach that check too and are answered 400 rather than a
// route-not-found 404.

const fs = require('node:fs');
const path = require('node:path');
const { pipeline } = require('node:stream/promises');
const express = require('express');
const { ROLES, canCall, requireRole } = require('./auth');
const { HttpError } = require('./errors');

const RESTORE_CONFIRMATION = 'I understand this will replace the current database';
const MAX_LABEL_LENGTH = 200;
const MAX_TEXT_LENGTH = 4096;

// A JSON body field that must be a non-empty string of at most MAX_TEXT_LENGTH characters.
function textField(req, field) {
  const value = req.body && req.body[field];
  if (typeof value !== 'string' || value === '' || value.length > MAX_TEXT_LENGTH || value.includes('\0')) {
    throw new HttpError(400, `${field} must be a non-empty string of at most ${MAX_TEXT_LENGTH} characters`);
  }
  return value;
}

// The second layer (see auth.js): every extension call first asks whether the
// caller's role may run that function at all.
function ensureMayCall(req, fn) {
  const role = req.user && req.user.role;
  if (!canCall(role, fn)) {
    throw new HttpError(403, `role ${JSON.stringify(role)} may not call wecare_backup_${fn}`);
  }
}

// Integers past 2^53 (e.g. nanosecond times) would be rounded by a JS number,
// so they are sent as strings; all others as numbers.
function withJsonSafeIntegers(row) {
  const out = {};
  for (const [key, value] of Object.entries(row)) {
    if (typeof value !== 'bigint') out[key] = value;
    else out[key] = Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  }
  return out;
}

// Express 5 hands a *wildcard parameter over as its decoded path segments.
function requestedName(req) {
  const segments = req.params.filename;
  return Array.isArray(segments) ? segments.join('/') : String(segments);
}

// The confirmation phrase in the JSON body, or a 400 that says what to send.
function requireConfirmation(req) {
  const confirm = req.body && req.body.confirm;
  if (confirm !== RESTORE_CONFIRMATION) {
    throw new HttpError(400, `confirmation phrase does not match; send {"confirm": "${RESTORE_CONFIRMATION}"}`);
  }
  return confirm;
}

// Whether two paths name the same existing file.
function sameFile(a, b) {
  try {
    const [x, y] = [fs.statSync(a), fs.statSync(b)];
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return path.resolve(a) === path.resolve(b);
  }
}

// `authenticate` checks the bearer token of every route but one: the download
// by ticket, whose link carries a ticket instead (see auth.js).
function backupRouter({ db, jobs, authenticate, tickets }) {
  // Runs one quick extension function for the request on the server's
  // connection and returns its single value.
  function call(req, fn, sql, ...params) {
    ensureMayCall(req, fn);
    return db
      .prepare(sql)
      .pluck()
      .get(...params);
  }
  // Runs wecare_backup_<fn>(...params) on the backup worker; resolves to its value.
  function runJob(req, fn, ...params) {
    ensureMayCall(req, fn);
    return jobs.run(fn, ...params);
  }
  function listRows(req, where = '', ...params) {
    ensureMayCall(req, 'list');
    const rows = db
      .prepare(`SELECT * FROM wecare_backup_list ${where}`)
      .safeIntegers()
      .all(...params);
    return rows.map(withJsonSafeIntegers);
  }
  // Whether the loaded extension has a function or table that a later version
  // added (GET /features: the page offers only what is there).
  function hasFunction(name) {
    return db.prepare('SELECT count(*) FROM pragma_function_list WHERE name = ?').pluck().get(name) > 0;
  }
  function hasTable(name) {
    return db.prepare('SELECT count(*) FROM pragma_module_list WHERE name = ?').pluck().get(name) > 0;
  }
  const router = express.Router();
  const adminOrDeveloper = requireRole(ROLES.ADMIN, ROLES.DEVELOPER);
  const developerOnly = requireRole(ROLES.DEVELOPER);

  // Streams a backup file as an attachment.
  async function sendBackup(req, res, name) {
    const filePath = backupPath(req, name);
    // Open first and stat the descriptor: a cleanup that deletes the file after
    // this point cannot turn the response into a half-sent or wrong file.
    const handle = await fs.promises.open(filePath, 'r');
    try {
      const { size } = await handle.stat();
      res.attachment(name);
      res.set({
        'Content-Type': 'application/vnd.sqlite3',
        'Content-Length': String(size),
        'Cache-Control': 'no-store',
        'X-Content-Type-Options': 'nosniff',
      });
      await pipeline(handle.createReadStream({ autoClose: false }), res);
    } finally {
      await handle.close();
    }
  }

  // The one route without a bearer token: the ticket stands in for it, with the
  // role of the token that asked for the ticket, and the roles are checked as usual.
  router.get('/download', (req, res, next) => {
    if (req.get('authorization') || typeof req.query.ticket !== 'string') return next();
    const { user, name } = tickets.redeem(req.query.ticket);
    req.user = user;
    return adminOrDeveloper(req, res, (err) => (err ? next(err) : sendBackup(req, res, name).catch(next)));
  });
  router.use(authenticate);

  // The absolute path of an existing backup, or a 400/404 from the extension.
  // The extension validates the name; the basename comparison is a cheap second
  // check that the answer really is a file called exactly `name`.
  function backupPath(req, name) {
    const filePath = call(req, 'path', 'SELECT wecare_backup_path(?)', name);
    if (typeof filePath !== 'string' || path.basename(filePath) !== name) {
      throw new HttpError(400, `not a backup name: ${JSON.stringify(name)}`);
    }
    return filePath;
  }

  router.post('/create', adminOrDeveloper, async (req, res) => {
    const body = req.body || {};
    const label = body.label;
    if (label !== undefined && label !== null && typeof label !== 'string') {
      throw new HttpError(400, 'label must be a string');
    }
    if (typeof label === 'string' && label.length > MAX_LABEL_LENGTH) {
      throw new HttpError(400, `label must be at most ${MAX_LABEL_LENGTH} characters`);
    }
    if (typeof label === 'string' && label.includes('\0')) {
      throw new HttpError(400, 'label must not contain NUL characters');
    }
    const name = await (typeof label === 'string' ? runJob(req, 'create', label) : runJob(req, 'create'));
    const [row] = listRows(req, 'WHERE name = ?', name);
    const sizeBytes = row ? row.size_bytes : fs.statSync(backupPath(req, name)).size;
    res.status(201).json({ name, size_bytes: sizeBytes });
  });

  router.get('/list', adminOrDeveloper, (req, res) => {
    res.json(listRows(req));
  });

  router.get('/stats', adminOrDeveloper, (req, res) => {
    res.json(JSON.parse(call(req, 'stats', 'SELECT wecare_backup_stats()')));
  });

  router.get('/download/*filename', adminOrDeveloper, async (req, res) => {
    await sendBackup(req, res, requestedName(req));
  });

  // A link the browser can follow to download `name` once, within the ticket's lifetime.
  router.post('/download-ticket/*filename', adminOrDeveloper, (req, res) => {
    const name = requestedName(req);
    backupPath(req, name);
    const ticket = tickets.issue(req.user, name);
    res.status(201).json({
      url: `${req.baseUrl}/download?ticket=${encodeURIComponent(ticket)}`,
      expires_in: tickets.ttlSeconds,
    });
  });

  router.post('/verify/*filename', adminOrDeveloper, async (req, res) => {
    const name = requestedName(req);
    backupPath(req, name);
    res.json(JSON.parse(await runJob(req, 'verify', name)));
  });

  // The worker's connection restores; SQLite makes every other connection,
  // the server's included, read the restored database at its next read.
  router.post('/restore/*filename', developerOnly, async (req, res) => {
    const name = requestedName(req);
    backupPath(req, name);
    const confirm = requireConfirmation(req);
    res.json(JSON.parse(await runJob(req, 'restore', name, confirm)));
  });

  // Restores a database file that is damaged or missing (not the server's own,
  // which is open: that is a restore) from a backup of this directory.
  router.post('/recover/*filename', developerOnly, async (req, res) => {
    const name = requestedName(req);
    const database = textField(req, 'database');
    if (!path.isAbsolute(database)) throw new HttpError(400, 'database must be an absolute path');
    if (sameFile(database, db.name)) {
      throw new HttpError(409, `'${database}' is this server's own database, which is open; restore it instead`);
    }
    const confirm = requireConfirmation(req);
    res.json(JSON.parse(await runJob(req, 'recover', database, name, confirm)));
  });

  // Point-in-time restore from what continuous capture kept: the database as it
  // was after the last transaction captured at or before `time` (UTC, as the
  // extension takes it, or 'latest'). Like a restore, on the worker's
  // connection, after a safety backup. A time outside the timeline, or in a
  // gap, is a 400 whose message names the nearest restorable points.
  router.post('/restore-at', developerOnly, async (req, res) => {
    ensureMayCall(req, 'restore_at');
    const time = textField(req, 'time');
    const confirm = requireConfirmation(req);
    res.json(JSON.parse(await runJob(req, 'restore_at', time, confirm)));
  });

  // The restorable ranges and the gaps of continuous capture, oldest first.
  // Reading files only, on the server's connection; an empty list when capture never ran.
  router.get('/timeline', developerOnly, (req, res) => {
    ensureMayCall(req, 'timeline');
    const rows = db.prepare('SELECT * FROM wecare_backup_timeline').safeIntegers().all();
    res.json(rows.map(withJsonSafeIntegers));
  });

  // What the page may offer: the functions and tables a later version adds.
  router.get('/features', adminOrDeveloper, (req, res) => {
    res.json({
      version: call(req, 'version', 'SELECT wecare_backup_version()'),
      recover: hasFunction('wecare_backup_recover'),
      restore_at: hasFunction('wecare_backup_restore_at'),
      timeline: hasTable('wecare_backup_timeline'),
      continuous: hasFunction('wecare_backup_continuous'),
    });
  });

  // Cleanup waits for the directory lock that a running create holds: a job too.
  router.post('/cleanup', adminOrDeveloper, async (req, res) => {
    res.json({ deleted: await runJob(req, 'cleanup') });
  });

  // Reading a setting is wecare_backup_setting, which cannot change one.
  router.get('/settings/:key', adminOrDeveloper, (req, res) => {
    const { key } = req.params;
    res.json({ key, value: call(req, 'setting', 'SELECT wecare_backup_setting(?)', key) });
  });

  // Changing one (where backups go, off-site, keys, retention) is DEVELOPER-only.
  router.put('/settings/:key', developerOnly, (req, res) => {
    const { key } = req.params;
    const value = req.body && req.body.value;
    if (!(typeof value === 'string' || Number.isSafeInteger(value)) || String(value).length > MAX_TEXT_LENGTH) {
      throw new HttpError(400, 'value must be a string or an integer');
    }
    // better-sqlite3 binds a JS number as a REAL; the extension takes integers as INTEGER or text.
    const bound = typeof value === 'number' ? BigInt(value) : value;
    const accepted = call(req, 'config', 'SELECT wecare_backup_config(?, ?)', key, bound);
    // The worker's connection makes backups too: it gets the setting before any later job.
    jobs.configure(key, bound);
    res.json({ key, value: accepted });
  });

  // A copy of every record to a path on the server: DEVELOPER-only.
  router.post('/export/*filename', developerOnly, async (req, res) => {
    const name = requestedName(req);
    const destination = textField(req, 'destination');
    res.status(201).json({ path: await runJob(req, 'export', name, destination) });
  });

  router.post('/schedule', developerOnly, (req, res) => {
    const seconds = req.body && req.body.seconds;
    if (!Number.isSafeInteger(seconds) || seconds < 0) {
      throw new HttpError(400, 'seconds must be a whole number, 0 to stop');
    }
    res.json({ running: call(req, 'schedule', 'SELECT wecare_backup_schedule(?)', seconds) === 1 });
  });

  // Writes a backup from the off-site target into the backup directory.
  router.post('/fetch/*filename', developerOnly, async (req, res) => {
    const name = requestedName(req);
    res.status(201).json({ name: await runJob(req, 'fetch', name) });
  });

  return router;
}

module.exports = { backupRouter, RESTORE_CONFIRMATION };
