// The restore engine (see restore.hpp).
#include "engine/restore.hpp"

#include <chrono>
#include <thread>

#include "engine/sqlite_handles.hpp"

namespace wb {

int64_t restore_into(const std::string& db_path, const std::string& backup_path, int64_t busy_timeout_ms,
                     Observer& observer) {
    Connection source(readonly_uri(backup_path),
                      SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX);
    Connection dest(db_path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX);
    sqlite3_busy_timeout(dest.get(), static_cast<int>(busy_timeout_ms));
    Backup backup(dest.get(), source.get());
    observer.page_size(source.query_int("PRAGMA page_size"));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(busy_timeout_ms);
    int rc;
    for (;;) {
        rc = sqlite3_backup_step(backup.get(), 4096);
        const int total = sqlite3_backup_pagecount(backup.get());
        observer.progress(total - sqlite3_backup_remaining(backup.get()), total);
        if (rc == SQLITE_DONE) break;
        if (rc == SQLITE_OK) continue;
        if ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            continue;
        }
        break;
    }
    const int64_t pages = sqlite3_backup_pagecount(backup.get());
    const int finish_rc = backup.finish(); // rolls back unless the copy completed
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
        throw Error(
            "the database is busy (another connection is writing or reading in a transaction); nothing was "
            "changed: try again when it is idle, or raise busy_timeout_ms",
            ErrorKind::busy);
    if (rc != SQLITE_DONE || finish_rc != SQLITE_OK) {
        std::string why = dest.message();
        if ((rc & 0xff) == SQLITE_READONLY)
            why += " (a database in WAL mode cannot take a backup with a different page size)";
        throw Error("the restore failed and was rolled back, the database is unchanged: " + why,
                    kind_of_sqlite_code(rc != SQLITE_DONE ? rc : finish_rc));
    }
    // In WAL mode the restored pages sit in the write-ahead log; move them into
    // the database now, so the application's next commit does not pay for it.
    sqlite3_wal_checkpoint_v2(dest.get(), "main", SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    return pages;
}

} // namespace wb
