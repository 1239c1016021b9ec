'use strict';
// The operator page at /, in a real browser: Debian's chromium, driven by
// playwright-core (which downloads no browser). Skipped when no Chromium is
// found, unless WECARE_REQUIRE_BROWSER=1 (CI sets it): then that is a failure.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');
const Database = require('better-sqlite3');
const { captured, micros, request, sleep, startServer, tokenFor } = require('./helpers');

const CONFIRMATION = 'I understand this will replace the current database';
const CHROMIUM_CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
const CHROMIUM = CHROMIUM_CANDIDATES.find((file) => file && fs.existsSync(file));
const REQUIRED = process.env.WECARE_REQUIRE_BROWSER === '1';
const TEST_TIMEOUT_MS = 60000;
const HOSTILE_LABEL = '<script>window.__labelRan = 1</script><img src=x onerror="window.__labelRan = 2">';

let skip = false;
if (!CHROMIUM) {
  if (REQUIRED) throw new Error(`WECARE_REQUIRE_BROWSER=1 but no Chromium at ${CHROMIUM_CANDIDATES.join(', ')}`);
  skip = 'no Chromium found (apt-get install chromium, or set CHROMIUM_PATH)';
}

describe('the operator page', { skip }, () => {
  let server;
  let browser;
  const admin = tokenFor('ADMIN');
  const developer = tokenFor('DEVELOPER');
  const api = (method, urlPath, options = {}) => request(server.url, method, urlPath, { token: admin, ...options });
  const pageErrors = [];

  // A new browser context (no state) on the page, signed in with `token`.
  async function signedIn(token, url = server.url) {
    const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(`${url}/`);
    await page.fill('#token', token);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#console:not([hidden])');
    await page.waitForSelector('#status-list dt');
    return { page, context };
  }
  const rowFor = (page, name) => page.locator(`#backup-rows tr[data-name="${name}"]`);
  const noticeText = (page) => page.locator('#notice:not([hidden]) #notice-text').textContent();

  before(async () => {
    const { chromium } = require('playwright-core');
    server = await startServer();
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    const created = await api('POST', '/api/backup/create', { body: { label: 'made through the API' } });
    assert.equal(created.status, 201, JSON.stringify(created.json));
  });
  after(async () => {
    if (browser) await browser.close();
    if (server) await server.stop();
    assert.deepEqual(pageErrors, [], 'the page threw no errors');
  });

  test(
    'the page is served at / with a policy that runs only its own script',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const res = await request(server.url, 'GET', '/');
      assert.equal(res.status, 200);
      assert.match(res.headers['content-type'], /^text\/html/);
      assert.match(res.headers['content-security-policy'], /script-src 'self'/);
      assert.doesNotMatch(res.headers['content-security-policy'], /unsafe-inline/);
      assert.equal(res.headers['referrer-policy'], 'no-referrer');
    },
  );

  test('a bad token is refused on the sign-in form with the API error', { timeout: TEST_TIMEOUT_MS }, async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${server.url}/`);
    await page.fill('#token', 'not-a-token');
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#error:not([hidden])');
    assert.equal(await page.textContent('#error-status'), '401');
    assert.equal(await page.textContent('#error-text'), 'invalid token: jwt malformed');
    assert.equal(await page.isVisible('#console'), false);
    await context.close();
  });

  test(
    'ADMIN signs in and sees the status and the list, and has no restore',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const { page, context } = await signedIn(admin);
      assert.equal(await page.textContent('#who-role'), 'ADMIN');
      const list = (await api('GET', '/api/backup/list')).json;
      await page.waitForSelector(`#backup-rows tr[data-name="${list[0].name}"]`);
      assert.equal(await page.locator('#backup-rows tr').count(), list.length);
      const row = rowFor(page, list[0].name);
      const cells = await row.locator('td').allTextContents();
      assert.deepEqual(cells.slice(0, 8), [
        list[0].created_at,
        list[0].name,
        'made through the API',
        'manual',
        cells[4],
        'ok',
        'local',
        'last',
      ]);
      assert.match(cells[4], /KiB$/);
      assert.match(await page.textContent('[data-field=last-age]'), /s ago$/);
      assert.equal(await page.textContent('[data-field=last-verified]'), 'verified');
      const status = await page.textContent('#status-list');
      assert.match(status, /Next scheduled run\s*no schedule in this process/);
      assert.match(status, /Off-site\s*off/);
      assert.doesNotMatch(status, /Continuous capture|Restorable/, 'shown only while the server captures');

      assert.equal(await page.locator('button[data-action=restore]').count(), 0, 'ADMIN sees no restore');
      assert.equal(await page.locator('button[data-action=verify]').count(), list.length);
      assert.equal(await page.isVisible('#timeline'), false);
      await context.close();
    },
  );

  test('creating a backup: it appears in the list', { timeout: TEST_TIMEOUT_MS }, async () => {
    const { page, context } = await signedIn(admin);
    const before = (await api('GET', '/api/backup/list')).json.length;
    await page.fill('#label', 'made in the browser');
    await page.click('#create');
    await page.waitForSelector('#notice:not([hidden])');
    const [newest] = (await api('GET', '/api/backup/list')).json;
    assert.equal(newest.label, 'made in the browser');
    assert.match(await noticeText(page), new RegExp(`^Created ${newest.name} \\(`));
    await rowFor(page, newest.name).waitFor();
    assert.equal(await page.locator('#backup-rows tr').count(), before + 1);
    assert.equal(await rowFor(page, newest.name).locator('td.label').textContent(), 'made in the browser');
    assert.equal(await page.inputValue('#label'), '');
    await context.close();
  });

  test('verifying a backup that was never verified', { timeout: TEST_TIMEOUT_MS }, async () => {
    // A backup made without verification (the worker's connection gets the setting too).
    const off = await api('PUT', '/api/backup/settings/verify_on_create', { token: developer, body: { value: 0 } });
    assert.equal(off.status, 200);
    const created = await api('POST', '/api/backup/create', { body: { label: 'not verified yet' } });
    await api('PUT', '/api/backup/settings/verify_on_create', { token: developer, body: { value: 1 } });
    const { name } = created.json;

    const { page, context } = await signedIn(admin);
    const row = rowFor(page, name);
    assert.equal(await row.locator('td.verify').textContent(), 'never');
    assert.equal(await page.textContent('[data-field=last-verified]'), 'not verified');
    await row.locator('button[data-action=verify]').click();
    await page.waitForSelector('#notice:not([hidden])');
    assert.match(await noticeText(page), new RegExp(`^Verified ${name}: ok, 2 tables, checksum match\\.$`));
    await page.waitForFunction(
      (n) => document.querySelector(`#backup-rows tr[data-name="${n}"] td.verify`).textContent === 'ok',
      name,
    );
    assert.equal(await page.textContent('[data-field=last-verified]'), 'verified');
    await context.close();
  });

  test('downloading gives a file byte-equal to the backup', { timeout: TEST_TIMEOUT_MS }, async () => {
    const { page, context } = await signedIn(admin);
    const [newest] = (await api('GET', '/api/backup/list')).json;
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      rowFor(page, newest.name).locator('button[data-action=download]').click(),
    ]);
    assert.equal(download.suggestedFilename(), newest.name);
    const saved = fs.readFileSync(await download.path());
    assert.ok(saved.equals(fs.readFileSync(path.join(server.backupDir, newest.name))), 'byte-equal');
    await context.close();
  });

  test('a label containing <script> is shown as text and never runs', { timeout: TEST_TIMEOUT_MS }, async () => {
    const { page, context } = await signedIn(admin);
    await page.fill('#label', HOSTILE_LABEL);
    await page.click('#create');
    await page.waitForSelector('#notice:not([hidden])');
    const [newest] = (await api('GET', '/api/backup/list')).json;
    assert.equal(newest.label, HOSTILE_LABEL);
    const cell = rowFor(page, newest.name).locator('td.label');
    await cell.waitFor();
    assert.equal(await cell.textContent(), HOSTILE_LABEL);
    assert.equal(await cell.evaluate((td) => td.children.length), 0, 'no element was made from the label');
    assert.equal(await page.evaluate(() => document.querySelectorAll('img[src=x]').length), 0);
    assert.equal(await page.evaluate(() => window.__labelRan), undefined);
    await context.close();
  });

  test(
    'DEVELOPER signs in and restores by typing the phrase, and sees the safety backup',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const created = await api('POST', '/api/backup/create', { body: { label: 'before Zoe' } });
      const { name } = created.json;
      const countBefore = (await api('GET', '/api/patients/count')).json.count;
      await api('POST', '/api/patients', { body: { name: 'Zoe Example' } });
      assert.equal((await api('GET', '/api/patients/count')).json.count, countBefore + 1);

      // Signed in as ADMIN first: no restore; then, in the same tab, as DEVELOPER.
      const { page, context } = await signedIn(admin);
      await rowFor(page, name).waitFor();
      assert.equal(await rowFor(page, name).locator('button[data-action=restore]').count(), 0);
      await page.click('#sign-out');
      await page.waitForSelector('#login:not([hidden])');
      assert.equal(await page.locator('#backup-rows tr').count(), 0, 'nothing of the last session stays');
      await page.fill('#token', developer);
      await page.click('#login-form button[type=submit]');
      await page.waitForSelector(`#backup-rows tr[data-name="${name}"]`);
      assert.equal(await page.textContent('#who-role'), 'DEVELOPER');
      await rowFor(page, name).locator('button[data-action=restore]').click();
      await page.waitForSelector('#restore-dialog[open]');
      assert.match(await page.textContent('#restore-title'), new RegExp(name));
      assert.equal(await page.textContent('#restore-phrase-shown'), CONFIRMATION);
      const confirm = page.locator('#restore-confirm');
      assert.equal(await confirm.isDisabled(), true);
      await page.fill('#restore-phrase', 'I understand');
      assert.equal(await confirm.isDisabled(), true);
      await page.fill('#restore-phrase', CONFIRMATION.toUpperCase());
      assert.equal(await confirm.isDisabled(), true);
      await page.fill('#restore-phrase', CONFIRMATION);
      assert.equal(await confirm.isDisabled(), false);
      await confirm.click();

      await page.waitForSelector('#notice:not([hidden]) .safety-name');
      const safety = await page.textContent('#notice .safety-name');
      assert.match(safety, /^wecare_safety_\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}(_\d+)?\.db$/);
      assert.match(await noticeText(page), new RegExp(`^Restored ${name}\\. Safety backup`));
      await rowFor(page, safety).waitFor();
      assert.equal(await rowFor(page, safety).locator('td.kind').textContent(), 'safety');
      assert.equal((await api('GET', '/api/patients/count')).json.count, countBefore);
      await context.close();
    },
  );

  test('errors from the API are shown as they are', { timeout: TEST_TIMEOUT_MS }, async () => {
    const { page, context } = await signedIn(admin);
    const unmounted = `${server.backupDir}.unmounted`;
    fs.renameSync(server.backupDir, unmounted);
    try {
      const expected = await api('POST', '/api/backup/create');
      assert.equal(expected.status, 503);
      await page.click('#create');
      await page.waitForSelector('#error:not([hidden])');
      assert.equal(await page.textContent('#error-status'), '503');
      assert.equal(await page.textContent('#error-text'), expected.json.error);
      assert.match(expected.json.error, /^wecare_backup_create: the backup directory '.*' does not exist; create it/);
      // The page shows the error first, then refreshes the status.
      await page.waitForFunction(() =>
        /is missing \(an unmounted disk\?\)/.test(document.querySelector('#status-list').textContent),
      );
    } finally {
      fs.renameSync(unmounted, server.backupDir);
    }
    await context.close();
  });

  test(
    'a USER token signs in but is told, as the API says, that it may not see backups',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${server.url}/`);
      await page.fill('#token', tokenFor('USER'));
      await page.click('#login-form button[type=submit]');
      await page.waitForSelector('#error:not([hidden])');
      assert.equal(await page.textContent('#error-status'), '403');
      assert.equal(await page.textContent('#error-text'), 'role "USER" may not do this; needs one of ADMIN, DEVELOPER');
      await context.close();
    },
  );

  // A server of its own that captures continuously, from start-up: its base
  // backup, then a row committed before the time chosen on the timeline and one after.
  describe('with continuous capture', () => {
    let capturing;
    let beforeClick; // when the first row was captured
    let afterClick; // just before the second row was committed
    const capi = (method, urlPath, options = {}) =>
      request(capturing.url, method, urlPath, { token: admin, ...options });
    const names = () => {
      const db = new Database(capturing.dbPath, { readonly: true });
      try {
        return db.prepare('SELECT name FROM patients ORDER BY id').pluck().all();
      } finally {
        db.close();
      }
    };

    before(async () => {
      capturing = await startServer({ CAPTURE_INTERVAL_MS: '200' });
      assert.equal((await capi('POST', '/api/patients', { body: { name: 'Before the click' } })).status, 201);
      beforeClick = (await captured(capturing.url, admin, new Date().toISOString())).last_captured_at;
      // The range runs from the base backup at start-up to the second row: its
      // middle, where the test clicks, falls in this pause.
      await sleep(1500);
      afterClick = new Date().toISOString();
      assert.equal((await capi('POST', '/api/patients', { body: { name: 'After the click' } })).status, 201);
      await captured(capturing.url, admin, new Date().toISOString());
    });
    after(async () => {
      if (capturing) await capturing.stop();
    });

    test(
      'ADMIN sees the capture and the restorable range, but neither the timeline nor restore to a point in time',
      { timeout: TEST_TIMEOUT_MS },
      async () => {
        const { page, context } = await signedIn(admin, capturing.url);
        const c = (await capi('GET', '/api/backup/stats')).json.continuous;
        assert.match(
          await page.textContent('[data-field=continuous]'),
          /^capturing, every 200 ms, lag \d+ ms, last captured \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/,
        );
        assert.equal(await page.textContent('[data-field=restorable]'), `${c.restorable_from} to ${c.restorable_to}`);
        assert.equal(await page.isVisible('#timeline'), false);
        assert.equal(await page.isVisible('#restore-at-form'), false);
        await context.close();
      },
    );

    test(
      'DEVELOPER chooses a time on the timeline and restores to it with the typed phrase',
      { timeout: TEST_TIMEOUT_MS },
      async () => {
        const { page, context } = await signedIn(developer, capturing.url);
        assert.match(await page.textContent('[data-field=continuous]'), /^capturing, every 200 ms/);
        await page.waitForSelector('#timeline:not([hidden])');
        const [range] = (await capi('GET', '/api/backup/timeline', { token: developer })).json;
        assert.deepEqual(await page.locator('#timeline-rows tr td').allTextContents(), [
          'range',
          range.from_at,
          range.to_at,
          range.base,
          String(range.segments),
          await page.locator('#timeline-rows tr td').nth(5).textContent(),
          '',
        ]);

        // A click in the middle of the range chooses a time in it, to the microsecond.
        const segment = page.locator('.timeline-bar .segment.range');
        assert.equal(await segment.count(), 1);
        const box = await segment.boundingBox();
        await segment.click({ position: { x: box.width / 2, y: box.height / 2 } });
        const chosen = await page.inputValue('#restore-at-time');
        assert.match(chosen, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
        assert.ok(micros(beforeClick) < micros(chosen), `${chosen} is after ${beforeClick}`);
        assert.ok(micros(chosen) < micros(afterClick), `${chosen} is before ${afterClick}`);
        assert.equal(await page.locator('.timeline-bar .chosen').count(), 1, 'the choice is marked on the bar');

        await page.click('#restore-at-open');
        await page.waitForSelector('#restore-dialog[open]');
        assert.equal(await page.textContent('#restore-title'), `Restore to ${chosen}`);
        const confirm = page.locator('#restore-confirm');
        assert.equal(await confirm.isDisabled(), true);
        await page.fill('#restore-phrase', CONFIRMATION.slice(0, -1));
        assert.equal(await confirm.isDisabled(), true);
        await page.fill('#restore-phrase', CONFIRMATION);
        await confirm.click();

        await page.waitForSelector('#notice:not([hidden]) .safety-name');
        const restoredTo = await page.textContent('#notice .restored-to');
        assert.ok(micros(restoredTo) <= micros(chosen), `restored to ${restoredTo}, chosen ${chosen}`);
        const safety = await page.textContent('#notice .safety-name');
        assert.match(safety, /^wecare_safety_/);
        assert.deepEqual(names().slice(-1), ['Before the click']);
        await rowFor(page, safety).waitFor();

        // Capture goes on after the restore from a new base: a gap, which cannot be chosen.
        for (let i = 0; i < 50; i += 1) {
          if ((await capi('GET', '/api/backup/timeline', { token: developer })).json.length === 3) break;
          await sleep(200);
        }
        await page.click('#refresh');
        await page.waitForSelector('.timeline-bar .segment.gap');
        assert.equal(await page.locator('.timeline-bar .segment.gap').isDisabled(), true);
        assert.equal(await page.locator('#timeline-rows tr.gap td').last().textContent(), 'restored');
        assert.match(await page.textContent('[data-field=restorable]'), / \(1 gap\)$/);
        await context.close();
      },
    );

    test(
      "a typed time the timeline cannot restore shows the API's 400 and its message",
      { timeout: TEST_TIMEOUT_MS },
      async () => {
        const { page, context } = await signedIn(developer, capturing.url);
        await page.waitForSelector('#timeline:not([hidden])');
        const namesBefore = names();
        await page.fill('#restore-at-time', '2001-01-01T00:00:00Z');
        await page.click('#restore-at-open');
        await page.fill('#restore-phrase', CONFIRMATION);
        await page.click('#restore-confirm');
        await page.waitForSelector('#error:not([hidden])');
        assert.equal(await page.textContent('#error-status'), '400');
        const [first] = (await capi('GET', '/api/backup/timeline', { token: developer })).json;
        assert.equal(
          await page.textContent('#error-text'),
          `wecare_backup_restore_at: '2001-01-01T00:00:00.000000Z' is before the oldest restore point ` +
            `(${first.from_at}); choose a time from ${first.from_at} on`,
        );
        assert.deepEqual(names(), namesBefore);
        await context.close();
      },
    );
  });
});
