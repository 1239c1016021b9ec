'use strict';
// Where the package's library can be, shared by index.js (which picks one) and
// install.js (which puts one there):
//
//   build/wecare_backup.so                         built from source when the package was installed
//   prebuilds/<platform>-<arch>/wecare_backup.so   a prebuilt the package carries (npm pack adds one
//                                                  for the machine that packs, see scripts/prepack.js)
//   <repository>/dist/wecare_backup.so             in a checkout of the repository, where `make` builds it
//                                                  (a "file:.../bindings/node" dependency links here, and
//                                                  npm runs no install step for a link)

const fs = require('node:fs');
const path = require('node:path');

const PACKAGE_DIR = path.resolve(__dirname, '..');
const LIBRARY = 'wecare_backup.so';

function platformKey() {
  return `${process.platform}-${process.arch}`;
}

function builtPath() {
  return path.join(PACKAGE_DIR, 'build', LIBRARY);
}

function prebuiltPath() {
  return path.join(PACKAGE_DIR, 'prebuilds', platformKey(), LIBRARY);
}

// The top of the repository when this folder is its bindings/node, else null.
function checkoutRoot() {
  const root = path.resolve(PACKAGE_DIR, '..', '..');
  const isCheckout =
    path.basename(PACKAGE_DIR) === 'node' &&
    path.basename(path.dirname(PACKAGE_DIR)) === 'bindings' &&
    fs.existsSync(path.join(root, 'build.def')) &&
    fs.existsSync(path.join(root, 'ext', 'wecare_backup.cpp'));
  return isCheckout ? root : null;
}

function checkoutPath() {
  const root = checkoutRoot();
  return root ? path.join(root, 'dist', LIBRARY) : null;
}

module.exports = { PACKAGE_DIR, LIBRARY, platformKey, builtPath, prebuiltPath, checkoutRoot, checkoutPath };
