// The SQL functions of the extension (functions.cpp, stats.cpp): argument
// checking and result shaping only; the work is in command/.
#pragma once
#include "common/sqlite_api.hpp"
#include "sql/connection_state.hpp"

namespace wb {

constexpr const char* kVersion = "1.0.0";

// The state of the connection the call runs on. Every function but the version
// takes it before doing anything; it refuses (Error auth) while a database of the
// connection is opened with a shared cache (sql/schema_safety.hpp).
ConnectionState& state_of(sqlite3_context* ctx);

void fn_version(sqlite3_context*, int, sqlite3_value**);
void fn_create(sqlite3_context*, int, sqlite3_value**);
void fn_cleanup(sqlite3_context*, int, sqlite3_value**);
void fn_verify(sqlite3_context*, int, sqlite3_value**);
void fn_restore(sqlite3_context*, int, sqlite3_value**);
void fn_export(sqlite3_context*, int, sqlite3_value**);
void fn_fetch(sqlite3_context*, int, sqlite3_value**);
void fn_recover(sqlite3_context*, int, sqlite3_value**);
void fn_path(sqlite3_context*, int, sqlite3_value**);
void fn_schedule(sqlite3_context*, int, sqlite3_value**);
void fn_continuous(sqlite3_context*, int, sqlite3_value**);
void fn_restore_at(sqlite3_context*, int, sqlite3_value**);
void fn_config(sqlite3_context*, int, sqlite3_value**);
void fn_setting(sqlite3_context*, int, sqlite3_value**);
void fn_stats(sqlite3_context*, int, sqlite3_value**);

} // namespace wb
