'use strict';
// What the operator page relies on beyond the original endpoints: who the token
// is, which later functions the extension has, download links, recover, and
// point-in-time restore and the timeline answering 501 until the extension has them.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');
const Database = require('better-sqlite3');
const { downloadTickets } = require('../src/auth');
const { JWT_SECRET, request, startServer, tokenFor } = require('./helpers');

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
      restore_at: false,
      timeline: false,
      continuous: false,
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

  test('restore to a point in time and the timeline are 501 until the extension has them', async () => {
    const body = { time: 'latest', confirm: CONFIRMATION };
    const restoreAt = await call('POST', '/api/backup/restore-at', { token: developer, body });
    assert.equal(restoreAt.status, 501);
    assert.match(restoreAt.json.error, /wecare_backup_restore_at.*not in the loaded wecare_backup extension/);
    const timeline = await call('GET', '/api/backup/timeline', { token: developer });
    assert.equal(timeline.status, 501);
    assert.match(timeline.json.error, /wecare_backup_timeline/);
    // ADMIN is refused before anyone looks.
    assert.equal((await call('POST', '/api/backup/restore-at', { body })).status, 403);
    assert.equal((await call('GET', '/api/backup/timeline')).status, 403);
    assert.doesNotMatch(server.output(), /restore-at|timeline/, 'a 501 is not logged as a server error');
  });
});
