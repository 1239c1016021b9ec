// The project's one error type. Every layer throws wb::Error; its kind says
// what went wrong in terms a caller can branch on, and decides the SQLite
// result code the SQL boundary (sql/guard.hpp) reports. This header does not
// include SQLite, so the pure policy code throws it too; error.cpp ties the
// codes below to SQLite's own with static_asserts.
#pragma once
#include <stdexcept>
#include <string>

namespace wb {

// SQLite's primary result codes that the extension reports.
constexpr int kSqliteError = 1;     // SQLITE_ERROR
constexpr int kSqlitePerm = 3;      // SQLITE_PERM
constexpr int kSqliteBusy = 5;      // SQLITE_BUSY
constexpr int kSqliteNomem = 7;     // SQLITE_NOMEM
constexpr int kSqliteReadonly = 8;  // SQLITE_READONLY
constexpr int kSqliteInterrupt = 9; // SQLITE_INTERRUPT
constexpr int kSqliteIoerr = 10;    // SQLITE_IOERR
constexpr int kSqliteFull = 13;     // SQLITE_FULL
constexpr int kSqliteCantOpen = 14; // SQLITE_CANTOPEN

enum class ErrorKind {
    generic,     // bad input, a refusal, a failed check
    busy,        // someone else holds a lock; try again
    io,          // the file system or a device failed
    full,        // a disk or a size limit is full
    cantopen,    // a file or directory cannot be used as it is
    perm,        // not permitted (ownership, modes)
    readonly,    // a read-only database or file system
    interrupted, // sqlite3_interrupt, or the connection is closing
    misuse,      // called in a state where it cannot run (open transaction, ...); reported as SQLITE_ERROR
    auth,        // refused as a matter of policy; reported as SQLITE_PERM
    not_found,   // no such backup, file or object; reported as SQLITE_ERROR
    // What an off-site copy or its transport can do wrong:
    config,        // a bad option, a missing key or credentials
    format,        // not our format, an unknown version, corrupt framing
    wrong_key,     // encrypted with another key
    tampered,      // authentication failed: wrong key or changed bytes
    truncated,     // the stream ends before its final chunk
    trailing_data, // bytes after the final chunk
    network,       // the connection failed (after retries)
    remote,        // the storage service answered with an error
};

class Error : public std::runtime_error {
  public:
    explicit Error(const std::string& message, ErrorKind kind = ErrorKind::generic)
        : std::runtime_error(message), kind_(kind) {}
    ErrorKind kind() const noexcept { return kind_; }
    // The SQLite result code this error is reported with.
    int code() const noexcept;

  private:
    ErrorKind kind_;
};

// The kind of an SQLite result code (primary or extended).
ErrorKind kind_of_sqlite_code(int rc) noexcept;
// The SQLite result code an error of `kind` is reported with.
int sqlite_code_of(ErrorKind kind) noexcept;

// Text of errno `err` ("No space left on device"), thread-safe.
std::string errno_text(int err);

// An Error for a failed system call: "<what>: <strerror>", with a kind that
// tells a full disk apart from other I/O errors, and a hint what to do.
Error system_error(const std::string& what, int err);

} // namespace wb
