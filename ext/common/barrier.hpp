// The exception barrier for callbacks that answer SQLite with a result code
// alone (VFS methods, hooks). sql/guard.hpp builds the SQL-function and
// virtual-table barriers on the same rule: no C++ exception ever crosses into
// SQLite; std::bad_alloc becomes SQLITE_NOMEM, wb::Error its own code, and
// anything else `fallback` (e.g. SQLITE_IOERR_WRITE for a VFS write).
#pragma once
#include <new>

#include "common/error.hpp"

namespace wb {

template <class Body> int code_barrier(int fallback, Body&& body) noexcept {
    try {
        return body();
    } catch (const std::bad_alloc&) {
        return kSqliteNomem;
    } catch (const Error& e) {
        return e.kind() == ErrorKind::generic ? fallback : e.code();
    } catch (...) {
        return fallback;
    }
}

} // namespace wb
