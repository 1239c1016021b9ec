// The WAL and wal-index formats (see wal_format.hpp). Written from SQLite's
// published file-format documents; the checksum is the documented
// Fibonacci-weighted sum over pairs of 32-bit words.
#include "policy/wal_format.hpp"

#include <cstring>

namespace wb {

namespace {

constexpr uint32_t kWalMagic = 0x377f0682;
constexpr uint32_t kWalFormat = 3007000;

uint32_t be32(const uint8_t* p) {
    return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
           static_cast<uint32_t>(p[2]) << 8 | p[3];
}

uint32_t le32(const uint8_t* p) {
    return static_cast<uint32_t>(p[3]) << 24 | static_cast<uint32_t>(p[2]) << 16 |
           static_cast<uint32_t>(p[1]) << 8 | p[0];
}

uint32_t native32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

uint16_t native16(const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
}

bool valid_page_size(uint32_t size) {
    return size >= 512 && size <= 65536 && (size & (size - 1)) == 0;
}

} // namespace

WalChecksum wal_checksum(bool big_endian, const uint8_t* data, size_t n, WalChecksum in) {
    uint32_t s1 = in.s1;
    uint32_t s2 = in.s2;
    for (size_t i = 0; i + 8 <= n; i += 8) {
        const uint32_t a = big_endian ? be32(data + i) : le32(data + i);
        const uint32_t b = big_endian ? be32(data + i + 4) : le32(data + i + 4);
        s1 += a + s2;
        s2 += b + s1;
    }
    return {s1, s2};
}

std::optional<WalHeader> parse_wal_header(const uint8_t* b, size_t length) {
    if (length < kWalHeaderBytes) return std::nullopt;
    const uint32_t magic = be32(b);
    if ((magic & ~1u) != kWalMagic || be32(b + 4) != kWalFormat) return std::nullopt;
    WalHeader h;
    h.big_endian_checksums = (magic & 1) != 0;
    h.page_size = be32(b + 8);
    if (!valid_page_size(h.page_size)) return std::nullopt;
    h.checkpoint_sequence = be32(b + 12);
    h.salt1 = be32(b + 16);
    h.salt2 = be32(b + 20);
    h.checksum = {be32(b + 24), be32(b + 28)};
    if (wal_checksum(h.big_endian_checksums, b, 24, {}) != h.checksum) return std::nullopt;
    return h;
}

WalFrameHeader parse_wal_frame_header(const uint8_t* b) {
    WalFrameHeader f;
    f.page = be32(b);
    f.db_pages = be32(b + 4);
    f.salt1 = be32(b + 8);
    f.salt2 = be32(b + 12);
    f.checksum = {be32(b + 16), be32(b + 20)};
    return f;
}

bool wal_frame_valid(const WalHeader& header, const uint8_t* frame, uint32_t page_size,
                     WalChecksum& previous) {
    const WalFrameHeader f = parse_wal_frame_header(frame);
    if (f.page == 0 || f.salt1 != header.salt1 || f.salt2 != header.salt2) return false;
    WalChecksum sum = wal_checksum(header.big_endian_checksums, frame, 8, previous);
    sum = wal_checksum(header.big_endian_checksums, frame + kWalFrameHeaderBytes, page_size, sum);
    if (sum != f.checksum) return false;
    previous = sum;
    return true;
}

std::optional<WalIndexHeader> parse_wal_index_header(const uint8_t* b, size_t length) {
    if (length < kWalIndexHeaderBytes) return std::nullopt;
    // Two copies of the 48-byte WalIndexHdr; a reader trusts them only when
    // they agree and the first says it is initialised.
    if (std::memcmp(b, b + 48, 48) != 0 || b[12] == 0) return std::nullopt;
    WalIndexHeader h;
    h.change = native32(b + 8);
    const uint16_t size = native16(b + 14);
    h.page_size = (size & 0xfe00u) + ((size & 0x0001u) << 16); // 1 means 65536
    h.max_frame = native32(b + 16);
    h.db_pages = native32(b + 20);
    // The salts are the WAL header's bytes, copied as they are.
    h.salt1 = be32(b + 32);
    h.salt2 = be32(b + 36);
    h.backfilled = native32(b + 96);
    // A log that never held a frame records no page size yet.
    if (h.max_frame > 0 && !valid_page_size(h.page_size)) return std::nullopt;
    return h;
}

} // namespace wb
