// fs_util.hpp - small POSIX helpers shared by the codec and the directory
// target: an owning file descriptor and durable-write steps. Errors are
// OffsiteError(io) naming the path and strerror(errno).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace wecare::offsite {

// Owns a file descriptor; closes it once. Move-only.
class UniqueFd {
  public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept;
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd();
    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }
    int release() {
        int fd = fd_;
        fd_ = -1;
        return fd;
    }
    // Closes now and reports a failed close (it can reveal a lost write).
    void close_checked(const std::string& path);

  private:
    int fd_ = -1;
};

[[noreturn]] void throw_io(const std::string& what, const std::string& path);
void write_all(int fd, const uint8_t* data, size_t size, const std::string& path);
// Reads up to `size` bytes, retrying short reads; returns fewer only at EOF.
size_t read_full(int fd, uint8_t* data, size_t size, const std::string& path);
void fsync_path_fd(int fd, const std::string& path);
void fsync_directory(const std::string& dir);
std::string parent_directory(const std::string& path);

// A temp file in the target's directory that is removed unless committed:
// commit() fsyncs, renames into place and fsyncs the directory.
class AtomicFile {
  public:
    // overwrite=false: commit fails if `final_path` exists (link(2) semantics).
    AtomicFile(std::string final_path, bool overwrite);
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;
    void write(const uint8_t* data, size_t size);
    void commit();
    const std::string& temp_path() const { return temp_path_; }

  private:
    std::string final_path_;
    std::string temp_path_;
    bool overwrite_;
    bool committed_ = false;
    UniqueFd fd_;
};

} // namespace wecare::offsite
