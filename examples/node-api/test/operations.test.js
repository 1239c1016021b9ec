'use strict';
// What the operator page relies on beyond the original endpoints: who the token
// is, which later functions the extension has, download links, recover, and
// continuous capture: the timeline and restore to a point in time.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');
const Database = require('better-sqlite3');
const { downloadTickets } = require('../src/auth');
const { JWT_SECRET, captured, micros, request, sleep, startServer, tokenFor, utcAt } = require('./helpers');

const CONFIRMATION = 'I understand this will replace the current database';

describe('session, features, download links, recover, point in time', () => {
  let server;
  let backupName;
  const admin = tokenFor('ADMIN');
  const developer = tokenFor('DEVELOPER');
  const call = (method, urlPath, options = {}) => request(server.url, method, urlPath, { token: admin, ...options });

  before(async () => {
    server = await startServer();
    const created = await call('POST', '/api/backup/create', { body: { label: 'for the links' } });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    backupName = created.json.name;
  });
  after(async () => {
    if (server) await server.stop();
  });

  test('GET /api/session says which role the token has, for any role', async () => {
    for (const role of ['ADMIN', 'DEVELOPER', 'USER']) {
      const res = await call('GET', '/api/session', { token: tokenFor(role) });
      assert.equal(res.status, 200);
      assert.equal(res.json.role, role);
      assert.equal(res.json.sub, `demo-${role.toLowerCase()}`);
      assert.ok(Date.parse(res.json.expires_at) > Date.now());
      // What the role may run, from auth.js's table: the page offers only that.
      assert.equal(res.json.may.restore, role === 'DEVELOPER');
      assert.equal(res.json.may.restore_at, role === 'DEVELOPER');
      assert.equal(res.json.may.create, role !== 'USER');
      assert.equal(res.json.may.list, role !== 'USER');
    }
    const none = await call('GET', '/api/session', { token: null });
    assert.equal(none.status, 401);
  });

  test('GET /api/backup/features names what this extension has', async () => {
    const res = await call('GET', '/api/backup/features');
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, {
      version: '1.0.0',
      recover: true,
      restore_at: true,
      timeline: true,
      continuous: true,
    });
  });

  test('a download link works without a token, once, and gives the backup byte for byte', async () => {
    const issued = await call('POST', `/api/backup/download-ticket/${backupName}`);
    assert.equal(issued.status, 201, JSON.stringify(issued.json));
    assert.match(issued.json.url, /^\/api\/backup\/download\?ticket=[A-Za-z0-9._~%-]+$/);
    assert.equal(issued.json.expires_in, 60);

    const first = await request(server.url, 'GET', issued.json.url);
    assert.equal(first.status, 200, first.raw.toString().slice(0, 200));
    assert.match(first.headers['content-disposition'], new RegExp(`^attachment; filename="?${backupName}"?$`));
    assert.ok(first.raw.equals(fs.readFileSync(path.join(server.backupDir, backupName))));

    const again = await request(server.url, 'GET', issued.json.url);
    assert.equal(again.status, 401);
    assert.match(again.json.error, /used already/);
  });

  test('a ticket is not a bearer token, a bearer token is not a ticket, and a forged or expired one fails', async () => {
    const issued = await call('POST', `/api/backup/download-ticket/${backupName}`);
    const ticket = decodeURIComponent(issued.json.url.split('ticket=')[1]);
    const asBearer = await request(server.url, 'GET', '/api/backup/list', { token: ticket });
    assert.equal(asBearer.status, 401);

    const asTicket = await request(server.url, 'GET', `/api/backup/download?ticket=${admin}`);
    assert.equal(asTicket.status, 401);
    assert.match(asTicket.json.error, /invalid download ticket/);

    const forged = `${ticket.slice(0, -4)}AAAA`;
    const tampered = await request(server.url, 'GET', `/api/backup/download?ticket=${encodeURIComponent(forged)}`);
    assert.equal(tampered.status, 401);

    const expired = downloadTickets(JWT_SECRET, { ttlSeconds: -10 }).issue({ role: 'ADMIN' }, backupName);
    const late = await request(server.url, 'GET', `/api/backup/download?ticket=${expired}`);
    assert.equal(late.status, 401);
    assert.match(late.json.error, /expired/);

    const none = await request(server.url, 'GET', '/api/backup/download');
    assert.equal(none.status, 401);
  });

  test('a ticket carries its role: one made for USER is refused, and USER cannot ask for one', async () => {
    const forUser = downloadTickets(JWT_SECRET).issue({ role: 'USER' }, backupName);
    const res = await request(server.url, 'GET', `/api/backup/download?ticket=${forUser}`);
    assert.equal(res.status, 403);
    const asked = await call('POST', `/api/backup/download-ticket/${backupName}`, { token: tokenFor('USER') });
    assert.equal(asked.status, 403);
  });

  test('a ticket is only issued for a backup that exists, under a valid name', async () => {
    assert.equal((await call('POST', '/api/backup/download-ticket/wecare_backup_2001-02-03_04-05-06.db')).status, 404);
    assert.equal((await call('POST', '/api/backup/download-ticket/..%2Fdata%2Fwecare.db')).status, 400);
  });

  test('recover writes a missing database from a backup; only DEVELOPER, with the phrase, never the open one', async () => {
    const target = path.join(server.dir, 'elsewhere', 'wecare.db');
    fs.mkdirSync(path.dirname(target), { mode: 0o700 });
    const body = { database: target, confirm: CONFIRMATION };
    const url = `/api/backup/recover/${backupName}`;

    assert.equal((await call('POST', url, { body })).status, 403);
    const wrongPhrase = await call('POST', url, { token: developer, body: { database: target, confirm: 'yes' } });
    assert.equal(wrongPhrase.status, 400);
    assert.match(wrongPhrase.json.error, /confirmation/);
    const relative = await call('POST', url, {
      token: developer,
      body: { database: 'wecare.db', confirm: CONFIRMATION },
    });
    assert.equal(relative.status, 400);
    const own = await call('POST', url, { token: developer, body: { database: server.dbPath, confirm: CONFIRMATION } });
    assert.equal(own.status, 409);
    assert.match(own.json.error, /this server's own database/);
    assert.ok(!fs.existsSync(target));

    const res = await call('POST', url, { token: developer, body });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal(res.json.recovered, backupName);
    const recovered = new Database(target, { readonly: true });
    try {
      assert.equal(recovered.prepare('SELECT count(*) FROM patients').pluck().get(), 3);
    } finally {
      recovered.close();
    }

    const otherName = path.join(server.dir, 'elsewhere', 'clinic.db');
    const mismatch = await call('POST', url, {
      token: developer,
      body: { database: otherName, confirm: CONFIRMATION },
    });
    assert.equal(mismatch.status, 400, JSON.stringify(mismatch.json));
    assert.match(mismatch.json.error, /^wecare_backup_recover: .* is not a backup name of this database/);
  });

  test('without continuous capture the timeline is empty and there is no point in time to restore to', async () => {
    const stats = await call('GET', '/api/backup/stats');
    assert.equal(stats.json.continuous.state, 'stopped');
    assert.equal(stats.json.continuous.restorable_from, null);
    const timeline = await call('GET', '/api/backup/timeline', { token: developer });
    assert.equal(timeline.status, 200);
    assert.deepEqual(timeline.json, []);
    const restoreAt = await call('POST', '/api/backup/restore-at', {
      token: developer,
      body: { time: 'latest', confirm: CONFIRMATION },
    });
    assert.equal(restoreAt.status, 404);
    assert.match(restoreAt.json.error, /^wecare_backup_restore_at: there is no timeline of restore points; start/);
  });
});

describe('continuous capture and restore to a point in time', () => {
  const INTERVAL_MS = 200;
  let server;
  const admin = tokenFor('ADMIN');
  const developer = tokenFor('DEVELOPER');
  const call = (method, urlPath, options = {}) => request(server.url, method, urlPath, { token: admin, ...options });
  const names = () => {
    const db = new Database(server.dbPath, { readonly: true });
    try {
      return db.prepare('SELECT name FROM patients ORDER BY id').pluck().all();
    } finally {
      db.close();
    }
  };
  // Adds a patient and resolves, once capture has it, to a time after its commit.
  async function addCaptured(name) {
    assert.equal((await call('POST', '/api/patients', { body: { name } })).status, 201);
    const after = new Date().toISOString();
    await captured(server.url, admin, after);
    return after;
  }
  let point; // a time between the commit of 'Before the point' and that of 'After the point'

  before(async () => {
    server = await startServer({ CAPTURE_INTERVAL_MS: String(INTERVAL_MS) });
    await addCaptured('Before the point');
    await sleep(50);
    point = new Date().toISOString();
    await sleep(50);
    await addCaptured('After the point');
  });
  after(async () => {
    if (server) await server.stop();
  });

  test('the server captures from start-up, on its own connection, as stats say to ADMIN', async () => {
    const stats = await call('GET', '/api/backup/stats');
    assert.equal(stats.status, 200);
    const c = stats.json.continuous;
    assert.equal(c.state, 'capturing');
    assert.equal(c.interval_ms, INTERVAL_MS);
    assert.equal(c.last_error, null);
    assert.ok(micros(c.restorable_from) < micros(point) && micros(point) < micros(c.restorable_to), JSON.stringify(c));
    // Its first base backup, made at start-up, is in the list.
    const [base] = (await call('GET', '/api/backup/list')).json.filter((row) => row.kind === 'auto');
    assert.equal(base.label, 'continuous capture base');
  });

  test('the timeline: one range from the base backup to the last commit captured, for DEVELOPER only', async () => {
    const res = await call('GET', '/api/backup/timeline', { token: developer });
    assert.equal(res.status, 200);
    assert.equal(res.json.length, 1, JSON.stringify(res.json));
    const [range] = res.json;
    assert.deepEqual(Object.keys(range), ['kind', 'from_at', 'to_at', 'base', 'segments', 'bytes', 'gap_reason']);
    assert.equal(range.kind, 'range');
    assert.equal(range.gap_reason, null);
    assert.ok(micros(range.from_at) < micros(point) && micros(point) < micros(range.to_at), JSON.stringify(range));
    assert.ok(range.segments >= 1 && range.bytes > 0, JSON.stringify(range));
    const list = (await call('GET', '/api/backup/list')).json;
    assert.ok(
      list.some((row) => row.name === range.base),
      `the base ${range.base} is a backup`,
    );

    const refused = await call('GET', '/api/backup/timeline');
    assert.equal(refused.status, 403);
    assert.match(refused.json.error, /needs one of DEVELOPER/);
  });

  test("times the timeline cannot restore are a 400 with the extension's message, and nothing changes", async () => {
    const restoreAt = (time, confirm = CONFIRMATION) =>
      call('POST', '/api/backup/restore-at', { token: developer, body: { time, confirm } });
    const [range] = (await call('GET', '/api/backup/timeline', { token: developer })).json;
    const cases = [
      ['yesterday', /^wecare_backup_restore_at: 'yesterday' is not a time; pass UTC as .*'latest'$/],
      ['2026-13-01T00:00:00Z', /is not a time/],
      ['2001-01-01T00:00:00Z', new RegExp(`is before the oldest restore point \\(${range.from_at}\\)`)],
      ['2200-01-01 00:00:00', new RegExp(`is after the newest restore point \\(${range.to_at}\\).*'latest'$`)],
    ];
    for (const [time, message] of cases) {
      const res = await restoreAt(time);
      assert.equal(res.status, 400, `${time}: ${JSON.stringify(res.json)}`);
      assert.match(res.json.error, message);
    }
    const noTime = await restoreAt(undefined);
    assert.equal(noTime.status, 400);
    assert.match(noTime.json.error, /^time must be/);
    const wrongPhrase = await restoreAt(point, 'yes');
    assert.equal(wrongPhrase.status, 400);
    assert.match(wrongPhrase.json.error, /confirmation/);
    assert.deepEqual(names().slice(-2), ['Before the point', 'After the point']);
    assert.ok(!(await call('GET', '/api/backup/list')).json.some((row) => row.kind === 'safety'));
  });

  test('ADMIN cannot restore to a point in time', async () => {
    const res = await call('POST', '/api/backup/restore-at', { body: { time: point, confirm: CONFIRMATION } });
    assert.equal(res.status, 403);
    assert.match(res.json.error, /needs one of DEVELOPER/);
    assert.deepEqual(names().slice(-2), ['Before the point', 'After the point']);
  });

  test('DEVELOPER restores to a point in time: the rows committed before it are back, the later ones gone', async () => {
    const countBefore = (await call('GET', '/api/patients/count')).json.count;
    const res = await call('POST', '/api/backup/restore-at', {
      token: developer,
      body: { time: point, confirm: CONFIRMATION },
    });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.deepEqual(Object.keys(res.json).sort(), ['base', 'pages', 'restored_to', 'safety_backup', 'segments']);
    assert.ok(micros(res.json.restored_to) <= micros(point), `${res.json.restored_to} after ${point}`);
    assert.ok(res.json.segments >= 1);
    assert.equal(names().at(-1), 'Before the point');
    // The server's own connection reads the restored database at its next read.
    assert.equal((await call('GET', '/api/patients/count')).json.count, countBefore - 1);
    const list = (await call('GET', '/api/backup/list')).json;
    assert.equal(list.find((row) => row.name === res.json.safety_backup).kind, 'safety');
    assert.ok(list.some((row) => row.name === res.json.base));

    // The restore is a break in the history: capture goes on from a new base after it.
    const deadline = Date.now() + 10000;
    let timeline;
    for (;;) {
      timeline = (await call('GET', '/api/backup/timeline', { token: developer })).json;
      if (timeline.length === 3 || Date.now() > deadline) break;
      await sleep(100);
    }
    assert.deepEqual(
      timeline.map((row) => [row.kind, row.gap_reason]),
      [
        ['range', null],
        ['gap', 'restored'],
        ['range', null],
      ],
    );
    // A time inside the gap restores nothing, and says between which points.
    const gap = timeline[1];
    const inside = utcAt(Math.floor((micros(gap.from_at) + micros(gap.to_at)) / 2));
    assert.ok(micros(gap.from_at) < micros(inside) && micros(inside) < micros(gap.to_at), JSON.stringify(gap));
    const inGap = await call('POST', '/api/backup/restore-at', {
      token: developer,
      body: { time: inside, confirm: CONFIRMATION },
    });
    assert.equal(inGap.status, 400, JSON.stringify(inGap.json));
    assert.match(
      inGap.json.error,
      new RegExp(
        `is in a gap of the timeline \\(restored\\): nothing can be restored between ${gap.from_at} and ${gap.to_at}`,
      ),
    );
  });

  test('recover writes a database as it was at a time, or at the latest point, into another file', async () => {
    const target = path.join(server.dir, 'elsewhere', 'wecare.db');
    fs.mkdirSync(path.dirname(target), { mode: 0o700 });
    const res = await call('POST', '/api/backup/recover/latest', {
      token: developer,
      body: { database: target, confirm: CONFIRMATION },
    });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal(res.json.recovered, res.json.restored_to);
    const recovered = new Database(target, { readonly: true });
    try {
      assert.equal(
        recovered.prepare('SELECT name FROM patients ORDER BY id DESC LIMIT 1').pluck().get(),
        'Before the point',
      );
    } finally {
      recovered.close();
    }
  });
});
