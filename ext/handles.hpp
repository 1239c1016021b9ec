// Owned handles: a file descriptor, a private SQLite connection, a prepared
// statement. Move-only; the destructor releases. No bare close() or
// sqlite3_finalize() anywhere else in the project.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "error.hpp"
#include "sqlite_api.hpp"

namespace wb {

class Fd {
  public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    Fd& operator=(Fd&& other) noexcept {
        if (this != &other) reset(std::exchange(other.fd_, -1));
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { reset(); }

    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }
    void reset(int fd = -1);
    // Closes now and reports a failed close (for files whose close matters).
    void close_checked(const std::string& what);

  private:
    int fd_ = -1;
};

class Statement;

// A connection the extension opens itself (never the caller's connection).
class Connection {
  public:
    Connection() = default;
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

// Double-quotes an SQL identifier.
std::string quote_identifier(const std::string& name);

// A URI that opens `path` read-only and immutable: no locks taken and no
// -wal/-shm files created beside a backup that is only being read.
std::string readonly_uri(const std::string& path);

} // namespace wb
