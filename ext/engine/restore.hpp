// Replacing the live database with a backup image, atomically and losing
// nothing.
//
// How it works, in one critical section:
//   1. A private connection opens the database through the write-gathering
//      VFS (batch_vfs.hpp) and starts the backup API from the image into it;
//      the first step copies no page and only takes the database's write lock
//      (WAL: the writer lock, readers carry on; rollback journal: an
//      exclusive lock). From here until the commit, no one else commits.
//   2. `take_safety` is handed the database exactly as it now is: a WAL
//      database through a fresh read transaction (live_snapshot.hpp), a
//      rollback-journal one through the locked connection's own file handle
//      (page_source.hpp DbFileSource). So every commit acknowledged before
//      the restore is in the safety backup, every later one lands on the
//      restored data, and restoring the safety backup undoes a restore.
//   3. Every page of the image is copied (each checked against its hash as it
//      is read) and committed in one transaction of the database's own
//      journal: a crash leaves the old database intact, and every connection,
//      in this process and in others, sees the restored data at its next
//      read, without reopening. No file is swapped.
//      In WAL mode the copy only appends to the log and the database file does
//      not change before the commit, so the safety backup is written by a
//      second thread from its snapshot while the copy runs, and the commit
//      waits for it to be published. The copy's reads of the old pages are
//      skipped and every page written to the log is checked against the
//      backup instead (batch_vfs.hpp, RestoreWindow). A rollback-journal
//      database changes in place during the copy: its safety backup comes
//      first.
//   4. In WAL mode the log is checkpointed into the database at once.
// Interrupting stops before the commit and rolls back; the commit itself and
// the checkpoint run to their end.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "common/observer.hpp"
#include "engine/image.hpp"
#include "engine/page_source.hpp"

namespace wb {

struct RestoreRequest {
    std::string db_path;
    const Image* image = nullptr;
    int64_t busy_timeout_ms = 10000;
    Observer* observer = nullptr;
    // Called with the write lock held and nothing committed yet: the database
    // as it is, its journal mode ("wal", "delete", ...), and where to report
    // (in WAL mode, on a thread of its own beside the copy: `observer` then
    // only passes progress and stop requests on). Must finish (publish or
    // throw) before it returns; the commit waits for it.
    std::function<void(PageSource& current, const std::string& journal_mode, Observer& observer)> take_safety;
    // Called with the write lock held, before the copy writes anything (and
    // before take_safety starts): the journal mode.
    std::function<void(const std::string& journal_mode)> before_copy;
    // Used in messages: what is restored ("the backup 'x'").
    std::string what = "the backup";
    // The journal mode to give a database that was empty before (the
    // backup's source's); "" = leave it.
    std::string journal_mode_if_new;
};

struct RestoreResult {
    int64_t pages = 0;
    std::string journal_mode; // after the restore
};

RestoreResult restore_into(const RestoreRequest& request);

// The journal mode and page size of a database file, read through a private
// connection (never a raw descriptor on a file SQLite locks).
struct DbMode {
    std::string journal_mode;
    int64_t page_size = 0;
    int64_t page_count = 0;
};
DbMode db_mode_of(const std::string& db_path, int64_t busy_timeout_ms);

} // namespace wb
