#include "handles.hpp"

#include <cerrno>
#include <cstring>
#include <unistd.h>

namespace wb {

std::string errno_text(int err) {
    char buf[256];
    // GNU strerror_r returns the message pointer.
    const char* text = strerror_r(err, buf, sizeof buf);
    return text ? std::string(text) : std::string("error ") + std::to_string(err);
}

Error system_error(const std::string& what, int err) {
    int code = kErrIo;
    std::string hint;
    if (err == ENOSPC || err == EDQUOT) {
        code = kErrFull;
        hint = "; free space on that disk and try again";
    } else if (err == EFBIG) {
        code = kErrFull;
        hint = " (the file size limit was reached); raise the limit and try again";
    } else if (err == EACCES || err == EPERM || err == EROFS) {
        code = kErrCantOpen;
        hint = "; check the permissions of the backup directory";
    }
    return Error(what + ": " + errno_text(err) + hint, code);
}

void Fd::reset(int fd) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
}

void Fd::close_checked(const std::string& what) {
    if (fd_ < 0) return;
    const int fd = std::exchange(fd_, -1);
    if (::close(fd) != 0 && errno != EINTR) throw system_error(what, errno);
}

Connection::Connection(const std::string& filename, int flags, const char* vfs) {
    const int rc = sqlite3_open_v2(filename.c_str(), &db_, flags, vfs);
    if (rc != SQLITE_OK) {
        std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
        close();
        throw Error("cannot open '" + filename + "': " + msg,
                    rc == SQLITE_NOMEM ? SQLITE_NOMEM : SQLITE_CANTOPEN);
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
        throw Error(msg, rc & 0xff);
    }
}

int64_t Connection::query_int(const std::string& sql) {
    Statement stmt(db_, sql);
    return stmt.step() ? stmt.column_int(0) : 0;
}

Statement::Statement(sqlite3* db, const std::string& sql) {
    const int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt_, nullptr);
    if (rc != SQLITE_OK) throw Error(sqlite3_errmsg(db), rc & 0xff);
}

bool Statement::step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw Error(sqlite3_errmsg(sqlite3_db_handle(stmt_)), rc & 0xff);
}

std::string Statement::column_text(int i) const {
    const auto* text = sqlite3_column_text(stmt_, i);
    if (!text) return {};
    return std::string(reinterpret_cast<const char*>(text),
                       static_cast<size_t>(sqlite3_column_bytes(stmt_, i)));
}

std::string quote_identifier(const std::string& name) {
    std::string out = "\"";
    for (char c : name) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

std::string readonly_uri(const std::string& path) {
    static const char* hex = "0123456789ABCDEF";
    std::string out = "file:";
    for (unsigned char c : path) {
        const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                           c == '/' || c == '.' || c == '-' || c == '_';
        if (plain) {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out + "?mode=ro&immutable=1";
}

} // namespace wb
