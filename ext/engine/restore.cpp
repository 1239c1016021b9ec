// The restore engine (see restore.hpp for the critical section).
#include "engine/restore.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
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

namespace {

// The safety backup of a WAL database, written by a thread of its own while
// the copy runs. Its observer passes progress and stop requests on; the
// destructor stops and joins a thread that is still running.
class SafetyThread : public Observer {
  public:
    SafetyThread(Observer& outer, const RestoreRequest& req, PageSource& current, const std::string& mode)
        : outer_(outer) {
        total_ = current.page_count();
        thread_ = std::thread([this, &req, &current, mode] {
            try {
                req.take_safety(current, mode, *this);
            } catch (...) {
                error_ = std::current_exception();
            }
            done_.store(true);
        });
    }
    ~SafetyThread() override {
        abandon_.store(true);
        if (thread_.joinable()) thread_.join();
    }
    SafetyThread(const SafetyThread&) = delete;
    SafetyThread& operator=(const SafetyThread&) = delete;

    // Waits for the safety backup; rethrows its error.
    void finish() {
        while (!done_.load()) {
            if (outer_.stop_requested()) abandon_.store(true);
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        thread_.join();
        if (error_) std::rethrow_exception(error_);
    }
    int64_t done_pages() const { return done_pages_.load(); }
    int64_t total_pages() const { return total_; }

    void phase(const std::string&) override {}
    void progress(int64_t done, int64_t) override { done_pages_.store(done); }
    bool stop_requested() override { return abandon_.load() || outer_.stop_requested(); }
    std::string stop_reason() const override { return outer_.stop_reason(); }

  private:
    Observer& outer_;
    std::thread thread_;
    std::atomic<bool> done_{false};
    std::atomic<bool> abandon_{false};
    std::atomic<int64_t> done_pages_{0};
    int64_t total_ = 0;
    std::exception_ptr error_;
};

Error copy_failed(const RestoreRequest& req, Connection& dest, int rc, const std::string& window_problem) {
    const std::string image_problem = req.image->problem();
    if (!image_problem.empty() || !window_problem.empty())
        return Error(req.what + " failed verification while it was copied (" +
                         (!image_problem.empty() ? image_problem : window_problem) +
                         "); it was not restored and the database is unchanged; choose another backup",
                     ErrorKind::io);
    std::string why = dest.message();
    if ((rc & 0xff) == SQLITE_READONLY)
        why += " (a database in WAL mode cannot take a backup with a different page size)";
    return Error("the restore failed and was rolled back, the database is unchanged: " + why,
                 kind_of_sqlite_code(rc));
}

} // namespace

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
    int64_t dest_page_size = 0;
    try {
        mode = journal_mode(dest);
        dest_page_size = dest.query_int("PRAGMA page_size");
    } catch (const Error& e) {
        if (e.kind() == ErrorKind::busy) throw busy_error();
        throw;
    }
    const bool wal = mode == "wal";
    // Opening the image reads its page 1, checked against its hash.
    std::unique_ptr<ImageConnection> opened_source;
    try {
        opened_source = std::make_unique<ImageConnection>(*req.image);
    } catch (const Error&) {
        if (req.image->problem().empty()) throw;
        throw Error(req.what + " failed verification (" + req.image->problem() +
                        "); it was not restored and the database is unchanged; choose another backup",
                    ErrorKind::io);
    }
    ImageConnection& source = *opened_source;
    Backup backup(dest.get(), source.get());
    take_write_lock(backup, req.busy_timeout_ms, observer);

    // The database as it is, under the lock: the safety backup. A rollback
    // journal database: now, before the copy changes the file. A WAL one:
    // pinned now, written beside the copy (the file changes only at the
    // checkpoint, after the commit).
    bool was_empty = false;
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
    if (req.before_copy) req.before_copy(mode);
    std::unique_ptr<SafetyThread> safety;
    if (!wal) {
        if (req.take_safety) req.take_safety(*current, mode, observer);
        current.reset();
        observer.phase("restore");
    } else {
        if (req.take_safety) safety = std::make_unique<SafetyThread>(observer, req, *current, mode);
        observer.phase(safety ? "safety backup + restore" : "restore");
    }
    observer.page_size(req.image->page_size());

    std::unique_ptr<RestoreWindow> window;
    if (wal && req.image->checked() && dest_page_size == static_cast<int64_t>(req.image->page_size())) {
        const Image& image = *req.image;
        window =
            RestoreWindow::open(dest.get(), image.page_size(), [&image](uint32_t page, const uint8_t* data) {
                return image.holds(page, data);
            });
    }
    int rc = SQLITE_OK;
    for (;;) {
        observer.check(); // before the last step: the commit itself is not interruptible
        const int remaining = sqlite3_backup_remaining(backup.get());
        // The last page commits: in WAL mode, only once the safety backup is published.
        if (safety && remaining <= 1) break;
        const int n = safety ? std::min(kStepPages, remaining - 1) : kStepPages;
        rc = sqlite3_backup_step(backup.get(), n);
        const int total = sqlite3_backup_pagecount(backup.get());
        const int64_t copied = total - sqlite3_backup_remaining(backup.get());
        if (safety)
            observer.progress(copied + safety->done_pages(), total + safety->total_pages());
        else
            observer.progress(copied, total);
        if (rc != SQLITE_OK) break;
    }
    if (safety && rc == SQLITE_OK) {
        safety->finish(); // throws when the safety backup could not be made: nothing is committed
        const int64_t safety_pages = safety->total_pages();
        safety.reset();
        current.reset(); // ends the snapshot's read transaction, so the checkpoint can pass it
        observer.check();
        rc = sqlite3_backup_step(backup.get(), -1);
        const int64_t all = sqlite3_backup_pagecount(backup.get()) + safety_pages;
        observer.progress(all, all);
    }
    const std::string window_problem = window ? window->problem() : "";
    if (window) window->close();
    RestoreResult result;
    result.pages = sqlite3_backup_pagecount(backup.get());
    const int finish_rc = backup.finish(); // rolls back unless the copy completed
    if (rc != SQLITE_DONE || finish_rc != SQLITE_OK)
        throw copy_failed(req, dest, rc != SQLITE_DONE ? rc : finish_rc, window_problem);
    window.reset();
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
