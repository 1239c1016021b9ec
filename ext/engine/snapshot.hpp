// The consistent copy: one point in time of a live database, written to a new
// file, checksummed and fsynced.
//
// How it works:
//   1. A private read-only connection opens the database and starts one read
//      transaction (BEGIN + a read) that it holds for the whole copy. The
//      backup API then never restarts, whoever commits meanwhile: in WAL mode
//      writers carry on, and the copy is the state at that read.
//   2. The backup API copies every page into a new destination file opened
//      through the wecare_sink VFS (sink_vfs.hpp): batched writes, checksum in
//      the same pass, paced writeback, rollback-journal header.
//   3. The row count of every table is taken inside the same transaction, so
//      verification can compare against exactly what was copied.
//   4. The read transaction ends as soon as the copy is done, and the file is
//      fsynced. Publishing under the final name is the caller's job.
// The snapshot is bounded: held longer than max_snapshot_seconds (a WAL that
// cannot be checkpointed grows without limit), the copy is abandoned.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/observer.hpp"
#include "common/sqlite_api.hpp"
#include "policy/record.hpp"
#include "store/dir.hpp"
#include "store/temp_file.hpp"

namespace wb {

struct SnapshotRequest {
    std::string db_path;
    const Dir* dir = nullptr; // the backup directory, held open
    TempFile* temp = nullptr; // the new file, inside `dir`, written by snapshot_to
    int64_t busy_timeout_ms = 10000;
    int64_t max_snapshot_seconds = 3600;
    Observer* observer = nullptr;
};

struct SnapshotResult {
    std::string checksum;
    int64_t size_bytes = 0;
    int64_t page_count = 0;
    int64_t page_size = 0;
    std::string journal_mode;
    std::vector<TableCount> tables;
};

SnapshotResult snapshot_to(const SnapshotRequest& request);

// Row counts of every ordinary table, by name.
std::vector<TableCount> count_rows(sqlite3* db);

} // namespace wb
