#include "fsutil.hpp"

#include <cerrno>
#include <chrono>
#include <dirent.h>
#include <fcntl.h>
#include <memory>
#include <sys/file.h>
#include <thread>
#include <unistd.h>

namespace wb {

Fd open_backup_dir(const std::string& dir, bool create) {
    struct stat st {};
    if (::lstat(dir.c_str(), &st) != 0) {
        if (errno != ENOENT || !create)
            throw system_error("the backup directory '" + dir + "' is not usable", errno);
        if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
            throw system_error("cannot create the backup directory '" + dir + "' (its parent must exist)",
                               errno);
        if (::lstat(dir.c_str(), &st) != 0)
            throw system_error("the backup directory '" + dir + "' vanished", errno);
    }
    if (S_ISLNK(st.st_mode))
        throw Error(
            "the backup directory '" + dir +
                "' is a symbolic link; set dir to the real directory with wecare_backup_config('dir', ...)",
            kErrCantOpen);
    if (!S_ISDIR(st.st_mode))
        throw Error("the backup directory '" + dir +
                        "' is not a directory; remove that file or choose another dir",
                    kErrCantOpen);
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) throw system_error("cannot open the backup directory '" + dir + "'", errno);
    return Fd(fd);
}

void fsync_fd(int fd, const std::string& what) {
    if (::fsync(fd) != 0) throw system_error(what, errno);
}

bool exists_at(int dir_fd, const std::string& name) {
    struct stat st {};
    return ::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

namespace {

Fd check_regular(int fd, const std::string& label, struct stat* out) {
    Fd owned(fd);
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw system_error("cannot examine " + label, errno);
    if (!S_ISREG(st.st_mode)) throw Error(label + " is not a regular file", kErrCantOpen);
    // O_NONBLOCK only kept a FIFO from hanging the open; reads should block.
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    if (out) *out = st;
    return owned;
}

std::string open_failure(const std::string& label, int err) {
    if (err == ELOOP) return label + " is a symbolic link; symbolic links are refused";
    if (err == ENOENT) return label + " does not exist";
    return label + ": " + errno_text(err);
}

} // namespace

Fd open_regular_at(int dir_fd, const std::string& name, struct stat* st) {
    const int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        throw Error(open_failure("'" + name + "'", errno), errno == ENOENT ? kErrNotFound : kErrCantOpen);
    return check_regular(fd, "'" + name + "'", st);
}

Fd open_regular_path(const std::string& path, struct stat* st) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        throw Error(open_failure("'" + path + "'", errno), errno == ENOENT ? kErrNotFound : kErrCantOpen);
    return check_regular(fd, "'" + path + "'", st);
}

Fd create_exclusive_at(int dir_fd, const std::string& name) {
    const int fd = ::openat(dir_fd, name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) throw system_error("cannot create '" + name + "' in the backup directory", errno);
    return Fd(fd);
}

void rename_noreplace(int dir_fd, const std::string& from, const std::string& to) {
    if (::renameat2(dir_fd, from.c_str(), dir_fd, to.c_str(), RENAME_NOREPLACE) == 0) return;
    if (errno == EINVAL || errno == ENOSYS) {
        // File systems without RENAME_NOREPLACE: we hold the directory lock,
        // so checking first is race-free among wecare_backup users.
        if (exists_at(dir_fd, to)) throw Error("'" + to + "' already exists", kErrCantOpen);
        if (::renameat(dir_fd, from.c_str(), dir_fd, to.c_str()) == 0) return;
    }
    throw system_error("cannot publish '" + to + "'", errno);
}

void write_all_at(int fd, const uint8_t* data, size_t length, uint64_t offset, const std::string& what) {
    while (length > 0) {
        const ssize_t n = ::pwrite(fd, data, length, static_cast<off_t>(offset));
        if (n < 0) {
            if (errno == EINTR) continue;
            throw system_error(what, errno);
        }
        data += n;
        length -= static_cast<size_t>(n);
        offset += static_cast<uint64_t>(n);
    }
}

std::string temp_name_for(const std::string& name) {
    return "." + name + ".tmp-" + std::to_string(::getpid());
}

bool is_temp_name(const std::string& entry, const std::string& prefix) {
    return entry.size() > prefix.size() + 2 && entry[0] == '.' &&
           entry.compare(1, prefix.size(), prefix) == 0 && entry[prefix.size() + 1] == '_' &&
           entry.find(".tmp-") != std::string::npos;
}

void write_file_atomic(int dir_fd, const std::string& name, const std::string& content) {
    const std::string temp = temp_name_for(name);
    ::unlinkat(dir_fd, temp.c_str(), 0);
    Fd fd = create_exclusive_at(dir_fd, temp);
    try {
        write_all_at(fd.get(), reinterpret_cast<const uint8_t*>(content.data()), content.size(), 0,
                     "cannot write '" + name + "'");
        fsync_fd(fd.get(), "cannot write '" + name + "' to disk");
        fd.close_checked("cannot write '" + name + "'");
        if (::renameat(dir_fd, temp.c_str(), dir_fd, name.c_str()) != 0)
            throw system_error("cannot replace '" + name + "'", errno);
    } catch (...) {
        ::unlinkat(dir_fd, temp.c_str(), 0);
        throw;
    }
}

std::optional<std::string> read_small_file_at(int dir_fd, const std::string& name, size_t max_bytes) {
    const int raw = ::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (raw < 0) return std::nullopt;
    Fd fd(raw);
    std::string out;
    char buf[8192];
    for (;;) {
        const ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            return std::nullopt;
        }
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
        if (out.size() > max_bytes) return std::nullopt;
    }
    return out;
}

std::vector<std::string> list_dir(int dir_fd) {
    const int dup = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dup < 0) throw system_error("cannot read the backup directory", errno);
    DIR* d = ::fdopendir(dup);
    if (!d) {
        const int err = errno;
        ::close(dup);
        throw system_error("cannot read the backup directory", err);
    }
    std::unique_ptr<DIR, int (*)(DIR*)> owner(d, ::closedir);
    std::vector<std::string> names;
    errno = 0;
    while (const dirent* e = ::readdir(d)) {
        const std::string name = e->d_name;
        if (name != "." && name != "..") names.push_back(name);
    }
    return names;
}

DirLock::DirLock(int dir_fd, int64_t timeout_ms, const std::atomic<bool>* cancel) {
    const int raw = ::openat(dir_fd, kLockFileName, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (raw < 0) throw system_error("cannot open the lock file in the backup directory", errno);
    fd_ = Fd(raw);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    auto pause = std::chrono::milliseconds(1);
    for (;;) {
        if (::flock(fd_.get(), LOCK_EX | LOCK_NB) == 0) return;
        if (errno != EWOULDBLOCK && errno != EINTR)
            throw system_error("cannot lock the backup directory", errno);
        if (cancel && cancel->load()) throw Error("cancelled: the connection is closing");
        if (std::chrono::steady_clock::now() >= deadline)
            throw Error(
                "another backup, cleanup or restore is running on this backup directory; try again when it "
                "has finished (or raise busy_timeout_ms)",
                kErrBusy);
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::milliseconds(50));
    }
}

} // namespace wb
