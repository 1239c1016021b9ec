// The "wecare_batch" VFS: a shim over the default VFS for the one private
// connection that writes a restore into the live database. SQLite writes its
// log, its journal and (at checkpoint) the database one page per system call,
// and reads the log back one page per call; a restore of a large database
// then spends most of its CPU in those calls. This shim
//   * gathers consecutive writes to the database, its -wal and its journal
//     into writes of up to 128 KiB (the most the unix VFS writes in one
//     call), and
//   * reads the -wal ahead in 1 MiB windows, each used only until the next
//     lock, shared-memory or file-control call on any file of this VFS (in
//     WAL mode SQLite makes those on the database file): that is where another
//     process's writes to the log become the connection's to read.
// It changes no byte and no order: a gathered write reaches the file before
// SQLite can make it visible to anyone or rely on it. Everything buffered is
// written before any read, size, truncate, sync, lock, shared-memory call
// (xShmLock, xShmBarrier, xShmMap: before a frame or the checkpoint's
// progress becomes visible), file control (SQLITE_FCNTL_CKPT_DONE comes
// before the checkpoint publishes), delete or close. The restore's connection
// runs with synchronous=FULL, so every publication is preceded by an xSync
// that reports a failed write; a failure seen later poisons the file, which
// then fails every call. Only that connection uses this VFS; the
// application's connections are untouched.
//
// Gathered writes to the database and its -wal also start the kernel's
// writeback every 8 MiB (sync_file_range, SYNC_FILE_RANGE_WRITE: a hint that
// waits for nothing and promises nothing), so the xSync that follows a 1 GiB
// log or checkpoint finds most of it on disk already instead of writing it
// all then. The descriptor comes from the unix VFS's file (its fourth field)
// and is used only when fstat shows it is the file of that name.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/sqlite_api.hpp"

namespace wb {

constexpr const char* kBatchVfsName = "wecare_batch";

// Registers the VFS once per process; an SQLite result code.
int register_batch_vfs();

// While a restore copies a backup into a WAL database with the backup API,
// SQLite reads every page of the database before overwriting it whole
// (sqlite3PagerGet without PAGER_GET_NOCONTENT): a second read of the whole
// database, wasted. A RestoreWindow on the restore's connection answers those
// reads with zeros, and in exchange checks every page SQLite writes to the
// log against the backup (`check`): a frame that is not the backup's page
// fails its write, so the transaction cannot commit and rolls back. Whatever
// SQLite did with a zeroed page, it reaches the log only as the backup's own
// bytes. Page 1 is never zeroed (a read of it fails; SQLite holds it from the
// backup's first step) and its frame is not compared (the restore rewrites
// its header). Writes to the log of any other shape fail too.
class RestoreWindow {
  public:
    // true when `data` (one page) is the backup's page `page`.
    using PageCheck = std::function<bool(uint32_t page, const uint8_t* data)>;
    // Opens the window on `db` (a connection of this VFS in WAL mode inside
    // the backup's write transaction, pages of `page_size`); nullptr when it
    // cannot be used (another VFS underneath, no open log, no powersafe
    // overwrite: SQLite would pad the log to sectors), and the restore then
    // reads as usual.
    static std::unique_ptr<RestoreWindow> open(sqlite3* db, uint32_t page_size, PageCheck check);
    ~RestoreWindow();
    RestoreWindow(const RestoreWindow&) = delete;
    RestoreWindow& operator=(const RestoreWindow&) = delete;
    // Reads are real again; call before the backup is finished or rolled back.
    void close();
    // Why a read or a write was refused ("" = none).
    std::string problem() const;

    struct State;

  private:
    explicit RestoreWindow(std::unique_ptr<State> state);
    std::unique_ptr<State> state_;
};

} // namespace wb
