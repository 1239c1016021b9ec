// Keeping the extension's functions out of every schema stored in a database
// file: the re-parse at load, and the shared-cache refusal (schema_safety.cpp
// explains why each is needed).
#pragma once
#include <optional>
#include <string>

#include "common/sqlite_api.hpp"

namespace wb {

// Makes SQLite forget every schema of `db` (main, temp and attached), so that
// each is parsed again at its next use, after the functions are registered.
// Leaves writable_schema as it was (unless SQLITE_DBCONFIG_DEFENSIVE forbids it).
// Returns SQLITE_OK, or SQLite's code with *message set.
int forget_parsed_schemas(sqlite3* db, std::string* message);

// Why `db` may not be used when one of its databases is opened with a shared
// cache (`cache=shared` in its URI), or nullopt. Must run on the connection's
// own thread.
std::optional<std::string> shared_cache_refusal(sqlite3* db);

// Throws Error(auth) with shared_cache_refusal(db), if any.
void refuse_shared_cache(sqlite3* db);

} // namespace wb
