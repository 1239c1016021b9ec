// Owned SQLite handles for the private connections the extension opens itself
// (never the caller's connection): a connection, a prepared statement, a
// backup. Move-only; the destructor releases. No bare sqlite3_close(),
// sqlite3_finalize() or sqlite3_backup_finish() anywhere else.
#pragma once
#include <cstdint>
#include <string>
#include <utility>

#include "common/error.hpp"
#include "common/sqlite_api.hpp"

namespace wb {

class Connection {
  public:
    Connection() = default;
    // Throws Error(cantopen) naming `filename` when SQLite cannot open it.
    Connection(const std::string& filename, int flags, const char* vfs = nullptr);
    Connection(Connection&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}
    Connection& operator=(Connection&& other) noexcept {
        if (this != &other) {
            close();
            db_ = std::exchange(other.db_, nullptr);
        }
        return *this;
    }
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    ~Connection() { close(); }

    sqlite3* get() const { return db_; }
    void exec(const std::string& sql);
    // Runs a query that yields one integer.
    int64_t query_int(const std::string& sql);
    std::string message() const { return db_ ? sqlite3_errmsg(db_) : "out of memory"; }
    void close();

  private:
    sqlite3* db_ = nullptr;
};

class Statement {
  public:
    Statement(sqlite3* db, const std::string& sql);
    Statement(Statement&& other) noexcept : stmt_(std::exchange(other.stmt_, nullptr)) {}
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    Statement& operator=(Statement&&) = delete;
    ~Statement() { sqlite3_finalize(stmt_); }

    // True while a row is available; throws on error.
    bool step();
    int64_t column_int(int i) const { return sqlite3_column_int64(stmt_, i); }
    std::string column_text(int i) const;
    sqlite3_stmt* get() const { return stmt_; }

  private:
    sqlite3_stmt* stmt_ = nullptr;
};

// An sqlite3_backup from `source` into `dest` (schema "main" on both).
class Backup {
  public:
    Backup(sqlite3* dest, sqlite3* source);
    ~Backup();
    Backup(const Backup&) = delete;
    Backup& operator=(const Backup&) = delete;
    sqlite3_backup* get() const { return backup_; }
    // sqlite3_backup_finish now; returns its result code.
    int finish();

  private:
    sqlite3_backup* backup_ = nullptr;
};

// Installs (or, with a null handler, removes) a progress handler on a private
// connection. Returns false when this SQLite has none: better-sqlite3 and
// others build with SQLITE_OMIT_PROGRESS_CALLBACK, which leaves the API
// table's entry null. Statements then run to their end uninterrupted.
bool set_progress_handler(sqlite3* db, int every, int (*handler)(void*), void* arg);

// Double-quotes an SQL identifier.
std::string quote_identifier(const std::string& name);
// Single-quotes an SQL string literal.
std::string quote_literal(const std::string& text);

// The percent-encoded `file:` URI of `path` with `query` appended.
std::string file_uri(const std::string& path, const std::string& query);
// A URI that opens `path` read-only and immutable: no locks taken and no
// -wal/-shm files created beside a backup that is only being read.
std::string readonly_uri(const std::string& path);

} // namespace wb
