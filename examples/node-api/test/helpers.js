'use strict';
// Test helpers: start the real server (node src/server.js) on a free loopback
// port with a temporary database and backup folder, and send raw HTTP requests.

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { signToken } = require('../src/auth');

const EXAMPLE_DIR = path.resolve(__dirname, '..');
const SERVER_SCRIPT = path.join(EXAMPLE_DIR, 'src', 'server.js');
const EXTENSION_PATH = process.env.WECARE_BACKUP_EXT || path.resolve(EXAMPLE_DIR, '..', '..', 'dist', 'wecare_backup');
const JWT_SECRET = 'test-secret-0123456789abcdef0123456789abcdef';
const STARTUP_TIMEOUT_MS = 15000;

function assertExtensionBuilt() {
  const candidates = [EXTENSION_PATH, `${EXTENSION_PATH}.so`];
  assert.ok(
    candidates.some((file) => fs.existsSync(file)),
    `the extension is not built at ${EXTENSION_PATH}(.so): run \`make\` at the repository root first`,
  );
}

function makeTempDir(prefix = 'wecare-node-api-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

function tokenFor(role, options) {
  return signToken(JWT_SECRET, role, options);
}

// Runs `node src/server.js` with `env` added to a minimal environment and
// resolves once it prints its URL. Rejects with its output if it exits first.
function spawnServer(env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SERVER_SCRIPT], {
      cwd: EXAMPLE_DIR,
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let settled = false;
    const timer = setTimeout(() => finish(new Error(`server did not start in time:\n${output}`)), STARTUP_TIMEOUT_MS);
    function finish(err, url) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        child.kill('SIGKILL');
        reject(err);
      } else {
        resolve({ child, url, output: () => output });
      }
    }
    const collect = (chunk) => {
      output += chunk;
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match) finish(null, match[1]);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.once('exit', (code, signal) =>
      finish(new Error(`server exited (${code ?? signal}) before listening:\n${output}`)),
    );
  });
}

// Starts a server on a fresh temporary database. The schedule and continuous
// capture are off by default, so that no background backup (a scheduled one, or
// the base backup capture takes at start and after every restore) races the
// tests; pass BACKUP_INTERVAL_SECONDS or CAPTURE_INTERVAL_MS to test them.
// beforeStart({ dir, dbPath }) may create the database first (the server then
// adds its tables and demo rows to it).
async function startServer(extraEnv = {}, { beforeStart } = {}) {
  assertExtensionBuilt();
  const dir = makeTempDir();
  const dbPath = path.join(dir, 'data', 'wecare.db');
  const backupDir = path.join(dir, 'backups');
  if (beforeStart) {
    fs.mkdirSync(path.dirname(dbPath), { mode: 0o700 });
    await beforeStart({ dir, dbPath });
  }
  const { child, url, output } = await spawnServer({
    JWT_SECRET,
    PORT: '0',
    DB_PATH: dbPath,
    BACKUP_DIR: backupDir,
    WECARE_BACKUP_EXT: EXTENSION_PATH,
    BACKUP_INTERVAL_SECONDS: '0',
    CAPTURE_INTERVAL_MS: '0',
    ...extraEnv,
  });
  async function stop() {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { url, dir, dbPath, backupDir, child, output, stop };
}

// One HTTP request with the path sent exactly as given (fetch would normalise
// "..", "%2E%2E" and friends away before they reach the server).
function request(baseUrl, method, rawPath, { token, body, headers = {} } = {}) {
  const { hostname, port } = new URL(baseUrl);
  const payload =
    body === undefined ? undefined : Buffer.isBuffer(body) || typeof body === 'string' ? body : JSON.stringify(body);
  const allHeaders = { ...headers };
  if (token) allHeaders.Authorization = `Bearer ${token}`;
  if (payload !== undefined) {
    allHeaders['Content-Type'] = allHeaders['Content-Type'] || 'application/json';
    allHeaders['Content-Length'] = Buffer.byteLength(payload);
  }
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname, port, method, path: rawPath, headers: allHeaders }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        let json;
        if (/application\/json/.test(res.headers['content-type'] || '')) json = JSON.parse(raw.toString('utf8'));
        resolve({ status: res.statusCode, headers: res.headers, raw, json });
      });
    });
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

// A time as the extension writes it ('YYYY-MM-DDTHH:MM:SS[.ffffff]Z') in
// microseconds since the epoch, so that times of different precision compare.
function micros(iso) {
  const match = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?Z$/.exec(iso);
  assert.ok(match, `not a UTC time: ${iso}`);
  return Date.parse(`${match[1]}Z`) * 1000 + Number((match[2] || '').padEnd(6, '0'));
}

// The inverse: 'YYYY-MM-DDTHH:MM:SS.ffffffZ'.
function utcAt(us) {
  const seconds = Math.floor(us / 1e6);
  const fraction = String(us - seconds * 1e6).padStart(6, '0');
  return `${new Date(seconds * 1000).toISOString().slice(0, 19)}.${fraction}Z`;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Waits until continuous capture has caught up with every commit made before
// `sinceIso` (a time taken after the commit): a restore point captured at or
// after it exists and nothing is waiting to be captured. Resolves to stats.continuous.
async function captured(baseUrl, token, sinceIso, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stats = await request(baseUrl, 'GET', '/api/backup/stats', { token });
    assert.equal(stats.status, 200, JSON.stringify(stats.json));
    const c = stats.json.continuous;
    if (c.lag_ms === 0 && c.last_captured_at && micros(c.last_captured_at) >= micros(sinceIso)) return c;
    if (Date.now() > deadline) assert.fail(`capture did not catch up with ${sinceIso}: ${JSON.stringify(c)}`);
    await sleep(50);
  }
}

module.exports = {
  EXAMPLE_DIR,
  EXTENSION_PATH,
  JWT_SECRET,
  captured,
  makeTempDir,
  micros,
  request,
  spawnServer,
  sleep,
  startServer,
  tokenFor,
  utcAt,
};
