// An owned file descriptor and the I/O loops every layer needs on one: read
// or write all of a range, fsync. No bare close() anywhere else in the project.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

namespace wb {

class Fd {
  public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    Fd& operator=(Fd&& other) noexcept {
        if (this != &other) reset(std::exchange(other.fd_, -1));
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { reset(); }

    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }
    void reset(int fd = -1);
    // Gives up ownership (to fdopendir, say) and returns the descriptor.
    int release() { return std::exchange(fd_, -1); }
    // Closes now and reports a failed close (it can reveal a lost write).
    void close_checked(const std::string& what);

  private:
    int fd_ = -1;
};

// A second descriptor of the same open file (dup); throws when it cannot.
Fd dup_fd(int fd);

// Reads up to `length` bytes at `offset`, retrying short reads; fewer only
// at end of file. Throws system_error("<what>: ...").
size_t read_at(int fd, uint8_t* buf, size_t length, uint64_t offset, const std::string& what);
// Writes all of `data` at `offset`; returns 0, or the errno of the failure.
int pwrite_all(int fd, const uint8_t* data, size_t length, uint64_t offset) noexcept;
// Writes all of `data` at `offset`; throws system_error("<what>: ...").
void write_all_at(int fd, const uint8_t* data, size_t length, uint64_t offset, const std::string& what);
void fsync_fd(int fd, const std::string& what);

} // namespace wb
