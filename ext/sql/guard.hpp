// The exception barrier of the SQL boundary. Every callback SQLite makes into
// this extension runs its body through guard() (SQL functions) or
// guard_vtab() (virtual-table methods); VFS methods use common/barrier.hpp.
// No C++ exception ever crosses into SQLite:
//   wb::Error          -> "<function>: <message>" with the error's code
//   std::bad_alloc     -> SQLITE_NOMEM
//   anything else      -> "<function>: internal error ..."
// Errors are also written to sqlite3_log, so an operator sees them in the
// application's SQLite log even when the caller drops the message.
#pragma once
#include <new>
#include <string>

#include "common/error.hpp"
#include "common/sqlite_api.hpp"
#include "policy/text.hpp"

namespace wb {

inline void log_error(const char* function, int code, const std::string& message) {
    sqlite3_log(code, "%s: %s", function, message.c_str());
}

// Sets the function's error result; never throws (out of memory while
// formatting the message reports SQLITE_NOMEM instead).
inline void report_error(sqlite3_context* ctx, const char* function, int code, const char* raw) noexcept {
    try {
        const std::string message = printable_utf8(raw); // it may quote hostile bytes
        const std::string text = std::string(function) + ": " + message;
        sqlite3_result_error(ctx, text.c_str(), -1);
        sqlite3_result_error_code(ctx, code);
        log_error(function, code, message);
    } catch (...) {
        sqlite3_result_error_nomem(ctx);
    }
}

template <class Body> void guard(sqlite3_context* ctx, const char* function, Body&& body) noexcept {
    try {
        body();
    } catch (const Error& e) {
        report_error(ctx, function, e.code(), e.what());
    } catch (const std::bad_alloc&) {
        sqlite3_result_error_nomem(ctx);
    } catch (const std::exception& e) {
        try {
            const std::string text = std::string("internal error (") + e.what() + "); please report it";
            report_error(ctx, function, SQLITE_ERROR, text.c_str());
        } catch (...) {
            sqlite3_result_error_nomem(ctx);
        }
    } catch (...) {
        report_error(ctx, function, SQLITE_ERROR, "internal error; please report it");
    }
}

// The same barrier for virtual-table callbacks, which return a result code and
// put their message in sqlite3_vtab::zErrMsg.
template <class Body> int guard_vtab(sqlite3_vtab* vtab, const char* function, Body&& body) noexcept {
    auto set_message = [&](int code, const char* raw) noexcept {
        try {
            const std::string message = printable_utf8(raw);
            sqlite3_free(vtab->zErrMsg);
            vtab->zErrMsg = sqlite3_mprintf("%s: %s", function, message.c_str());
            log_error(function, code, message);
            return code;
        } catch (...) {
            return static_cast<int>(SQLITE_NOMEM);
        }
    };
    try {
        return body();
    } catch (const Error& e) {
        return set_message(e.code(), e.what());
    } catch (const std::bad_alloc&) {
        return SQLITE_NOMEM;
    } catch (const std::exception& e) {
        try {
            return set_message(SQLITE_ERROR, (std::string("internal error (") + e.what() + ")").c_str());
        } catch (...) {
            return static_cast<int>(SQLITE_NOMEM);
        }
    } catch (...) {
        return set_message(SQLITE_ERROR, "internal error");
    }
}

} // namespace wb
