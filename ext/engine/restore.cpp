// The restore engine (see restore.hpp for the critical section).
#include "engine/restore.hpp"

#include <chrono>
#include <thread>

#include "engine/batch_vfs.hpp"
#include "engine/live_snapshot.hpp"
#include "engine/sqlite_handles.hpp"

namespace wb {

namespace {

constexpr int kStepPages = 4096;

Error busy_error() {
    return Error(
        "the database is busy (another connection is writing, or reading in a transaction); nothing was "
        "changed: try again when it is idle, or raise busy_timeout_ms",
        ErrorKind::busy);
}

std::string journal_mode(Connection& db) {
    Statement mode(db.get(), "PRAGMA journal_mode");
    return mode.step() ? mode.column_text(0) : "";
}

// Takes the database's write lock: the first step copies no page.
void take_write_lock(Backup& backup, int64_t busy_timeout_ms, Observer& observer) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(busy_timeout_ms);
    for (;;) {
        const int rc = sqlite3_backup_step(backup.get(), 0);
        if (rc == SQLITE_OK || rc == SQLITE_DONE) return;
        if ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && std::chrono::steady_clock::now() < deadline) {
            observer.check();
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            continue;
        }
        if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) throw busy_error();
        throw Error(std::string("cannot start the restore: ") + sqlite3_errstr(rc), kind_of_sqlite_code(rc));
    }
}

} // namespace

DbMode db_mode_of(const std::string& db_path, int64_t busy_timeout_ms) {
    Connection db(db_path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
    sqlite3_busy_timeout(db.get(), static_cast<int>(busy_timeout_ms));
    DbMode m;
    try {
        m.page_count = db.query_int("PRAGMA page_count");
        m.journal_mode = journal_mode(db);
        m.page_size = db.query_int("PRAGMA page_size");
    } catch (const Error& e) {
        if (e.kind() == ErrorKind::busy) throw busy_error();
        throw Error(std::string("cannot read the database: ") + e.what(), e.kind());
    }
    return m;
}

RestoreResult restore_into(const RestoreRequest& req) {
    Observer& observer = *req.observer;
    if (register_batch_vfs() != SQLITE_OK) throw Error("cannot register the wecare_batch VFS");
    Connection dest(req.db_path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, kBatchVfsName);
    sqlite3_busy_timeout(dest.get(), static_cast<int>(req.busy_timeout_ms));
    // Every publication of a frame or of checkpoint progress must follow an
    // xSync that reports a failed gathered write (batch_vfs.hpp).
    dest.exec("PRAGMA synchronous = FULL");
    // Asked now: once the backup has started, no statement may run on `dest`
    // until it finishes (one would end the backup's transaction).
    std::string mode;
    try {
        mode = journal_mode(dest);
    } catch (const Error& e) {
        if (e.kind() == ErrorKind::busy) throw busy_error();
        throw;
    }
    const bool wal = mode == "wal";
    ImageConnection source(*req.image);
    Backup backup(dest.get(), source.get());
    take_write_lock(backup, req.busy_timeout_ms, observer);

    // The database as it is, under the lock: the safety backup.
    bool was_empty = false;
    {
        std::unique_ptr<PageSource> current;
        if (wal) {
            LiveSnapshot::Options options;
            options.busy_timeout_ms = req.busy_timeout_ms;
            options.writer_lock_held = true;
            current = std::make_unique<LiveSnapshot>(req.db_path, options);
        } else {
            current = std::make_unique<DbFileSource>(dest.get());
        }
        was_empty = current->page_count() == 0;
        if (req.take_safety) req.take_safety(*current, mode);
    }

    observer.phase("restore");
    observer.page_size(req.image->page_size());
    int rc;
    for (;;) {
        observer.check(); // before the last step: the commit itself is not interruptible
        rc = sqlite3_backup_step(backup.get(), kStepPages);
        const int total = sqlite3_backup_pagecount(backup.get());
        observer.progress(total - sqlite3_backup_remaining(backup.get()), total);
        if (rc != SQLITE_OK) break;
    }
    RestoreResult result;
    result.pages = sqlite3_backup_pagecount(backup.get());
    const int finish_rc = backup.finish(); // rolls back unless the copy completed
    if (rc != SQLITE_DONE || finish_rc != SQLITE_OK) {
        std::string why = dest.message();
        if (!req.image->problem().empty()) why += " (" + req.image->problem() + ")";
        if ((rc & 0xff) == SQLITE_READONLY)
            why += " (a database in WAL mode cannot take a backup with a different page size)";
        throw Error("the restore failed and was rolled back, the database is unchanged: " + why,
                    kind_of_sqlite_code(rc != SQLITE_DONE ? rc : finish_rc));
    }
    if (was_empty && req.journal_mode_if_new == "wal" && !wal) dest.exec("PRAGMA journal_mode = WAL");
    result.journal_mode = journal_mode(dest);
    if (result.journal_mode == "wal") {
        // Move the restored pages from the log into the database now, then try
        // (without waiting for readers) to reset the log to empty.
        observer.phase("checkpoint");
        sqlite3_wal_checkpoint_v2(dest.get(), "main", SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
        sqlite3_busy_timeout(dest.get(), 0);
        sqlite3_wal_checkpoint_v2(dest.get(), "main", SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
    }
    return result;
}

} // namespace wb
