// The increment file format (see increment_format.hpp for the layout).
#include "policy/increment_format.hpp"

#include <cstring>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "common/error.hpp"
#include "policy/le_bytes.hpp"

namespace wb {

namespace {

constexpr char kMagic[8] = {'W', 'C', 'I', 'N', 'C', 'R', '0', '1'};
constexpr uint32_t kVersion = 1;
constexpr size_t kMaxNameBytes = 1024;

Error damaged(const std::string& what) {
    return Error("increment: " + what);
}

} // namespace

bool looks_like_increment(std::string_view bytes) {
    return bytes.size() >= sizeof kMagic && std::memcmp(bytes.data(), kMagic, sizeof kMagic) == 0;
}

std::string serialize_increment_header(const IncrementHeader& h) {
    if (h.name.size() > kMaxNameBytes || h.base.size() > kMaxNameBytes) throw damaged("name too long");
    std::string out(kMagic, sizeof kMagic);
    put_le(out, kVersion, 4);
    put_le(out, h.page_size, 4);
    put_le(out, h.page_count, 4);
    put_le(out, h.entries, 4);
    put_le(out, h.before, 8);
    put_le(out, h.after, 8);
    put_le(out, h.created_ns, 8);
    put_le(out, h.map_offset, 8);
    put_le(out, h.map_checksum, 8);
    put_le(out, h.name.size(), 2);
    out += h.name;
    put_le(out, h.base.size(), 2);
    out += h.base;
    out.resize(kIncrementHeaderBytes - 8, '\0');
    put_le(out, XXH3_64bits(out.data(), out.size()), 8);
    return out;
}

IncrementHeader parse_increment_header(std::string_view b) {
    if (b.size() < kIncrementHeaderBytes || !looks_like_increment(b))
        throw damaged("not an incremental backup");
    if (XXH3_64bits(b.data(), kIncrementHeaderBytes - 8) != get_le(b, kIncrementHeaderBytes - 8, 8))
        throw damaged("its header is damaged");
    if (get_le(b, 8, 4) != kVersion) throw damaged("a version this build cannot read; upgrade wecare_backup");
    IncrementHeader h;
    h.page_size = static_cast<uint32_t>(get_le(b, 12, 4));
    h.page_count = static_cast<uint32_t>(get_le(b, 16, 4));
    h.entries = static_cast<uint32_t>(get_le(b, 20, 4));
    h.before = get_le(b, 24, 8);
    h.after = get_le(b, 32, 8);
    h.created_ns = get_le(b, 40, 8);
    h.map_offset = get_le(b, 48, 8);
    h.map_checksum = get_le(b, 56, 8);
    size_t at = 64;
    for (std::string* text : {&h.name, &h.base}) {
        const auto length = static_cast<size_t>(get_le(b, at, 2));
        at += 2;
        if (length > kMaxNameBytes || at + length > kIncrementHeaderBytes - 8)
            throw damaged("a name is too long");
        *text = std::string(b.substr(at, length));
        at += length;
    }
    for (size_t i = at; i < kIncrementHeaderBytes - 8; ++i)
        if (b[i] != '\0') throw damaged("a header this version cannot read; upgrade wecare_backup");
    if (h.page_size < 512 || h.page_size > 65536 || (h.page_size & (h.page_size - 1)) != 0)
        throw damaged("a bad page size");
    if (h.entries > h.page_count) throw damaged("more entries than pages");
    if (h.map_offset != kIncrementHeaderBytes + static_cast<uint64_t>(h.entries) * h.page_size)
        throw damaged("the page map is not where it belongs");
    return h;
}

std::string serialize_increment_map(const std::vector<IncrementEntry>& entries) {
    std::string out;
    out.reserve(entries.size() * kIncrementEntryBytes);
    for (const auto& e : entries) {
        put_le(out, e.page, 4);
        put_le(out, 0, 4);
        put_le(out, e.hash, 8);
    }
    return out;
}

uint64_t increment_map_checksum(std::string_view map) {
    return XXH3_64bits(map.data(), map.size());
}

std::vector<IncrementEntry> parse_page_map(std::string_view bytes, uint32_t entries, uint32_t page_count) {
    if (bytes.size() != static_cast<size_t>(entries) * kIncrementEntryBytes)
        throw damaged("a truncated page map");
    std::vector<IncrementEntry> out(entries);
    uint32_t previous = 0;
    for (size_t i = 0; i < out.size(); ++i) {
        out[i].page = static_cast<uint32_t>(get_le(bytes, i * kIncrementEntryBytes, 4));
        out[i].hash = get_le(bytes, i * kIncrementEntryBytes + 8, 8);
        if (get_le(bytes, i * kIncrementEntryBytes + 4, 4) != 0)
            throw damaged("a page map entry this version cannot read");
        if (out[i].page <= previous || out[i].page > page_count) throw damaged("a page map out of order");
        previous = out[i].page;
    }
    return out;
}

std::vector<IncrementEntry> parse_increment_map(std::string_view bytes, const IncrementHeader& h) {
    if (bytes.size() != static_cast<size_t>(h.entries) * kIncrementEntryBytes)
        throw damaged("a truncated page map");
    if (increment_map_checksum(bytes) != h.map_checksum) throw damaged("its page map is damaged");
    return parse_page_map(bytes, h.entries, h.page_count);
}

uint64_t checksum_after(uint64_t before, const std::vector<uint64_t>& parent, uint32_t page_count,
                        const std::vector<IncrementEntry>& entries) {
    uint64_t sum = before;
    for (const auto& e : entries) {
        if (e.page <= parent.size()) sum ^= parent[e.page - 1];
        sum ^= e.hash;
    }
    for (size_t p = page_count; p < parent.size(); ++p)
        sum ^= parent[p]; // pages cut off
    return sum;
}

bool carries_growth(size_t parent_pages, uint32_t page_count, const std::vector<IncrementEntry>& entries) {
    if (page_count <= parent_pages) return true;
    size_t beyond = 0;
    for (const auto& e : entries)
        if (e.page > parent_pages) ++beyond;
    return beyond == page_count - parent_pages;
}

std::vector<uint64_t> apply_increment_hashes(std::vector<uint64_t> parent, uint32_t page_count,
                                             const std::vector<IncrementEntry>& entries) {
    parent.resize(page_count, 0);
    for (const auto& e : entries)
        parent[e.page - 1] = e.hash;
    return parent;
}

} // namespace wb
