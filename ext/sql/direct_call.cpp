// The check that a file-touching function was called by the running SQL (see direct_call.hpp).
#include "sql/direct_call.hpp"

#include <cctype>
#include <string>

namespace wb {

namespace {

// SQLITE_DIRECTONLY keeps these functions out of views and triggers, but
// SQLite 3.40 still lets a CHECK constraint in the database's own schema call
// them. A function that reads or writes files must be named by the SQL that
// the application is running; when no running statement names it, it was
// called by schema code in the database, and it refuses.
// (Statements prepared with the legacy sqlite3_prepare keep no SQL text; when
// every running statement is such, there is nothing to check against.)
// Whether the SQL text calls `function`: its name, not part of a longer
// identifier, followed by '(' (an optional closing quote and spaces between).
bool calls_function(const std::string& sql, const std::string& function) {
    std::string lower(sql);
    for (char& c : lower)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto ident = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$'; };
    for (size_t at = lower.find(function); at != std::string::npos; at = lower.find(function, at + 1)) {
        if (at > 0 && ident(lower[at - 1])) continue;
        size_t next = at + function.size();
        if (next < lower.size() && (lower[next] == '"' || lower[next] == '`' || lower[next] == ']')) ++next;
        while (next < lower.size() && std::isspace(static_cast<unsigned char>(lower[next])))
            ++next;
        if (next < lower.size() && lower[next] == '(') return true;
    }
    return false;
}

} // namespace

void require_direct_call(sqlite3_context* ctx, const char* function) {
    sqlite3* db = sqlite3_context_db_handle(ctx);
    bool any_text = false;
    for (sqlite3_stmt* stmt = sqlite3_next_stmt(db, nullptr); stmt; stmt = sqlite3_next_stmt(db, stmt)) {
        if (!sqlite3_stmt_busy(stmt)) continue;
        const char* sql = sqlite3_sql(stmt);
        if (!sql) continue;
        any_text = true;
        if (calls_function(sql, function)) return;
    }
    if (any_text)
        throw Error(
            "refused: it was called by code stored in the database's schema (a CHECK constraint), not by "
            "the SQL being run; call it directly",
            ErrorKind::auth);
}

} // namespace wb
