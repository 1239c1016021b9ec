// The owned SQLite handles (see sqlite_handles.hpp).
#include "engine/sqlite_handles.hpp"

#include "policy/text.hpp"

namespace wb {

Connection::Connection(const std::string& filename, int flags, const char* vfs) {
    // Never a cache shared with the application's connection, even when the
    // process switched shared cache on: a schema parsed here, where the
    // extension's functions are not registered, would then be the one the
    // application's connection uses (sql/schema_safety.cpp).
    const int rc = sqlite3_open_v2(filename.c_str(), &db_, flags | SQLITE_OPEN_PRIVATECACHE, vfs);
    if (rc != SQLITE_OK) {
        std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
        close();
        if (rc == SQLITE_NOMEM) throw std::bad_alloc();
        throw Error("cannot open '" + filename + "': " + msg, ErrorKind::cantopen);
    }
    sqlite3_extended_result_codes(db_, 1);
}

void Connection::close() {
    if (db_) sqlite3_close_v2(db_);
    db_ = nullptr;
}

void Connection::exec(const std::string& sql) {
    char* err = nullptr;
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
        std::string msg = err ? err : sqlite3_errstr(rc);
        sqlite3_free(err);
        throw Error(msg, kind_of_sqlite_code(rc));
    }
}

int64_t Connection::query_int(const std::string& sql) {
    Statement stmt(db_, sql);
    return stmt.step() ? stmt.column_int(0) : 0;
}

Statement::Statement(sqlite3* db, const std::string& sql) {
    const int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt_, nullptr);
    if (rc != SQLITE_OK) throw Error(sqlite3_errmsg(db), kind_of_sqlite_code(rc));
}

bool Statement::step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw Error(sqlite3_errmsg(sqlite3_db_handle(stmt_)), kind_of_sqlite_code(rc));
}

std::string Statement::column_text(int i) const {
    const auto* text = sqlite3_column_text(stmt_, i);
    if (!text) return {};
    return std::string(reinterpret_cast<const char*>(text),
                       static_cast<size_t>(sqlite3_column_bytes(stmt_, i)));
}

Backup::Backup(sqlite3* dest, sqlite3* source) : backup_(sqlite3_backup_init(dest, "main", source, "main")) {
    if (!backup_) throw Error(sqlite3_errmsg(dest), kind_of_sqlite_code(sqlite3_errcode(dest)));
}

Backup::~Backup() {
    if (backup_) sqlite3_backup_finish(backup_);
}

int Backup::finish() {
    return backup_ ? sqlite3_backup_finish(std::exchange(backup_, nullptr)) : SQLITE_OK;
}

bool set_progress_handler(sqlite3* db, int every, int (*handler)(void*), void* arg) {
    if (sqlite3_api == nullptr || sqlite3_api->progress_handler == nullptr) return false;
    sqlite3_progress_handler(db, every, handler, arg);
    return true;
}

std::string quote_identifier(const std::string& name) {
    std::string out = "\"";
    for (char c : name) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

std::string quote_literal(const std::string& text) {
    std::string out = "'";
    for (char c : text) {
        if (c == '\'') out += '\'';
        out += c;
    }
    return out + "'";
}

std::string file_uri(const std::string& path, const std::string& query) {
    const auto plain = [](unsigned char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' ||
               c == '.' || c == '-' || c == '_';
    };
    return "file:" + percent_encode(path, plain) + "?" + query;
}

std::string readonly_uri(const std::string& path) {
    return file_uri(path, "mode=ro&immutable=1");
}

} // namespace wb
