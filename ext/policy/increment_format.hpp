// The file format of an incremental backup, `<prefix>_backup_<time>.incr`:
// the pages that changed since its parent (the backup it builds on), and
// what the database looks like afterwards. Pure: bytes in, facts out.
//
// Layout (integers little-endian):
//   [0, 4096)          header: "WCINCR01", u32 version 1, u32 page size,
//                      u32 page count after, u32 entries, u64 database
//                      checksum before and after (XOR of page hashes,
//                      store/checksum.hpp), u64 created_ns, u64 offset of the
//                      page map, u64 XXH3-64 of the page map, u16 + bytes of
//                      its own name, u16 + bytes of its parent's name, zeros,
//                      and the XXH3-64 of the 4088 bytes before it in the last 8.
//   [4096, 4096 + entries * page size)
//                      the changed pages, in ascending page order
//   page map           entries x {u32 page number, u32 0, u64 page hash},
//                      ascending, each page at most once, none beyond the
//                      page count
// The page map comes after the pages because its length is known only when
// the copy ends; the header is written last. The whole file's xxh3t checksum
// is recorded in its sidecar like any backup's; each page is checked against
// its hash whenever it is read.
//
// The database checksum makes a chain checkable without reading its pages:
// after = before XOR (old hashes of the changed pages and of the pages cut
// off by a smaller page count) XOR (the new hashes), as Litestream's LTX does.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wb {

constexpr size_t kIncrementHeaderBytes = 4096;
constexpr size_t kIncrementEntryBytes = 16;
// The most backups one chain may hold (the full backup and its increments).
constexpr size_t kMaxChainLinks = 1000;

struct IncrementHeader {
    uint32_t page_size = 0;
    uint32_t page_count = 0; // the database's size in pages after this increment
    uint32_t entries = 0;
    uint64_t before = 0; // the parent's database checksum
    uint64_t after = 0;  // this backup's database checksum
    uint64_t created_ns = 0;
    uint64_t map_offset = 0;
    uint64_t map_checksum = 0;
    std::string name;
    std::string base;
};

struct IncrementEntry {
    uint32_t page = 0;
    uint64_t hash = 0;
};

// Whether `bytes` start like an increment (its magic).
bool looks_like_increment(std::string_view bytes);

// Exactly kIncrementHeaderBytes bytes.
std::string serialize_increment_header(const IncrementHeader& header);
// Throws Error when the header is not one this version reads, or is damaged.
IncrementHeader parse_increment_header(std::string_view bytes);

std::string serialize_increment_map(const std::vector<IncrementEntry>& entries);
// The checksum of serialised map bytes, as the header records it.
uint64_t increment_map_checksum(std::string_view map);
// A page map of `entries` entries, ascending, unique, within 1..page_count,
// reserved fields zero (shared with policy/segment_format); throws Error.
std::vector<IncrementEntry> parse_page_map(std::string_view bytes, uint32_t entries, uint32_t page_count);
// Checks the map against the header (its checksum, order, bounds); throws Error.
std::vector<IncrementEntry> parse_increment_map(std::string_view bytes, const IncrementHeader& header);

// The database checksum after applying `entries` to a database whose page
// hashes are `parent` (index 0 = page 1) and whose checksum is `before`,
// ending with `page_count` pages.
uint64_t checksum_after(uint64_t before, const std::vector<uint64_t>& parent, uint32_t page_count,
                        const std::vector<IncrementEntry>& entries);

// Whether changes that end with `page_count` pages carry every page beyond
// the parent's `parent_pages` (`entries` ascending and unique): an increment
// or a restore point must, since nothing else holds those pages.
bool carries_growth(size_t parent_pages, uint32_t page_count, const std::vector<IncrementEntry>& entries);

// `parent` page hashes with `entries` applied and cut or grown to `page_count`
// (a page beyond the parent that no entry gives hashes to 0: an increment
// always carries every page the parent lacks).
std::vector<uint64_t> apply_increment_hashes(std::vector<uint64_t> parent, uint32_t page_count,
                                             const std::vector<IncrementEntry>& entries);

} // namespace wb
