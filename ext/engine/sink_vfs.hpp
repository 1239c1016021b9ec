// The "wecare_sink" VFS: where a snapshot's pages land.
//
// The backup API writes the destination one page at a time through its pager.
// This thin shim over the default VFS (for the destination file only) turns
// that into what a fast, safe backup needs, in the same pass as the copy:
//   * batches consecutive page writes into 1 MiB writes, handed to a
//     background writer (async_writer.hpp: O_DIRECT where possible, else
//     buffered with paced writeback), so another process's fsync never queues
//     behind a gigabyte of backup pages;
//   * feeds every byte written to the block checksum (checksum.hpp), so the
//     data is never read again just to checksum it;
//   * writes header bytes 18-19 as 1 (rollback journal) instead of the source's
//     WAL value, so opening a backup read-only never leaves -wal/-shm beside it.
// A connection selects the shim with the URI parameter `wecare_sink=<id>`
// naming a SinkContext registered with SinkRegistration.
#pragma once
#include <cstdint>
#include <string>

#include <memory>

#include "engine/async_writer.hpp"
#include "store/checksum.hpp"

namespace wb {

constexpr const char* kSinkVfsName = "wecare_sink";
// A file-control opcode of our own: flush the batch now and report a failed write.
constexpr int kSinkFlushOpcode = 0x57430001;

struct SinkContext {
    BlockHasher hasher;
    std::unique_ptr<AsyncWriter> writer; // on our own descriptors of the destination
    int write_errno = 0;                 // errno of a failed write, for the error message
};

// Registers the VFS once per process. Returns an SQLite result code.
int register_sink_vfs();

class SinkRegistration {
  public:
    explicit SinkRegistration(SinkContext* context);
    ~SinkRegistration();
    SinkRegistration(const SinkRegistration&) = delete;
    SinkRegistration& operator=(const SinkRegistration&) = delete;
    // The URI parameter that selects this context.
    std::string uri_parameter() const;

  private:
    uint64_t id_;
};

} // namespace wb
