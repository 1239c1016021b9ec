'use strict';
// What an ADMIN or DEVELOPER sees through /api/backup/*, against the real server.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');
const { request, startServer, tokenFor } = require('./helpers');

const CONFIRMATION = 'I understand this will replace the current database';
const BACKUP_NAME = /^wecare_backup_\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}(_\d+)?\.db$/;
const UNKNOWN_BACKUP = 'wecare_backup_2001-02-03_04-05-06.db';

// Each is sent as the raw last path segment(s). All must be refused with 400
// before any file is touched.
const TRAVERSAL_NAMES = [
  '..',
  '%2E%2E',
  '..%2Fdata%2Fwecare.db',
  '..%2F..%2F..%2F..%2Fetc%2Fpasswd',
  '%2Fetc%2Fpasswd',
  '../data/wecare.db',
  'sub/dir.db',
  'wecare_backup_2001-02-03_04-05-06.db%2F..%2F..%2Fsecret.txt',
  '..%5Csecret.txt',
  'a%5Cb.db',
  '.wecare_backup.lock',
  '.hidden.db',
  'wecare_backup_2001-02-03_04-05-06.db%00.txt',
  '%00',
];

describe('backup endpoints', () => {
  let server;
  const developer = tokenFor('DEVELOPER');
  const admin = tokenFor('ADMIN');
  const call = (method, urlPath, options = {}) => request(server.url, method, urlPath, { token: admin, ...options });

  function backupDirEntries() {
    return fs.readdirSync(server.backupDir).sort();
  }
  async function patientCount() {
    const res = await call('GET', '/api/patients/count');
    assert.equal(res.status, 200);
    return res.json.count;
  }

  before(async () => {
    server = await startServer();
  });
  after(async () => {
    if (server) await server.stop();
  });

  test('an unknown backup is a 404 even before the first backup', async () => {
    const res = await call('GET', `/api/backup/download/${UNKNOWN_BACKUP}`);
    assert.equal(res.status, 404, JSON.stringify(res.json));
  });

  test('create returns the new backup name and its size on disk', async () => {
    const res = await call('POST', '/api/backup/create');
    assert.equal(res.status, 201, JSON.stringify(res.json));
    assert.deepEqual(Object.keys(res.json).sort(), ['name', 'size_bytes']);
    assert.match(res.json.name, BACKUP_NAME);
    const onDisk = fs.statSync(path.join(server.backupDir, res.json.name)).size;
    assert.equal(res.json.size_bytes, onDisk);
    assert.ok(onDisk > 0);
  });

  test('create records the label given in the JSON body', async () => {
    const res = await call('POST', '/api/backup/create', { body: { label: 'before migration 42' } });
    assert.equal(res.status, 201, JSON.stringify(res.json));
    const list = await call('GET', '/api/backup/list');
    const row = list.json.find((r) => r.name === res.json.name);
    assert.equal(row.label, 'before migration 42');
    assert.equal(row.kind, 'manual');
  });

  test('create refuses a label that is not a string, too long or with a NUL, and bad JSON', async () => {
    for (const label of [42, ['a'], { a: 1 }, 'x'.repeat(201), 'a\u0000b']) {
      const res = await call('POST', '/api/backup/create', { body: { label } });
      assert.equal(res.status, 400, JSON.stringify(label));
      assert.match(res.json.error, /label/);
    }
    const badJson = await call('POST', '/api/backup/create', { body: '{"label": ' });
    assert.equal(badJson.status, 400);
    assert.equal(typeof badJson.json.error, 'string');
  });

  test('list returns the rows of wecare_backup_list, newest first', async () => {
    const res = await call('GET', '/api/backup/list');
    assert.equal(res.status, 200);
    assert.ok(Array.isArray(res.json));
    assert.equal(res.json.length, 2);
    for (const column of [
      'name',
      'path',
      'kind',
      'label',
      'created_at',
      'size_bytes',
      'checksum',
      'page_count',
      'verified_at',
      'verify_ok',
      'retain_reason',
    ]) {
      assert.ok(column in res.json[0], `list rows have ${column}`);
    }
    const names = res.json.map((row) => row.name);
    assert.deepEqual(names, [...names].sort().reverse());
    for (const row of res.json) {
      for (const [column, value] of Object.entries(row)) {
        if (Number.isInteger(value)) assert.ok(Number.isSafeInteger(value), `${column} is exact in JSON`);
      }
    }
    const backupDir = fs.realpathSync(server.backupDir);
    for (const row of res.json) assert.equal(fs.realpathSync(path.dirname(row.path)), backupDir);
  });

  test('stats is the JSON of wecare_backup_stats()', async () => {
    const res = await call('GET', '/api/backup/stats');
    assert.equal(res.status, 200);
    assert.equal(res.json.count, 2);
    assert.equal(res.json.keep_last, 7);
    assert.equal(res.json.prefix, 'wecare');
    assert.equal(fs.realpathSync(res.json.dir), fs.realpathSync(server.backupDir));
    assert.ok(res.json.total_bytes > 0);
  });

  test('download streams the backup file byte for byte as an attachment', async () => {
    const [newest] = (await call('GET', '/api/backup/list')).json;
    const res = await call('GET', `/api/backup/download/${newest.name}`);
    assert.equal(res.status, 200);
    // The name is a plain token, so it may be sent quoted or not.
    assert.match(
      res.headers['content-disposition'],
      new RegExp(`^attachment; filename="?${newest.name.replace(/\./g, '\\.')}"?$`),
    );
    assert.equal(Number(res.headers['content-length']), newest.size_bytes);
    assert.ok(res.raw.equals(fs.readFileSync(path.join(server.backupDir, newest.name))));
    assert.equal(res.raw.subarray(0, 16).toString('latin1'), 'SQLite format 3\0');
  });

  test('verify returns the verification report', async () => {
    const [newest] = (await call('GET', '/api/backup/list')).json;
    const res = await call('POST', `/api/backup/verify/${newest.name}`);
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal(res.json.ok, true);
    assert.equal(res.json.name, newest.name);
    assert.equal(res.json.checksum, 'match');
    assert.equal(res.json.integrity, 'ok');
    assert.equal(res.json.rows.patients, 3);
  });

  test('an unknown backup is a 404 for download, verify and restore', async () => {
    const download = await call('GET', `/api/backup/download/${UNKNOWN_BACKUP}`);
    assert.equal(download.status, 404, JSON.stringify(download.json));
    assert.match(download.json.error, /wecare_backup_path/);
    const verify = await call('POST', `/api/backup/verify/${UNKNOWN_BACKUP}`);
    assert.equal(verify.status, 404);
    const restore = await call('POST', `/api/backup/restore/${UNKNOWN_BACKUP}`, {
      token: developer,
      body: { confirm: CONFIRMATION },
    });
    assert.equal(restore.status, 404);
  });

  test('a traversal attempt is a 400 for download, verify and restore, and touches nothing', async () => {
    fs.writeFileSync(path.join(server.backupDir, '..', 'secret.txt'), 'top secret\n');
    fs.writeFileSync(path.join(server.backupDir, '.hidden.db'), 'not a backup\n');
    const entriesBefore = backupDirEntries();
    const databaseBefore = fs.readFileSync(server.dbPath);
    const countBefore = await patientCount();

    for (const name of TRAVERSAL_NAMES) {
      const attempts = [
        await call('GET', `/api/backup/download/${name}`),
        await call('POST', `/api/backup/verify/${name}`),
        await call('POST', `/api/backup/restore/${name}`, { token: developer, body: { confirm: CONFIRMATION } }),
      ];
      for (const res of attempts) {
        assert.equal(res.status, 400, `${name}: ${res.status} ${res.raw.toString('utf8').slice(0, 200)}`);
        assert.equal(typeof res.json.error, 'string');
        assert.doesNotMatch(res.raw.toString('latin1'), /top secret|not a backup|SQLite format 3|root:/);
      }
    }

    assert.deepEqual(backupDirEntries(), entriesBefore);
    assert.ok(fs.readFileSync(server.dbPath).equals(databaseBefore), 'the database file is unchanged');
    assert.equal(await patientCount(), countBefore);
    assert.equal((await call('GET', '/api/backup/list')).json.filter((r) => r.kind === 'safety').length, 0);
  });

  test('restore refuses a missing or wrong confirmation with 400 and changes nothing', async () => {
    const [newest] = (await call('GET', '/api/backup/list')).json;
    const entriesBefore = backupDirEntries();
    await call('POST', '/api/patients', { body: { name: 'Dan Example' } });
    const countBefore = await patientCount();
    for (const body of [
      undefined,
      {},
      { confirm: 'yes' },
      { confirm: CONFIRMATION.toUpperCase() },
      { confirm: true },
    ]) {
      const res = await call('POST', `/api/backup/restore/${newest.name}`, { token: developer, body });
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.match(res.json.error, /confirmation/);
    }
    assert.deepEqual(backupDirEntries(), entriesBefore);
    assert.equal(await patientCount(), countBefore);
  });

  test('a restore is seen by the next request', async () => {
    const before = await patientCount();
    const created = await call('POST', '/api/backup/create', { body: { label: 'before Eve' } });
    assert.equal(created.status, 201);
    const added = await call('POST', '/api/patients', { body: { name: 'Eve Example' } });
    assert.equal(added.status, 201);
    assert.equal(await patientCount(), before + 1);

    const res = await call('POST', `/api/backup/restore/${created.json.name}`, {
      token: developer,
      body: { confirm: CONFIRMATION },
    });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal(res.json.restored, created.json.name);
    assert.match(res.json.safety_backup, /^wecare_safety_/);

    assert.equal(await patientCount(), before);
    const list = (await call('GET', '/api/backup/list')).json;
    const safety = list.find((row) => row.name === res.json.safety_backup);
    assert.equal(safety.kind, 'safety');
    // The safety backup holds the database as it was just before the restore.
    const report = await call('POST', `/api/backup/verify/${safety.name}`);
    assert.equal(report.json.rows.patients, before + 1);
  });

  test('cleanup returns the number deleted and keeps what retention keeps', async () => {
    for (let i = 0; i < 9; i += 1) {
      const res = await call('POST', '/api/backup/create', { body: { label: `bulk ${i}` } });
      assert.equal(res.status, 201, JSON.stringify(res.json));
    }
    fs.writeFileSync(path.join(server.backupDir, 'notes.txt'), 'not a backup\n');
    const res = await call('POST', '/api/backup/cleanup');
    assert.equal(res.status, 200);
    assert.deepEqual(Object.keys(res.json), ['deleted']);
    assert.ok(Number.isInteger(res.json.deleted) && res.json.deleted >= 0);

    const list = (await call('GET', '/api/backup/list')).json;
    const regular = list.filter((row) => row.kind !== 'safety');
    assert.ok(regular.length <= 8, `keep_last 7 (+ last_good at most): ${regular.length}`);
    for (const row of list) assert.notEqual(row.retain_reason, null, `${row.name} would be deleted next`);
    assert.ok(fs.existsSync(path.join(server.backupDir, 'notes.txt')), 'other files are never deleted');
    assert.equal((await call('POST', '/api/backup/cleanup')).json.deleted, 0);
  });

  test('ADMIN reads settings but cannot change one; DEVELOPER can', async () => {
    const read = await call('GET', '/api/backup/settings/keep_last');
    assert.deepEqual(read.json, { key: 'keep_last', value: '7' });
    const denied = await call('PUT', '/api/backup/settings/keep_last', { body: { value: 0 } });
    assert.equal(denied.status, 403);
    const outside = path.join(server.dir, 'elsewhere');
    const moved = await call('PUT', '/api/backup/settings/dir', { body: { value: outside } });
    assert.equal(moved.status, 403);
    assert.equal((await call('GET', '/api/backup/settings/keep_last')).json.value, '7');
    const dir = (await call('GET', '/api/backup/settings/dir')).json.value;
    assert.equal(fs.realpathSync(dir), fs.realpathSync(server.backupDir));

    const changed = await call('PUT', '/api/backup/settings/keep_last', { token: developer, body: { value: 8 } });
    assert.deepEqual(changed.json, { key: 'keep_last', value: '8' });
    const unknown = await call('PUT', '/api/backup/settings/no_such_key', { token: developer, body: { value: 1 } });
    assert.equal(unknown.status, 400);
    assert.match(unknown.json.error, /unknown setting/);
    const reset = await call('PUT', '/api/backup/settings/keep_last', { token: developer, body: { value: '7' } });
    assert.equal(reset.json.value, '7');
  });

  test('only DEVELOPER may export, schedule and fetch', async () => {
    const [newest] = (await call('GET', '/api/backup/list')).json;
    const destination = path.join(server.dir, 'exported');
    fs.mkdirSync(destination, { mode: 0o700 });
    for (const [method, urlPath, body] of [
      ['POST', `/api/backup/export/${newest.name}`, { destination }],
      ['POST', '/api/backup/schedule', { seconds: 3600 }],
      ['POST', `/api/backup/fetch/${newest.name}`, undefined],
    ]) {
      const res = await call(method, urlPath, { body });
      assert.equal(res.status, 403, urlPath);
      assert.match(res.json.error, /may not/);
    }
    assert.deepEqual(fs.readdirSync(destination), []);
    assert.ok(!(await call('GET', '/api/backup/stats')).json.schedule_seconds);

    const exportPath = `/api/backup/export/${newest.name}`;
    const exported = await call('POST', exportPath, { token: developer, body: { destination } });
    assert.equal(exported.status, 201, JSON.stringify(exported.json));
    assert.ok(fs.readFileSync(exported.json.path).equals(fs.readFileSync(path.join(server.backupDir, newest.name))));
    const again = await call('POST', exportPath, { token: developer, body: { destination } });
    assert.equal(again.status, 409);

    const started = await call('POST', '/api/backup/schedule', { token: developer, body: { seconds: 86400 } });
    assert.deepEqual(started.json, { running: true });
    const stopped = await call('POST', '/api/backup/schedule', { token: developer, body: { seconds: 0 } });
    assert.deepEqual(stopped.json, { running: false });

    const fetched = await call('POST', `/api/backup/fetch/${newest.name}`, { token: developer });
    assert.equal(fetched.status, 409, JSON.stringify(fetched.json));
    assert.match(fetched.json.error, /^wecare_backup_fetch: no off-site target is set/);
  });

  test('a backup directory that went missing (an unmounted disk) is a 503, and stats says so', async () => {
    const unmounted = `${server.backupDir}.unmounted`;
    fs.renameSync(server.backupDir, unmounted);
    try {
      for (const [method, urlPath] of [
        ['GET', '/api/backup/list'],
        ['POST', '/api/backup/cleanup'],
        ['POST', '/api/backup/create'],
      ]) {
        const res = await call(method, urlPath);
        assert.equal(res.status, 503, `${urlPath}: ${JSON.stringify(res.json)}`);
        assert.match(res.json.error, /the backup directory '.*' does not exist; create it/);
      }
      const stats = await call('GET', '/api/backup/stats');
      assert.equal(stats.status, 200);
      assert.equal(stats.json.dir_missing, true);
    } finally {
      fs.renameSync(unmounted, server.backupDir);
    }
    assert.equal((await call('GET', '/api/backup/stats')).json.dir_missing, false);
    assert.equal((await call('GET', '/api/backup/list')).status, 200);
  });

  test('an unknown route is a JSON 404', async () => {
    const res = await call('GET', '/api/backup/nothing-here');
    assert.equal(res.status, 404);
    assert.equal(typeof res.json.error, 'string');
  });
});
