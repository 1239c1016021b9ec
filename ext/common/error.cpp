// wb::Error: the mapping between error kinds and SQLite result codes, and
// errors made from errno. The static_asserts tie the project's constants to
// SQLite's, so a typo cannot report the wrong code.
#include "common/error.hpp"

#include <cerrno>
#include <cstring>
#include <sqlite3.h>

namespace wb {

static_assert(kSqliteError == SQLITE_ERROR, "SQLITE_ERROR");
static_assert(kSqlitePerm == SQLITE_PERM, "SQLITE_PERM");
static_assert(kSqliteBusy == SQLITE_BUSY, "SQLITE_BUSY");
static_assert(kSqliteNomem == SQLITE_NOMEM, "SQLITE_NOMEM");
static_assert(kSqliteReadonly == SQLITE_READONLY, "SQLITE_READONLY");
static_assert(kSqliteInterrupt == SQLITE_INTERRUPT, "SQLITE_INTERRUPT");
static_assert(kSqliteIoerr == SQLITE_IOERR, "SQLITE_IOERR");
static_assert(kSqliteFull == SQLITE_FULL, "SQLITE_FULL");
static_assert(kSqliteCantOpen == SQLITE_CANTOPEN, "SQLITE_CANTOPEN");

// Every refusal is reported with a code that drivers treat as an operational
// error (SQLITE_ERROR or SQLITE_PERM). SQLITE_MISUSE, SQLITE_AUTH and
// SQLITE_NOTFOUND mean other things to them (Python raises InterfaceError,
// DatabaseError, InternalError), so misuse, auth and not_found keep their kind
// for callers inside the extension but are reported as SQLITE_ERROR / SQLITE_PERM.
int sqlite_code_of(ErrorKind kind) noexcept {
    switch (kind) {
    case ErrorKind::busy:
        return kSqliteBusy;
    case ErrorKind::io:
    case ErrorKind::network:
    case ErrorKind::remote:
        return kSqliteIoerr;
    case ErrorKind::full:
        return kSqliteFull;
    case ErrorKind::cantopen:
        return kSqliteCantOpen;
    case ErrorKind::perm:
    case ErrorKind::auth:
        return kSqlitePerm;
    case ErrorKind::readonly:
        return kSqliteReadonly;
    case ErrorKind::interrupted:
        return kSqliteInterrupt;
    default:
        return kSqliteError;
    }
}

int Error::code() const noexcept {
    return sqlite_code_of(kind_);
}

ErrorKind kind_of_sqlite_code(int rc) noexcept {
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return ErrorKind::busy;
    case SQLITE_IOERR:
        return ErrorKind::io;
    case SQLITE_FULL:
        return ErrorKind::full;
    case SQLITE_CANTOPEN:
        return ErrorKind::cantopen;
    case SQLITE_PERM:
        return ErrorKind::perm;
    case SQLITE_READONLY:
        return ErrorKind::readonly;
    case SQLITE_INTERRUPT:
        return ErrorKind::interrupted;
    case SQLITE_MISUSE:
        return ErrorKind::misuse;
    case SQLITE_AUTH:
        return ErrorKind::auth;
    case SQLITE_NOTFOUND:
        return ErrorKind::not_found;
    default:
        return ErrorKind::generic;
    }
}

std::string errno_text(int err) {
    char buf[256];
    // GNU strerror_r returns the message pointer.
    const char* text = strerror_r(err, buf, sizeof buf);
    // An errno the C library has no text for ("Unknown error 523") must not end
    // the message in a bare number.
    if (!text || std::strncmp(text, "Unknown error", 13) == 0)
        return "system error number " + std::to_string(err) + ", which this system does not describe";
    return text;
}

Error system_error(const std::string& what, int err) {
    ErrorKind kind = ErrorKind::io;
    std::string hint;
    if (err == ENOSPC || err == EDQUOT) {
        kind = ErrorKind::full;
        hint = "; free space on that disk and try again";
    } else if (err == EFBIG) {
        kind = ErrorKind::full;
        hint = " (the file size limit was reached); raise the limit and try again";
    } else if (err == EACCES || err == EPERM || err == EROFS) {
        kind = ErrorKind::cantopen;
        hint = "; check the permissions of the backup directory";
    }
    return Error(what + ": " + errno_text(err) + hint, kind);
}

} // namespace wb
