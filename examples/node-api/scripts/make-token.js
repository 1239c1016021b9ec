#!/usr/bin/env node
'use strict';
// Prints a bearer token for a role, signed with $JWT_SECRET, for the curl examples:
//   TOKEN=$(node scripts/make-token.js ADMIN)
//   node scripts/make-token.js DEVELOPER 15m

const { signToken } = require('../src/auth');

function main(argv, env) {
  const [role, expiry = '1h'] = argv;
  // jsonwebtoken reads a bare numeric string as milliseconds; mean seconds.
  const expiresIn = /^\d+$/.test(expiry) ? Number(expiry) : expiry;
  if (!role) {
    console.error('usage: node scripts/make-token.js ROLE [EXPIRES_IN]   (ROLE: ADMIN, DEVELOPER, USER, ...)');
    return 2;
  }
  if (!env.JWT_SECRET) {
    console.error('JWT_SECRET is not set; use the same value as the server');
    return 2;
  }
  process.stdout.write(`${signToken(env.JWT_SECRET, role, { expiresIn })}\n`);
  return 0;
}

process.exitCode = main(process.argv.slice(2), process.env);
