'use strict';
// The server's side of the backup worker thread (backupWorker.js): starts it,
// sends it jobs and gives each result back as a promise, so that a long
// operation never holds the event loop.
//
//   const jobs = await startBackupJobs({ dbPath, extensionPath, backupDir });
//   const name = await jobs.run('create', 'before the upgrade');   // wecare_backup_create(label)
//   jobs.configure('keep_last', 14n);   // once the server's own connection took it
//   await jobs.close();
//
// Jobs run one at a time, in the order they were sent: the extension
// serialises create, cleanup and restore anyway (its directory lock), and a
// verify waits its turn rather than competing for the disk. An SQL error comes
// back as the SqliteError better-sqlite3 would have thrown on this thread, with
// the same message and code, so errors.js gives it the same status.
//
// Settings belong to a connection: every setting the server's connection is
// given is given to the worker's too (configure), in order with the jobs. If
// the thread dies, its pending jobs fail (a 500) and the next job starts a new
// thread, which is given every setting applied since start-up.

const path = require('node:path');
const { Worker } = require('node:worker_threads');
const { SqliteError } = require('better-sqlite3');

const WORKER_SCRIPT = path.join(__dirname, 'backupWorker.js');

function errorFrom({ message, code }) {
  return typeof code === 'string' && code.startsWith('SQLITE_') ? new SqliteError(message, code) : new Error(message);
}

class BackupJobs {
  constructor({ dbPath, extensionPath, backupDir, log = (line) => console.error(line) }) {
    this.options = { dbPath, extensionPath, backupDir };
    this.log = log;
    this.settings = new Map(); // key -> value, in the order last applied
    this.pending = new Map(); // job id -> { resolve, reject }, of the running thread
    this.nextId = 1;
    this.worker = null; // a promise of the running thread, once it is ready
    this.closed = false;
  }

  // Resolves to the running thread, started when there is none.
  ready() {
    if (this.closed) return Promise.reject(new Error('the backup worker is closed'));
    if (!this.worker) this.worker = this.spawn();
    return this.worker;
  }

  spawn() {
    const current = new Promise((resolve, reject) => {
      const worker = new Worker(WORKER_SCRIPT, { workerData: { ...this.options, settings: [...this.settings] } });
      let started = false;
      worker.on('message', (message) => {
        if (message.ready) {
          started = true;
          resolve(worker);
          return;
        }
        const job = this.pending.get(message.id);
        if (!job) return;
        this.pending.delete(message.id);
        if (message.error) job.reject(errorFrom(message.error));
        else job.resolve(message.value);
      });
      worker.on('error', (err) => {
        if (started) this.log(`backup worker: ${err.stack || err}`);
        else reject(err);
      });
      worker.on('exit', (code) => {
        if (this.worker === current) this.worker = null;
        // At shutdown the running job ends before the thread does; the jobs
        // queued behind it never start.
        const stopped = new Error(
          this.closed
            ? 'the backup worker was stopped: the server is shutting down'
            : `the backup worker stopped (exit code ${code})`,
        );
        reject(stopped); // no effect once it was ready
        for (const job of this.pending.values()) job.reject(stopped);
        this.pending.clear();
      });
    });
    return current;
  }

  // Runs wecare_backup_<op>(...params) on the worker's connection.
  async run(op, ...params) {
    const worker = await this.ready();
    return new Promise((resolve, reject) => {
      const id = this.nextId;
      this.nextId += 1;
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, op, params });
    });
  }

  // Gives the worker's connection a setting that the server's connection has
  // just accepted. It applies before any job sent later.
  configure(key, value) {
    this.settings.delete(key);
    this.settings.set(key, value);
    return this.run('config', key, value).catch((err) => {
      this.log(`backup worker: setting ${key}: ${err.message}`);
    });
  }

  // Waits for the running job to end (a native call cannot be cut short), then
  // stops the thread; jobs still queued fail.
  async close() {
    this.closed = true;
    const running = this.worker && (await this.worker.catch(() => null));
    if (running) await running.terminate();
  }
}

// Resolves once the worker's connection is open, or rejects with the reason
// it could not be (the same as the server's, e.g. an extension that will not load).
async function startBackupJobs(options) {
  const jobs = new BackupJobs(options);
  await jobs.ready();
  return jobs;
}

module.exports = { startBackupJobs };
