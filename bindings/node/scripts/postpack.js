'use strict';
// Runs after `npm pack`: removes what prepack.js made (native/ and the prebuilt
// it built), so the checkout holds no stale copy. Prebuilds of other platforms
// put into prebuilds/ by hand stay.

const fs = require('node:fs');
const path = require('node:path');
const paths = require('../lib/paths');

const MADE = path.join(paths.PACKAGE_DIR, '.prepack-made.json');
if (fs.existsSync(MADE)) {
  for (const dir of JSON.parse(fs.readFileSync(MADE, 'utf8'))) fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(MADE);
}
const prebuilds = path.join(paths.PACKAGE_DIR, 'prebuilds');
if (fs.existsSync(prebuilds) && fs.readdirSync(prebuilds).length === 0) fs.rmdirSync(prebuilds);
