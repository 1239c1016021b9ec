// Fd and the read/write/fsync loops (see fd.hpp).
#include "store/fd.hpp"

#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

#include "common/error.hpp"

namespace wb {

void Fd::reset(int fd) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
}

void Fd::close_checked(const std::string& what) {
    if (fd_ < 0) return;
    const int fd = std::exchange(fd_, -1);
    if (::close(fd) != 0 && errno != EINTR) throw system_error(what, errno);
}

Fd dup_fd(int fd) {
    const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0) throw system_error("cannot duplicate a file descriptor", errno);
    return Fd(copy);
}

size_t read_at(int fd, uint8_t* buf, size_t length, uint64_t offset, const std::string& what) {
    size_t done = 0;
    while (done < length) {
        const ssize_t n = ::pread(fd, buf + done, length - done, static_cast<off_t>(offset + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            throw system_error(what, errno);
        }
        if (n == 0) break;
        done += static_cast<size_t>(n);
    }
    return done;
}

int pwrite_all(int fd, const uint8_t* data, size_t length, uint64_t offset) noexcept {
    while (length > 0) {
        const ssize_t n = ::pwrite(fd, data, length, static_cast<off_t>(offset));
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (n == 0) return ENOSPC;
        data += n;
        length -= static_cast<size_t>(n);
        offset += static_cast<uint64_t>(n);
    }
    return 0;
}

void write_all_at(int fd, const uint8_t* data, size_t length, uint64_t offset, const std::string& what) {
    if (const int err = pwrite_all(fd, data, length, offset)) throw system_error(what, err);
}

void fsync_fd(int fd, const std::string& what) {
    if (::fsync(fd) != 0) throw system_error(what, errno);
}

} // namespace wb
