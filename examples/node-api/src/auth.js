'use strict';
// Bearer-token authentication and role checks.
//
// Tokens are HS256 JWTs whose `role` claim is one of ROLES (scripts/make-token.js
// prints one). Two layers decide what a role may do:
//   1. requireRole(...roles) on each route: the HTTP contract of the API.
//   2. canCall(role, fn): the extension functions a role may run at all, from the
//      "Roles with the authorizer" in the root README.md. better-sqlite3 cannot install
//      an SQLite authorizer, so backupRoutes.js asks canCall() before every
//      extension call instead: a route given the wrong roles by mistake still
//      cannot make an ADMIN run a restore.

const jwt = require('jsonwebtoken');
const { HttpError } = require('./errors');

const JWT_ALGORITHM = 'HS256';

const ROLES = Object.freeze({ ADMIN: 'ADMIN', DEVELOPER: 'DEVELOPER', USER: 'USER' });

const ADMIN_FUNCTIONS = ['create', 'list', 'stats', 'export', 'verify', 'cleanup', 'path', 'config', 'version'];
// A Map, not an object: a role claim such as "__proto__" must find nothing.
const EXTENSION_FUNCTIONS_BY_ROLE = new Map([
  [ROLES.ADMIN, new Set(ADMIN_FUNCTIONS)],
  [ROLES.DEVELOPER, new Set([...ADMIN_FUNCTIONS, 'restore'])],
]);

function canCall(role, fn) {
  const allowed = EXTENSION_FUNCTIONS_BY_ROLE.get(role);
  return allowed !== undefined && allowed.has(fn);
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
    req.user = { role: typeof claims.role === 'string' ? claims.role : null, sub: claims.sub };
    return next();
  };
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

module.exports = { ROLES, JWT_ALGORITHM, canCall, signToken, authenticate, requireRole };
