// The backup manifest (see manifest.hpp for the format).
#include "policy/manifest.hpp"

#include <cstring>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "common/error.hpp"
#include "policy/text.hpp"

namespace wb {

namespace {

constexpr char kMagic[8] = {'W', 'C', 'M', 'A', 'N', 'I', 'F', '1'};
constexpr size_t kFixedBytes = 8 + 4 + 4 + 8 + 8 + 8 + 8;
constexpr size_t kTrailerBytes = 16;

void put_u32(std::string& out, uint32_t v) {
    for (int i = 0; i < 4; ++i)
        out += static_cast<char>(v >> (8 * i));
}

void put_u64(std::string& out, uint64_t v) {
    for (int i = 0; i < 8; ++i)
        out += static_cast<char>(v >> (8 * i));
}

std::string trailer_of(std::string_view bytes) {
    XXH128_canonical_t canon;
    XXH128_canonicalFromHash(&canon, XXH3_128bits(bytes.data(), bytes.size()));
    return std::string(reinterpret_cast<const char*>(canon.digest), kTrailerBytes);
}

// Reads fixed-size fields in order, refusing to run past the end.
class Reader {
  public:
    explicit Reader(std::string_view bytes) : bytes_(bytes) {}
    uint32_t u32() { return static_cast<uint32_t>(take(4)); }
    uint64_t u64() { return take(8); }
    std::string_view bytes(size_t n) {
        if (n > bytes_.size() - at_) throw Error("manifest: truncated");
        std::string_view out = bytes_.substr(at_, n);
        at_ += n;
        return out;
    }
    size_t remaining() const { return bytes_.size() - at_; }

  private:
    uint64_t take(size_t n) {
        const std::string_view b = bytes(n);
        uint64_t v = 0;
        for (size_t i = 0; i < n; ++i)
            v |= static_cast<uint64_t>(static_cast<uint8_t>(b[i])) << (8 * i);
        return v;
    }
    std::string_view bytes_;
    size_t at_ = 0;
};

} // namespace

std::string serialize_manifest(const Manifest& m) {
    std::string out(kMagic, sizeof kMagic);
    put_u32(out, m.page_size);
    put_u32(out, 0);
    put_u64(out, m.page_count);
    put_u64(out, m.db_checksum);
    put_u64(out, m.tables.size());
    put_u64(out, m.page_hashes.size());
    for (const auto& t : m.tables) {
        put_u32(out, static_cast<uint32_t>(t.name.size()));
        out += t.name;
        put_u64(out, static_cast<uint64_t>(t.rows));
    }
    out.reserve(out.size() + m.page_hashes.size() * 8 + kTrailerBytes);
    for (uint64_t h : m.page_hashes)
        put_u64(out, h);
    out += trailer_of(out);
    return out;
}

Manifest parse_manifest(std::string_view bytes) {
    if (bytes.size() < kFixedBytes + kTrailerBytes || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
        throw Error("manifest: not a wecare_backup manifest");
    const std::string_view body = bytes.substr(0, bytes.size() - kTrailerBytes);
    if (trailer_of(body) != bytes.substr(body.size()))
        throw Error("manifest: damaged (its checksum does not match)");
    Reader in(body);
    in.bytes(sizeof kMagic);
    Manifest m;
    m.page_size = in.u32();
    in.u32();
    m.page_count = in.u64();
    m.db_checksum = in.u64();
    const uint64_t tables = in.u64();
    const uint64_t hashes = in.u64();
    if (m.page_size < 512 || m.page_size > 65536 || (m.page_size & (m.page_size - 1)) != 0)
        throw Error("manifest: bad page size");
    if (m.page_count > kMaxManifestPages || tables > kMaxManifestTables ||
        (hashes != 0 && hashes != m.page_count))
        throw Error("manifest: counts out of range");
    // Each table takes at least 12 bytes and each hash 8: refuse counts the
    // bytes cannot hold before allocating anything for them.
    if (tables * 12 + hashes * 8 > in.remaining()) throw Error("manifest: truncated");
    m.tables.reserve(static_cast<size_t>(tables));
    for (uint64_t i = 0; i < tables; ++i) {
        const uint32_t length = in.u32();
        if (length > kMaxTableNameBytes) throw Error("manifest: table name too long");
        TableCount t;
        t.name = std::string(in.bytes(length));
        t.rows = static_cast<int64_t>(in.u64());
        m.tables.push_back(std::move(t));
    }
    if (in.remaining() != hashes * 8) throw Error("manifest: wrong size");
    m.page_hashes.resize(static_cast<size_t>(hashes));
    for (auto& h : m.page_hashes)
        h = in.u64();
    return m;
}

ManifestHead parse_manifest_head(std::string_view head) {
    static_assert(kFixedBytes == kManifestHeadBytes);
    if (head.size() < kFixedBytes || std::memcmp(head.data(), kMagic, sizeof kMagic) != 0)
        throw Error("manifest: not a wecare_backup manifest");
    Reader in(head.substr(0, kFixedBytes));
    in.bytes(sizeof kMagic);
    ManifestHead h;
    h.page_size = in.u32();
    in.u32();
    h.page_count = in.u64();
    in.u64();
    const uint64_t tables = in.u64();
    const uint64_t hashes = in.u64();
    if (h.page_size < 512 || h.page_size > 65536 || (h.page_size & (h.page_size - 1)) != 0)
        throw Error("manifest: bad page size");
    if (h.page_count > kMaxManifestPages || tables > kMaxManifestTables ||
        (hashes != 0 && hashes != h.page_count))
        throw Error("manifest: counts out of range");
    h.min_bytes = kFixedBytes + tables * 12 + hashes * 8 + kTrailerBytes;
    // The names are the schema's, which the database's own pages hold.
    h.max_bytes = h.min_bytes + std::min<uint64_t>(tables * kMaxTableNameBytes, h.page_count * h.page_size);
    return h;
}

std::string manifest_id(std::string_view bytes) {
    if (bytes.size() < kTrailerBytes) return "";
    const auto* t = reinterpret_cast<const uint8_t*>(bytes.data() + bytes.size() - kTrailerBytes);
    return hex_lower(t, kTrailerBytes);
}

} // namespace wb
