// An exclusive lock on a lock file in a held directory, for as long as the
// object lives. flock locks belong to the open file, so two threads of one
// process, each with its own FileLock, exclude each other as two processes do.
//
//   FileLock lock(dir, kBackupLockName, settings.busy_timeout_ms, &observer,
//                 "another backup ... is running; try again when it has finished");
#pragma once
#include <cstdint>
#include <string>

#include "store/dir.hpp"

namespace wb {

class Observer;

// Serialises create, cleanup, restore, fetch and the recording of results.
constexpr const char* kBackupLockName = ".wecare_backup.lock";
// Serialises off-site syncs of one backup directory.
constexpr const char* kOffsiteLockName = ".wecare_offsite.lock";

class FileLock {
  public:
    // Waits up to `timeout_ms` (< 0: as long as it takes), then throws
    // Error(busy) with `busy_message`. `observer` (optional) ends the wait
    // early when the operation must stop.
    FileLock(const Dir& dir, const char* name, int64_t timeout_ms, Observer* observer,
             const std::string& busy_message);

  private:
    Fd fd_;
};

// The backup lock with its standard message.
FileLock lock_backup_dir(const Dir& dir, int64_t timeout_ms, Observer* observer = nullptr);

} // namespace wb
