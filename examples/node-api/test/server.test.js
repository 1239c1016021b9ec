'use strict';
// Start-up: the schedule, the new database, the settings that stop it, make-token.js.

const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { describe, test } = require('node:test');
const Database = require('better-sqlite3');
const {
  EXAMPLE_DIR,
  EXTENSION_PATH,
  JWT_SECRET,
  makeTempDir,
  request,
  spawnServer,
  startServer,
  tokenFor,
} = require('./helpers');

const SCHEDULED_BACKUP_TIMEOUT_MS = 15000;

async function eventually(what, probe, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('server start-up', () => {
  test('starts the backup schedule, whose first run is at once', async () => {
    const server = await startServer({ BACKUP_INTERVAL_SECONDS: '86400' });
    try {
      const admin = tokenFor('ADMIN');
      const stats = await request(server.url, 'GET', '/api/backup/stats', { token: admin });
      assert.equal(stats.status, 200);
      assert.equal(stats.json.schedule_seconds, 86400);
      const auto = await eventually(
        'the first scheduled backup',
        async () => {
          const list = await request(server.url, 'GET', '/api/backup/list', { token: admin });
          return list.json.find((row) => row.kind === 'auto');
        },
        SCHEDULED_BACKUP_TIMEOUT_MS,
      );
      assert.ok(fs.existsSync(path.join(server.backupDir, auto.name)));
    } finally {
      await server.stop();
    }
  });

  test('BACKUP_INTERVAL_SECONDS=0 starts no schedule', async () => {
    const server = await startServer({ BACKUP_INTERVAL_SECONDS: '0' });
    try {
      const stats = await request(server.url, 'GET', '/api/backup/stats', { token: tokenFor('ADMIN') });
      assert.equal(stats.status, 200);
      assert.ok(!stats.json.schedule_seconds, `schedule_seconds ${stats.json.schedule_seconds}`);
      assert.equal(stats.json.count, 0);
    } finally {
      await server.stop();
    }
  });

  test('creates a missing database with the users and patients tables', async () => {
    const server = await startServer();
    try {
      assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      const count = await request(server.url, 'GET', '/api/patients/count', { token: tokenFor('USER') });
      assert.deepEqual(count.json, { count: 3 });
    } finally {
      server.child.kill('SIGTERM');
      await new Promise((resolve) => server.child.once('exit', resolve));
      const db = new Database(server.dbPath, { readonly: true });
      const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck().all();
      db.close();
      await server.stop();
      assert.deepEqual(tables, ['patients', 'users']);
    }
  });

  test('does not start without JWT_SECRET, or without the extension', async () => {
    const dir = makeTempDir();
    try {
      const env = { PORT: '0', DB_PATH: path.join(dir, 'app.db'), WECARE_BACKUP_EXT: EXTENSION_PATH };
      await assert.rejects(spawnServer(env), /exited \(1\)[\s\S]*JWT_SECRET is not set/);
      await assert.rejects(
        spawnServer({ ...env, JWT_SECRET, WECARE_BACKUP_EXT: path.join(dir, 'missing') }),
        /exited \(1\)[\s\S]*cannot load the wecare_backup extension/,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('scripts/make-token.js prints a token the server accepts', async () => {
    const server = await startServer();
    try {
      const makeToken = (role) =>
        execFileSync(process.execPath, ['scripts/make-token.js', role], {
          cwd: EXAMPLE_DIR,
          env: { PATH: process.env.PATH, JWT_SECRET },
          encoding: 'utf8',
        }).trim();
      const admin = await request(server.url, 'GET', '/api/backup/list', { token: makeToken('ADMIN') });
      assert.equal(admin.status, 200);
      const user = await request(server.url, 'GET', '/api/backup/list', { token: makeToken('USER') });
      assert.equal(user.status, 403);
    } finally {
      await server.stop();
    }
  });
});
