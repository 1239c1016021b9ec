// The consistent copy: one instant of a live database, written to a new file,
// checksummed, hashed page by page and fsynced.
//
// How it works:
//   1. LiveSnapshot (live_snapshot.hpp) pins one instant with a read
//      transaction on a private connection: writers carry on in WAL mode.
//   2. Its pages are read in order straight into the PageWriter's batches
//      (page_writer.hpp): 1 MiB writes on a background thread, O_DIRECT where
//      possible, the file checksum and every page's hash in the same pass,
//      the header written as rollback journal.
//   3. The row count of every table is taken in the same instant, so
//      verification compares against exactly what was copied.
//   4. The read transaction ends as soon as the pages are read; then the file
//      is fsynced. Publishing it under its final name is the caller's job.
// The snapshot is bounded: held longer than max_snapshot_seconds (a WAL that
// cannot be checkpointed grows without limit), the copy is abandoned.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/observer.hpp"
#include "policy/record.hpp"
#include "policy/wal_format.hpp"

namespace wb {

struct SnapshotRequest {
    std::string db_path;
    int out_fd = -1; // the new file, empty, open for writing
    int64_t busy_timeout_ms = 10000;
    int64_t max_snapshot_seconds = 3600;
    bool writer_lock_held = false; // the caller holds the database's write lock
    Observer* observer = nullptr;
};

struct SnapshotResult {
    WalIndexHeader wal_position; // WAL mode: where in the log the snapshot is
    std::string checksum;
    int64_t size_bytes = 0;
    int64_t page_count = 0;
    int64_t page_size = 0;
    std::string journal_mode;
    std::vector<TableCount> tables;
    std::vector<uint64_t> page_hashes;
    uint64_t db_checksum = 0;
};

SnapshotResult snapshot_to(const SnapshotRequest& request);

} // namespace wb
