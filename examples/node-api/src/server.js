'use strict';
// Starts the API: reads the settings from the environment, opens the database,
// starts the backup worker thread (the long operations run there, on its own
// connection), starts continuous capture, listens on 127.0.0.1 and starts the
// backup schedule.
//
//   JWT_SECRET               required; HS256 secret of the bearer tokens
//   PORT                     default 3000 (0 picks a free port)
//   DB_PATH                  default ./data/wecare.db (relative to this example's folder)
//   WECARE_BACKUP_EXT        optional; default is the wecare-backup package's library (getLoadablePath())
//   BACKUP_DIR               optional; default is the extension's <db folder>/backups
//   BACKUP_INTERVAL_SECONDS  default 86400; 0 starts no schedule
//   CAPTURE_INTERVAL_MS      default 1000 (at least 100); 0 starts no continuous capture
//
// Relative paths given in the environment are taken from the current directory.

const path = require('node:path');
const wecareBackup = require('wecare-backup');
const { createApp } = require('./app');
const { startBackupJobs } = require('./backupJobs');
const { startCapture, stopCapture } = require('./capture');
const { openDatabase } = require('./database');

const EXAMPLE_DIR = path.resolve(__dirname, '..');
const HOST = '127.0.0.1';

function nonNegativeInteger(env, name, fallback) {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new Error(`${name} must be a whole number, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

function readConfig(env = process.env) {
  if (!env.JWT_SECRET) {
    throw new Error('JWT_SECRET is not set; e.g. export JWT_SECRET=$(openssl rand -hex 32)');
  }
  const port = nonNegativeInteger(env, 'PORT', 3000);
  if (port > 65535) throw new Error(`PORT must be at most 65535, got ${port}`);
  return {
    jwtSecret: env.JWT_SECRET,
    port,
    dbPath: env.DB_PATH ? path.resolve(env.DB_PATH) : path.join(EXAMPLE_DIR, 'data', 'wecare.db'),
    extensionPath: env.WECARE_BACKUP_EXT
      ? path.resolve(env.WECARE_BACKUP_EXT)
      : wecareBackup.getLoadablePath(),
    backupDir: env.BACKUP_DIR ? path.resolve(env.BACKUP_DIR) : undefined,
    backupIntervalSeconds: nonNegativeInteger(env, 'BACKUP_INTERVAL_SECONDS', 86400),
    captureIntervalMs: nonNegativeInteger(env, 'CAPTURE_INTERVAL_MS', 1000),
  };
}

function startSchedule(db, seconds) {
  if (seconds > 0) db.prepare('SELECT wecare_backup_schedule(?)').pluck().get(seconds);
}

function stopSchedule(db, seconds) {
  if (seconds > 0) db.prepare('SELECT wecare_backup_schedule(0)').pluck().get();
}

// Resolves to { server, db, jobs, url, close } once the server listens and the
// schedule runs. Capture starts before the server listens: the first time, on a
// database without a timeline, the extension makes a base backup before the
// call returns, and no request should wait for that.
async function start(config = readConfig()) {
  const db = openDatabase(config);
  let jobs;
  let server;
  try {
    jobs = await startBackupJobs(config);
    startCapture(db, config.captureIntervalMs);
    const app = createApp({ db, jobs, jwtSecret: config.jwtSecret });
    server = await new Promise((resolve, reject) => {
      const listening = app.listen(config.port, HOST, (err) => (err ? reject(err) : resolve(listening)));
      listening.once('error', reject);
    });
    startSchedule(db, config.backupIntervalSeconds);
  } catch (err) {
    if (server) server.close();
    if (jobs) await jobs.close();
    db.close();
    throw err;
  }

  let closing;
  const close = () => {
    closing =
      closing ||
      new Promise((resolve) => {
        server.close(async () => {
          try {
            stopSchedule(db, config.backupIntervalSeconds);
          } catch (err) {
            console.error(`stopping the backup schedule: ${err.message}`);
          }
          // A job that is running (a restore, say) ends first.
          await jobs.close();
          // Then capture takes the last commits, the job's included, and stops.
          try {
            if (config.captureIntervalMs > 0) stopCapture(db);
          } catch (err) {
            console.error(`stopping continuous capture: ${err.message}`);
          }
          db.close();
          resolve();
        });
        server.closeAllConnections();
      });
    return closing;
  };
  return { server, db, jobs, url: `http://${HOST}:${server.address().port}`, close };
}

async function main() {
  let running;
  try {
    const config = readConfig();
    running = await start(config);
    console.log(`wecare_backup example API listening on ${running.url} (database ${config.dbPath})`);
  } catch (err) {
    console.error(`cannot start: ${err.message}`);
    process.exit(1);
  }
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      running.close().then(() => process.exit(0));
    });
  }
}

if (require.main === module) main();

module.exports = { readConfig, start };
