'use strict';
// load(db) and getLoadablePath() in this checkout, with stand-ins for the two
// kinds of connection: what is called, in which order. The real loads are in
// package.test.js. Needs `make` at the top of the repository first.

const assert = require('node:assert/strict');
const path = require('node:path');
const { describe, test } = require('node:test');
const wecareBackup = require('..');

const REPO = path.resolve(__dirname, '..', '..', '..');

describe('in a checkout of the repository', () => {
  test('getLoadablePath() is the library make builds', () => {
    assert.equal(wecareBackup.getLoadablePath(), path.join(REPO, 'dist', 'wecare_backup.so'));
  });
});

describe('load(db)', () => {
  test('better-sqlite3: one loadExtension call with the library path', () => {
    const calls = [];
    wecareBackup.load({ loadExtension: (file) => calls.push(['loadExtension', file]) });
    assert.deepEqual(calls, [['loadExtension', wecareBackup.getLoadablePath()]]);
  });

  test('node:sqlite: loading is switched on for the load only', () => {
    const calls = [];
    wecareBackup.load({
      enableLoadExtension: (allow) => calls.push(['enableLoadExtension', allow]),
      loadExtension: (file) => calls.push(['loadExtension', file]),
    });
    assert.deepEqual(calls, [
      ['enableLoadExtension', true],
      ['loadExtension', wecareBackup.getLoadablePath()],
      ['enableLoadExtension', false],
    ]);
  });

  test('node:sqlite: a failed load still switches loading off, and the error names the library', () => {
    const calls = [];
    const db = {
      enableLoadExtension: (allow) => calls.push(allow),
      loadExtension: () => {
        throw new Error('libcurl.so.4: cannot open shared object file: No such file or directory');
      },
    };
    assert.throws(() => wecareBackup.load(db), (err) => {
      assert.match(err.message, /^wecare-backup: cannot load .*wecare_backup\.so: libcurl\.so\.4/);
      assert.match(err.message, /install libcurl4 libzstd1 libsodium23 libexpat1/);
      return true;
    });
    assert.deepEqual(calls, [true, false]);
  });

  test('node:sqlite without allowExtension: the error says how to open it', () => {
    const db = {
      enableLoadExtension: () => {
        throw new Error('Cannot enable extension loading because it was disabled at database creation.');
      },
      loadExtension: () => assert.fail('must not load'),
    };
    assert.throws(() => wecareBackup.load(db), /new DatabaseSync\(path, \{ allowExtension: true \}\)/);
  });

  test('anything else is refused with what it takes', () => {
    for (const notAConnection of [undefined, null, 'app.db', {}]) {
      assert.throws(() => wecareBackup.load(notAConnection), {
        name: 'TypeError',
        message: /load\(db\) takes a better-sqlite3 Database or a node:sqlite DatabaseSync/,
      });
    }
  });
});
