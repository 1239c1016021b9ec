// The background writer of a snapshot (see async_writer.hpp).
#include "engine/async_writer.hpp"

#include "store/fd.hpp"

#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <new>
#include <unistd.h>

namespace wb {

namespace {

constexpr size_t kBuffers = 4;
constexpr size_t kDirectAlign = 4096;
constexpr uint64_t kPaceWindow = 8 << 20;

} // namespace

AsyncWriter::AsyncWriter(int buffered_fd, int direct_fd, BlockHasher& hasher)
    : buffered_fd_(buffered_fd), direct_fd_(direct_fd), hasher_(hasher) {
    for (size_t i = 0; i < kBuffers; ++i) {
        void* p = std::aligned_alloc(kDirectAlign, kBatchBytes);
        if (!p) throw std::bad_alloc();
        owned_.emplace_back(static_cast<uint8_t*>(p));
        free_.push_back(owned_.back().get());
    }
    thread_ = std::thread([this] { run(); });
}

AsyncWriter::~AsyncWriter() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stopping_ = true;
    }
    changed_.notify_all();
    thread_.join();
}

uint8_t* AsyncWriter::acquire() {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [&] { return !free_.empty(); });
    uint8_t* b = free_.back();
    free_.pop_back();
    return b;
}

void AsyncWriter::submit(uint8_t* buffer, size_t length, uint64_t offset) {
    // Checksummed here, on the copying thread, while the batch is still in the
    // CPU cache; the writer thread only waits for the disk.
    hasher_.update(offset, buffer, length);
    {
        std::lock_guard<std::mutex> lock(mu_);
        queue_.push_back({buffer, length, offset});
    }
    changed_.notify_all();
}

int AsyncWriter::drain() {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [&] { return queue_.empty() && !busy_; });
    return error_;
}

void AsyncWriter::pace(uint64_t end) {
    if (end < started_upto_ + kPaceWindow) return;
    // Start writeback of the newest window, then wait for the one before it.
    ::sync_file_range(buffered_fd_, static_cast<off_t>(started_upto_),
                      static_cast<off_t>(end - started_upto_), SYNC_FILE_RANGE_WRITE);
    if (started_upto_ > waited_upto_) {
        ::sync_file_range(buffered_fd_, static_cast<off_t>(waited_upto_),
                          static_cast<off_t>(started_upto_ - waited_upto_),
                          SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
        waited_upto_ = started_upto_;
    }
    started_upto_ = end;
}

int AsyncWriter::write_job(const Job& job) {
    const bool aligned = job.offset % kDirectAlign == 0 && job.length % kDirectAlign == 0;
    if (direct_fd_ >= 0 && aligned) {
        const int err = pwrite_all(direct_fd_, job.buffer, job.length, job.offset);
        if (err != EINVAL) return err;
        direct_fd_ = -1; // this file system refuses O_DIRECT after all: buffered from now on
    }
    const int err = pwrite_all(buffered_fd_, job.buffer, job.length, job.offset);
    if (err == 0) pace(job.offset + job.length);
    return err;
}

void AsyncWriter::run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
        changed_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return; // stopping, and nothing left to write
        const Job job = queue_.front();
        queue_.pop_front();
        busy_ = true;
        const bool failed_before = error_ != 0;
        lock.unlock();
        int err = 0;
        if (!failed_before) err = write_job(job);
        lock.lock();
        if (err && !error_) error_ = err;
        free_.push_back(job.buffer);
        busy_ = false;
        changed_.notify_all();
    }
}

} // namespace wb
