// A backup's manifest: `<backup name>.manifest` beside it, holding what is too
// big for the sidecar record that listing reads (record.hpp): the row count of
// every table, and the hash of every page (store/checksum.hpp page_hash) of a
// full backup, from which increments are computed and with which every page is
// checked when it is read back. Pure serialisation and parsing.
//
// Format, version 1 (integers little-endian):
//   "WCMANIF1"                       magic, 8 bytes
//   u32 page_size, u32 0
//   u64 page_count, u64 db_checksum (XOR of the page hashes)
//   u64 table_count, u64 hash_count  (hash_count is page_count, or 0)
//   table_count x { u32 name bytes, name, i64 rows }
//   hash_count  x u64                 the hash of page 1, 2, ...
//   XXH3-128 of all the bytes before  16 bytes
// parse_manifest refuses anything else: a wrong size, a count above the caps
// below (far above real schemas: 10,000 tables of 120-character names take
// 1.3 MB), a trailer that does not match.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "policy/record.hpp"

namespace wb {

constexpr uint64_t kMaxManifestTables = 10'000'000;
constexpr uint32_t kMaxTableNameBytes = 1 << 20;
constexpr uint64_t kMaxManifestPages = uint64_t{1} << 32;

struct Manifest {
    uint32_t page_size = 0;
    uint64_t page_count = 0;
    uint64_t db_checksum = 0;
    std::vector<TableCount> tables;
    std::vector<uint64_t> page_hashes; // empty, or one per page
};

std::string serialize_manifest(const Manifest& manifest);
// Throws Error when `bytes` is not a manifest this version can read.
Manifest parse_manifest(std::string_view bytes);
// What the fixed start of a manifest (its first kManifestHeadBytes) says,
// and the sizes the whole file can then have: a reader checks the file's size
// against them before it reads the rest, so a forged or sparse file is never
// read into memory. Throws Error when the start is not a manifest's.
constexpr size_t kManifestHeadBytes = 48;
struct ManifestHead {
    uint32_t page_size = 0;
    uint64_t page_count = 0;
    uint64_t min_bytes = 0; // every table name empty
    uint64_t max_bytes = 0; // every table name as long as the names can be
};
ManifestHead parse_manifest_head(std::string_view head);
// The hex of the trailer of serialized `bytes` (what the record binds to).
std::string manifest_id(std::string_view bytes);

} // namespace wb
