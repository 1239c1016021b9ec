'use strict';
// npm's install step: makes sure the package has a library for this machine.
//
// 1. The prebuilt for this platform (prebuilds/<platform>-<arch>/), when the
//    package carries one and every library it links is present here (ldd).
// 2. Otherwise, or with WECARE_BACKUP_BUILD_FROM_SOURCE=1, a build from the
//    sources the package carries (native/: the repository's Makefile, build.def
//    and ext/, so the same sources and flags as `make`) into build/. When a
//    compiler or a library is missing, native/scripts/build-library.sh names
//    the Debian packages to install and the install fails.
//
// CXX, CXXFLAGS and WECARE_BACKUP_JOBS are passed on to the build. In a checkout of the
// repository there is nothing to do: the library is the one `make` builds.

const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const paths = require('./lib/paths');

function say(message) {
  console.log(`wecare-backup: ${message}`);
}

function fail(message) {
  console.error(`wecare-backup: ${message}`);
  process.exit(1);
}

// Why the prebuilt cannot load here (libraries or a glibc it lacks), or null.
function whyUnusable(file) {
  let output;
  try {
    output = execFileSync('ldd', [file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    if (err.code === 'ENOENT') return null; // no ldd to ask: try the prebuilt
    output = `${err.stdout || ''}${err.stderr || ''}` || err.message;
  }
  const problems = output.split('\n').filter((line) => /not found|not a dynamic/.test(line));
  return problems.length ? problems.map((line) => line.trim()).join('; ') : null;
}

function buildFromSource() {
  const nativeDir = path.join(paths.PACKAGE_DIR, 'native');
  const script = path.join(nativeDir, 'scripts', 'build-library.sh');
  if (!fs.existsSync(script)) {
    fail(`this package carries no sources to build from (${script} is missing)`);
  }
  say(`building the extension from source for ${paths.platformKey()}: a minute or two`);
  const result = spawnSync('sh', [script, paths.builtPath()], { stdio: 'inherit' });
  if (result.error) fail(`cannot run sh: ${result.error.message}`);
  if (result.status !== 0) fail('the build from source failed (see above)');
}

function main() {
  if (process.platform !== 'linux') {
    fail(`the extension runs on Linux only (it uses Linux system calls); this is ${process.platform}`);
  }
  if (paths.checkoutRoot()) {
    say(`in a checkout of the repository: the library is ${paths.checkoutPath()} (built by \`make\`)`);
    return;
  }
  fs.rmSync(paths.builtPath(), { force: true }); // a library left by an earlier install step
  const prebuilt = paths.prebuiltPath();
  if (process.env.WECARE_BACKUP_BUILD_FROM_SOURCE === '1') {
    say('WECARE_BACKUP_BUILD_FROM_SOURCE=1: the prebuilt library is not used');
  } else if (fs.existsSync(prebuilt)) {
    const problem = whyUnusable(prebuilt);
    if (!problem) {
      say(`using the prebuilt library ${path.relative(paths.PACKAGE_DIR, prebuilt)}`);
      return;
    }
    say(
      `the prebuilt library cannot load here (${problem}); on Debian, libcurl4 libzstd1 libsodium23 ` +
        'libexpat1 are what it links. Building from source instead.',
    );
  } else {
    say(`no prebuilt library for ${paths.platformKey()} in this package`);
  }
  buildFromSource();
}

main();
