// Recovering a database file that is damaged or missing: the case where no
// statement can even be prepared on it, so the ordinary restore (which writes
// through SQLite into the database) cannot run.
//
// How it works:
//   1. The database file is opened through SQLite's default VFS and locked
//      EXCLUSIVE, as SQLite itself would: if another process (or another
//      connection of this one) uses the database as far as SQLite's locks can
//      tell (a reader, a writer, any WAL-mode connection, which holds a shared
//      lock for as long as it is open), the recovery is refused. The lock is
//      held until the new file is in place.
//   2. The damaged file, and its -wal and -shm (the log may hold the newest
//      commits), are moved aside as `<db>.damaged-<UTC time>`: never deleted.
//   3. The backup image is written to a temporary file beside the database
//      (every page checked against its hash as it is read), with the journal
//      mode of the backup's source in its header, fsynced, renamed into place,
//      and the directory fsynced.
// What locks cannot prove (README): an idle rollback-journal connection holds
// no lock; a process that opened the damaged file got "not a database" and
// holds nothing; a process holding a deleted file locks an inode that is gone.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "common/observer.hpp"
#include "engine/image.hpp"

namespace wb {

struct RecoverRequest {
    std::string db_path; // absolute
    const Image* image = nullptr;
    bool wal = false;              // give the new file WAL mode (the backup's source was in WAL mode)
    std::string expected_checksum; // the backup file's recorded xxh3t ("" = not known, or an increment)
    std::optional<uint64_t> expected_db_checksum; // the XOR of its page hashes (policy/increment_format.hpp)
    Observer* observer = nullptr;
};

struct RecoverResult {
    std::optional<std::string> damaged_as; // where the old file went; nullopt = there was none
    int64_t pages = 0;
    std::string checksum; // of the written file
};

RecoverResult recover_database(const RecoverRequest& request);

} // namespace wb
