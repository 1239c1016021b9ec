// The write-ahead log's on-disk format and the wal-index header, as SQLite
// documents them (sqlite.org/fileformat2.html §4, walformat.html). Pure: bytes
// in, facts out; no files, no SQLite. Used to read a consistent snapshot of a
// WAL-mode database (engine/live_snapshot) and to capture transactions
// (engine/capture).
//
// WAL file: a 32-byte header, then frames of a 24-byte header plus one page.
//   header  magic (0x377f0682: checksums little-endian; 0x377f0683: big-endian),
//           format 3007000, page size, checkpoint sequence, salt-1, salt-2,
//           checksum-1, checksum-2 (over the first 24 bytes); big-endian fields.
//   frame   page number, database size in pages after a commit (0 otherwise),
//           salt-1, salt-2, checksum-1, checksum-2 (cumulative: over the frame
//           header's first 8 bytes and the page, starting from the previous
//           frame's checksum, or the WAL header's for frame 1).
// A frame is valid only if its salts are the header's and the checksum chain
// holds; a transaction ends at a frame with a non-zero database size.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>

namespace wb {

constexpr size_t kWalHeaderBytes = 32;
constexpr size_t kWalFrameHeaderBytes = 24;

struct WalChecksum {
    uint32_t s1 = 0;
    uint32_t s2 = 0;
    bool operator==(const WalChecksum& o) const { return s1 == o.s1 && s2 == o.s2; }
    bool operator!=(const WalChecksum& o) const { return !(*this == o); }
};

struct WalHeader {
    bool big_endian_checksums = false;
    uint32_t page_size = 0;
    uint32_t checkpoint_sequence = 0;
    uint32_t salt1 = 0;
    uint32_t salt2 = 0;
    WalChecksum checksum; // of the header, where the frame chain starts
};

struct WalFrameHeader {
    uint32_t page = 0;
    uint32_t db_pages = 0; // non-zero: a commit frame
    uint32_t salt1 = 0;
    uint32_t salt2 = 0;
    WalChecksum checksum;
};

// The WAL's checksum over `n` bytes (a multiple of 8), continuing from `in`.
WalChecksum wal_checksum(bool big_endian, const uint8_t* data, size_t n, WalChecksum in);

// A WAL header, or nullopt when the magic, format, page size or its own
// checksum is wrong.
std::optional<WalHeader> parse_wal_header(const uint8_t* bytes, size_t length);
WalFrameHeader parse_wal_frame_header(const uint8_t* bytes);

// Whether a frame (its 24-byte header followed by `page_size` bytes of page)
// belongs to the WAL of `header` and continues the chain at `previous`; on
// success `previous` becomes the frame's checksum.
bool wal_frame_valid(const WalHeader& header, const uint8_t* frame, uint32_t page_size,
                     WalChecksum& previous);

// The byte offset of frame `index` (1-based) in a WAL of `page_size` pages.
inline uint64_t wal_frame_offset(uint64_t index, uint32_t page_size) {
    return kWalHeaderBytes + (index - 1) * (kWalFrameHeaderBytes + page_size);
}

// The wal-index (-shm) header: its first copy of WalIndexHdr, and the
// checkpoint information after both copies. Native byte order.
struct WalIndexHeader {
    uint32_t change = 0; // incremented by each transaction
    uint32_t page_size = 0;
    uint32_t max_frame = 0; // the last valid frame
    uint32_t db_pages = 0;
    uint32_t salt1 = 0;
    uint32_t salt2 = 0;
    uint32_t backfilled = 0; // frames copied into the database file (nBackfill)
};
constexpr size_t kWalIndexHeaderBytes = 136;

// The header of a mapped wal-index, or nullopt when it is not initialised or
// its two copies disagree (a writer was in the middle of updating it).
std::optional<WalIndexHeader> parse_wal_index_header(const uint8_t* bytes, size_t length);

} // namespace wb
