#!/usr/bin/env node
'use strict';
// Makes the README's screenshot of the operator page: the real server on a
// scratch database, capturing continuously, with a few backups (capture's base,
// labelled ones, one not yet verified, a restore's safety backup) and a timeline
// with the restore's gap, seen by DEVELOPER in Debian's Chromium with a time
// chosen on the timeline.
//
//   node scripts/screenshot.js [out.png]     default: docs/operator-page.png
//
// Needs what the tests need: the built extension, npm ci, and chromium.

const path = require('node:path');
const { chromium } = require('playwright-core');
const { captured, request, sleep, startServer, tokenFor } = require('../test/helpers');

const OUT = path.resolve(process.argv[2] || path.join(__dirname, '..', 'docs', 'operator-page.png'));
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const CONFIRMATION = 'I understand this will replace the current database';

async function main() {
  const server = await startServer({ BACKUP_INTERVAL_SECONDS: '86400', CAPTURE_INTERVAL_MS: '1000' });
  const developer = tokenFor('DEVELOPER');
  const call = async (method, urlPath, body) => {
    const res = await request(server.url, method, urlPath, { token: developer, body });
    if (res.status >= 400) throw new Error(`${method} ${urlPath}: ${res.status} ${JSON.stringify(res.json)}`);
    return res.json;
  };
  let browser;
  try {
    // Capture's base backup is made at start-up, and the schedule counts from it.
    const before = await call('POST', '/api/backup/create', { label: 'before the upgrade to 2.4' });
    await call('POST', '/api/patients', { name: 'Dana Example' });
    await sleep(2000);
    await call('POST', `/api/backup/restore/${before.name}`, { confirm: CONFIRMATION });
    await call('PUT', '/api/backup/settings/verify_on_create', { value: 0 });
    await call('POST', '/api/backup/create', { label: 'quick copy, not verified yet' });
    await call('PUT', '/api/backup/settings/verify_on_create', { value: 1 });
    await call('POST', '/api/backup/create', { label: '<b>labels are shown as text</b>' });
    // Capture goes on after the restore from a new base; a few commits extend its range.
    await call('POST', '/api/patients', { name: 'Eli Example' });
    await sleep(3000);
    await call('POST', '/api/patients', { name: 'Fay Example' });
    await captured(server.url, developer, new Date().toISOString());

    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    const page = await browser.newPage({ viewport: { width: 1440, height: 720 }, deviceScaleFactor: 1 });
    await page.goto(`${server.url}/`);
    await page.fill('#token', developer);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#backup-rows tr');
    await page.waitForSelector('.timeline-bar .segment.gap');
    const last = page.locator('.timeline-bar .segment.range').last();
    const box = await last.boundingBox();
    await last.click({ position: { x: box.width * 0.6, y: box.height / 2 } });
    await page.fill('#label', 'before the migration');
    await page.screenshot({ path: OUT, fullPage: true });
    console.log(`wrote ${OUT}`);
  } finally {
    if (browser) await browser.close();
    await server.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
