'use strict';
// createApp({ db, jobs, jwtSecret }) builds the Express application around an
// open database connection that already has the wecare_backup extension loaded
// (see database.js) and the backup worker that runs the long operations on a
// connection of its own (see backupJobs.js). It does not listen: server.js does,
// and so do the tests.

const path = require('node:path');
const express = require('express');
const { authenticate, canCall, downloadTickets } = require('./auth');
const { backupRouter } = require('./backupRoutes');
const { HttpError, isExtensionError, statusForExtensionError } = require('./errors');

const MAX_PATIENT_NAME_LENGTH = 200;
// The functions GET /api/session reports on (`may`).
const SESSION_FUNCTIONS = Object.freeze([
  'create',
  'list',
  'stats',
  'verify',
  'path',
  'cleanup',
  'setting',
  'config',
  'restore',
  'export',
  'schedule',
  'fetch',
  'recover',
  'restore_at',
  'timeline',
]);

// The operator page (public/): plain files, no build step. Its policy lets it
// run only its own script and style, so even a label that reached the page as
// markup could not run; no referrer, so a download link is never passed on.
const PAGE_DIR = path.join(__dirname, '..', 'public');
const PAGE_HEADERS = Object.freeze({
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'Referrer-Policy': 'no-referrer',
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-cache',
});

// Two tiny endpoints that make a restore visible: add a patient after a backup,
// restore it, and the count goes back.
function patientRouter({ db }) {
  const router = express.Router();
  router.get('/count', (req, res) => {
    res.json({ count: db.prepare('SELECT count(*) FROM patients').pluck().get() });
  });
  router.post('/', (req, res) => {
    const name = req.body && req.body.name;
    if (typeof name !== 'string' || name.trim() === '' || name.length > MAX_PATIENT_NAME_LENGTH) {
      throw new HttpError(400, `name must be a non-empty string of at most ${MAX_PATIENT_NAME_LENGTH} characters`);
    }
    const { lastInsertRowid } = db.prepare('INSERT INTO patients (name) VALUES (?)').run(name.trim());
    res.status(201).json({ id: Number(lastInsertRowid), name: name.trim() });
  });
  return router;
}

// Every error becomes {error: message}: HttpErrors keep their status, SQL errors
// from the extension get one from their message, anything else is a 500.
function errorHandler(log) {
  // Express recognises an error handler by its four parameters.
  // eslint-disable-next-line no-unused-vars
  return function handleError(err, req, res, next) {
    let status = 500;
    let message = 'internal error';
    if (err instanceof HttpError) {
      ({ status, message } = err);
    } else if (isExtensionError(err)) {
      status = statusForExtensionError(err);
      message = err.message;
    } else if (Number.isInteger(err.status) && err.status >= 400 && err.status < 500) {
      // body-parser (bad JSON, too large) and the router (bad percent-encoding)
      status = err.status;
      message = err.expose === false ? 'bad request' : err.message;
    }
    if (status >= 500) log(`${req.method} ${req.originalUrl}: ${err.stack || err}`);
    if (res.headersSent) {
      // A download that failed half-way: the client sees a cut connection.
      res.destroy(err);
      return;
    }
    res.status(status).json({ error: message });
  };
}

function createApp({ db, jobs, jwtSecret, log = (line) => console.error(line) }) {
  if (!db) throw new Error('createApp: db is required');
  if (!jobs) throw new Error('createApp: jobs (the backup worker) is required');
  if (!jwtSecret) throw new Error('createApp: jwtSecret is required');

  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '16kb' }));
  app.use(express.static(PAGE_DIR, { index: 'index.html', setHeaders: (res) => res.set(PAGE_HEADERS) }));

  const requireToken = authenticate(jwtSecret);
  // Who the token says the caller is, and which extension functions its role
  // may run (auth.js's table): the page offers only those.
  app.get('/api/session', requireToken, (req, res) => {
    const { role, sub, exp } = req.user;
    const may = Object.fromEntries(SESSION_FUNCTIONS.map((fn) => [fn, canCall(role, fn)]));
    res.json({ role, sub: sub ?? null, expires_at: exp ? new Date(exp * 1000).toISOString() : null, may });
  });
  const tickets = downloadTickets(jwtSecret);
  app.use('/api/backup', backupRouter({ db, jobs, authenticate: requireToken, tickets }));
  app.use('/api/patients', requireToken, patientRouter({ db }));

  app.use((req, res, next) => next(new HttpError(404, `no route for ${req.method} ${req.path}`)));
  app.use(errorHandler(log));
  return app;
}

module.exports = { createApp };
