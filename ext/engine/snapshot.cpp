// The consistent copy (see snapshot.hpp).
#include "engine/snapshot.hpp"

#include <chrono>
#include <fcntl.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include "engine/sink_vfs.hpp"
#include "engine/sqlite_handles.hpp"

namespace wb {

namespace {

constexpr int kStepPages = 2048;

Error write_failure(sqlite3* dest, const SinkContext& sink, int rc) {
    const int err = sink.write_errno ? sink.write_errno : sqlite3_system_errno(dest);
    if ((rc & 0xff) == SQLITE_FULL) return system_error("writing the backup failed", err ? err : ENOSPC);
    if (err) return system_error("writing the backup failed", err);
    return Error(std::string("writing the backup failed: ") + sqlite3_errmsg(dest), kind_of_sqlite_code(rc));
}

} // namespace

std::vector<TableCount> count_rows(sqlite3* db) {
    std::vector<TableCount> out;
    {
        Statement tables(db, "SELECT name FROM sqlite_schema WHERE type = 'table' AND rootpage > 0 "
                             "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name");
        while (tables.step())
            out.push_back({tables.column_text(0), 0});
    }
    for (auto& t : out) {
        Statement count(db, "SELECT count(*) FROM main." + quote_identifier(t.name));
        t.rows = count.step() ? count.column_int(0) : 0;
    }
    return out;
}

SnapshotResult snapshot_to(const SnapshotRequest& req) {
    SnapshotResult result;
    const auto started = std::chrono::steady_clock::now();
    const auto snapshot_deadline = started + std::chrono::seconds(req.max_snapshot_seconds);

    Connection source(req.db_path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
    sqlite3_busy_timeout(source.get(), static_cast<int>(req.busy_timeout_ms));
    // Reading the source through a memory map saves a copy of every page.
    source.exec("PRAGMA mmap_size = 2147418112");
    try {
        source.exec("BEGIN");
        result.page_count = source.query_int("SELECT count(*) FROM sqlite_schema");
    } catch (const Error& e) {
        if (e.kind() == ErrorKind::busy)
            throw Error(
                "the database is busy (a writer holds it locked); try again, or raise busy_timeout_ms",
                ErrorKind::busy);
        throw Error(std::string("cannot read the database: ") + e.what(), e.kind());
    }
    {
        Statement mode(source.get(), "PRAGMA journal_mode");
        result.journal_mode = mode.step() ? mode.column_text(0) : "";
    }

    SinkContext sink;
    TempFile& temp = *req.temp;
    // A second descriptor for O_DIRECT writes; file systems without it (tmpfs) refuse the open.
    Fd direct(::openat(req.dir->fd(), temp.name().c_str(), O_WRONLY | O_DIRECT | O_NOFOLLOW | O_CLOEXEC));
    sink.writer = std::make_unique<AsyncWriter>(temp.fd(), direct.get(), sink.hasher);
    SinkRegistration registration(&sink);
    const std::string temp_path = req.dir->path_of(temp.name());
    {
        Connection dest(file_uri(temp_path, registration.uri_parameter()),
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, kSinkVfsName);
        // Nothing to roll back to in a file nobody else can see yet: no journal,
        // no syncs (the file is fsynced once at the end), a small page cache so
        // pages stream out as they are copied.
        dest.exec("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = 256; "
                  "PRAGMA locking_mode = EXCLUSIVE");
        Backup backup(dest.get(), source.get());
        req.observer->page_size(source.query_int("PRAGMA page_size"));
        for (;;) {
            const int rc = sqlite3_backup_step(backup.get(), kStepPages);
            const int total = sqlite3_backup_pagecount(backup.get());
            req.observer->progress(total - sqlite3_backup_remaining(backup.get()), total);
            if (rc == SQLITE_DONE) break;
            if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
            } else if (rc != SQLITE_OK) {
                throw write_failure(dest.get(), sink, rc);
            }
            req.observer->check();
            if (std::chrono::steady_clock::now() > snapshot_deadline)
                throw Error("the copy took longer than max_snapshot_seconds (" +
                            std::to_string(req.max_snapshot_seconds) +
                            " s) and was abandoned, so the write-ahead log cannot grow without bound; "
                            "raise max_snapshot_seconds for a database this large");
        }
        result.page_count = sqlite3_backup_pagecount(backup.get());
        const int rc = backup.finish();
        if (rc != SQLITE_OK) throw write_failure(dest.get(), sink, rc);
        const int flush_rc = sqlite3_file_control(dest.get(), "main", kSinkFlushOpcode, nullptr);
        if (flush_rc != SQLITE_OK) throw write_failure(dest.get(), sink, flush_rc);
    }
    result.tables = count_rows(source.get());
    result.page_size = source.query_int("PRAGMA page_size");
    source.exec("COMMIT"); // release the snapshot before the slow part: the sync
    source.close();

    if (const int err = sink.writer->drain()) throw system_error("writing the backup failed", err);
    sink.writer.reset();
    if (::fdatasync(temp.fd()) != 0) throw system_error("writing the backup to disk failed", errno);
    struct stat st {};
    if (::fstat(temp.fd(), &st) != 0) throw system_error("cannot examine the new backup", errno);
    result.size_bytes = st.st_size;
    result.checksum = sink.hasher.finish(temp.fd(), static_cast<uint64_t>(st.st_size));
    return result;
}

} // namespace wb
