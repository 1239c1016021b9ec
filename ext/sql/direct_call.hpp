// Refusing calls that did not come from the SQL the application runs.
#pragma once
#include "common/sqlite_api.hpp"
#include "sql/guard.hpp"

namespace wb {

// Throws Error(auth) when `function` was called by code stored in a schema.
void require_direct_call(sqlite3_context* ctx, const char* function);

// guard() for a function that reads or writes files or changes settings.
// Not noexcept itself: guard() is the barrier, and the body it runs throws.
template <class Body> void guard_direct(sqlite3_context* ctx, const char* function, Body&& body) {
    guard(ctx, function, [&] {
        require_direct_call(ctx, function);
        body();
    });
}

} // namespace wb
