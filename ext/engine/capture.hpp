// The pieces of continuous capture that touch SQLite and files: holding the
// write-ahead log's frames in place, reading committed transactions from it,
// and appending them to segment files as restore points
// (policy/segment_format.hpp). The capture loop itself, with its lease, bases
// and gaps, is command/continuous.cpp.
//
// How frames are kept until they are captured: a read transaction whose read
// mark is above 0 stops every checkpointer from copying newer frames into the
// database and stops the log from restarting; one at mark 0 (taken when the
// whole log was already in the database) stops any frame from being copied.
// A WalPin is such a read transaction on a private connection. Capture keeps
// one at all times and overlaps them: it starts a new one, captures up to its
// last frame, makes that durable, and only then ends the old one. So the log
// restarts only while the held pin is at mark 0, which means every frame in
// it was in the database and captured: the restart continues the history.
//
//   WalPin pin(db_path, busy_ms);                 // at pin.header().max_frame
//   WalFrames wal(db_path);                       // the -wal file, our own descriptor
//   auto scan = wal.scan(state, pin.header().max_frame);   // every frame checked
//   PointHeader p = writer.append(wal, scan, state, hashes, now_ns);  // durable
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <sys/stat.h>
#include <unordered_map>
#include <vector>

#include "common/observer.hpp"
#include "engine/sqlite_handles.hpp"
#include "policy/segment_format.hpp"
#include "policy/wal_format.hpp"
#include "store/dir.hpp"
#include "store/fd.hpp"

namespace wb {

// A private connection that holds a read transaction at a known place in
// the log. Its destructor ends it.
class WalPin {
  public:
    WalPin(const std::string& db_path, int64_t busy_timeout_ms);
    const WalIndexHeader& header() const { return header_; }
    // Whether its read mark may be 0: the whole log was in the database when
    // it started (it then stops every checkpoint instead).
    bool at_mark_zero() const { return header_.backfilled >= header_.max_frame; }
    sqlite3* connection() const { return db_.get(); }
    // The wal-index header now (through this connection's mapping).
    std::optional<WalIndexHeader> index_now() const;

  private:
    Connection db_;
    sqlite3_file* file_ = nullptr;
    WalIndexHeader header_;
};

// Where capture stands in the log: after frame `frame` of the log with these
// salts, whose checksum chain continues from `checksum`.
struct WalCursor {
    uint32_t salt1 = 0;
    uint32_t salt2 = 0;
    uint32_t frame = 0;
    WalChecksum checksum;
};

// The frames (from, to] of the log, checked, as transactions.
struct WalScan {
    WalHeader header;
    uint32_t from = 0; // the cursor's frame
    uint32_t to = 0;
    std::vector<uint32_t> commits;            // the commit frames, ascending; `to` is the last
    std::vector<uint32_t> commit_size;        // the database's size in pages at each
    std::vector<WalChecksum> commit_checksum; // the chain after each
    std::vector<uint32_t> pages;              // pages[i]: the page of frame from+1+i
    bool empty() const { return commits.empty(); }
};

class WalFrames {
  public:
    // Opens `<db_path>-wal` (not a file SQLite locks: this descriptor may
    // close). Throws Error(not_found) when there is none, or it is empty.
    explicit WalFrames(const std::string& db_path);
    const WalHeader& header() const { return header_; }
    // Reads and checks frames cursor.frame+1 .. to. A cursor of other salts
    // than the log's starts at frame 0 of this log (the caller decided the
    // restart continues its history). Throws Error(busy) when a frame does not
    // continue the chain (the log changed under it: try again).
    WalScan scan(const WalCursor& cursor, uint32_t to) const;
    // Whether frame `frame` of this log exists with these salts and ends the
    // chain at `checksum` (a cursor still valid after a restart of capture).
    bool continues(const WalCursor& cursor) const;
    // The checksum chain after frame `frame` (0: the header's), as the frame
    // records it; nullopt when the log is shorter.
    std::optional<WalChecksum> checksum_at(uint32_t frame) const;
    int fd() const { return fd_.get(); }

  private:
    Fd fd_;
    WalHeader header_;
};

// Appends restore points to one segment file, durably.
class SegmentWriter {
  public:
    // Creates `name` (which must not exist) with `header`, fsyncs it and the
    // directory. `staged`: under a temporary name (store/temp_file.hpp), so
    // no reader sees the file until publish() gives it its name with the
    // points appended meanwhile; removed if never published.
    SegmentWriter(const Dir& dir, const std::string& name, const SegmentHeader& header, bool staged = false);
    // Continues an existing segment file after its last whole point (a torn
    // one is cut off).
    SegmentWriter(const Dir& dir, const std::string& name);
    ~SegmentWriter();
    SegmentWriter(const SegmentWriter&) = delete;
    SegmentWriter& operator=(const SegmentWriter&) = delete;

    // A staged file takes its name (never replacing a file), durably.
    void publish();

    const std::string& name() const { return name_; }
    const SegmentHeader& header() const { return header_; }
    uint64_t size() const { return end_; }
    int64_t created_ns() const { return static_cast<int64_t>(header_.created_ns); }

    // Writes the transactions of `scan` up to its commit frame `cut` (0 =
    // all) as one point captured at `captured_ns`: the newest version of each
    // page, page 1 with its journal-mode bytes as every backup stores it.
    // `hashes` (the database's page hashes before) becomes the hashes after.
    // The point is durable (fdatasync) when this returns.
    PointHeader append(const WalFrames& wal, const WalScan& scan, uint32_t cut, std::vector<uint64_t>& hashes,
                       int64_t captured_ns);

  private:
    const Dir& dir_;
    std::string name_;
    std::string staged_name_; // "" once published, or never staged
    struct stat st_ {};       // of an existing file, as it was opened
    Fd fd_;
    SegmentHeader header_;
    uint64_t end_ = 0;
};

} // namespace wb
