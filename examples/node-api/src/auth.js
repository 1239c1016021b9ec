'use strict';
// Bearer-token authentication and role checks.
//
// Tokens are HS256 JWTs whose `role` claim is one of ROLES (scripts/make-token.js
// prints one). Two layers decide what a role may do:
//   1. requireRole(...roles) on each route: the HTTP contract of the API.
//   2. canCall(role, fn): the extension functions a role may run at all, the
//      "Roles with the authorizer" table of the root README.md: ADMIN runs and
//      checks backups and reads settings; everything else (restore, changing a
//      setting, export, schedule, fetch, and any function a later version adds)
//      is DEVELOPER-only. better-sqlite3 cannot install an SQLite authorizer, so
//      backupRoutes.js asks canCall() before every extension call instead: a
//      route given the wrong roles by mistake still cannot make an ADMIN run a
//      restore or change where backups go.

const crypto = require('node:crypto');
const jwt = require('jsonwebtoken');
const { HttpError } = require('./errors');

const JWT_ALGORITHM = 'HS256';

const ROLES = Object.freeze({ ADMIN: 'ADMIN', DEVELOPER: 'DEVELOPER', USER: 'USER' });

// An allow-list for ADMIN (wecare_backup_<fn>); every other function is DEVELOPER-only.
const ADMIN_FUNCTIONS = Object.freeze(['create', 'list', 'stats', 'verify', 'path', 'cleanup', 'version', 'setting']);
// What only DEVELOPER may run today; a function added later is DEVELOPER-only too.
const DEVELOPER_ONLY_FUNCTIONS = Object.freeze(['restore', 'config', 'export', 'schedule', 'fetch']);
const ADMIN_ALLOWED = new Set(ADMIN_FUNCTIONS);

function canCall(role, fn) {
  if (typeof fn !== 'string' || fn === '') return false;
  if (role === ROLES.DEVELOPER) return true;
  return role === ROLES.ADMIN && ADMIN_ALLOWED.has(fn);
}

function signToken(secret, role, { expiresIn = '1h', subject } = {}) {
  if (!secret) throw new Error('a JWT secret is required');
  return jwt.sign({ role }, secret, {
    algorithm: JWT_ALGORITHM,
    expiresIn,
    subject: subject || `demo-${String(role).toLowerCase()}`,
  });
}

// Sets req.user = { role, sub } from a valid bearer token, or answers 401.
function authenticate(secret) {
  if (!secret) throw new Error('authenticate: a JWT secret is required');
  return function authenticateRequest(req, res, next) {
    const header = req.get('authorization') || '';
    const match = /^Bearer ([A-Za-z0-9._~+/=-]+)$/.exec(header);
    if (!match) {
      res.set('WWW-Authenticate', 'Bearer');
      return next(new HttpError(401, 'missing bearer token'));
    }
    let claims;
    try {
      claims = jwt.verify(match[1], secret, { algorithms: [JWT_ALGORITHM] });
    } catch (err) {
      res.set('WWW-Authenticate', 'Bearer error="invalid_token"');
      return next(new HttpError(401, `invalid token: ${err.message}`));
    }
    req.user = {
      role: typeof claims.role === 'string' ? claims.role : null,
      sub: claims.sub,
      exp: Number.isInteger(claims.exp) ? claims.exp : null,
    };
    return next();
  };
}

// Download tickets. A browser downloads a file by following a link, and a link
// cannot carry an Authorization header; a ticket is what the link carries
// instead: GET /api/backup/download?ticket=... (see backupRoutes.js). A ticket
//   - names one backup, and the role and subject of the token that asked for it;
//   - expires after ttlSeconds and is accepted once (its jti is remembered);
//   - is signed with a key derived from the secret, never the secret itself, so
//     a ticket is never a bearer token, nor a bearer token a ticket.
const TICKET_KEY_LABEL = 'wecare_backup node-api download ticket';

function downloadTickets(secret, { ttlSeconds = 60 } = {}) {
  if (!secret) throw new Error('downloadTickets: a JWT secret is required');
  const key = crypto.createHmac('sha256', secret).update(TICKET_KEY_LABEL).digest();
  const redeemed = new Map(); // jti -> expiry (seconds since the epoch)

  function issue(user, name) {
    const options = { algorithm: JWT_ALGORITHM, expiresIn: ttlSeconds, jwtid: crypto.randomUUID() };
    if (typeof user.sub === 'string') options.subject = user.sub;
    return jwt.sign({ role: user.role, name }, key, options);
  }

  // Returns { user, name } for a valid ticket not used before, or throws a 401.
  function redeem(ticket) {
    let claims;
    try {
      claims = jwt.verify(String(ticket), key, { algorithms: [JWT_ALGORITHM] });
    } catch (err) {
      throw new HttpError(401, `invalid download ticket: ${err.message}`);
    }
    if (typeof claims.name !== 'string' || typeof claims.jti !== 'string' || !Number.isInteger(claims.exp)) {
      throw new HttpError(401, 'invalid download ticket: it names no backup');
    }
    const now = Math.floor(Date.now() / 1000);
    for (const [jti, exp] of redeemed) if (exp < now) redeemed.delete(jti);
    if (redeemed.has(claims.jti)) throw new HttpError(401, 'invalid download ticket: it was used already');
    redeemed.set(claims.jti, claims.exp);
    return {
      user: { role: typeof claims.role === 'string' ? claims.role : null, sub: claims.sub, exp: claims.exp },
      name: claims.name,
    };
  }

  return { issue, redeem, ttlSeconds };
}

// Lets the request through only for the given roles (403 otherwise).
function requireRole(...roles) {
  const allowed = new Set(roles);
  return function requireRoleForRequest(req, res, next) {
    const role = req.user && req.user.role;
    if (!allowed.has(role)) {
      return next(new HttpError(403, `role ${JSON.stringify(role)} may not do this; needs one of ${roles.join(', ')}`));
    }
    return next();
  };
}

module.exports = {
  ROLES,
  JWT_ALGORITHM,
  ADMIN_FUNCTIONS,
  DEVELOPER_ONLY_FUNCTIONS,
  canCall,
  signToken,
  authenticate,
  downloadTickets,
  requireRole,
};
