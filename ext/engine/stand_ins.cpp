// Stand-ins for the application's collations and functions (see stand_ins.hpp).
#include "engine/stand_ins.hpp"

#include <cctype>
#include <cstring>

#include "engine/sqlite_handles.hpp"

namespace wb {

namespace {

int compare_bytes(void*, int a_len, const void* a, int b_len, const void* b) {
    const int n = std::min(a_len, b_len);
    const int c = n > 0 ? std::memcmp(a, b, static_cast<size_t>(n)) : 0;
    return c != 0 ? c : a_len - b_len;
}

void return_null(sqlite3_context* ctx, int, sqlite3_value**) {
    sqlite3_result_null(ctx);
}

void register_collation(sqlite3* db, const char* name) {
    sqlite3_create_collation_v2(db, name, SQLITE_UTF8, nullptr, compare_bytes, nullptr);
}

void collation_only(void*, sqlite3* db, int, const char* name) {
    register_collation(db, name);
}

std::string lower(std::string s) {
    for (char& c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// The name in "no such function: X" or "unknown function: X()", or "".
std::string unknown_function_in(const std::string& message) {
    for (const char* lead : {"no such function: ", "unknown function: "}) {
        const size_t at = message.find(lead);
        if (at == std::string::npos) continue;
        std::string name = message.substr(at + std::strlen(lead));
        const size_t end = name.find_first_of("() \t");
        return end == std::string::npos ? name : name.substr(0, end);
    }
    return "";
}

// Whether `sql` calls `function` (its name as a whole identifier, then '(').
// Used to say what is unchecked, never to decide anything about security.
bool mentions_call(const std::string& sql, const std::string& function) {
    const std::string text = lower(sql);
    const std::string name = lower(function);
    auto ident = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$'; };
    for (size_t at = text.find(name); at != std::string::npos; at = text.find(name, at + 1)) {
        if (at > 0 && ident(text[at - 1])) continue;
        size_t next = at + name.size();
        while (next < text.size() && std::isspace(static_cast<unsigned char>(text[next])))
            ++next;
        if (next < text.size() && text[next] == '(') return true;
    }
    return false;
}

} // namespace

StandIns::StandIns(sqlite3* db) : db_(db) {
    sqlite3_collation_needed(db, this, on_collation_needed);
}

void StandIns::on_collation_needed(void* self, sqlite3* db, int, const char* name) {
    auto* me = static_cast<StandIns*>(self);
    try {
        me->collations_.insert(name);
    } catch (...) {
        return; // out of memory: SQLite reports the missing collation itself
    }
    register_collation(db, name);
}

void install_collation_stand_ins(sqlite3* db) {
    sqlite3_collation_needed(db, nullptr, collation_only);
}

sqlite3_stmt* StandIns::prepare(const std::string& sql) {
    for (int attempt = 0; attempt < 1000; ++attempt) {
        sqlite3_stmt* stmt = nullptr;
        const int rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr);
        if (rc == SQLITE_OK) return stmt;
        const std::string message = sqlite3_errmsg(db_);
        const std::string function = unknown_function_in(message);
        if (function.empty() || functions_.count(function)) throw Error(message, kind_of_sqlite_code(rc));
        functions_.insert(function);
        sqlite3_create_function_v2(db_, function.c_str(), -1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr,
                                   return_null, nullptr, nullptr, nullptr);
    }
    throw Error("the schema names too many functions this connection does not know");
}

std::vector<StandIns::Affected> StandIns::affected_objects() {
    std::vector<Affected> out;
    if (!any()) return out;
    Statement objects(db_, "SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_schema "
                           "WHERE type IN ('table', 'index') ORDER BY type DESC, name");
    while (objects.step()) {
        const std::string type = objects.column_text(0);
        const std::string name = objects.column_text(1);
        const std::string sql = objects.column_text(3);
        std::vector<std::string> reasons;
        if (type == "index") {
            Statement columns(db_, "SELECT DISTINCT coll FROM pragma_index_xinfo(" + quote_literal(name) +
                                       ") WHERE key AND coll IS NOT NULL");
            while (columns.step())
                if (collations_.count(columns.column_text(0)))
                    reasons.push_back("collation " + columns.column_text(0));
        }
        for (const auto& function : functions_)
            if (mentions_call(sql, function)) reasons.push_back("function " + function);
        for (const auto& reason : reasons)
            out.push_back({name, type + " " + name + ": " + reason + " is defined by the application"});
    }
    return out;
}

} // namespace wb
