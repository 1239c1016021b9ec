'use strict';
// Runs before `npm pack` (and `npm publish`) in the repository, and puts into
// the package what it carries besides its JavaScript:
//
//   native/                           the repository's Makefile, build.def and ext/
//                                     (scripts/stage-sources.sh), to build from on install
//   prebuilds/<platform>-<arch>/      a prebuilt library for the machine that packs, built
//                                     from exactly those sources (build.def's flags, debug
//                                     information stripped)
//
// WECARE_BACKUP_PACK_PREBUILT=0 packs the sources alone: every install then
// builds from source. postpack.js removes what this made, and only that.

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const paths = require('../lib/paths');

const MADE = path.join(paths.PACKAGE_DIR, '.prepack-made.json');

function run(args) {
  const result = spawnSync('sh', args, { stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`wecare-backup prepack: sh ${args.join(' ')} failed`);
    process.exit(1);
  }
}

const root = paths.checkoutRoot();
if (!root) {
  console.error(`wecare-backup prepack: ${paths.PACKAGE_DIR} is not bindings/node of a checkout of the repository`);
  process.exit(1);
}

const made = [path.join(paths.PACKAGE_DIR, 'native')];
fs.writeFileSync(MADE, JSON.stringify(made));
run([path.join(root, 'scripts', 'stage-sources.sh'), made[0]]);

if (process.env.WECARE_BACKUP_PACK_PREBUILT === '0') {
  console.log('wecare-backup prepack: WECARE_BACKUP_PACK_PREBUILT=0, no prebuilt library');
} else {
  const prebuilt = paths.prebuiltPath();
  made.push(path.dirname(prebuilt));
  fs.writeFileSync(MADE, JSON.stringify(made));
  run([path.join(made[0], 'scripts', 'build-library.sh'), prebuilt]);
}
