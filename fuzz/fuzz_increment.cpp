// The incremental backup format (policy/increment_format.hpp): header and page
// map parsing on hostile bytes, the round trip of what parses, and the chain
// arithmetic on what a parsed map says.
// Input: up to 200 bytes laid over a zeroed 4096-byte header (whose trailing
// checksum the harness fixes, so the parser's checks past it are reached),
// then the page map (whose checksum and entry count the harness fixes too).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "common/error.hpp"
#include "policy/increment_format.hpp"

using namespace wb;

namespace {
void check(bool ok) {
    if (!ok) std::abort();
}

void fix_header_checksum(std::string& head) {
    const uint64_t sum = XXH3_64bits(head.data(), kIncrementHeaderBytes - 8);
    for (int i = 0; i < 8; ++i)
        head[kIncrementHeaderBytes - 8 + static_cast<size_t>(i)] = static_cast<char>(sum >> (8 * i));
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    constexpr size_t kPrefix = 200;
    std::string head(kIncrementHeaderBytes, '\0');
    std::memcpy(head.data(), data, size < kPrefix ? size : kPrefix);
    fix_header_checksum(head);
    IncrementHeader h;
    try {
        h = parse_increment_header(head);
    } catch (const Error&) {
        return 0;
    }
    // What parses, serialises back to something that parses the same.
    const IncrementHeader again = parse_increment_header(serialize_increment_header(h));
    check(again.page_size == h.page_size && again.page_count == h.page_count && again.entries == h.entries &&
          again.before == h.before && again.after == h.after && again.map_offset == h.map_offset &&
          again.name == h.name && again.base == h.base);
    check(h.entries <= h.page_count && h.page_size >= 512 && h.page_size <= 65536);

    const std::string map = size > kPrefix
                                ? std::string(reinterpret_cast<const char*>(data) + kPrefix,
                                              (size - kPrefix) / kIncrementEntryBytes * kIncrementEntryBytes)
                                : std::string();
    IncrementHeader mh = h;
    mh.entries = static_cast<uint32_t>(map.size() / kIncrementEntryBytes);
    mh.map_checksum = increment_map_checksum(map);
    std::vector<IncrementEntry> entries;
    try {
        entries = parse_increment_map(map, mh);
    } catch (const Error&) {
        return 0;
    }
    for (size_t i = 0; i < entries.size(); ++i) {
        check(entries[i].page >= 1 && entries[i].page <= mh.page_count);
        if (i) check(entries[i].page > entries[i - 1].page);
    }
    check(serialize_increment_map(entries) == map.substr(0, entries.size() * kIncrementEntryBytes) ||
          map.size() != entries.size() * kIncrementEntryBytes);
    // The chain arithmetic, on a parent as long as the map allows (a chain
    // refuses an increment that does not carry every page its parent lacks).
    std::vector<uint64_t> parent(entries.size() % 64);
    uint64_t before = 0;
    for (size_t i = 0; i < parent.size(); ++i) {
        parent[i] = XXH3_64bits(&i, sizeof i);
        before ^= parent[i];
    }
    if (mh.page_count > parent.size() + entries.size()) return 0;
    const auto after = apply_increment_hashes(parent, mh.page_count, entries);
    uint64_t sum = 0;
    for (size_t p = 0; p < after.size(); ++p)
        sum ^= after[p];
    // Pages beyond the parent that no entry gives count as hash 0 on both sides.
    check(checksum_after(before, parent, mh.page_count, entries) == sum);
    return 0;
}
