// Argument checking for the SQL functions: every argument is checked for its
// type and for what a name or setting may never hold, before anything else.
#pragma once
#include <cstdint>
#include <string>

#include "common/sqlite_api.hpp"

namespace wb {

// "an integer", "text", "NULL", ... for messages.
const char* type_name(int sqlite_type);
// A TEXT argument of at most `max_bytes` bytes (the raw bytes: an embedded NUL is
// kept); a longer one is an error that names the limit.
std::string text_arg(sqlite3_value* v, const std::string& what, size_t max_bytes = 1 << 16);
// A backup name argument: text of at most 4096 bytes; the name checks run on it later.
std::string name_arg(sqlite3_value* v);
// A setting value: an integer (as its decimal text) or text.
std::string setting_value_arg(sqlite3_value* v, const std::string& key);

// Sets a text result (copied).
void result_text(sqlite3_context* ctx, const std::string& text);

} // namespace wb
