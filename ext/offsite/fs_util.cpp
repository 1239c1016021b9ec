// fs_util.cpp - see fs_util.hpp.
#include "fs_util.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "offsite_error.hpp"

namespace wecare::offsite {

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = other.release();
    }
    return *this;
}

UniqueFd::~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
}

void UniqueFd::close_checked(const std::string& path) {
    int fd = release();
    if (fd >= 0 && ::close(fd) != 0 && errno != EINTR) throw_io("cannot close", path);
}

void throw_io(const std::string& what, const std::string& path) {
    int err = errno;
    throw OffsiteError(ErrorKind::io, what + " '" + path + "': " + std::strerror(err));
}

void write_all(int fd, const uint8_t* data, size_t size, const std::string& path) {
    while (size > 0) {
        ssize_t n = ::write(fd, data, size);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_io("cannot write", path);
        }
        data += n;
        size -= static_cast<size_t>(n);
    }
}

size_t read_full(int fd, uint8_t* data, size_t size, const std::string& path) {
    size_t done = 0;
    while (done < size) {
        ssize_t n = ::read(fd, data + done, size - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_io("cannot read", path);
        }
        if (n == 0) break;
        done += static_cast<size_t>(n);
    }
    return done;
}

void fsync_path_fd(int fd, const std::string& path) {
    if (::fsync(fd) != 0) throw_io("cannot fsync", path);
}

void fsync_directory(const std::string& dir) {
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) throw_io("cannot open directory", dir);
    fsync_path_fd(fd.get(), dir);
}

std::string parent_directory(const std::string& path) {
    size_t slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

namespace {
std::string make_temp_path(const std::string& final_path) {
    static std::atomic<unsigned> counter{0};
    std::string dir = parent_directory(final_path);
    size_t slash = final_path.find_last_of('/');
    std::string base = slash == std::string::npos ? final_path : final_path.substr(slash + 1);
    return dir + "/." + base + ".tmp-" + std::to_string(::getpid()) + "-" +
           std::to_string(counter.fetch_add(1));
}
} // namespace

AtomicFile::AtomicFile(std::string final_path, bool overwrite)
    : final_path_(std::move(final_path)), temp_path_(make_temp_path(final_path_)), overwrite_(overwrite) {
    fd_ = UniqueFd(::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd_) throw_io("cannot create", temp_path_);
}

AtomicFile::~AtomicFile() {
    if (!committed_) {
        fd_ = UniqueFd();
        ::unlink(temp_path_.c_str());
    }
}

void AtomicFile::write(const uint8_t* data, size_t size) {
    write_all(fd_.get(), data, size, temp_path_);
}

void AtomicFile::commit() {
    fsync_path_fd(fd_.get(), temp_path_);
    fd_.close_checked(temp_path_);
    if (overwrite_) {
        if (::rename(temp_path_.c_str(), final_path_.c_str()) != 0) throw_io("cannot rename to", final_path_);
    } else {
        // link() fails with EEXIST instead of silently replacing the file.
        if (::link(temp_path_.c_str(), final_path_.c_str()) != 0) {
            if (errno == EEXIST)
                throw OffsiteError(ErrorKind::io,
                                   "refusing to overwrite existing file '" + final_path_ + "'");
            throw_io("cannot create", final_path_);
        }
        ::unlink(temp_path_.c_str());
    }
    committed_ = true;
    fsync_directory(parent_directory(final_path_));
}

} // namespace wecare::offsite
