// The backup checksum, "xxh3t": XXH3-128 over the concatenated XXH3-128
// digests of each 1 MiB block of the file (the last block may be shorter).
//
// Why blocks: the checksum is computed while the backup is written, in the
// same pass as the copy, and SQLite rewrites page 1 at the end of a backup.
// Block digests make that cheap: a block written out of order is simply hashed
// again from the file at the end. Verification reads the file once, in order.
// XXH3 runs at memory speed; the checksum guards against corruption (bit rot,
// torn or truncated files), not against someone who can rewrite the backup
// and its metadata together.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace wb {

class Observer;

constexpr uint64_t kHashBlock = 1 << 20;
constexpr const char* kChecksumAlgorithm = "xxh3t";

class BlockHasher {
  public:
    BlockHasher();
    ~BlockHasher();
    BlockHasher(const BlockHasher&) = delete;
    BlockHasher& operator=(const BlockHasher&) = delete;

    // Bytes [offset, offset+length) were written with this content.
    void update(uint64_t offset, const uint8_t* data, size_t length);
    // Combines the digests for a file of `size` bytes, re-reading from `fd`
    // every block that was not streamed in order. Throws on a read error.
    std::string finish(int fd, uint64_t size);

  private:
    struct Block {
        uint64_t length = 0; // bytes hashed; a block counts only when this matches the file
        uint8_t digest[16] = {};
        bool valid = false;
    };
    void invalidate(uint64_t from, uint64_t to);
    void close_stream();
    Block& block(uint64_t index);

    std::vector<Block> blocks_;
    void* stream_state_ = nullptr; // XXH3 state of the block being streamed
    uint64_t stream_block_ = 0;
    uint64_t stream_pos_ = 0; // absolute offset the stream expects next
    bool streaming_ = false;
};

// The hash of one database page: XXH3-64 of its bytes, seeded with its page
// number, so equal pages at different places differ. A database's checksum is
// the XOR of the hashes of all its pages: it changes in O(changed pages) when
// pages change, as in Litestream's LTX format.
uint64_t page_hash(uint32_t page_number, const uint8_t* data, size_t size);

// XXH3-64 over bytes given in pieces, in order.
class Xxh3Stream {
  public:
    Xxh3Stream();
    ~Xxh3Stream();
    Xxh3Stream(const Xxh3Stream&) = delete;
    Xxh3Stream& operator=(const Xxh3Stream&) = delete;
    void update(const uint8_t* data, size_t length);
    uint64_t digest() const;

  private:
    void* state_;
};

// XXH3-64 of bytes [offset, offset+length) of `fd`, read in order (a
// segment's point payload, policy/segment_format.hpp). Throws Error(io) when
// the file is shorter.
uint64_t xxh3_64_of_range(int fd, uint64_t offset, uint64_t length, Observer* observer = nullptr);
// XXH3-64 of bytes in memory.
uint64_t xxh3_64_of(const uint8_t* data, size_t length);

// Reads `fd` from offset 0 to `size` in order and returns its checksum.
// Reports progress (bytes) to `observer` after each block and stops (throws)
// when it asks to. Throws Error(io) when the file is shorter than `size`.
std::string checksum_fd(int fd, uint64_t size, Observer* observer = nullptr);

} // namespace wb
