// The file format of continuous capture's segments,
// `<prefix>_segment_<time>[_N].wcseg`: the transactions captured from the
// write-ahead log, as restore points. Pure: bytes in, facts out.
//
// A segment file belongs to one generation of the timeline: a base backup
// (a full or incremental backup in the same directory) and the restore points
// captured after it, in order, over one or more segment files.
//
// A base backup's name and database checksum do not tell two databases
// apart (two created alike, whose bases were taken in the same second, have
// the same), so a segment also carries the base's creation time to the
// nanosecond, as its record holds it (`created_ns`, kept off-site too): a
// generation is of this timeline only when its base's record has that time.
//
// Layout (integers little-endian):
//   file header, kSegmentHeaderBytes (512):
//     "WCSEG001", u32 version 2, u32 page size, u64 generation (random id),
//     u32 sequence (0 = the generation's first file), u32 reserved 0,
//     u64 created_ns, u64 base checksum (the database checksum of the base
//     backup: XOR of its page hashes), where capture starts in this file (u32
//     WAL salt-1, salt-2, frame, checksum-1, checksum-2: after that frame of
//     that log), u64 the base backup's created_ns (its record's),
//     u16 + bytes of the base backup's name,
//     u16 + bytes of the boundary reason (sequence 0 only: why the previous
//     generation ended: "" when the state continues unchanged, else a gap
//     reason, see policy/timeline.hpp), zeros, and the XXH3-64 of the bytes
//     before it in the last 8.
//   then points, each:
//     point header, kPointHeaderBytes (96): "WCPOINT1", u64 captured_ns,
//       u32 page count after, u32 entries, u64 checksum before, u64 checksum
//       after, u32 WAL salt-1, u32 salt-2, u32 first frame, u32 last frame,
//       u32 WAL checksum-1 and checksum-2 of the last frame, u32 transactions,
//       zeros, and the XXH3-64 of the bytes before it in the last 8;
//     pages: entries x page size, in the map's order;
//     page map: entries x {u32 page number, u32 0, u64 page hash}, ascending;
//     u64 XXH3-64 of the pages and the map.
// A point is every transaction committed in the write-ahead log from its
// first to its last frame, merged by page number (the newest version of each
// page), and carries the time it was captured: frames carry no time. A point
// written only in part (a crash) fails its checksums; a reader stops at the
// first point that does not parse, and only the last point of a file can be
// torn (each is made durable before the next is written), so a reader checks
// the last point's payload checksum before it trusts it.
//
// The database checksums chain points together exactly as an increment's do
// (policy/increment_format.hpp): a point's `before` is the previous point's
// `after` (the first point's is the base checksum), and `after` is what its
// page map gives from `before`.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "policy/increment_format.hpp"

namespace wb {

constexpr size_t kSegmentHeaderBytes = 512;
constexpr size_t kPointHeaderBytes = 96;
constexpr size_t kPointTrailerBytes = 8;

struct SegmentHeader {
    uint32_t page_size = 0;
    uint64_t generation = 0;
    uint32_t sequence = 0;
    uint64_t created_ns = 0;
    uint64_t base_checksum = 0;
    int64_t base_created_ns = 0; // the base backup's record's created_ns
    // Where capture starts in this file: after `frame` of the log with these
    // salts, its checksum chain continuing from `checksum1`/`checksum2`.
    uint32_t salt1 = 0;
    uint32_t salt2 = 0;
    uint32_t frame = 0;
    uint32_t checksum1 = 0;
    uint32_t checksum2 = 0;
    std::string base;   // the base backup's name
    std::string reason; // sequence 0: why the previous generation ended ("" = it continues)
};

struct PointHeader {
    uint64_t captured_ns = 0;
    uint32_t page_count = 0; // the database's size in pages after the point
    uint32_t entries = 0;
    uint64_t before = 0;
    uint64_t after = 0;
    uint32_t salt1 = 0;
    uint32_t salt2 = 0;
    uint32_t first_frame = 0;
    uint32_t last_frame = 0;
    uint32_t wal_checksum1 = 0; // of the last frame: where the WAL's chain continues
    uint32_t wal_checksum2 = 0;
    uint32_t transactions = 0;
};

bool looks_like_segment(std::string_view bytes);

// Exactly kSegmentHeaderBytes bytes; throws Error when a name does not fit.
std::string serialize_segment_header(const SegmentHeader& header);
// Throws Error when the header is not one this version reads, or is damaged.
SegmentHeader parse_segment_header(std::string_view bytes);

// Exactly kPointHeaderBytes bytes.
std::string serialize_point_header(const PointHeader& header);
// Throws Error when damaged; `page_size` bounds the entries.
PointHeader parse_point_header(std::string_view bytes);

// The whole length of a point with `entries` pages of `page_size` bytes.
uint64_t point_bytes(uint32_t entries, uint32_t page_size);
// Where its pages and its map start, from the point's first byte.
constexpr uint64_t point_pages_offset() {
    return kPointHeaderBytes;
}
inline uint64_t point_map_offset(uint32_t entries, uint32_t page_size) {
    return kPointHeaderBytes + static_cast<uint64_t>(entries) * page_size;
}

// Checks a point's map (order, bounds) against its header; throws Error.
std::vector<IncrementEntry> parse_point_map(std::string_view bytes, const PointHeader& header);

} // namespace wb
