// File-system edges: the backup directory, atomic publication, durable writes.
// Everything that names a file inside the backup directory goes through a
// directory descriptor (openat, renameat, unlinkat), never a joined path, and
// opens with O_NOFOLLOW: a symbolic link planted there is never followed.
#pragma once
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <sys/stat.h>
#include <vector>

#include "handles.hpp"

namespace wb {

// Opens the backup directory, creating it with mode 0700 when it is missing
// and `create` is set (its parent must exist). Refuses a symbolic link or a
// file that is not a directory.
Fd open_backup_dir(const std::string& dir, bool create);

void fsync_fd(int fd, const std::string& what);
bool exists_at(int dir_fd, const std::string& name);
// Opens a regular file for reading; refuses symlinks, FIFOs, directories.
Fd open_regular_at(int dir_fd, const std::string& name, struct stat* st = nullptr);
Fd open_regular_path(const std::string& path, struct stat* st = nullptr);
// Creates a new file (mode 0600) that must not exist yet.
Fd create_exclusive_at(int dir_fd, const std::string& name);
// Renames within the directory, failing if `to` exists.
void rename_noreplace(int dir_fd, const std::string& from, const std::string& to);
// Writes `content` to `name` atomically: temp file, fsync, rename over.
// The caller fsyncs the directory.
void write_file_atomic(int dir_fd, const std::string& name, const std::string& content);
std::optional<std::string> read_small_file_at(int dir_fd, const std::string& name, size_t max_bytes);
// Writes all of `data` at `offset`.
void write_all_at(int fd, const uint8_t* data, size_t length, uint64_t offset, const std::string& what);
std::vector<std::string> list_dir(int dir_fd);
std::string temp_name_for(const std::string& name);
bool is_temp_name(const std::string& entry, const std::string& prefix);

// An exclusive lock on `.wecare_backup.lock` in the backup directory. It
// serialises create, cleanup and restore across threads and processes
// (flock locks belong to the open file, so two threads each holding their own
// open file exclude each other too). Waits up to `timeout_ms`.
class DirLock {
  public:
    // `cancel` (optional) gives up the wait early, e.g. when the connection closes.
    DirLock(int dir_fd, int64_t timeout_ms, const std::atomic<bool>* cancel = nullptr);

  private:
    Fd fd_;
};

constexpr const char* kLockFileName = ".wecare_backup.lock";

} // namespace wb
