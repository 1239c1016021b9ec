// A consistent snapshot of a live database, read page by page without the
// backup API: the source of every backup, increment and safety backup.
//
//   LiveSnapshot snap(db_path, {busy_timeout_ms});
//   snap.read_pages(1, n, buffer);          // pages 1..n as of one instant
//   auto rows = snap.count_rows();          // in the same instant
//   snap.end();                             // writers may checkpoint again
//
// How it works: a private read-only connection opens the database and starts
// a read transaction, which it holds until end(). That pins one instant:
//   * rollback journal: the connection's SHARED lock keeps writers out, so the
//     database file is the snapshot; pages are read through the connection's
//     own file handle (never a second descriptor: closing one would drop the
//     process's locks on the file);
//   * WAL: the snapshot is the database file plus the log's frames up to the
//     reader's last frame. That frame is taken from the wal-index header, read
//     just before and just after the read transaction starts: when no commit
//     came in between (the header's change counter is the same), the
//     connection's snapshot is exactly that header. The held read mark keeps
//     those frames in place and keeps the checkpointer from writing newer ones
//     into the database file. The frames are read from the log (each checked
//     by its salts and checksum chain); every other page from the database.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/observer.hpp"
#include "engine/page_source.hpp"
#include "engine/sqlite_handles.hpp"
#include "policy/record.hpp"
#include "policy/wal_format.hpp"
#include "store/fd.hpp"

namespace wb {

class LiveSnapshot : public PageSource {
  public:
    struct Options {
        int64_t busy_timeout_ms = 10000;
        // The caller holds the database's write lock (a restore taking its
        // safety backup): nothing can commit, so no check is needed.
        bool writer_lock_held = false;
    };

    LiveSnapshot(const std::string& db_path, const Options& options);

    uint32_t page_size() const override { return page_size_; }
    uint32_t page_count() const override { return page_count_; }
    bool wal() const { return wal_; }
    const std::string& journal_mode() const { return journal_mode_; }
    // The log frame that ends the snapshot (0 for rollback journal, or a log
    // that holds nothing the database file lacks).
    uint32_t last_frame() const { return last_frame_; }
    // WAL mode: the wal-index header the snapshot is exactly (its salts and
    // last frame place it in the log).
    const WalIndexHeader& wal_position() const { return position_; }

    // Reads pages first..first+count-1 (1-based) into `out` (count * page size
    // bytes). The lock-byte page of databases above 1 GiB reads as zeros.
    void read_pages(uint32_t first, uint32_t count, uint8_t* out) override;
    // Row counts of every ordinary table, in the same snapshot.
    std::vector<TableCount> count_rows();
    // The private connection that holds the snapshot: a check run on it sees
    // exactly the pages read.
    sqlite3* connection() const { return db_.get(); }
    // Ends the read transaction.
    void end();

  private:
    void begin_rollback();
    void begin_wal(const Options& options);
    void load_wal_frames();
    void read_from_db(uint32_t first, uint32_t count, uint8_t* out);

    std::string db_path_;
    Connection db_;
    sqlite3_file* file_ = nullptr; // the connection's own handle on the database file
    bool wal_ = false;
    std::string journal_mode_;
    uint32_t page_size_ = 0;
    uint32_t page_count_ = 0;
    uint32_t last_frame_ = 0;
    WalIndexHeader position_;
    uint32_t wal_salt1_ = 0;
    uint32_t wal_salt2_ = 0;
    Fd wal_file_;                    // the -wal file (SQLite takes no lock on it)
    std::vector<uint32_t> frame_of_; // page -> newest frame <= last_frame_, 0 = not in the log
    uint32_t lock_byte_page_ = 0;
};

// Row counts of every ordinary table of the `main` database of `db`, by name.
std::vector<TableCount> count_rows(sqlite3* db);

} // namespace wb
