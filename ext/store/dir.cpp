// Dir: the held directory handle (see dir.hpp).
#include "store/dir.hpp"

#include <cerrno>
#include <cstdio>
#include <dirent.h>
#include <fcntl.h>
#include <memory>
#include <pwd.h>
#include <unistd.h>
#include <vector>

#include "common/error.hpp"

namespace wb {

namespace {

Fd check_regular(Fd fd, const std::string& label, struct stat* out) {
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw system_error("cannot examine " + label, errno);
    if (!S_ISREG(st.st_mode)) throw Error(label + " is not a regular file", ErrorKind::cantopen);
    // O_NONBLOCK only kept a FIFO from hanging the open; reads should block.
    ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) & ~O_NONBLOCK);
    if (out) *out = st;
    return fd;
}

Error open_failure(const std::string& label, int err) {
    if (err == ELOOP)
        return Error(label + " is a symbolic link; symbolic links are refused", ErrorKind::cantopen);
    if (err == ENOENT) return Error(label + " does not exist", ErrorKind::not_found);
    return Error(label + ": " + errno_text(err), ErrorKind::cantopen);
}

// "user 'app'", or "uid 1234" when the user database has no name for it.
std::string user_label(uid_t uid) {
    long size = ::sysconf(_SC_GETPW_R_SIZE_MAX);
    std::vector<char> buf(static_cast<size_t>(size > 0 ? size : 16384));
    struct passwd entry {};
    struct passwd* found = nullptr;
    while (::getpwuid_r(uid, &entry, buf.data(), buf.size(), &found) == ERANGE && buf.size() < (1u << 20))
        buf.resize(buf.size() * 2);
    if (found && found->pw_name && *found->pw_name) return "user '" + std::string(found->pw_name) + "'";
    return "uid " + std::to_string(uid);
}

// The name to give chown: the user name, else the number.
std::string chown_name(uid_t uid) {
    const std::string label = user_label(uid);
    if (label.rfind("user '", 0) == 0) return label.substr(6, label.size() - 7);
    return std::to_string(uid);
}

std::string mode_text(mode_t mode) {
    char text[8];
    std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
    return text;
}

} // namespace

Error access_denied_error(const std::string& what, const std::string& path, const struct stat& st,
                          const std::string& dir_path) {
    const uid_t me = ::geteuid();
    const std::string mode = mode_text(st.st_mode);
    if (st.st_uid == me)
        return Error(what + ": its mode " + mode + " does not let its owner, this process's " +
                         user_label(me) + ", use it; chmod " + (S_ISDIR(st.st_mode) ? "700" : "600") + " '" +
                         path + "'",
                     ErrorKind::perm);
    const std::string owner = user_label(st.st_uid);
    const std::string as = owner.rfind("user ", 0) == 0 ? owner.substr(5) : "the user with " + owner;
    return Error(what + ": it belongs to " + owner + " (mode " + mode + ") and this process runs as " +
                     user_label(me) + "; run the application and its cron jobs as " + as +
                     ", or give the backup directory and its files to " + user_label(me) + " (chown -R " +
                     chown_name(me) + " '" + dir_path + "')",
                 ErrorKind::perm);
}

Dir Dir::open_backup_dir(const std::string& dir, bool create) {
    struct stat st {};
    if (::lstat(dir.c_str(), &st) != 0) {
        if (errno == ENOENT && !create)
            throw Error(
                "the backup directory '" + dir +
                    "' does not exist; create it (mkdir -m 700) or mount its disk (a directory set with "
                    "wecare_backup_config is never created, so backups never land on the disk under an "
                    "unmounted one)",
                ErrorKind::cantopen);
        if (errno != ENOENT) throw system_error("the backup directory '" + dir + "' is not usable", errno);
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
            ErrorKind::cantopen);
    if (!S_ISDIR(st.st_mode))
        throw Error("the backup directory '" + dir +
                        "' is not a directory; remove that file or choose another dir",
                    ErrorKind::cantopen);
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && (errno == EACCES || errno == EPERM))
        throw access_denied_error("cannot read the backup directory '" + dir + "'", dir, st, dir);
    if (fd < 0) throw system_error("cannot open the backup directory '" + dir + "'", errno);
    Fd held(fd);
    require_private_directory(held.get(), dir, "the backup directory");
    return Dir(std::move(held), dir);
}

void require_private_directory(int fd, const std::string& path, const std::string& label) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw system_error("cannot examine " + label + " '" + path + "'", errno);
    if (st.st_uid != ::geteuid() && st.st_uid != 0)
        throw Error(label + " '" + path + "' belongs to " + user_name(st.st_uid) +
                        ", not to the user this process runs as (" + user_name(::geteuid()) +
                        "); run as its owner, or give it to this user: chown " + user_name(::geteuid()) +
                        " '" + path + "'",
                    ErrorKind::perm);
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        throw Error(label + " '" + path + "' can be written by " +
                        ((st.st_mode & S_IWOTH) ? "all users" : "its group") + " (mode " + mode +
                        "), who could plant or replace backups in it; run: chmod 700 '" + path + "'",
                    ErrorKind::perm);
    }
}

std::string user_name(uid_t uid) {
    const std::string label = user_label(uid);
    return label.rfind("user '", 0) == 0 ? label.substr(6, label.size() - 7) : label;
}

Dir Dir::open_existing(const std::string& path, const std::string& label) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) throw system_error(label + " '" + path + "' is not usable", errno);
    return Dir(Fd(fd), path);
}

std::string Dir::path_of(const std::string& name) const {
    return path_ == "/" ? "/" + name : path_ + "/" + name;
}

bool Dir::exists(const std::string& name) const {
    struct stat st {};
    return ::fstatat(fd(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

bool Dir::stat(const std::string& name, struct stat* st) const {
    return ::fstatat(fd(), name.c_str(), st, AT_SYMLINK_NOFOLLOW) == 0;
}

Fd Dir::open_regular(const std::string& name, struct stat* st) const {
    const int fd = ::openat(this->fd(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) throw open_failure("'" + name + "'", errno);
    return check_regular(Fd(fd), "'" + name + "'", st);
}

Fd Dir::open_regular_rw(const std::string& name, struct stat* st) const {
    const int fd = ::openat(this->fd(), name.c_str(), O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) throw open_failure("'" + name + "'", errno);
    return check_regular(Fd(fd), "'" + name + "'", st);
}

Fd open_regular_path(const std::string& path, struct stat* st) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) throw open_failure("'" + path + "'", errno);
    return check_regular(Fd(fd), "'" + path + "'", st);
}

Fd Dir::create_exclusive(const std::string& name) const {
    const int fd =
        ::openat(this->fd(), name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) throw system_error("cannot create '" + name + "' in '" + path_ + "'", errno);
    return Fd(fd);
}

void Dir::rename_noreplace(const std::string& from, const std::string& to) const {
    if (::renameat2(fd(), from.c_str(), fd(), to.c_str(), RENAME_NOREPLACE) == 0) return;
    if (errno == EINVAL || errno == ENOSYS) {
        // File systems without RENAME_NOREPLACE: callers hold the directory
        // lock, so checking first is race-free among wecare_backup users.
        if (exists(to)) throw Error("'" + to + "' already exists", ErrorKind::cantopen);
        if (::renameat(fd(), from.c_str(), fd(), to.c_str()) == 0) return;
    }
    if (errno == EEXIST) throw Error("'" + to + "' already exists", ErrorKind::cantopen);
    throw system_error("cannot publish '" + to + "'", errno);
}

void Dir::rename_replace(const std::string& from, const std::string& to) const {
    if (::renameat(fd(), from.c_str(), fd(), to.c_str()) != 0)
        throw system_error("cannot replace '" + to + "'", errno);
}

bool Dir::remove(const std::string& name, const std::string& what) const {
    if (::unlinkat(fd(), name.c_str(), 0) == 0) return true;
    if (errno == ENOENT) return false;
    throw system_error(what.empty() ? "cannot delete '" + name + "'" : what, errno);
}

void Dir::remove_quietly(const std::string& name) const noexcept {
    ::unlinkat(fd(), name.c_str(), 0);
}

std::vector<std::string> Dir::list() const {
    const int dup = ::openat(fd(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dup < 0) throw system_error("cannot read the directory '" + path_ + "'", errno);
    Fd owned(dup);
    DIR* d = ::fdopendir(owned.get());
    if (!d) throw system_error("cannot read the directory '" + path_ + "'", errno);
    (void)owned.release(); // the DIR owns it now
    std::unique_ptr<DIR, int (*)(DIR*)> owner(d, ::closedir);
    std::vector<std::string> names;
    while (const dirent* e = ::readdir(d)) {
        const std::string name = e->d_name;
        if (name != "." && name != "..") names.push_back(name);
    }
    return names;
}

namespace {

// Reads all of `fd`; nullopt when longer than `max_bytes`.
std::optional<std::string> read_all(int fd, size_t max_bytes, const std::string& what) {
    std::string out;
    uint8_t buf[8192];
    for (uint64_t offset = 0;;) {
        const size_t n = read_at(fd, buf, sizeof buf, offset, what);
        if (n == 0) break;
        out.append(reinterpret_cast<const char*>(buf), n);
        offset += n;
        if (out.size() > max_bytes) return std::nullopt;
    }
    return out;
}

} // namespace

std::optional<std::string> Dir::read_small_file(const std::string& name, size_t max_bytes) const {
    try {
        Fd file = open_regular(name);
        return read_all(file.get(), max_bytes, "cannot read '" + name + "'");
    } catch (const Error&) {
        return std::nullopt;
    }
}

std::string read_regular_file(const std::string& path, size_t max_bytes) {
    Fd file = open_regular_path(path);
    auto text = read_all(file.get(), max_bytes, "cannot read '" + path + "'");
    if (!text) throw Error("'" + path + "' is larger than " + std::to_string(max_bytes) + " bytes");
    return *text;
}

Error Dir::access_denied(const std::string& name, const std::string& what, int err) const {
    struct stat st {};
    if (stat(name, &st)) return access_denied_error(what, path_of(name), st, path_);
    if (::fstat(fd(), &st) == 0) return access_denied_error(what, path_, st, path_);
    return system_error(what, err);
}

void Dir::sync(const std::string& what) const {
    fsync_fd(fd(), what);
}

bool path_missing(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) != 0 && errno == ENOENT;
}

} // namespace wb
