// A directory held open by descriptor. Every file inside it is named relative
// to this handle (openat, renameat, unlinkat), never by a joined path, and is
// opened with O_NOFOLLOW: a symbolic link planted there, or the directory
// swapped for another meanwhile, can never redirect an operation.
//
//   Dir dir = Dir::open_backup_dir("/var/lib/app/backups", true);
//   Fd f = dir.open_regular("app_backup_2026-11-26_02-15-00.db");
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <sys/stat.h>
#include <vector>

#include "common/error.hpp"
#include "store/fd.hpp"

namespace wb {

class Dir {
  public:
    Dir() = default;
    // Opens `path` as a backup directory. Refuses a symbolic link, a file
    // that is not a directory, and (as ssh's StrictModes does) a directory
    // not owned by this process's user (or root) or writable by its group or
    // others: someone else could then plant or swap backups in it. With
    // `create`, makes it with mode 0700 when it is missing (its parent must
    // exist).
    static Dir open_backup_dir(const std::string& path, bool create);
    // Opens an existing directory; `label` names it in errors.
    static Dir open_existing(const std::string& path, const std::string& label);

    int fd() const { return fd_.get(); }
    const std::string& path() const { return path_; }
    // The path of `name` inside, for messages (never to open it).
    std::string path_of(const std::string& name) const;

    bool exists(const std::string& name) const;
    // lstat of `name`; false when it does not exist.
    bool stat(const std::string& name, struct stat* st) const;
    // Opens a regular file for reading; refuses symbolic links, FIFOs and
    // directories (opened without blocking, then checked). Throws Error with
    // kind not_found when there is no such file.
    Fd open_regular(const std::string& name, struct stat* st = nullptr) const;
    // The same, opened for reading and writing (a file this tool appends to).
    Fd open_regular_rw(const std::string& name, struct stat* st = nullptr) const;
    // Creates a new file (mode 0600) that must not exist yet.
    Fd create_exclusive(const std::string& name) const;
    // Renames within the directory, failing if `to` exists.
    void rename_noreplace(const std::string& from, const std::string& to) const;
    // Renames within the directory, replacing `to`.
    void rename_replace(const std::string& from, const std::string& to) const;
    // Removes `name`; a missing file is not an error. Returns whether it
    // removed one. `what` (optional) starts the error message.
    bool remove(const std::string& name, const std::string& what = "") const;
    // Removes `name`, ignoring every error (clean-up paths).
    void remove_quietly(const std::string& name) const noexcept;
    std::vector<std::string> list() const;
    // The content of a small regular file, or nullopt when it is missing, not
    // regular, unreadable or larger than `max_bytes`.
    std::optional<std::string> read_small_file(const std::string& name, size_t max_bytes) const;
    void sync(const std::string& what) const;
    // The error for a file inside that this process may not open or create
    // (errno `err`, EACCES or EPERM): it names the owner of the file, or of the
    // directory when there is no such file, and says what to do.
    Error access_denied(const std::string& name, const std::string& what, int err) const;

  private:
    Dir(Fd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
    Fd fd_;
    std::string path_;
};

// Refuses the directory open at `fd` unless it is owned by this process's
// user (or root) and neither its group nor others may write it; `label`
// ("the backup directory") and `path` name it in the error, which says which
// chmod or chown to run.
void require_private_directory(int fd, const std::string& path, const std::string& label);

// The name of user `uid`, or "uid N".
std::string user_name(uid_t uid);

// The error for `path` (lstat as `st`) that this process may not read: it names
// the owner (the cron-as-root trap: a root-owned 0700 directory the
// application's user cannot read) and says to run as that user, or, when this
// process's user owns it, to fix its mode. `what` starts the message ("cannot
// read the backup directory '/x'"); `dir_path` is the backup directory.
Error access_denied_error(const std::string& what, const std::string& path, const struct stat& st,
                          const std::string& dir_path);

// Whether nothing at all is at `path` (not even a dangling link).
bool path_missing(const std::string& path);
// Opens a regular file by path for reading, as Dir::open_regular does.
Fd open_regular_path(const std::string& path, struct stat* st = nullptr);
// The whole content of the regular file at `path` (opened as above); throws
// Error when it cannot be read or is larger than `max_bytes`.
std::string read_regular_file(const std::string& path, size_t max_bytes);

} // namespace wb
