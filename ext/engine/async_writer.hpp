// Writes a backup's batches in order on a background thread, so copying the
// next pages overlaps with writing the previous ones.
//
// Where the file system allows it (not tmpfs, for instance) writes use
// O_DIRECT: the data goes from our buffer to the device without being copied
// into the page cache, costs little CPU, and leaves no dirty pages behind that
// another process's fsync would have to wait for. Otherwise (or for a batch
// that is not 4 KiB aligned) writes are buffered and the writeback is paced
// with sync_file_range: at most ~16 MiB of the backup is dirty at any time.
// Each batch is fed to the block checksum as it is submitted, in file order.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "store/checksum.hpp"

namespace wb {

// 4 and 8 MiB batches measured no faster on the benchmark machine.
constexpr size_t kBatchBytes = 1 << 20;

class AsyncWriter {
  public:
    // `buffered_fd` is always usable; `direct_fd` is -1 when O_DIRECT is not available.
    AsyncWriter(int buffered_fd, int direct_fd, BlockHasher& hasher);
    ~AsyncWriter();
    AsyncWriter(const AsyncWriter&) = delete;
    AsyncWriter& operator=(const AsyncWriter&) = delete;

    // A free buffer of kBatchBytes, 4 KiB aligned; waits while all are in flight.
    uint8_t* acquire();
    // Queues `length` bytes of `buffer` (from acquire) for `offset`.
    void submit(uint8_t* buffer, size_t length, uint64_t offset);
    // Waits until everything submitted is written; returns the errno of the
    // first failed write (0 = all written).
    int drain();

  private:
    struct Job {
        uint8_t* buffer;
        size_t length;
        uint64_t offset;
    };
    void run();
    int write_job(const Job& job);
    void pace(uint64_t end);

    int buffered_fd_;
    int direct_fd_;
    BlockHasher& hasher_;
    struct FreeBuffer {
        void operator()(uint8_t* p) const { std::free(p); }
    };
    std::vector<std::unique_ptr<uint8_t, FreeBuffer>> owned_;
    std::vector<uint8_t*> free_;
    std::deque<Job> queue_;
    std::mutex mu_;
    std::condition_variable changed_;
    bool busy_ = false;
    bool stopping_ = false;
    int error_ = 0;
    uint64_t started_upto_ = 0;
    uint64_t waited_upto_ = 0;
    std::thread thread_;
};

} // namespace wb
