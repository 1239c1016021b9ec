// Replacing the live database with a backup, atomically.
//
// The backup's pages are copied with the backup API into the database through
// a private connection, inside one write transaction of the database's own
// journal (rollback journal or WAL). A crash at any point leaves the old
// database intact, and because the change is an ordinary commit, every other
// connection, in this process and in others, sees the restored data at its
// next read, without reopening. No file is swapped, so no stale -wal/-shm
// file can shadow the restored data.
#pragma once
#include <cstdint>
#include <string>

#include "common/observer.hpp"

namespace wb {

// Copies the backup at `backup_path` over the database at `db_path`.
// Returns the number of pages written.
int64_t restore_into(const std::string& db_path, const std::string& backup_path, int64_t busy_timeout_ms,
                     Observer& observer);

} // namespace wb
