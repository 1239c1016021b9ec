'use strict';
// The backup worker on its own (src/backupJobs.js, src/backupWorker.js), without
// the HTTP server: the same errors as on the calling thread, settings in order
// with the jobs, a thread that dies and the next job.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');
const Database = require('better-sqlite3');
const { startBackupJobs } = require('../src/backupJobs');
const { statusForExtensionError } = require('../src/errors');
const { EXTENSION_PATH, makeTempDir } = require('./helpers');

describe('the backup worker', () => {
  let dir;
  let dbPath;
  let backupDir;
  let db;
  let jobs;
  const lines = [];

  before(async () => {
    dir = makeTempDir();
    dbPath = path.join(dir, 'clinic.db');
    backupDir = path.join(dir, 'backups');
    fs.mkdirSync(backupDir, { mode: 0o700 });
    db = new Database(dbPath);
    db.pragma('journal_mode = WAL');
    db.exec("CREATE TABLE patients (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO patients (name) VALUES ('Ada')");
    db.loadExtension(EXTENSION_PATH);
    db.prepare("SELECT wecare_backup_config('dir', ?)").get(backupDir);
    jobs = await startBackupJobs({
      dbPath,
      extensionPath: EXTENSION_PATH,
      backupDir,
      log: (line) => lines.push(line),
    });
  });
  after(async () => {
    if (jobs) await jobs.close();
    if (db) db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a job returns what the function returns, on the same backup directory', async () => {
    const name = await jobs.run('create', 'from the worker');
    assert.match(name, /^clinic_backup_/);
    const row = db.prepare('SELECT kind, label FROM wecare_backup_list WHERE name = ?').get(name);
    assert.deepEqual(row, { kind: 'manual', label: 'from the worker' });
    const report = JSON.parse(await jobs.run('verify', name));
    assert.equal(report.ok, true);
  });

  test('an SQL error comes back with the message and code it has on the calling thread', async () => {
    const unknown = 'clinic_backup_2001-02-03_04-05-06.db';
    let onThisThread;
    try {
      db.prepare('SELECT wecare_backup_verify(?)').get(unknown);
    } catch (err) {
      onThisThread = err;
    }
    const fromWorker = await jobs.run('verify', unknown).then(
      () => assert.fail('verify of an unknown backup succeeded'),
      (err) => err,
    );
    assert.equal(fromWorker.name, 'SqliteError');
    assert.equal(fromWorker.message, onThisThread.message);
    assert.equal(fromWorker.code, onThisThread.code);
    assert.equal(statusForExtensionError(fromWorker), statusForExtensionError(onThisThread));
    assert.equal(statusForExtensionError(fromWorker), 404);
  });

  test('only the functions of its table, with their arities, and never other SQL', async () => {
    await assert.rejects(jobs.run('stats'), /unknown operation "stats"/);
    await assert.rejects(jobs.run('create); DROP TABLE patients; --'), /unknown operation/);
    await assert.rejects(jobs.run('verify'), /wecare_backup_verify takes 1 arguments/);
    await assert.rejects(jobs.run('__proto__'), /unknown operation/);
    assert.equal(db.prepare('SELECT count(*) FROM patients').pluck().get(), 1);
  });

  test('a setting given with configure applies to the next job', async () => {
    jobs.configure('prefix', 'renamed');
    const name = await jobs.run('create');
    assert.match(name, /^renamed_backup_/);
  });

  test('a thread that dies fails its job; the next job starts another, with the settings given so far', async () => {
    const thread = await jobs.ready();
    const pending = jobs.run('create');
    await new Promise((resolve) => setImmediate(resolve)); // the job is posted
    await thread.terminate();
    await assert.rejects(pending, /the backup worker stopped/);
    const name = await jobs.run('create');
    assert.match(name, /^renamed_backup_/, 'the new thread has the prefix given before');
    assert.notEqual(await jobs.ready(), thread);
  });

  test(
    'the worker thread runs at nice 10, the rest of the process at its own priority',
    {
      skip: process.platform !== 'linux' && 'per-thread nice is Linux only',
    },
    async () => {
      await jobs.ready();
      const niceOf = (task) =>
        Number(fs.readFileSync(`/proc/self/task/${task}/stat`, 'utf8').split(') ')[1].split(' ')[16]);
      const mainNice = niceOf(process.pid);
      const nices = fs.readdirSync('/proc/self/task').map(niceOf);
      const expected = Math.max(mainNice, 10);
      assert.ok(nices.includes(expected), `a thread at nice ${expected} among ${nices.join(', ')}`);
      assert.equal(nices.filter((nice) => nice === mainNice).length > 1, true, 'the other threads keep theirs');
    },
  );

  test('the server connection reads what the worker restored', async () => {
    const backup = await jobs.run('create');
    db.prepare("INSERT INTO patients (name) VALUES ('Ben')").run();
    assert.equal(db.prepare('SELECT count(*) FROM patients').pluck().get(), 2);
    const result = JSON.parse(await jobs.run('restore', backup, 'I understand this will replace the current database'));
    assert.equal(result.restored, backup);
    assert.equal(db.prepare('SELECT count(*) FROM patients').pluck().get(), 1);
  });
});
