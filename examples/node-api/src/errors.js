'use strict';
// Errors that know their HTTP status, and the mapping from the extension's SQL
// errors to statuses. The extension's messages start with the function name and
// say what was wrong (see the root README.md), so the message is passed on unchanged and
// only the status is derived from it.

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
  }
}

// Checked in order; the first rule whose pattern matches the message wins.
const EXTENSION_ERROR_RULES = [
  // The configured backup directory is missing (an unmounted disk): the server's
  // storage is unavailable, which is not "no such backup".
  { status: 503, pattern: /the backup directory '.*' does not exist/ },
  { status: 400, pattern: /not a backup name|invalid|the backup name|confirmation|does not match|is too long/i },
  // A setting's name or value, or the schedule's interval: these functions touch no file.
  { status: 400, pattern: /^wecare_backup_(config|setting): |^wecare_backup_schedule: the interval/ },
  // A time to restore to that is not one, or that the timeline cannot restore:
  // the message names the nearest restorable points.
  {
    status: 400,
    pattern:
      /' is (not a time|before the oldest restore point|after the newest restore point|in a gap of the timeline)\b/,
  },
  // Continuous capture has never captured anything for this database.
  { status: 404, pattern: /there is no (timeline of restore points|restore point)\b/ },
  { status: 404, pattern: /no backup named|not found|does not exist|no off-site copy/i },
  { status: 409, pattern: /busy|locked|in progress|already exists|no off-site target/i },
];

// better-sqlite3 reports extended result codes, e.g. SQLITE_BUSY_SNAPSHOT.
const CONFLICT_CODE = /^SQLITE_(BUSY|LOCKED)/;

function isExtensionError(err) {
  return Boolean(err) && typeof err.code === 'string' && err.code.startsWith('SQLITE_');
}

function statusForExtensionError(err) {
  const message = String(err && err.message);
  for (const rule of EXTENSION_ERROR_RULES) {
    if (rule.pattern.test(message)) return rule.status;
  }
  if (CONFLICT_CODE.test(String(err && err.code))) return 409;
  return 500;
}

module.exports = { HttpError, isExtensionError, statusForExtensionError };
