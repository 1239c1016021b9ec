'use strict';
// The body of the backup worker thread (worker_threads). backupJobs.js starts
// it and sends it jobs; it runs them one at a time on a better-sqlite3
// connection of its own, with the extension loaded, so that a backup, a verify
// or a restore never holds the server's event loop. better-sqlite3 is
// synchronous, and a connection belongs to the thread that opened it.
//
// Messages in:  { id, op, params }   op is a key of OPERATIONS
// Messages out: { ready: true }      once the connection is open
//               { id, value }        the function's result
//               { id, error: { message, code } }   code: SQLITE_... for SQL errors
//
// The extension's progress, last result and last error are kept per process,
// so wecare_backup_stats() on the server's connection shows a job running here.
//
// The thread runs at a lower CPU priority (nice 10, on Linux): a backup is
// background work, and on a busy machine the requests come first. Linux keeps
// a nice value per thread, and the threads the extension starts from this one
// (its writer, its verification) inherit it; the rest of the process keeps its own.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { parentPort, workerData } = require('node:worker_threads');
const { openWorkerConnection } = require('./database');

// The extension functions a job may run, wecare_backup_<op>, and their arities.
// Nothing else: a message cannot make this thread run other SQL. A long
// operation that a later version of the extension adds is one more line.
const OPERATIONS = Object.freeze({
  create: [0, 1],
  verify: [1],
  restore: [2],
  export: [2],
  fetch: [1],
  recover: [3],
  cleanup: [0],
  restore_at: [2],
  // Not long, but a setting changed on the server's connection must reach this
  // one in order with the jobs (settings belong to the connection).
  config: [2],
});

function sqlFor(op, params) {
  const arities = Object.hasOwn(OPERATIONS, op) ? OPERATIONS[op] : null;
  if (!arities) throw new Error(`backup worker: unknown operation ${JSON.stringify(op)}`);
  if (!Array.isArray(params) || !arities.includes(params.length)) {
    throw new Error(`backup worker: wecare_backup_${op} takes ${arities.join(' or ')} arguments`);
  }
  return `SELECT wecare_backup_${op}(${params.map(() => '?').join(', ')})`;
}

const BACKGROUND_NICE = 10;

function runInBackground() {
  try {
    const tid = Number(path.basename(fs.readlinkSync('/proc/thread-self')));
    if (os.getPriority(tid) < BACKGROUND_NICE) os.setPriority(tid, BACKGROUND_NICE);
  } catch {
    // Not Linux (no per-thread nice): the jobs run at the process's priority.
  }
}

function main({ dbPath, extensionPath, backupDir, settings = [] }) {
  runInBackground();
  const db = openWorkerConnection({ dbPath, extensionPath, backupDir });
  const run = (op, params) => {
    const statement = db.prepare(sqlFor(op, params));
    return statement.pluck().get(...params);
  };
  // A worker started again after the first one stopped gets the settings the
  // server's connection has been given since start-up.
  for (const setting of settings) run('config', setting);

  parentPort.on('message', ({ id, op, params }) => {
    try {
      parentPort.postMessage({ id, value: run(op, params) });
    } catch (err) {
      // An Error loses its `code` when it is posted; send what errors.js reads.
      parentPort.postMessage({ id, error: { message: String(err && err.message), code: err && err.code } });
    }
  });
  parentPort.postMessage({ ready: true });
}

main(workerData);
