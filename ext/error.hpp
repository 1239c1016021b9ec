// The project's one error type. It carries SQLite's result code so the
// exception barrier (sql_guard.hpp) can hand both code and message to SQLite.
// It does not include SQLite: the pure modules (naming, settings, retention,
// metadata) throw it too.
#pragma once
#include <stdexcept>
#include <string>

namespace wb {

constexpr int kErrGeneric = 1;   // SQLITE_ERROR
constexpr int kErrBusy = 5;      // SQLITE_BUSY
constexpr int kErrIo = 10;       // SQLITE_IOERR
constexpr int kErrFull = 13;     // SQLITE_FULL
constexpr int kErrCantOpen = 14; // SQLITE_CANTOPEN
constexpr int kErrMisuse = 21;   // SQLITE_MISUSE
constexpr int kErrAuth = 23;     // SQLITE_AUTH
constexpr int kErrNotFound = 12; // SQLITE_NOTFOUND

class Error : public std::runtime_error {
  public:
    explicit Error(std::string message, int code = kErrGeneric)
        : std::runtime_error(std::move(message)), code_(code) {}
    int code() const noexcept { return code_; }

  private:
    int code_;
};

// Text of errno `err` ("No space left on device"), thread-safe.
std::string errno_text(int err);

// An Error for a failed system call: "<what>: <strerror>", with a code that
// tells a full disk apart from other I/O errors.
Error system_error(const std::string& what, int err);

} // namespace wb
