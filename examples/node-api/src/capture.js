'use strict';
// Continuous capture (wecare_backup_continuous) on the server's own connection.
//
// Capture belongs to the connection that starts it and stops when that
// connection closes, so it is started on the server's connection, which stays
// open for the server's life (not on the backup worker's, which a dying thread
// takes with it). The extension captures on a thread of its own: the call
// returns at once, apart from the first base backup of a database that has no
// timeline yet, which it makes before it returns; the server starts capture
// before it listens, so no request waits for that.
//
//   startCapture(db, 1000)   1 capturing, 2 standing by (another process captures)
//   stopCapture(db)          the last commits are captured before it returns

// stats.continuous: state, interval_ms, lag_ms, last_captured_at, restorable_from, ... last_error.
function captureStatus(db) {
  return JSON.parse(db.prepare('SELECT wecare_backup_stats()').pluck().get()).continuous;
}

// Starts capture every `intervalMs` milliseconds (0: none). An error (not in
// WAL mode, an interval under 100 ms, an extension without continuous capture)
// is thrown: the operator asked for capture, and a server that silently runs
// without it would lose more than they think on a lost disk.
function startCapture(db, intervalMs, log = (line) => console.error(line)) {
  if (!intervalMs) return 0;
  let state;
  try {
    // A JS number is bound as a REAL; the extension takes whole numbers as INTEGER.
    state = db.prepare('SELECT wecare_backup_continuous(?)').pluck().get(BigInt(intervalMs));
  } catch (err) {
    err.message = `cannot start continuous capture (CAPTURE_INTERVAL_MS=${intervalMs}; 0 turns it off): ${err.message}`;
    throw err;
  }
  if (state === 2) {
    // The lease is another process's, or capture failed and the extension retries.
    const { last_error: lastError } = captureStatus(db);
    log(`continuous capture is standing by: ${lastError || 'another process captures this database'}`);
  }
  return state;
}

function stopCapture(db) {
  return db.prepare('SELECT wecare_backup_continuous(0)').pluck().get();
}

module.exports = { captureStatus, startCapture, stopCapture };
