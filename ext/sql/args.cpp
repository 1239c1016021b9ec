// Argument checking (see args.hpp).
#include "sql/args.hpp"

#include <new>

#include "common/error.hpp"

namespace wb {

const char* type_name(int type) {
    switch (type) {
    case SQLITE_INTEGER:
        return "an integer";
    case SQLITE_FLOAT:
        return "a real number";
    case SQLITE_BLOB:
        return "a blob";
    case SQLITE_NULL:
        return "NULL";
    default:
        return "text";
    }
}

std::string text_arg(sqlite3_value* v, const std::string& what, size_t max_bytes) {
    const int type = sqlite3_value_type(v);
    if (type != SQLITE_TEXT) throw Error(what + " must be text, not " + type_name(type));
    const auto* text = reinterpret_cast<const char*>(sqlite3_value_text(v));
    const auto length = static_cast<size_t>(sqlite3_value_bytes(v));
    if (!text) throw std::bad_alloc();
    if (length > max_bytes)
        throw Error(what + " is too long (" + std::to_string(length) + " bytes); it may have at most " +
                    std::to_string(max_bytes) + " bytes");
    return std::string(text, length);
}

std::string name_arg(sqlite3_value* v) {
    return text_arg(v, "the backup name", 4096);
}

std::string setting_value_arg(sqlite3_value* v, const std::string& key) {
    const int type = sqlite3_value_type(v);
    if (type == SQLITE_INTEGER) return std::to_string(sqlite3_value_int64(v));
    if (type == SQLITE_TEXT) return text_arg(v, "the value of " + key, 1 << 16);
    throw Error("the value of " + key + " must be text or an integer, not " + type_name(type));
}

void result_text(sqlite3_context* ctx, const std::string& text) {
    sqlite3_result_text(ctx, text.c_str(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
}

} // namespace wb
