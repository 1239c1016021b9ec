'use strict';
// The operator page: plain DOM, no framework, no build step.
//
// It keeps the bearer token in memory only (a reload asks again), asks the API
// who the token is (GET /api/session: the role and what it may run), and shows
// the status and the backups. Every value from the API reaches the page through
// textContent or an attribute, never as markup: a backup's label is data.
// Errors from the API are shown as they come, status and message.
//
// Continuous capture (its state and lag, and the restorable range) is shown
// only while the server captures (stats.continuous.state is not 'stopped');
// the timeline and restore to a point in time only to a role that may use them,
// once there is a timeline.

(() => {
  const PHRASE = 'I understand this will replace the current database';
  const PROGRESS_POLL_MS = 400;
  const REFRESH_MS = 15000;

  const state = {
    token: null,
    session: null, // { role, sub, expires_at, may }
    features: {},
    timeline: null, // rows, when this role may read the timeline
    busy: 0, // operations this page is waiting for
    refreshTimer: null,
    pendingRestore: null, // what the restore dialog will do
  };

  const $ = (id) => document.getElementById(id);

  // Builds an element; `text` goes through textContent, never innerHTML.
  function el(tag, { text, className, title, attrs } = {}, children = []) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    if (title) node.title = String(title);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
    for (const child of children) if (child) node.append(child);
    return node;
  }

  // ---- the API ------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(method, url, body) {
    const headers = { Authorization: `Bearer ${state.token}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res;
    try {
      res = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
      });
    } catch (err) {
      throw new ApiError(0, `the server did not answer: ${err.message}`);
    }
    const isJson = (res.headers.get('content-type') || '').includes('application/json');
    const data = isJson ? await res.json() : null;
    if (!res.ok) {
      const message = data && typeof data.error === 'string' ? data.error : res.statusText;
      throw new ApiError(res.status, message);
    }
    return data;
  }

  // ---- messages -----------------------------------------------------------

  function showError(err) {
    $('error-status').textContent = err.status ? String(err.status) : '';
    $('error-text').textContent = err.message;
    $('error').hidden = false;
  }
  function clearError() {
    $('error').hidden = true;
  }
  function showNotice(parts) {
    // parts: strings, or [text, className] for a part to stand out.
    const target = $('notice-text');
    target.replaceChildren(
      ...parts.map((part) => (Array.isArray(part) ? el('strong', { text: part[0], className: part[1] }) : part)),
    );
    $('notice').hidden = false;
  }

  // Runs an action the user asked for: one at a time, its errors shown, the
  // progress of the extension's operation shown while it runs.
  async function act(action) {
    clearError();
    state.busy += 1;
    setBusy(true);
    const poll = setInterval(() => refreshProgress().catch(() => {}), PROGRESS_POLL_MS);
    let failed = false;
    try {
      await action();
    } catch (err) {
      failed = true;
      if (err.status === 401) signOut();
      showError(err);
    } finally {
      clearInterval(poll);
      state.busy -= 1;
      setBusy(state.busy > 0);
      // The action's own error is the one to read; the refresh's would hide it.
      await refresh().catch((err) => {
        if (!failed) showError(err);
      });
    }
  }

  function setBusy(busy) {
    document.body.classList.toggle('busy', busy);
    for (const button of document.querySelectorAll('#console button[data-action], #create, #cleanup')) {
      button.disabled = busy;
    }
    if (!busy) $('progress').hidden = true;
  }

  // ---- formatting ---------------------------------------------------------

  function formatBytes(bytes) {
    if (bytes === null || bytes === undefined) return '';
    const n = Number(bytes);
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let value = n;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit += 1;
    }
    return unit === 0 ? `${n} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
  }

  function formatAge(iso) {
    const then = Date.parse(iso);
    if (Number.isNaN(then)) return '';
    const seconds = Math.max(0, Math.round((Date.now() - then) / 1000));
    if (seconds < 60) return `${seconds} s ago`;
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return `${minutes} min ago`;
    const hours = Math.floor(minutes / 60);
    if (hours < 48) return `${hours} h ${minutes % 60} min ago`;
    return `${Math.floor(hours / 24)} days ago`;
  }

  function formatDuration(seconds) {
    if (seconds % 86400 === 0) return `${seconds / 86400} d`;
    if (seconds % 3600 === 0) return `${seconds / 3600} h`;
    if (seconds % 60 === 0) return `${seconds / 60} min`;
    return `${seconds} s`;
  }

  function verification(row) {
    if (row.verify_ok === 1) return { text: 'ok', className: 'good' };
    if (row.verify_ok === 0) return { text: 'FAILED', className: 'bad' };
    return { text: 'never', className: 'muted' };
  }

  // ---- status -------------------------------------------------------------

  function fact(list, term, value, className) {
    const dd = el('dd', { className }, Array.isArray(value) ? value : [document.createTextNode(value)]);
    list.append(el('dt', { text: term }), dd);
    return dd;
  }

  const VERIFIED_WORDS = { ok: 'verified', FAILED: 'failed verification', never: 'not verified' };

  // rows: the list, or null when it could not be read.
  function renderStatus(stats, rows) {
    const list = $('status-list');
    list.replaceChildren();
    const last = rows && rows.find((row) => row.kind !== 'safety');
    if (last) {
      const v = verification(last);
      fact(list, 'Last backup', [
        el('span', { text: formatAge(last.created_at), attrs: { 'data-field': 'last-age' } }),
        el('span', { text: ` (${last.created_at}), `, className: 'muted' }),
        el('span', { text: VERIFIED_WORDS[v.text], className: v.className, attrs: { 'data-field': 'last-verified' } }),
      ]);
    } else {
      fact(list, 'Last backup', rows ? 'none yet' : 'unknown: the list could not be read', 'bad');
    }
    fact(
      list,
      'Next scheduled run',
      stats.next_run_at
        ? `${stats.next_run_at} (every ${formatDuration(stats.schedule_seconds)})`
        : 'no schedule in this process',
      stats.next_run_at ? '' : 'muted',
    );
    if (!stats.offsite) {
      fact(list, 'Off-site', 'off', 'muted');
    } else {
      const parts = [
        el('span', {
          text: `${stats.offsite}: ${stats.offsite_count} ${stats.offsite_count === 1 ? 'copy' : 'copies'}`,
        }),
      ];
      parts.push(
        el('span', {
          text: stats.offsite_last_success_at ? `, last sync ${stats.offsite_last_success_at}` : ', never synced',
          className: stats.offsite_last_success_at ? '' : 'bad',
        }),
      );
      if (stats.offsite_foreign) {
        parts.push(el('span', { text: `, ${stats.offsite_foreign} foreign`, className: 'bad' }));
      }
      if (stats.offsite_last_error) {
        parts.push(
          el('div', {
            text: `last error ${stats.offsite_last_error_at}: ${stats.offsite_last_error}`,
            className: 'bad',
          }),
        );
      }
      fact(list, 'Off-site', parts);
    }
    fact(
      list,
      'Stored',
      `${stats.count} ${stats.count === 1 ? 'backup' : 'backups'}, ${formatBytes(stats.total_bytes)}`,
    );
    fact(
      list,
      'Directory',
      stats.dir_missing ? `${stats.dir} is missing (an unmounted disk?)` : stats.dir,
      stats.dir_missing ? 'bad' : 'mono',
    );
    if (stats.last_error) fact(list, 'Last error', `${stats.last_error_at}: ${stats.last_error}`, 'bad');

    // Continuous capture, while the server captures: stats say it to ADMIN too.
    const continuous = stats.continuous;
    if (continuous && typeof continuous === 'object' && continuous.state !== 'stopped') {
      renderCapture(list, continuous);
    }
  }

  // stats.continuous: 'capturing', or 'standby' when another process holds the
  // lease (or capture failed, last_error says why, and the extension retries).
  function captureState(c) {
    if (c.state !== 'standby') return c.state;
    return c.last_error ? 'standing by, retrying' : 'standing by: another process captures this database';
  }

  function renderCapture(list, c) {
    const good = c.state === 'capturing' && !c.last_error;
    const parts = [
      el('span', { text: captureState(c), className: good ? 'good' : 'bad' }),
      el('span', { text: `, every ${c.interval_ms} ms, lag ${c.lag_ms} ms` }),
    ];
    if (c.last_captured_at) {
      parts.push(el('span', { text: `, last captured ${c.last_captured_at}`, className: 'muted' }));
    }
    if (c.last_error) parts.push(el('div', { text: `last error: ${c.last_error}`, className: 'bad' }));
    fact(list, 'Continuous capture', parts).setAttribute('data-field', 'continuous');

    const gapNote = c.gaps ? ` (${c.gaps} ${c.gaps === 1 ? 'gap' : 'gaps'})` : '';
    fact(
      list,
      'Restorable',
      c.restorable_from ? `${c.restorable_from} to ${c.restorable_to}${gapNote}` : 'nothing captured yet',
      c.restorable_from ? '' : 'muted',
    ).setAttribute('data-field', 'restorable');
  }

  function renderProgress(progress) {
    if (!progress) {
      $('progress').hidden = true;
      return;
    }
    const total = Number(progress.pages_total) || 0;
    const done = Number(progress.pages_done) || 0;
    $('progress-label').textContent = total
      ? `${progress.op}: ${Math.floor((100 * done) / total)} %`
      : `${progress.op}…`;
    const bar = $('progress-bar');
    if (total) bar.value = done / total;
    else bar.removeAttribute('value');
    $('progress').hidden = false;
  }

  function finished(progress) {
    return Boolean(progress) && Number(progress.pages_total) > 0 && progress.pages_done >= progress.pages_total;
  }

  async function refreshProgress() {
    const stats = await api('GET', '/api/backup/stats');
    renderProgress(stats.progress);
  }

  // ---- backups ------------------------------------------------------------

  function actionButton(text, action, { danger = false } = {}) {
    const button = el('button', {
      text,
      className: danger ? 'danger small' : 'small',
      attrs: { type: 'button', 'data-action': text.toLowerCase() },
    });
    button.disabled = state.busy > 0;
    button.addEventListener('click', action);
    return button;
  }

  function renderBackups(rows) {
    const body = $('backup-rows');
    body.replaceChildren();
    $('no-backups').hidden = rows.length > 0;
    const may = state.session.may;
    for (const row of rows) {
      const v = verification(row);
      const local = row.location !== 'offsite';
      const actions = el('td', { className: 'actions' });
      actions.append(actionButton('Verify', () => verify(row.name)));
      if (local) actions.append(actionButton('Download', () => download(row.name)));
      if (local && may.restore) actions.append(actionButton('Restore', () => askRestore(row), { danger: true }));
      const tr = el('tr', { attrs: { 'data-name': row.name } }, [
        el('td', { text: row.created_at, title: formatAge(row.created_at), className: 'nowrap' }),
        el('td', { text: row.name, className: 'mono' }),
        el('td', { text: row.label ?? '', className: 'label' }),
        el('td', { text: row.kind, className: `kind kind-${row.kind}` }),
        el('td', { text: formatBytes(row.size_bytes), title: `${row.size_bytes} bytes`, className: 'num' }),
        el('td', {
          text: v.text,
          title: row.verified_at ? `verified ${row.verified_at}` : '',
          className: `verify ${v.className}`,
        }),
        el('td', { text: row.location ?? 'local' }),
        el('td', {
          text: row.retain_reason ?? 'deleted at the next cleanup',
          className: row.retain_reason ? '' : 'muted',
        }),
        actions,
      ]);
      body.append(tr);
    }
  }

  // ---- the timeline -------------------------------------------------------

  // Times as the extension writes them, 'YYYY-MM-DDTHH:MM:SS.ffffffZ', in
  // microseconds since the epoch (a JS Date keeps only milliseconds, and a
  // time rounded to them can fall just outside a range).
  function toMicros(iso) {
    const match = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?Z$/.exec(String(iso));
    if (!match) return NaN;
    return Date.parse(`${match[1]}Z`) * 1000 + Number((match[2] || '').padEnd(6, '0'));
  }
  function fromMicros(us) {
    const seconds = Math.floor(us / 1e6);
    const fraction = String(us - seconds * 1e6).padStart(6, '0');
    return `${new Date(seconds * 1000).toISOString().slice(0, 19)}.${fraction}Z`;
  }

  let barScale = null; // the bar's { start, span }, in microseconds

  // Marks the time in the input on the bar, when it is on it.
  function placeChosen() {
    const bar = $('timeline-bar');
    const old = bar.querySelector('.chosen');
    if (old) old.remove();
    const at = toMicros($('restore-at-time').value.trim());
    if (!barScale || !Number.isFinite(at) || at < barScale.start || at > barScale.start + barScale.span) return;
    const marker = el('div', { className: 'chosen' });
    marker.style.left = `${(100 * (at - barScale.start)) / barScale.span}%`;
    bar.append(marker);
  }

  function renderTimeline() {
    const section = $('timeline');
    const rows = state.timeline;
    section.hidden = !rows || rows.length === 0;
    if (section.hidden) return;
    const bar = $('timeline-bar');
    bar.replaceChildren();
    const table = $('timeline-rows');
    table.replaceChildren();
    const times = rows.flatMap((row) => [toMicros(row.from_at), toMicros(row.to_at)]).filter(Number.isFinite);
    const start = Math.min(...times);
    const span = Math.max(1, Math.max(...times) - start);
    barScale = { start, span };
    const canRestoreAt = Boolean(state.features.restore_at && state.session.may.restore_at);
    for (const row of rows) {
      const from = toMicros(row.from_at);
      const to = toMicros(row.to_at);
      const segment = el('button', {
        className: `segment ${row.kind}`,
        title: `${row.kind} ${row.from_at} to ${row.to_at}${row.gap_reason ? `: ${row.gap_reason}` : ''}`,
        attrs: { type: 'button', 'data-from': row.from_at, 'data-to': row.to_at },
      });
      segment.style.left = `${(100 * (from - start)) / span}%`;
      segment.style.width = `${Math.max(0.5, (100 * (to - from)) / span)}%`;
      if (row.kind === 'range' && canRestoreAt) {
        // Choosing on the timeline: the point clicked within the range, to the microsecond.
        segment.addEventListener('click', (event) => {
          const box = segment.getBoundingClientRect();
          const fraction = Math.min(1, Math.max(0, (event.clientX - box.left) / Math.max(1, box.width)));
          $('restore-at-time').value = fromMicros(from + Math.round(fraction * (to - from)));
          placeChosen();
        });
      } else {
        segment.disabled = true;
      }
      bar.append(segment);
      table.append(
        el('tr', { className: row.kind }, [
          el('td', { text: row.kind }),
          el('td', { text: row.from_at, className: 'nowrap' }),
          el('td', { text: row.to_at, className: 'nowrap' }),
          el('td', { text: row.base ?? '', className: 'mono' }),
          el('td', { text: row.segments ?? '', className: 'num' }),
          el('td', { text: formatBytes(row.bytes), className: 'num' }),
          el('td', { text: row.gap_reason ?? '' }),
        ]),
      );
    }
    $('restore-at-form').hidden = !canRestoreAt;
    placeChosen();
  }

  // ---- refresh ------------------------------------------------------------

  // Stats first: when the list fails (a missing backup directory is a 503),
  // the status still shows, and so does the list's error.
  async function refresh() {
    if (!state.token) return;
    const stats = await api('GET', '/api/backup/stats');
    let rows = [];
    let listError = null;
    try {
      rows = await api('GET', '/api/backup/list');
    } catch (err) {
      listError = err;
    }
    state.timeline = null;
    if (state.features.timeline && state.session.may.timeline) {
      state.timeline = await api('GET', '/api/backup/timeline');
    }
    renderStatus(stats, listError ? null : rows);
    // An operation that another part of the server runs (a scheduled backup,
    // capture's base backup). One at 100 % is not shown: while capture runs,
    // the extension keeps reporting the last phase of its base backup as done.
    if (!state.busy) renderProgress(finished(stats.progress) ? null : stats.progress);
    renderBackups(rows);
    renderTimeline();
    if (listError) throw listError;
  }

  // ---- actions ------------------------------------------------------------

  function create(event) {
    event.preventDefault();
    const label = $('label').value;
    act(async () => {
      const created = await api('POST', '/api/backup/create', label ? { label } : {});
      $('label').value = '';
      showNotice(['Created ', [created.name, 'mono'], ` (${formatBytes(created.size_bytes)}).`]);
    });
  }

  function verify(name) {
    act(async () => {
      const report = await api('POST', `/api/backup/verify/${encodeURIComponent(name)}`);
      if (report.ok) {
        showNotice(['Verified ', [name, 'mono'], `: ok, ${report.tables} tables, checksum ${report.checksum}.`]);
      } else {
        showNotice(['Verification of ', [name, 'mono'], ' FAILED: ', [report.errors.join('; '), 'bad']]);
      }
    });
  }

  function download(name) {
    act(async () => {
      // A link cannot carry the token: ask for a one-time link, then follow it.
      const { url } = await api('POST', `/api/backup/download-ticket/${encodeURIComponent(name)}`);
      const link = el('a', { attrs: { href: url, download: name }, className: 'hidden-link' });
      document.body.append(link);
      link.click();
      link.remove();
      showNotice(['Downloading ', [name, 'mono'], '.']);
    });
  }

  function cleanup() {
    act(async () => {
      const { deleted } = await api('POST', '/api/backup/cleanup');
      showNotice([`Clean-up deleted ${deleted} ${deleted === 1 ? 'backup' : 'backups'}.`]);
    });
  }

  // Restore by name or to a time: both go through the typed phrase.
  function openRestoreDialog({ title, what, run }) {
    state.pendingRestore = run;
    $('restore-title').textContent = title;
    $('restore-what').textContent = what;
    $('restore-phrase').value = '';
    $('restore-confirm').disabled = true;
    $('restore-dialog').showModal();
    $('restore-phrase').focus();
  }

  function askRestore(row) {
    openRestoreDialog({
      title: `Restore ${row.name}`,
      what: `The database will hold exactly what it held at ${row.created_at}${row.label ? ` (“${row.label}”)` : ''}.`,
      run: async (confirm) => {
        const result = await api('POST', `/api/backup/restore/${encodeURIComponent(row.name)}`, { confirm });
        showNotice([
          'Restored ',
          [result.restored, 'mono'],
          '. Safety backup of the database as it was: ',
          [result.safety_backup ?? 'none', 'mono safety-name'],
          '.',
        ]);
      },
    });
  }

  function askRestoreAt(event) {
    event.preventDefault();
    // Sent as it is: the extension reads the time, and a bad one comes back as
    // its message, naming the nearest restorable points.
    const time = $('restore-at-time').value.trim();
    if (!time) return;
    openRestoreDialog({
      title: `Restore to ${time}`,
      what:
        time === 'latest'
          ? 'The database will hold every transaction captured so far.'
          : `The database will hold every transaction captured at or before ${time}, and none after it.`,
      run: async (confirm) => {
        const result = await api('POST', '/api/backup/restore-at', { time, confirm });
        const segments = `${result.segments} ${result.segments === 1 ? 'segment' : 'segments'}`;
        showNotice([
          'Restored to ',
          [result.restored_to, 'mono restored-to'],
          ` from ${result.base} and ${segments}. Safety backup of the database as it was: `,
          [result.safety_backup ?? 'none', 'mono safety-name'],
          '.',
        ]);
      },
    });
  }

  function confirmRestore(event) {
    event.preventDefault();
    const typed = $('restore-phrase').value;
    const run = state.pendingRestore;
    state.pendingRestore = null;
    $('restore-dialog').close();
    if (run) act(() => run(typed));
  }

  // ---- signing in and out -------------------------------------------------

  async function signIn(event) {
    event.preventDefault();
    clearError();
    $('notice').hidden = true;
    const token = $('token').value.trim();
    state.token = token;
    try {
      state.session = await api('GET', '/api/session');
      state.features = await api('GET', '/api/backup/features');
    } catch (err) {
      state.token = null;
      state.session = null;
      showError(err);
      return;
    }
    $('token').value = '';
    $('who-role').textContent = state.session.role ?? '(no role)';
    $('who').hidden = false;
    $('login').hidden = true;
    $('console').hidden = false;
    await refresh().catch(showError);
    state.refreshTimer = setInterval(() => {
      if (!state.busy) refresh().catch(showError);
    }, REFRESH_MS);
  }

  function signOut() {
    clearInterval(state.refreshTimer);
    Object.assign(state, { token: null, session: null, features: {}, timeline: null, refreshTimer: null });
    $('backup-rows').replaceChildren();
    $('timeline').hidden = true;
    $('restore-at-time').value = '';
    $('status-list').replaceChildren();
    $('console').hidden = true;
    $('who').hidden = true;
    $('login').hidden = false;
    $('notice').hidden = true;
    $('token').focus();
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('restore-phrase-shown').textContent = PHRASE;
    $('login-form').addEventListener('submit', signIn);
    $('sign-out').addEventListener('click', () => {
      clearError();
      signOut();
    });
    $('create-form').addEventListener('submit', create);
    $('cleanup').addEventListener('click', cleanup);
    $('refresh').addEventListener('click', () => act(async () => {}));
    $('restore-phrase').addEventListener('input', () => {
      $('restore-confirm').disabled = $('restore-phrase').value !== PHRASE;
    });
    $('restore-form').addEventListener('submit', confirmRestore);
    $('restore-cancel').addEventListener('click', () => {
      state.pendingRestore = null;
      $('restore-dialog').close();
    });
    $('restore-at-form').addEventListener('submit', askRestoreAt);
    $('restore-at-time').addEventListener('input', placeChosen);
    $('error-close').addEventListener('click', clearError);
    $('notice-close').addEventListener('click', () => {
      $('notice').hidden = true;
    });
    $('token').focus();
  });
})();
