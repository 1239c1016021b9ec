'use strict';
// Who may call which endpoint: every endpoint with every kind of caller.

const assert = require('node:assert/strict');
const { after, before, describe, test } = require('node:test');
const jwt = require('jsonwebtoken');
const fs = require('node:fs');
const path = require('node:path');
const { JWT_SECRET, request, startServer, tokenFor } = require('./helpers');

const CONFIRMATION = 'I understand this will replace the current database';

// `name` is filled in with an existing backup once the server runs; `exportDir` is an empty folder.
// `ok` is what the role that may call an endpoint gets (fetch: 409, no off-site target is set).
// The server captures continuously, so there is a latest point to restore to.
function endpoints(name, exportDir) {
  return [
    { method: 'POST', path: '/api/backup/create', ok: 201, roles: ['ADMIN', 'DEVELOPER'] },
    { method: 'GET', path: '/api/backup/list', ok: 200, roles: ['ADMIN', 'DEVELOPER'] },
    { method: 'GET', path: '/api/backup/stats', ok: 200, roles: ['ADMIN', 'DEVELOPER'] },
    { method: 'GET', path: `/api/backup/download/${name}`, ok: 200, roles: ['ADMIN', 'DEVELOPER'] },
    { method: 'POST', path: `/api/backup/verify/${name}`, ok: 200, roles: ['ADMIN', 'DEVELOPER'] },
    {
      method: 'POST',
      path: `/api/backup/restore/${name}`,
      body: { confirm: CONFIRMATION },
      ok: 200,
      roles: ['DEVELOPER'],
    },
    { method: 'POST', path: '/api/backup/cleanup', ok: 200, roles: ['ADMIN', 'DEVELOPER'] },
    { method: 'GET', path: '/api/backup/settings/keep_last', ok: 200, roles: ['ADMIN', 'DEVELOPER'] },
    { method: 'PUT', path: '/api/backup/settings/keep_last', body: { value: 7 }, ok: 200, roles: ['DEVELOPER'] },
    {
      method: 'POST',
      path: `/api/backup/export/${name}`,
      body: { destination: exportDir },
      ok: 201,
      roles: ['DEVELOPER'],
    },
    { method: 'POST', path: '/api/backup/schedule', body: { seconds: 0 }, ok: 200, roles: ['DEVELOPER'] },
    { method: 'POST', path: `/api/backup/fetch/${name}`, ok: 409, roles: ['DEVELOPER'] },
    { method: 'POST', path: `/api/backup/download-ticket/${name}`, ok: 201, roles: ['ADMIN', 'DEVELOPER'] },
    { method: 'GET', path: '/api/backup/features', ok: 200, roles: ['ADMIN', 'DEVELOPER'] },
    {
      method: 'POST',
      path: `/api/backup/recover/${name}`,
      body: { database: path.join(exportDir, 'wecare.db'), confirm: CONFIRMATION },
      ok: 200,
      roles: ['DEVELOPER'],
    },
    {
      method: 'POST',
      path: '/api/backup/restore-at',
      body: { time: 'latest', confirm: CONFIRMATION },
      ok: 200,
      roles: ['DEVELOPER'],
    },
    { method: 'GET', path: '/api/backup/timeline', ok: 200, roles: ['DEVELOPER'] },
  ];
}

function unsignedToken(claims) {
  const encode = (part) => Buffer.from(JSON.stringify(part)).toString('base64url');
  return `${encode({ alg: 'none', typ: 'JWT' })}.${encode(claims)}.`;
}

// Tokens that must get a 401, whatever the endpoint.
const INVALID_CREDENTIALS = {
  'no token': {},
  'a token signed with another secret': { token: jwt.sign({ role: 'DEVELOPER' }, 'another-secret') },
  'an expired token': {
    token: jwt.sign({ role: 'DEVELOPER', exp: Math.floor(Date.now() / 1000) - 60 }, JWT_SECRET),
  },
  'an unsigned (alg none) token': { token: unsignedToken({ role: 'DEVELOPER' }) },
  'an HS384 token': { token: jwt.sign({ role: 'DEVELOPER' }, JWT_SECRET, { algorithm: 'HS384' }) },
  garbage: { token: 'not-a-jwt' },
  'a Basic header': { headers: { Authorization: 'Basic YWRtaW46YWRtaW4=' } },
};

describe('authentication and roles', () => {
  let server;
  let backupName;
  let exportDir;

  before(async () => {
    server = await startServer({ CAPTURE_INTERVAL_MS: '100' });
    const created = await request(server.url, 'POST', '/api/backup/create', { token: tokenFor('ADMIN') });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    backupName = created.json.name;
    exportDir = path.join(server.dir, 'exports');
    fs.mkdirSync(exportDir, { mode: 0o700 });
  });
  after(async () => {
    if (server) await server.stop();
  });

  for (const [description, credentials] of Object.entries(INVALID_CREDENTIALS)) {
    test(`${description} is a 401 on every endpoint`, async () => {
      for (const endpoint of [...endpoints(backupName, exportDir), { method: 'GET', path: '/api/patients/count' }]) {
        const res = await request(server.url, endpoint.method, endpoint.path, { body: endpoint.body, ...credentials });
        assert.equal(res.status, 401, `${endpoint.method} ${endpoint.path}`);
        assert.match(res.headers['www-authenticate'], /^Bearer/);
        assert.equal(typeof res.json.error, 'string');
      }
    });
  }

  for (const role of ['USER', 'AUDITOR', 'admin']) {
    test(`role ${role} is a 403 on every backup endpoint`, async () => {
      const token = tokenFor(role);
      for (const endpoint of endpoints(backupName, exportDir)) {
        const res = await request(server.url, endpoint.method, endpoint.path, { token, body: endpoint.body });
        assert.equal(res.status, 403, `${endpoint.method} ${endpoint.path}`);
        assert.match(res.json.error, /may not/);
      }
      // ... and does not even learn whether a name is valid.
      const probe = await request(server.url, 'GET', '/api/backup/download/..%2Fdata%2Fwecare.db', { token });
      assert.equal(probe.status, 403);
    });
  }

  test('a token without a role claim is a 403', async () => {
    const token = jwt.sign({ sub: 'someone' }, JWT_SECRET);
    const res = await request(server.url, 'GET', '/api/backup/list', { token });
    assert.equal(res.status, 403);
  });

  test('USER may read the patient count but not touch backups', async () => {
    const res = await request(server.url, 'GET', '/api/patients/count', { token: tokenFor('USER') });
    assert.equal(res.status, 200);
    assert.equal(typeof res.json.count, 'number');
  });

  for (const role of ['ADMIN', 'DEVELOPER']) {
    test(`${role} gets exactly the endpoints of its role`, async () => {
      const token = tokenFor(role);
      for (const endpoint of endpoints(backupName, exportDir)) {
        const res = await request(server.url, endpoint.method, endpoint.path, { token, body: endpoint.body });
        const expected = endpoint.roles.includes(role) ? endpoint.ok : 403;
        assert.equal(
          res.status,
          expected,
          `${role} ${endpoint.method} ${endpoint.path}: ${res.raw.toString().slice(0, 300)}`,
        );
      }
    });
  }
});
