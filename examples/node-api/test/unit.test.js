'use strict';
// The pure parts: role table, error-to-status mapping, configuration. No server.

const assert = require('node:assert/strict');
const path = require('node:path');
const { describe, test } = require('node:test');
const { ADMIN_FUNCTIONS, DEVELOPER_ONLY_FUNCTIONS, canCall } = require('../src/auth');
const { statusForExtensionError } = require('../src/errors');
const { readConfig } = require('../src/server');
const { EXAMPLE_DIR } = require('./helpers');

describe('canCall follows the role table of the root README', () => {
  const adminFunctions = ['create', 'list', 'stats', 'verify', 'path', 'cleanup', 'version', 'setting'];
  const developerOnly = ['restore', 'config', 'export', 'schedule', 'fetch'];
  // Functions a later version adds (recover, restore to a point in time, continuous capture).
  const later = ['recover', 'restore_at', 'continuous'];

  test('the lists are those of auth.js', () => {
    assert.deepEqual([...ADMIN_FUNCTIONS].sort(), [...adminFunctions].sort());
    assert.deepEqual([...DEVELOPER_ONLY_FUNCTIONS].sort(), [...developerOnly].sort());
  });

  test('ADMIN may create, list, see stats, verify, download, clean up and read settings', () => {
    for (const fn of adminFunctions) assert.ok(canCall('ADMIN', fn), fn);
  });

  test('ADMIN may not restore, change a setting, export, schedule, fetch, nor anything added later', () => {
    for (const fn of [...developerOnly, ...later]) assert.equal(canCall('ADMIN', fn), false, fn);
  });

  test('DEVELOPER may run everything, also what is added later', () => {
    for (const fn of [...adminFunctions, ...developerOnly, ...later]) assert.ok(canCall('DEVELOPER', fn), fn);
    assert.equal(canCall('DEVELOPER', ''), false);
    assert.equal(canCall('DEVELOPER', undefined), false);
  });

  test('any other role, or none, may run nothing', () => {
    for (const role of ['USER', 'admin', 'developer', '', null, undefined, '__proto__', 'constructor', 'toString']) {
      for (const fn of [...adminFunctions, ...developerOnly, ...later]) {
        assert.equal(canCall(role, fn), false, `${role} ${fn}`);
      }
    }
  });
});

describe('extension errors map to HTTP statuses by their message', () => {
  const sqlError = (message, code = 'SQLITE_ERROR') => Object.assign(new Error(message), { code });
  const cases = [
    ["wecare_backup_path: not a backup name: '../x'", 400],
    ["wecare_backup_path: the backup name contains '/'", 400],
    ['wecare_backup_verify: invalid name', 400],
    ['wecare_backup_restore: confirmation phrase does not match', 400],
    ["wecare_backup_path: no backup named 'x.db'", 404],
    ['wecare_backup_verify: backup not found', 404],
    ['wecare_backup_create: database is locked', 409],
    ['wecare_backup_create: another backup is busy', 409],
    ["wecare_backup_setting: unknown setting 'x'; valid settings are: dir, prefix", 400],
    ["wecare_backup_config: keep_last must be a whole number from 0 to 1000000, not 'x'", 400],
    ['wecare_backup_schedule: the interval must be from 1 to 31622400 seconds, or 0 to stop', 400],
    ["wecare_backup_export: '/srv/x.db' already exists; export to a new name or delete that file first", 409],
    ["wecare_backup_fetch: no off-site target is set; set it first with wecare_backup_config('offsite', ...)", 409],
    ['wecare_backup_create: disk I/O error', 500],
    [
      "wecare_backup_list: the backup directory '/mnt/backups' does not exist; create it (mkdir -m 700) or mount its disk",
      503,
    ],
    [
      "wecare_backup_cleanup: the backup directory '/mnt/backups' does not exist; create it (mkdir -m 700) or mount its disk",
      503,
    ],
    ['wecare_backup_create: the label is too long (1001 bytes); it may have at most 1000 bytes', 400],
    ["wecare_backup_create: cannot read the backup directory '/b': it belongs to user 'root' (mode 0700)", 500],
    ['wecare_backup_create: this connection has an open write transaction on the database', 500],
    ['no such function: wecare_backup_path', 500],
    [
      "wecare_backup_restore_at: 'yesterday' is not a time; pass UTC as 'YYYY-MM-DDTHH:MM:SS[.ffffff]Z', SQLite's 'YYYY-MM-DD HH:MM:SS[.fff]' (datetime('now')), or 'latest'",
      400,
    ],
    [
      "wecare_backup_restore_at: '2001-01-01T00:00:00.000000Z' is before the oldest restore point (2026-12-01T16:18:16.221411Z); choose a time from 2026-12-01T16:18:16.221411Z on",
      400,
    ],
    [
      "wecare_backup_restore_at: '2200-01-01T00:00:00.000000Z' is after the newest restore point (2026-12-01T16:18:17.857797Z); choose a time up to 2026-12-01T16:18:17.857797Z, or 'latest'",
      400,
    ],
    [
      "wecare_backup_recover: '2026-12-01T16:18:18.000000Z' is in a gap of the timeline (restored): nothing can be restored between 2026-12-01T16:18:17.857797Z and 2026-12-01T16:18:18.313267Z; choose one of those, or a time outside the gap",
      400,
    ],
    ['wecare_backup_restore_at: the time is too long (65 bytes); it may have at most 64 bytes', 400],
    [
      'wecare_backup_restore_at: there is no timeline of restore points; start continuous capture with SELECT wecare_backup_continuous()',
      404,
    ],
    ['wecare_backup_restore_at: there is no restore point: continuous capture has not captured anything yet', 404],
    [
      'wecare_backup_restore_at: the restore point failed verification (segment x: checksum mismatch); nothing was restored; choose a time before the damage, or a backup',
      500,
    ],
  ];
  for (const [message, status] of cases) {
    test(`${status}: ${message}`, () => assert.equal(statusForExtensionError(sqlError(message)), status));
  }
  test('a refusal that names the missing backup directory is never a 404 for a backup', () => {
    const missing = "wecare_backup_path: the backup directory '/mnt/backups' does not exist; create it";
    assert.equal(statusForExtensionError(sqlError(missing, 'SQLITE_CANTOPEN')), 503);
    assert.equal(statusForExtensionError(sqlError("wecare_backup_path: 'x.db' does not exist")), 404);
  });
  test('an unfinished cursor blocking a restore is a conflict (SQLITE_BUSY)', () => {
    const message = 'wecare_backup_restore: another statement of this connection is still open';
    assert.equal(statusForExtensionError(sqlError(message, 'SQLITE_BUSY')), 409);
  });
  test('SQLITE_BUSY and SQLITE_LOCKED codes are conflicts whatever the message', () => {
    assert.equal(statusForExtensionError(sqlError('x', 'SQLITE_BUSY')), 409);
    assert.equal(statusForExtensionError(sqlError('x', 'SQLITE_LOCKED_SHAREDCACHE')), 409);
  });
});

describe('readConfig', () => {
  test('defaults are relative to the example folder', () => {
    const config = readConfig({ JWT_SECRET: 's' });
    assert.equal(config.port, 3000);
    assert.equal(config.dbPath, path.join(EXAMPLE_DIR, 'data', 'wecare.db'));
    assert.equal(config.extensionPath, path.resolve(EXAMPLE_DIR, '../../dist/wecare_backup.so'));
    assert.equal(config.backupIntervalSeconds, 86400);
    assert.equal(config.captureIntervalMs, 1000);
    assert.equal(config.backupDir, undefined);
  });

  test('the environment overrides every default', () => {
    const config = readConfig({
      JWT_SECRET: 's',
      PORT: '8080',
      DB_PATH: '/tmp/x/app.db',
      WECARE_BACKUP_EXT: '/opt/wecare_backup',
      BACKUP_DIR: '/tmp/x/backups',
      BACKUP_INTERVAL_SECONDS: '3600',
      CAPTURE_INTERVAL_MS: '0',
    });
    assert.deepEqual(config, {
      jwtSecret: 's',
      port: 8080,
      dbPath: '/tmp/x/app.db',
      extensionPath: '/opt/wecare_backup',
      backupDir: '/tmp/x/backups',
      backupIntervalSeconds: 3600,
      captureIntervalMs: 0,
    });
  });

  test('refuses to run without a JWT secret or with a malformed number', () => {
    assert.throws(() => readConfig({}), /JWT_SECRET/);
    assert.throws(() => readConfig({ JWT_SECRET: 's', PORT: 'eighty' }), /PORT/);
    assert.throws(() => readConfig({ JWT_SECRET: 's', PORT: '70000' }), /PORT/);
    assert.throws(() => readConfig({ JWT_SECRET: 's', BACKUP_INTERVAL_SECONDS: '-5' }), /BACKUP_INTERVAL_SECONDS/);
    assert.throws(() => readConfig({ JWT_SECRET: 's', CAPTURE_INTERVAL_MS: '1s' }), /CAPTURE_INTERVAL_MS/);
  });
});
