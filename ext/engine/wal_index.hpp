// Reading a WAL-mode database's wal-index (the -shm file) through a private
// connection's own file handle, and starting a read transaction whose exact
// place in the log is known. Shared by the live snapshot (live_snapshot.hpp)
// and continuous capture (capture.hpp).
//
// Never a second descriptor on the -shm file: closing one would drop the
// process's POSIX locks on it (the WAL locks). The region is mapped through
// the connection's sqlite3_file (xShmMap), as SQLite itself maps it.
#pragma once
#include <cstdint>
#include <optional>

#include "common/sqlite_api.hpp"
#include "engine/sqlite_handles.hpp"
#include "policy/wal_format.hpp"

namespace wb {

// The wal-index header as it is now, read as SQLite's readers read it (the
// first copy, a barrier, the second); nullopt when it cannot be mapped.
std::optional<WalIndexHeader> read_wal_index_header(sqlite3_file* file);

// Starts a read transaction on `db` (BEGIN and a read of the schema) whose
// snapshot is exactly the returned header: the header is read just before
// and just after the start, and the start is retried until no commit came in
// between. `writer_lock_held`: nothing can commit, so the first try counts.
// Throws Error(busy) after `busy_timeout_ms`.
WalIndexHeader begin_read_at_known_frame(Connection& db, sqlite3_file* file, int64_t busy_timeout_ms,
                                         bool writer_lock_held = false);

// The connection's own handle on its main database file; throws Error.
sqlite3_file* main_file_of(sqlite3* db);

} // namespace wb
