'use strict';
// Start-up: the schedule, continuous capture, the new database, the settings
// that stop it, make-token.js; and what shutdown leaves captured.

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
const CONFIRMATION = 'I understand this will replace the current database';

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

  test('captures continuously from start-up by default, and captures the last commit at shutdown', async () => {
    // '' is unset: the default, 1000 ms.
    const server = await startServer({ CAPTURE_INTERVAL_MS: '' });
    try {
      const admin = tokenFor('ADMIN');
      const stats = await request(server.url, 'GET', '/api/backup/stats', { token: admin });
      assert.equal(stats.json.continuous.state, 'capturing');
      assert.equal(stats.json.continuous.interval_ms, 1000);
      const added = await request(server.url, 'POST', '/api/patients', {
        token: admin,
        body: { name: 'Committed just before the shutdown' },
      });
      assert.equal(added.status, 201);
      // At once, well within an interval: the capture that stopping makes takes it.
      server.child.kill('SIGTERM');
      await new Promise((resolve) => server.child.once('exit', resolve));

      // The database is lost; what was captured brings it back, that row included.
      const target = path.join(server.dir, 'recovered', 'wecare.db');
      fs.mkdirSync(path.dirname(target), { mode: 0o700 });
      const mem = new Database(':memory:');
      try {
        mem.loadExtension(EXTENSION_PATH);
        mem.prepare("SELECT wecare_backup_config('dir', ?)").get(server.backupDir);
        mem.prepare("SELECT wecare_backup_config('prefix', 'wecare')").get();
        const out = JSON.parse(
          mem.prepare('SELECT wecare_backup_recover(?, ?, ?)').pluck().get(target, 'latest', CONFIRMATION),
        );
        assert.match(out.restored_to, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      } finally {
        mem.close();
      }
      const recovered = new Database(target, { readonly: true });
      try {
        const last = recovered.prepare('SELECT name FROM patients ORDER BY id DESC LIMIT 1').pluck().get();
        assert.equal(last, 'Committed just before the shutdown');
      } finally {
        recovered.close();
      }
    } finally {
      await server.stop();
    }
  });

  test('CAPTURE_INTERVAL_MS=0 starts no capture', async () => {
    const server = await startServer({ CAPTURE_INTERVAL_MS: '0' });
    try {
      const stats = await request(server.url, 'GET', '/api/backup/stats', { token: tokenFor('ADMIN') });
      assert.equal(stats.json.continuous.state, 'stopped');
      assert.equal(stats.json.count, 0, 'no base backup');
    } finally {
      await server.stop();
    }
  });

  test('a second server on the same database stands by, and takes over when the first stops', async () => {
    const first = await startServer({ CAPTURE_INTERVAL_MS: '200' });
    let second;
    try {
      second = await spawnServer({
        JWT_SECRET,
        PORT: '0',
        DB_PATH: first.dbPath,
        BACKUP_DIR: first.backupDir,
        WECARE_BACKUP_EXT: EXTENSION_PATH,
        BACKUP_INTERVAL_SECONDS: '0',
        CAPTURE_INTERVAL_MS: '200',
      });
      assert.match(second.output(), /continuous capture is standing by: another process captures this database/);
      const state = async (server) =>
        (await request(server.url, 'GET', '/api/backup/stats', { token: tokenFor('ADMIN') })).json.continuous.state;
      assert.equal(await state(first), 'capturing');
      assert.equal(await state(second), 'standby');
      // Its process ends; its folder stays for the second (stop() would remove it).
      const exited = new Promise((resolve) => first.child.once('exit', resolve));
      first.child.kill('SIGTERM');
      await exited;
      await eventually('the standby to take over', async () => (await state(second)) === 'capturing', 5000);
    } finally {
      if (second && second.child.exitCode === null) {
        const exited = new Promise((resolve) => second.child.once('exit', resolve));
        second.child.kill('SIGTERM');
        await exited;
      }
      await first.stop();
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

  test('does not start without JWT_SECRET, without the extension, or with a capture interval under 100 ms', async () => {
    const dir = makeTempDir();
    try {
      const env = { PORT: '0', DB_PATH: path.join(dir, 'app.db'), WECARE_BACKUP_EXT: EXTENSION_PATH };
      await assert.rejects(spawnServer(env), /exited \(1\)[\s\S]*JWT_SECRET is not set/);
      await assert.rejects(
        spawnServer({ ...env, JWT_SECRET, WECARE_BACKUP_EXT: path.join(dir, 'missing') }),
        /exited \(1\)[\s\S]*cannot load the wecare_backup extension/,
      );
      await assert.rejects(
        spawnServer({ ...env, JWT_SECRET, CAPTURE_INTERVAL_MS: '50' }),
        /exited \(1\)[\s\S]*cannot start continuous capture \(CAPTURE_INTERVAL_MS=50; 0 turns it off\): wecare_backup_continuous: the interval must be at least 100 milliseconds/,
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
