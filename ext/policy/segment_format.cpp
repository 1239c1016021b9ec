// The segment file format (see segment_format.hpp for the layout).
#include "policy/segment_format.hpp"

#include <cstring>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "common/error.hpp"
#include "policy/le_bytes.hpp"

namespace wb {

namespace {

constexpr char kFileMagic[8] = {'W', 'C', 'S', 'E', 'G', '0', '0', '1'};
constexpr char kPointMagic[8] = {'W', 'C', 'P', 'O', 'I', 'N', 'T', '1'};
constexpr uint32_t kVersion = 2; // 2: the base's created_ns
constexpr size_t kMaxTextBytes = 200;

Error damaged(const std::string& what) {
    return Error("segment: " + what);
}

// Appends the XXH3-64 of everything before it, ending `out` at `size` bytes.
void seal(std::string& out, size_t size) {
    out.resize(size - 8, '\0');
    put_le(out, XXH3_64bits(out.data(), out.size()), 8);
}

bool sealed(std::string_view b, size_t size) {
    return b.size() >= size && XXH3_64bits(b.data(), size - 8) == get_le(b, size - 8, 8);
}

// Whether every byte of b[from, to) is zero.
bool zeros(std::string_view b, size_t from, size_t to) {
    for (size_t i = from; i < to; ++i)
        if (b[i] != '\0') return false;
    return true;
}

} // namespace

bool looks_like_segment(std::string_view bytes) {
    return bytes.size() >= sizeof kFileMagic && std::memcmp(bytes.data(), kFileMagic, sizeof kFileMagic) == 0;
}

std::string serialize_segment_header(const SegmentHeader& h) {
    if (h.base.size() > kMaxTextBytes || h.reason.size() > kMaxTextBytes)
        throw damaged("a name or reason too long");
    std::string out(kFileMagic, sizeof kFileMagic);
    put_le(out, kVersion, 4);
    put_le(out, h.page_size, 4);
    put_le(out, h.generation, 8);
    put_le(out, h.sequence, 4);
    put_le(out, 0, 4);
    put_le(out, h.created_ns, 8);
    put_le(out, h.base_checksum, 8);
    for (uint32_t v : {h.salt1, h.salt2, h.frame, h.checksum1, h.checksum2})
        put_le(out, v, 4);
    put_le(out, static_cast<uint64_t>(h.base_created_ns), 8);
    for (const std::string* text : {&h.base, &h.reason}) {
        put_le(out, text->size(), 2);
        out += *text;
    }
    seal(out, kSegmentHeaderBytes);
    return out;
}

SegmentHeader parse_segment_header(std::string_view b) {
    if (b.size() < kSegmentHeaderBytes || !looks_like_segment(b))
        throw damaged("not a segment of continuous capture");
    if (!sealed(b, kSegmentHeaderBytes)) throw damaged("its header is damaged");
    const uint64_t version = get_le(b, 8, 4);
    if (version == 1)
        throw damaged(
            "format 1, of a development build, which does not bind a segment to its base; this build "
            "never restores from it: move it out of the backup directory");
    if (version != kVersion) throw damaged("a version this build cannot read; upgrade wecare_backup");
    SegmentHeader h;
    h.page_size = static_cast<uint32_t>(get_le(b, 12, 4));
    h.generation = get_le(b, 16, 8);
    h.sequence = static_cast<uint32_t>(get_le(b, 24, 4));
    h.created_ns = get_le(b, 32, 8);
    h.base_checksum = get_le(b, 40, 8);
    h.salt1 = static_cast<uint32_t>(get_le(b, 48, 4));
    h.salt2 = static_cast<uint32_t>(get_le(b, 52, 4));
    h.frame = static_cast<uint32_t>(get_le(b, 56, 4));
    h.checksum1 = static_cast<uint32_t>(get_le(b, 60, 4));
    h.checksum2 = static_cast<uint32_t>(get_le(b, 64, 4));
    h.base_created_ns = static_cast<int64_t>(get_le(b, 68, 8));
    size_t at = 76;
    for (std::string* text : {&h.base, &h.reason}) {
        const auto length = static_cast<size_t>(get_le(b, at, 2));
        at += 2;
        if (length > kMaxTextBytes) throw damaged("a name or reason too long");
        *text = std::string(b.substr(at, length));
        at += length;
    }
    if (get_le(b, 28, 4) != 0 || !zeros(b, at, kSegmentHeaderBytes - 8))
        throw damaged("a header this version cannot read; upgrade wecare_backup");
    if (h.page_size < 512 || h.page_size > 65536 || (h.page_size & (h.page_size - 1)) != 0)
        throw damaged("a bad page size");
    if (h.base.empty()) throw damaged("it names no base backup");
    if (h.base_created_ns <= 0) throw damaged("it gives no creation time of its base backup");
    return h;
}

std::string serialize_point_header(const PointHeader& h) {
    std::string out(kPointMagic, sizeof kPointMagic);
    put_le(out, h.captured_ns, 8);
    put_le(out, h.page_count, 4);
    put_le(out, h.entries, 4);
    put_le(out, h.before, 8);
    put_le(out, h.after, 8);
    put_le(out, h.salt1, 4);
    put_le(out, h.salt2, 4);
    put_le(out, h.first_frame, 4);
    put_le(out, h.last_frame, 4);
    put_le(out, h.wal_checksum1, 4);
    put_le(out, h.wal_checksum2, 4);
    put_le(out, h.transactions, 4);
    seal(out, kPointHeaderBytes);
    return out;
}

PointHeader parse_point_header(std::string_view b) {
    if (b.size() < kPointHeaderBytes || std::memcmp(b.data(), kPointMagic, sizeof kPointMagic) != 0)
        throw damaged("not a restore point");
    if (!sealed(b, kPointHeaderBytes)) throw damaged("a restore point's header is damaged");
    PointHeader h;
    h.captured_ns = get_le(b, 8, 8);
    h.page_count = static_cast<uint32_t>(get_le(b, 16, 4));
    h.entries = static_cast<uint32_t>(get_le(b, 20, 4));
    h.before = get_le(b, 24, 8);
    h.after = get_le(b, 32, 8);
    h.salt1 = static_cast<uint32_t>(get_le(b, 40, 4));
    h.salt2 = static_cast<uint32_t>(get_le(b, 44, 4));
    h.first_frame = static_cast<uint32_t>(get_le(b, 48, 4));
    h.last_frame = static_cast<uint32_t>(get_le(b, 52, 4));
    h.wal_checksum1 = static_cast<uint32_t>(get_le(b, 56, 4));
    h.wal_checksum2 = static_cast<uint32_t>(get_le(b, 60, 4));
    h.transactions = static_cast<uint32_t>(get_le(b, 64, 4));
    if (!zeros(b, 68, kPointHeaderBytes - 8)) throw damaged("a restore point this version cannot read");
    if (h.entries > h.page_count) throw damaged("a restore point with more pages than its database");
    if (h.first_frame == 0 || h.last_frame < h.first_frame || h.transactions == 0)
        throw damaged("a restore point with no frames");
    return h;
}

uint64_t point_bytes(uint32_t entries, uint32_t page_size) {
    return point_map_offset(entries, page_size) + static_cast<uint64_t>(entries) * kIncrementEntryBytes +
           kPointTrailerBytes;
}

std::vector<IncrementEntry> parse_point_map(std::string_view bytes, const PointHeader& header) {
    return parse_page_map(bytes, header.entries, header.page_count);
}

} // namespace wb
