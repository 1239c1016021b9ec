'use strict';
// better-sqlite3 is synchronous: a backup called on the server's own connection
// would hold Node's event loop, and every other request would wait for it. The
// long operations run in a worker thread (src/backupWorker.js); this measures
// what the rest of the application sees meanwhile, on a database of about 300 MB.
// The server captures continuously, as it does by default: that runs on the
// extension's own thread, and so does the base backup it makes after a restore.

const assert = require('node:assert/strict');
const { performance } = require('node:perf_hooks');
const { after, before, describe, test } = require('node:test');
const Database = require('better-sqlite3');
const { request, startServer, tokenFor } = require('./helpers');

const CONFIRMATION = 'I understand this will replace the current database';
const DATABASE_BYTES = 300 * 1024 * 1024;
const ROW_BYTES = 4000;
// The bound: other requests keep a p99 of 50 ms or less during a backup.
const P99_BOUND_MS = 50;
// Fewer samples than this and the operation was too short to say anything.
const MIN_SAMPLES = 20;
// A machine loaded by other work can push one run's p99 over the bound; an
// event loop held by the backup pushes every run over it, by the backup's
// whole duration (seconds). So: up to this many creates, one must keep the bound.
const ATTEMPTS = 3;
const BASELINE_MS = 1000;
const PAUSE_BETWEEN_REQUESTS_MS = 5;
// How long capture may take to make its base backup of ~300 MB after a restore.
const BASE_TIMEOUT_MS = 60000;

// ~300 MB of random blobs in a few seconds: one INSERT from a recursive CTE,
// without a journal (a scratch database), then switched to WAL like the server's.
function fillDatabase(dbPath) {
  const db = new Database(dbPath);
  try {
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    db.exec('CREATE TABLE ballast (id INTEGER PRIMARY KEY, payload BLOB NOT NULL)');
    db.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
       INSERT INTO ballast (payload) SELECT randomblob(?) FROM n`,
    ).run(Math.ceil(DATABASE_BYTES / ROW_BYTES), ROW_BYTES);
    db.pragma('journal_mode = WAL');
  } finally {
    db.close();
  }
}

// Nearest-rank percentile.
function percentile(values, fraction) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(fraction * sorted.length) - 1)];
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the event loop during a long operation', () => {
  let server;
  const admin = tokenFor('ADMIN');
  const developer = tokenFor('DEVELOPER');
  const call = (method, urlPath, options = {}) => request(server.url, method, urlPath, { token: admin, ...options });

  // Sends GET /api/patients/count one after another until `operation` settles;
  // returns the operation's response, its duration and every request's latency.
  // Without an operation, for BASELINE_MS.
  async function measureDuring(operation = () => sleep(BASELINE_MS)) {
    const latencies = [];
    let settled = false;
    const started = performance.now();
    const pending = operation().finally(() => {
      settled = true;
    });
    while (!settled) {
      const sent = performance.now();
      const res = await call('GET', '/api/patients/count');
      latencies.push(performance.now() - sent);
      assert.equal(res.status, 200, JSON.stringify(res.json));
      await sleep(PAUSE_BETWEEN_REQUESTS_MS);
    }
    const response = await pending;
    return { response, durationMs: performance.now() - started, latencies };
  }

  function report(t, what, { durationMs, latencies }) {
    const p99 = percentile(latencies, 0.99);
    t.diagnostic(
      `${what}: ${Math.round(durationMs)} ms; GET /api/patients/count meanwhile: ` +
        `${latencies.length} requests, p50 ${percentile(latencies, 0.5).toFixed(1)} ms, ` +
        `p99 ${p99.toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms`,
    );
    return p99;
  }

  before(async () => {
    // Capturing, as the server does by default: its first base backup is made at start-up.
    server = await startServer({ CAPTURE_INTERVAL_MS: '1000' }, { beforeStart: ({ dbPath }) => fillDatabase(dbPath) });
  });
  after(async () => {
    if (server) await server.stop();
  });

  // Runs `operation` (which asserts its own response) up to ATTEMPTS times
  // while measuring; passes as soon as one run keeps the p99 bound.
  async function assertKeepsBound(t, what, operation) {
    const p99s = [];
    for (let attempt = 1; attempt <= ATTEMPTS; attempt += 1) {
      const measured = await measureDuring(operation);
      const p99 = report(t, `${what}, attempt ${attempt}`, measured);
      assert.ok(measured.latencies.length >= MIN_SAMPLES || p99 > P99_BOUND_MS, `the ${what} was too short to measure`);
      p99s.push(p99.toFixed(1));
      if (p99 <= P99_BOUND_MS) return;
    }
    assert.fail(`${what}: p99 over ${P99_BOUND_MS} ms in every attempt: ${p99s.join(', ')} ms`);
  }

  test('other requests keep a p99 of 50 ms or less while a create of ~300 MB runs', async (t) => {
    report(t, 'no operation (baseline)', await measureDuring());
    await assertKeepsBound(t, 'create', async () => {
      const res = await call('POST', '/api/backup/create', { body: { label: 'large' } });
      assert.equal(res.status, 201, JSON.stringify(res.json));
      assert.ok(res.json.size_bytes >= DATABASE_BYTES, `size ${res.json.size_bytes}`);
    });
  });

  test('... and while that backup is verified', async (t) => {
    const [newest] = (await call('GET', '/api/backup/list')).json;
    await assertKeepsBound(t, 'verify', async () => {
      const res = await call('POST', `/api/backup/verify/${newest.name}`);
      assert.equal(res.status, 200, JSON.stringify(res.json));
      assert.equal(res.json.ok, true);
    });
  });

  test('the restore runs on the worker, and the server connection then reads the restored data', async (t) => {
    const [large] = (await call('GET', '/api/backup/list')).json;
    const before = (await call('GET', '/api/patients/count')).json.count;
    await call('POST', '/api/patients', { body: { name: 'Added after the large backup' } });
    assert.equal((await call('GET', '/api/patients/count')).json.count, before + 1);

    const measured = await measureDuring(() =>
      call('POST', `/api/backup/restore/${large.name}`, { token: developer, body: { confirm: CONFIRMATION } }),
    );
    assert.equal(measured.response.status, 200, JSON.stringify(measured.response.json));
    assert.match(measured.response.json.safety_backup, /^wecare_safety_/);
    report(t, 'restore', measured);
    // The worker's own connection restored; the server's connection sees it at its next read.
    assert.equal((await call('GET', '/api/patients/count')).json.count, before);
  });

  // The server captures continuously, as it does by default. A restore is not
  // captured as a change: capture goes on from a new base backup of the whole
  // database, which the extension makes on its own thread once the restore is
  // done. The first one follows the restore above; a try after that restores again.
  test('... and while continuous capture makes its new base backup after the restore', async (t) => {
    const [large] = (await call('GET', '/api/backup/list')).json.filter((row) => row.label === 'large');
    // Resolves once capture has gone on from a base made after the `gaps`th restore.
    const newBase = async (gaps) => {
      const deadline = Date.now() + BASE_TIMEOUT_MS;
      for (;;) {
        const { continuous } = (await call('GET', '/api/backup/stats')).json;
        assert.equal(continuous.last_error, null);
        if (continuous.gaps >= gaps && continuous.state === 'capturing' && continuous.lag_ms === 0) return;
        assert.ok(Date.now() < deadline, `no new base in ${BASE_TIMEOUT_MS} ms: ${JSON.stringify(continuous)}`);
        await sleep(100);
      }
    };
    const p99s = [];
    for (let attempt = 1; attempt <= ATTEMPTS; attempt += 1) {
      if (attempt > 1) {
        const res = await call('POST', `/api/backup/restore/${large.name}`, {
          token: developer,
          body: { confirm: CONFIRMATION },
        });
        assert.equal(res.status, 200, JSON.stringify(res.json));
      }
      const measured = await measureDuring(() => newBase(attempt));
      const p99 = report(t, `new base backup after a restore, attempt ${attempt}`, measured);
      p99s.push(p99.toFixed(1));
      if (p99 <= P99_BOUND_MS) return;
    }
    assert.fail(`new base backup: p99 over ${P99_BOUND_MS} ms in every attempt: ${p99s.join(', ')} ms`);
  });
});
