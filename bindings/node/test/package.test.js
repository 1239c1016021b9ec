'use strict';
// The npm package as its users get it: `npm pack` in this folder, then
// `npm install <tarball>` in scratch projects under the system's temporary
// folder, which name no path of this checkout, and the extension used there.
//
//   node --test test/*.test.js (or `make npm-package-test` at the top; needs the
//                             registry for better-sqlite3 and typescript, and
//                             compiles the extension twice: a few minutes)
//
// The node:sqlite test needs a Node whose DatabaseSync loads extensions (22.13,
// 23.5 and later). On an older Node it is skipped, unless NODE_WITH_SQLITE names
// such a node binary to run it with. KEEP_SCRATCH=1 keeps the scratch folder.

const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');

const PACKAGE_DIR = path.resolve(__dirname, '..');
const REPO = path.resolve(PACKAGE_DIR, '..', '..');
const FIXTURES = path.join(__dirname, 'fixtures');
const { version: VERSION } = require('../package.json');
const PLATFORM = `${process.platform}-${process.arch}`;

// The environment of every npm and node run: nothing that points into this
// checkout or changes the build (npm's own npm_* variables when this runs under
// `npm test`, a make's jobserver, an extension path override).
function cleanEnv(extra = {}) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(npm_|WECARE_BACKUP_|MAKE|MFLAGS$|CXX$|CXXFLAGS$|NODE_PATH$|INIT_CWD$)/.test(key)) continue;
    env[key] = value;
  }
  return { ...env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false', ...extra };
}

function run(command, args, { cwd, env = cleanEnv() }) {
  const result = spawnSync(command, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw result.error;
  return { status: result.status, output: `${result.stdout}${result.stderr}`, stdout: result.stdout };
}

function mustRun(command, args, options) {
  const result = run(command, args, options);
  assert.equal(result.status, 0, `${command} ${args.join(' ')} failed in ${options.cwd}:\n${result.output}`);
  return result;
}

function nodeSqliteLoadsExtensions(nodeBinary) {
  const probe = "const { DatabaseSync } = require('node:sqlite'); " +
    "process.exit(typeof DatabaseSync.prototype.loadExtension === 'function' ? 0 : 1)";
  return spawnSync(nodeBinary, ['-e', probe], { stdio: 'ignore' }).status === 0;
}

function nodeWithSqlite() {
  if (nodeSqliteLoadsExtensions(process.execPath)) return process.execPath;
  const other = process.env.NODE_WITH_SQLITE;
  return other && nodeSqliteLoadsExtensions(other) ? other : null;
}

let scratch;
let tarball;

// A project of its own under the scratch folder, with the fixtures copied in.
function makeProject(name) {
  const dir = path.join(scratch, name);
  fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
  const manifest = {
    name: `scratch-${name}`,
    version: '1.0.0',
    private: true,
    // npm 11 asks projects to name the packages whose install step may run.
    allowScripts: { 'better-sqlite3': true, 'wecare-backup': true },
  };
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(manifest, null, 2));
  for (const file of fs.readdirSync(FIXTURES)) fs.copyFileSync(path.join(FIXTURES, file), path.join(dir, file));
  return dir;
}

function roundTrip(project, { node = process.execPath, env = {} } = {}) {
  const data = fs.mkdtempSync(path.join(project, 'data', 'run-'));
  const { stdout } = mustRun(node, ['roundtrip.js', data], { cwd: project, env: cleanEnv(env) });
  return JSON.parse(stdout.trim().split('\n').pop());
}

function assertRoundTrip(result, project, where) {
  assert.equal(result.loadablePath, path.join(project, 'node_modules', 'wecare-backup', where, 'wecare_backup.so'));
  assert.ok(!result.loadablePath.startsWith(REPO), `${result.loadablePath} is inside the checkout`);
  assert.equal(result.version, VERSION, 'package.json version = wecare_backup_version()');
  assert.match(result.name, /^clinic_backup_\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d\.db$/);
  assert.deepEqual(result.list, [{ name: result.name, kind: 'manual', label: 'from the package', verify_ok: 1 }]);
  assert.equal(result.verifyOk, true);
  assert.equal(result.restore.restored, result.name);
  assert.match(result.restore.safety_backup, /^clinic_safety_/);
  assert.equal(result.rowsAfterRestore, 3, 'the rows deleted after the backup are back');
}

function listFiles(dir, keep) {
  return fs
    .readdirSync(dir, { recursive: true })
    .filter((file) => keep(file) && fs.statSync(path.join(dir, file)).isFile())
    .sort();
}

describe('npm pack, then npm install <tarball> in a project outside the repository', () => {
  before(() => {
    scratch = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'wecare-backup-npm-')));
    assert.ok(!scratch.startsWith(REPO), 'the scratch folder must be outside the checkout');
    const packed = mustRun('npm', ['pack', '--pack-destination', scratch], { cwd: PACKAGE_DIR });
    tarball = path.join(scratch, packed.stdout.trim().split('\n').pop());
    assert.ok(fs.existsSync(tarball), `npm pack made no ${tarball}:\n${packed.output}`);
  });

  after(() => {
    if (scratch && process.env.KEEP_SCRATCH !== '1') fs.rmSync(scratch, { recursive: true, force: true });
  });

  test('the tarball carries the sources, the build definition, the types and a prebuilt for this machine', () => {
    const files = mustRun('tar', ['tzf', tarball], { cwd: scratch }).stdout.trim().split('\n');
    for (const file of ['index.js', 'index.d.ts', 'install.js', 'lib/paths.js', 'native/Makefile', 'native/build.def',
      'native/scripts/build-library.sh', `prebuilds/${PLATFORM}/wecare_backup.so`]) {
      assert.ok(files.includes(`package/${file}`), `${file} is not in the tarball`);
    }
    const sources = listFiles(path.join(REPO, 'ext'), (file) => /\.(cpp|hpp)$/.test(file)).map((f) => `package/native/ext/${f}`);
    assert.deepEqual(files.filter((file) => file.startsWith('package/native/ext/')).sort(), sources);
    assert.deepEqual(files.filter((file) => /^package\/(test|scripts)\//.test(file)), [], 'no tests or pack scripts');
    for (const file of ['build.def', 'Makefile']) {
      const packed = mustRun('tar', ['xzOf', tarball, `package/native/${file}`], { cwd: scratch }).stdout;
      assert.equal(packed, fs.readFileSync(path.join(REPO, file), 'utf8'), `native/${file} is the repository's`);
    }
    assert.ok(!fs.existsSync(path.join(PACKAGE_DIR, 'native')), 'postpack leaves no native/ in the checkout');
  });

  test('with better-sqlite3 12: load(db), then create, list, verify and restore', () => {
    const project = makeProject('with-prebuilt');
    mustRun('npm', ['install', tarball, 'better-sqlite3@12'], { cwd: project });
    const lock = fs.readFileSync(path.join(project, 'package-lock.json'), 'utf8');
    assert.ok(!lock.includes(REPO), 'the project names no path of the checkout');
    assertRoundTrip(roundTrip(project), project, `prebuilds/${PLATFORM}`);
  });

  test('imported from an ES module, and its types compile against better-sqlite3\'s', () => {
    const project = path.join(scratch, 'with-prebuilt');
    const esm = JSON.parse(mustRun(process.execPath, ['esm-check.mjs'], { cwd: project }).stdout);
    assert.deepEqual(esm, { load: 'function', path: path.join(project, 'node_modules', 'wecare-backup', 'prebuilds', PLATFORM, 'wecare_backup.so') });
    mustRun('npm', ['install', '--no-save', 'typescript@5', '@types/better-sqlite3@7'], { cwd: project });
    mustRun(process.execPath, [path.join(project, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '--strict',
      '--module', 'commonjs', '--types', 'node', 'types-check.ts'], { cwd: project });
  });

  const otherNode = nodeWithSqlite();
  test(
    'with node:sqlite: load(db) on a DatabaseSync, then create, list, verify and restore',
    {
      skip: otherNode
        ? false
        : `Node ${process.version} has no node:sqlite DatabaseSync that loads extensions (Node 22.13, 23.5 and ` +
          'later have one); set NODE_WITH_SQLITE to such a node binary to run this',
    },
    () => {
      const project = path.join(scratch, 'with-prebuilt');
      const result = roundTrip(project, { node: otherNode, env: { DRIVER: 'node:sqlite' } });
      assertRoundTrip(result, project, `prebuilds/${PLATFORM}`);
      assert.equal(result.sqlLoadRefused, true, 'loading is switched off again after load(db)');
    },
  );

  test('WECARE_BACKUP_BUILD_FROM_SOURCE=1: install builds the library from the sources it carries', () => {
    const project = makeProject('from-source');
    // Only wecare-backup here: the first project's better-sqlite3 opens the database.
    mustRun('npm', ['install', tarball], { cwd: project, env: cleanEnv({ WECARE_BACKUP_BUILD_FROM_SOURCE: '1' }) });
    const installed = path.join(project, 'node_modules', 'wecare-backup');
    assert.deepEqual(fs.readdirSync(path.join(installed, 'native')).sort(), ['Makefile', 'build.def', 'ext', 'scripts'],
      'the build leaves no objects behind');
    const betterSqlite3 = path.join(scratch, 'with-prebuilt', 'node_modules', 'better-sqlite3');
    assertRoundTrip(roundTrip(project, { env: { BETTER_SQLITE3: betterSqlite3 } }), project, 'build');
  });

  test('a missing compiler: the install fails and says to install g++', () => {
    const project = makeProject('no-compiler');
    const env = cleanEnv({ WECARE_BACKUP_BUILD_FROM_SOURCE: '1', CXX: '/nonexistent/g++' });
    const result = run('npm', ['install', tarball], { cwd: project, env });
    assert.notEqual(result.status, 0);
    assert.match(result.output, /cannot build the extension from source/);
    assert.match(result.output, /the C\+\+ compiler CXX='\/nonexistent\/g\+\+' does not run/);
    assert.match(result.output, /sudo apt-get install g\+\+\n/);
  });

  test('a missing header and library: the install names their Debian packages', () => {
    const project = makeProject('no-libraries');
    // A g++ that cannot find xxhash.h nor link -lsodium, as on a machine without those -dev packages.
    const fakeCompiler = path.join(project, 'fake-g++');
    fs.writeFileSync(
      fakeCompiler,
      '#!/bin/sh\nfor a; do\n  [ "$a" = -lsodium ] && { echo "cannot find -lsodium" >&2; exit 1; }\n' +
        '  case $a in *.cpp) grep -q "xxhash.h" "$a" && { echo "xxhash.h: no such file" >&2; exit 1; } ;; esac\ndone\n' +
        'exec g++ "$@"\n',
      { mode: 0o755 },
    );
    const env = cleanEnv({ WECARE_BACKUP_BUILD_FROM_SOURCE: '1', CXX: fakeCompiler });
    const result = run('npm', ['install', tarball], { cwd: project, env });
    assert.notEqual(result.status, 0);
    assert.match(result.output, /the header <xxhash\.h> is missing/);
    assert.match(result.output, /the library -lsodium is missing/);
    assert.match(result.output, /sudo apt-get install libxxhash-dev libsodium-dev\n/);
  });
});
