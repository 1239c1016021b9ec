// copy_pages and DbFileSource (see page_source.hpp).
#include "engine/page_source.hpp"

#include <algorithm>

#include "common/error.hpp"
#include "engine/page_writer.hpp"
#include "store/db_header.hpp"

namespace wb {

void copy_pages(PageSource& source, PageWriter& out, Observer& observer,
                std::chrono::steady_clock::time_point deadline, const std::string& deadline_message) {
    const uint32_t count = source.page_count();
    for (uint32_t first = 1; first <= count;) {
        const uint32_t n = std::min(out.batch_pages(), count - first + 1);
        source.read_pages(first, n, out.begin(first, n));
        out.commit();
        first += n;
        observer.progress(first - 1, count);
        observer.check();
        if (std::chrono::steady_clock::now() > deadline) throw Error(deadline_message);
    }
}

DbFileSource::DbFileSource(sqlite3* db) {
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &file_) != SQLITE_OK || !file_ ||
        !file_->pMethods)
        throw Error("cannot reach the database file through SQLite");
    uint8_t bytes[kDbHeaderBytes] = {};
    sqlite3_int64 size = 0;
    if (file_->pMethods->xFileSize(file_, &size) != SQLITE_OK)
        throw Error("cannot size the database", ErrorKind::io);
    if (size == 0) return; // an empty database: nothing to read
    const int rc = file_->pMethods->xRead(file_, bytes, sizeof bytes, 0);
    if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ)
        throw Error("cannot read the database", ErrorKind::io);
    const DbHeader h = parse_db_header(bytes, sizeof bytes);
    if (!h.valid) throw Error("the database file is not an SQLite database", ErrorKind::io);
    page_size_ = h.page_size;
    page_count_ = h.page_count_valid ? h.page_count : static_cast<uint32_t>(size / h.page_size);
}

void DbFileSource::read_pages(uint32_t first, uint32_t count, uint8_t* out) {
    const auto amount = static_cast<int>(static_cast<uint64_t>(count) * page_size_);
    const int rc =
        file_->pMethods->xRead(file_, out, amount, static_cast<sqlite3_int64>(first - 1) * page_size_);
    if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ)
        throw Error("reading the database failed (" + std::string(sqlite3_errstr(rc)) + ")", ErrorKind::io);
}

} // namespace wb
