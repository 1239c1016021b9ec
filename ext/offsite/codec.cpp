// The off-site stream codec: see codec.hpp for the format and the reasons behind it.
#include "offsite/codec.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

#include "policy/text.hpp"

namespace wb::offsite {

namespace {

constexpr uint8_t kMagic[4] = {'W', 'C', 'B', 'K'}; // then '1' or '2', then the version byte
constexpr size_t kLeadBytes = 6;                    // magic and version
// The fixed part of each version's header, lead included.
constexpr size_t kFixedHeaderBytesV1 = 5 + 1 + 1 + 1 + 1 + 4 + 8 + 8 + 1;
constexpr size_t kFixedHeaderBytesV2 = 5 + 1 + 1 + 1 + 1 + 4 + 8 + 8 + 8 + 1 + 1 + 1 + 1;
constexpr int kVarFieldsV2 = 4; // checksum, prefix, name, base
constexpr size_t kMacBytes = 32;
constexpr size_t kStreamHeaderBytes = crypto_secretstream_xchacha20poly1305_HEADERBYTES;
constexpr size_t kAuthBytes = crypto_secretstream_xchacha20poly1305_ABYTES;
constexpr size_t kHashBytes = 32;
constexpr uint8_t kTagData = 0;
constexpr uint8_t kTagFinal = 1;
constexpr size_t kReadBlock = size_t{256} * 1024;
constexpr int kMaxLevel = 19;
constexpr int kMaxWindowLog = 23; // 8 MiB: the window zstd level 19 needs
// The two subkeys of a version 2 stream (crypto_kdf: 8-byte context, ids).
constexpr char kKdfContext[crypto_kdf_CONTEXTBYTES + 1] = "wcbkoff2";
constexpr uint64_t kHeaderMacKeyId = 1;
constexpr uint64_t kStreamKeyId = 2;

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
    for (int i = 0; i < 4; ++i)
        out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_u64(std::vector<uint8_t>& out, uint64_t v) {
    for (int i = 0; i < 8; ++i)
        out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
uint32_t get_u32(const uint8_t* p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i)
        v = (v << 8) | p[i];
    return v;
}
uint64_t get_u64(const uint8_t* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i)
        v = (v << 8) | p[i];
    return v;
}

void put_i64(std::vector<uint8_t>& out, int64_t v) {
    put_u64(out, static_cast<uint64_t>(v));
}
int64_t get_i64(const uint8_t* p) {
    return static_cast<int64_t>(get_u64(p));
}

// A subkey of `key` for one purpose (version 2): the header MAC or the stream.
Key subkey(const Key& key, uint64_t id) {
    static_assert(kKeyBytes == crypto_kdf_KEYBYTES, "the key is a crypto_kdf master key");
    Key out;
    if (crypto_kdf_derive_from_key(out.data(), kKeyBytes, id, kKdfContext, key.data()) != 0)
        throw Error("cannot derive a subkey", ErrorKind::config);
    return out;
}

// The header MAC of version 2: keyed BLAKE2b-256 of the header bytes before it.
std::array<uint8_t, kMacBytes> header_mac(const Key& key, const std::vector<uint8_t>& header) {
    const Key mac_key = subkey(key, kHeaderMacKeyId);
    std::array<uint8_t, kMacBytes> mac{};
    crypto_generichash(mac.data(), mac.size(), header.data(), header.size(), mac_key.data(), kKeyBytes);
    return mac;
}

// The key the frames are sealed with: the key itself in version 1.
Key stream_key(const Key& key, uint8_t version) {
    return version == kLegacyFormatVersion ? key : subkey(key, kStreamKeyId);
}

std::array<uint8_t, 8> key_id_of(const Key& key) {
    ensure_sodium();
    static const char kContext[] = "wecare_backup offsite key id v1";
    uint8_t digest[crypto_generichash_BYTES_MIN];
    crypto_generichash(digest, sizeof digest, reinterpret_cast<const uint8_t*>(kContext), sizeof kContext - 1,
                       key.data(), kKeyBytes);
    std::array<uint8_t, 8> id{};
    std::copy(digest, digest + id.size(), id.begin());
    return id;
}

// The header up to (not including) the MAC and the secretstream header.
std::vector<uint8_t> serialize_header(const Header& h) {
    std::vector<uint8_t> out(kMagic, kMagic + sizeof kMagic);
    out.push_back(static_cast<uint8_t>('0' + h.version));
    out.push_back(h.version);
    out.push_back(static_cast<uint8_t>(h.compression));
    out.push_back(static_cast<uint8_t>(static_cast<int8_t>(h.level)));
    out.push_back(h.encrypted ? 1 : 0);
    put_u32(out, h.chunk_size);
    put_u64(out, h.original_size);
    out.insert(out.end(), h.key_id.begin(), h.key_id.end());
    if (h.version == kLegacyFormatVersion) {
        out.push_back(static_cast<uint8_t>(h.original_checksum.size()));
        out.insert(out.end(), h.original_checksum.begin(), h.original_checksum.end());
        return out;
    }
    put_i64(out, h.created_ns);
    out.push_back(static_cast<uint8_t>(h.original_checksum.size()));
    out.push_back(static_cast<uint8_t>(h.prefix.size()));
    out.push_back(static_cast<uint8_t>(h.name.size()));
    out.push_back(static_cast<uint8_t>(h.base.size()));
    for (const std::string* field : {&h.original_checksum, &h.prefix, &h.name, &h.base})
        out.insert(out.end(), field->begin(), field->end());
    return out;
}

// Whether a header names the object the caller expects; throws tampered if not.
void check_identity(const Header& h, const Expected& expected) {
    if (expected.any_identity || h.version == kLegacyFormatVersion) return;
    // Without a key the claim is anyone's text: shown only as printable UTF-8.
    auto claim = [&] {
        return "it says it is '" + printable_utf8(h.name) + "' of the database prefix '" +
               printable_utf8(h.prefix) + "', created at " + std::to_string(h.created_ns) + " ns" +
               (h.base.empty() ? std::string(", a full backup")
                               : ", building on '" + printable_utf8(h.base) + "'");
    };
    if (h.name != expected.name || h.prefix != expected.prefix)
        throw Error("tampered: the off-site object is not '" + expected.name + "' of the database prefix '" +
                        expected.prefix + "' (" + claim() + "): it was renamed or replayed",
                    ErrorKind::tampered);
    if (expected.created_ns && *expected.created_ns != h.created_ns)
        throw Error("tampered: the off-site object '" + expected.name + "' was not created at " +
                        std::to_string(*expected.created_ns) + " ns as recorded (" + claim() +
                        "): an older copy was put under its name",
                    ErrorKind::tampered);
    if (expected.base && *expected.base != h.base)
        throw Error("tampered: the off-site object '" + expected.name + "' is not " +
                        (expected.base->empty() ? std::string("a full backup")
                                                : "an increment on '" + *expected.base + "'") +
                        " as recorded (" + claim() + "): it was replaced by another object of that name",
                    ErrorKind::tampered);
}

void validate_level(Compression compression, int level) {
    if (compression == Compression::none && level != 0)
        throw Error("compression 'none' takes no level (got " + std::to_string(level) + ")",
                    ErrorKind::config);
    if (compression == Compression::zstd && (level < 1 || level > kMaxLevel))
        throw Error("zstd level must be between 1 and " + std::to_string(kMaxLevel) + " (got " +
                        std::to_string(level) + ")",
                    ErrorKind::config);
}

struct ZstdCCtxDeleter {
    void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct ZstdDCtxDeleter {
    void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

void check_zstd(size_t rc, const char* what) {
    if (ZSTD_isError(rc)) throw Error(std::string(what) + ": " + ZSTD_getErrorName(rc), ErrorKind::config);
}

// Cuts the payload into chunk-sized frames and seals each one.
class FrameWriter {
  public:
    FrameWriter(const Header& header, const std::optional<Key>& key, const Sink& sink)
        : sink_(sink), encrypted_(key.has_value()), header_bytes_(serialize_header(header)) {
        chunk_.reserve(header.chunk_size);
        chunk_size_ = header.chunk_size;
        if (encrypted_ && header.version != kLegacyFormatVersion) {
            const auto mac = header_mac(*key, header_bytes_);
            header_bytes_.insert(header_bytes_.end(), mac.begin(), mac.end());
        }
        emit(header_bytes_.data(), header_bytes_.size());
        if (encrypted_) {
            uint8_t stream_header[kStreamHeaderBytes];
            const Key sealing = stream_key(*key, header.version);
            crypto_secretstream_xchacha20poly1305_init_push(&push_, stream_header, sealing.data());
            emit(stream_header, sizeof stream_header);
            sealed_.resize(chunk_size_ + kAuthBytes);
        } else {
            crypto_generichash_init(&hash_, nullptr, 0, kHashBytes);
            hash(header_bytes_.data(), header_bytes_.size());
        }
    }
    ~FrameWriter() { sodium_memzero(&push_, sizeof push_); }

    void add(const uint8_t* data, size_t size) {
        while (size > 0) {
            size_t take = std::min(size, chunk_size_ - chunk_.size());
            chunk_.insert(chunk_.end(), data, data + take);
            data += take;
            size -= take;
            if (chunk_.size() == chunk_size_) {
                frame(false);
                chunk_.clear();
            }
        }
    }
    void finish() { frame(true); }
    uint64_t written() const { return written_; }

  private:
    void emit(const uint8_t* data, size_t size) {
        sink_(data, size);
        written_ += size;
    }
    void hash(const uint8_t* data, size_t size) { crypto_generichash_update(&hash_, data, size); }
    void frame(bool final) {
        std::vector<uint8_t> length;
        if (encrypted_) {
            unsigned long long sealed_size = 0;
            uint8_t tag = final ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
                                : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
            crypto_secretstream_xchacha20poly1305_push(&push_, sealed_.data(), &sealed_size, chunk_.data(),
                                                       chunk_.size(), header_bytes_.data(),
                                                       header_bytes_.size(), tag);
            put_u32(length, static_cast<uint32_t>(sealed_size));
            emit(length.data(), length.size());
            emit(sealed_.data(), static_cast<size_t>(sealed_size));
            return;
        }
        uint8_t tag = final ? kTagFinal : kTagData;
        put_u32(length, static_cast<uint32_t>(1 + chunk_.size() + (final ? kHashBytes : 0)));
        hash(length.data(), length.size());
        hash(&tag, 1);
        hash(chunk_.data(), chunk_.size());
        emit(length.data(), length.size());
        emit(&tag, 1);
        emit(chunk_.data(), chunk_.size());
        if (final) {
            uint8_t digest[kHashBytes];
            crypto_generichash_final(&hash_, digest, sizeof digest);
            emit(digest, sizeof digest);
        }
    }

    const Sink& sink_;
    bool encrypted_;
    std::vector<uint8_t> header_bytes_;
    size_t chunk_size_ = 0;
    std::vector<uint8_t> chunk_;
    std::vector<uint8_t> sealed_;
    crypto_secretstream_xchacha20poly1305_state push_{};
    crypto_generichash_state hash_{};
    uint64_t written_ = 0;
};

} // namespace

// ---------------------------------------------------------------- keys

void ensure_sodium() {
    static const int ready = sodium_init();
    if (ready < 0) throw Error("cannot initialise libsodium", ErrorKind::config);
}

Key::Key(const uint8_t (&bytes)[kKeyBytes]) {
    std::copy(bytes, bytes + kKeyBytes, bytes_.begin());
}

Key::~Key() {
    sodium_memzero(bytes_.data(), bytes_.size());
}

std::string Key::id_hex() const {
    auto id = key_id_of(*this);
    return hex_lower(id.data(), id.size());
}

// ---------------------------------------------------------------- encoder

EncodeResult encode_stream(const Source& source, uint64_t original_size, const EncodeOptions& options,
                           const Sink& sink) {
    ensure_sodium();
    if (options.compression != Compression::none && options.compression != Compression::zstd)
        throw Error("unknown compression", ErrorKind::config);
    validate_level(options.compression, options.level);
    if (options.require_encryption && !options.key)
        throw Error("encryption is required but no key was given", ErrorKind::config);
    if (options.chunk_size < kMinChunkSize || options.chunk_size > kMaxChunkSize)
        throw Error("chunk size must be between 4 KiB and 4 MiB (got " + std::to_string(options.chunk_size) +
                        ")",
                    ErrorKind::config);
    if (options.original_checksum.size() > kMaxHeaderField)
        throw Error("checksum string longer than 255 bytes", ErrorKind::config);
    if (options.format_version != kFormatVersion && options.format_version != kLegacyFormatVersion)
        throw Error("unknown format version " + std::to_string(options.format_version), ErrorKind::config);
    if (options.format_version == kFormatVersion) {
        if (options.name.empty() || options.name.size() > kMaxHeaderField ||
            options.prefix.size() > kMaxHeaderField || options.base.size() > kMaxHeaderField)
            throw Error("an off-site object needs its backup's name (1 to 255 bytes), a prefix and a base "
                        "of at most 255 bytes",
                        ErrorKind::config);
    }

    EncodeResult result;
    Header& h = result.header;
    h.version = options.format_version;
    if (h.version == kFormatVersion) {
        h.name = options.name;
        h.prefix = options.prefix;
        h.created_ns = options.created_ns;
        h.base = options.base;
    }
    h.compression = options.compression;
    h.level = options.level;
    h.encrypted = options.key.has_value();
    h.chunk_size = options.chunk_size;
    h.original_size = original_size;
    if (options.key) h.key_id = key_id_of(*options.key);
    h.original_checksum = options.original_checksum;

    std::unique_ptr<ZSTD_CCtx, ZstdCCtxDeleter> cctx;
    std::vector<uint8_t> zout;
    if (h.compression == Compression::zstd) {
        cctx.reset(ZSTD_createCCtx());
        if (!cctx) throw std::bad_alloc();
        check_zstd(ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, h.level), "zstd level");
        check_zstd(ZSTD_CCtx_setPledgedSrcSize(cctx.get(), original_size), "zstd size");
        zout.resize(ZSTD_CStreamOutSize());
    }

    FrameWriter writer(h, options.key, sink);
    auto compress = [&](const uint8_t* data, size_t size, ZSTD_EndDirective mode) {
        ZSTD_inBuffer in{data, size, 0};
        for (;;) {
            ZSTD_outBuffer out{zout.data(), zout.size(), 0};
            size_t remaining = ZSTD_compressStream2(cctx.get(), &out, &in, mode);
            check_zstd(remaining, "zstd compression failed");
            writer.add(zout.data(), out.pos);
            bool done = mode == ZSTD_e_end ? remaining == 0 : in.pos == in.size;
            if (done) break;
        }
    };

    std::vector<uint8_t> block(kReadBlock);
    uint64_t total = 0;
    for (;;) {
        size_t n = source(block.data(), block.size());
        if (n == 0) break;
        total += n;
        if (total > original_size)
            throw Error("input is larger than its announced size " + std::to_string(original_size) +
                            " (changed while reading?)",
                        ErrorKind::io);
        if (cctx)
            compress(block.data(), n, ZSTD_e_continue);
        else
            writer.add(block.data(), n);
    }
    if (total != original_size)
        throw Error("input has " + std::to_string(total) + " bytes, expected " +
                        std::to_string(original_size) + " (changed while reading?)",
                    ErrorKind::io);
    if (cctx) compress(nullptr, 0, ZSTD_e_end);
    writer.finish();
    result.encoded_size = writer.written();
    return result;
}

// ---------------------------------------------------------------- decoder

struct Decoder::State {
    enum class Stage { lead, fixed_header, var_header, frame_length, frame_body, done };

    std::optional<Key> key;
    Sink sink;
    Expected expected;
    bool header_only = false; // read_header: stop once the header is checked
    Stage stage = Stage::lead;
    std::vector<uint8_t> buffer;
    size_t need = kLeadBytes;
    std::optional<Header> header;
    std::vector<uint8_t> header_bytes;               // the frames' additional data
    size_t var_lengths[kVarFieldsV2] = {0, 0, 0, 0}; // checksum, prefix, name, base
    crypto_secretstream_xchacha20poly1305_state pull{};
    crypto_generichash_state hash{};
    std::unique_ptr<ZSTD_DCtx, ZstdDCtxDeleter> dctx;
    bool zstd_done = false;
    std::vector<uint8_t> zout;
    std::vector<uint8_t> plain;
    uint64_t output_total = 0;
    uint64_t fed = 0;
    uint64_t frame_index = 0;

    ~State() { sodium_memzero(&pull, sizeof pull); }

    [[noreturn]] void tampered(const std::string& what) const {
        throw Error(what + " (chunk " + std::to_string(frame_index) + ")", ErrorKind::tampered);
    }

    bool header_checked() const {
        return stage == Stage::frame_length || stage == Stage::frame_body || stage == Stage::done;
    }

    void feed(const uint8_t* data, size_t size) {
        fed += size;
        while (size > 0) {
            if (header_only && header_checked()) return;
            if (stage == Stage::done)
                throw Error("unexpected data after the end of the stream", ErrorKind::trailing_data);
            size_t take = std::min(size, need - buffer.size());
            buffer.insert(buffer.end(), data, data + take);
            data += take;
            size -= take;
            while (stage != Stage::done && buffer.size() == need && !(header_only && header_checked()))
                step();
        }
    }

    void step() {
        switch (stage) {
        case Stage::lead:
            read_lead();
            break;
        case Stage::fixed_header:
            read_fixed_header();
            break;
        case Stage::var_header:
            read_var_header();
            break;
        case Stage::frame_length:
            read_frame_length();
            break;
        case Stage::frame_body:
            read_frame_body();
            break;
        case Stage::done:
            break;
        }
    }

    void expect(Stage next, size_t bytes) {
        buffer.clear();
        stage = next;
        need = bytes;
    }

    void read_lead() {
        const uint8_t* p = buffer.data();
        if (std::memcmp(p, kMagic, sizeof kMagic) != 0)
            throw Error("not a wecare_backup off-site stream (bad magic)", ErrorKind::format);
        const uint8_t version = p[5];
        if (version != kFormatVersion && version != kLegacyFormatVersion)
            throw Error("unsupported off-site format version " + std::to_string(version) +
                            " (this build reads versions 1 and 2); upgrade wecare_backup",
                        ErrorKind::format);
        if (p[4] != '0' + version) throw Error("corrupt header (version)", ErrorKind::format);
        if (version == kLegacyFormatVersion && !expected.accept_version1)
            throw Error("the off-site object was written by wecare_backup 1.0.0 (format 1), which does not "
                        "record which backup it is: it cannot be told from an older copy put under this "
                        "name, so it is not trusted",
                        ErrorKind::format);
        Header h;
        h.version = version;
        header = h;
        header_bytes = buffer;
        need = version == kLegacyFormatVersion ? kFixedHeaderBytesV1 : kFixedHeaderBytesV2;
        stage = Stage::fixed_header;
        // The lead stays in `buffer`: the fixed header is read from its start.
    }

    void read_fixed_header() {
        const uint8_t* p = buffer.data();
        Header& h = *header;
        if (p[6] > static_cast<uint8_t>(Compression::zstd))
            throw Error("unknown compression " + std::to_string(p[6]), ErrorKind::format);
        h.compression = static_cast<Compression>(p[6]);
        h.level = p[7] < 128 ? int{p[7]} : int{p[7]} - 256; // stored as int8
        if (p[8] > 1) throw Error("corrupt header (encryption flag)", ErrorKind::format);
        h.encrypted = p[8] == 1;
        h.chunk_size = get_u32(p + 9);
        h.original_size = get_u64(p + 13);
        std::copy(p + 21, p + 29, h.key_id.begin());
        size_t var = 0;
        if (h.version == kLegacyFormatVersion) {
            var_lengths[0] = p[29];
            var = var_lengths[0];
        } else {
            h.created_ns = get_i64(p + 29);
            for (int i = 0; i < kVarFieldsV2; ++i) {
                var_lengths[i] = p[37 + i];
                var += var_lengths[i];
            }
            if (var_lengths[2] == 0) throw Error("corrupt header (no name)", ErrorKind::format);
        }
        try {
            validate_level(h.compression, h.level);
        } catch (const Error& e) {
            throw Error(std::string("corrupt header: ") + e.what(), ErrorKind::format);
        }
        if (h.chunk_size < kMinChunkSize || h.chunk_size > kMaxChunkSize)
            throw Error("corrupt header (chunk size)", ErrorKind::format);
        if (h.encrypted && !key)
            throw Error("the data is encrypted; a key is needed to read it", ErrorKind::config);
        if (!h.encrypted && key)
            throw Error("the data is not encrypted but a key was given; refusing a possibly "
                        "replaced copy",
                        ErrorKind::config);
        header_bytes = buffer;
        size_t sealed = 0;
        if (h.encrypted) sealed = kStreamHeaderBytes + (h.version == kLegacyFormatVersion ? 0 : kMacBytes);
        expect(Stage::var_header, var + sealed);
    }

    void read_var_header() {
        Header& h = *header;
        const uint8_t* p = buffer.data();
        std::string* fields[kVarFieldsV2] = {&h.original_checksum, &h.prefix, &h.name, &h.base};
        size_t at = 0;
        for (int i = 0; i < kVarFieldsV2; ++i) {
            fields[i]->assign(reinterpret_cast<const char*>(p + at), var_lengths[i]);
            at += var_lengths[i];
        }
        header_bytes.insert(header_bytes.end(), p, p + at);
        if (h.encrypted) {
            auto expected_id = key_id_of(*key);
            if (expected_id != h.key_id)
                throw Error("wrong key: the data was encrypted with key id " +
                                hex_lower(h.key_id.data(), h.key_id.size()) + ", the given key has id " +
                                hex_lower(expected_id.data(), expected_id.size()),
                            ErrorKind::wrong_key);
            if (h.version != kLegacyFormatVersion) {
                const auto mac = header_mac(*key, header_bytes);
                if (sodium_memcmp(mac.data(), p + at, kMacBytes) != 0)
                    throw Error("tampered: the off-site object's header does not authenticate under the key",
                                ErrorKind::tampered);
                header_bytes.insert(header_bytes.end(), p + at, p + at + kMacBytes);
                at += kMacBytes;
            }
        }
        check_identity(h, expected);
        if (header_only) {
            expect(Stage::frame_length, 4);
            return;
        }
        if (h.encrypted) {
            const Key sealing = stream_key(*key, h.version);
            if (crypto_secretstream_xchacha20poly1305_init_pull(&pull, p + at, sealing.data()) != 0)
                tampered("wrong key or tampered data");
            plain.resize(h.chunk_size);
        } else {
            crypto_generichash_init(&hash, nullptr, 0, kHashBytes);
            crypto_generichash_update(&hash, header_bytes.data(), header_bytes.size());
        }
        if (h.compression == Compression::zstd) {
            dctx.reset(ZSTD_createDCtx());
            if (!dctx) throw std::bad_alloc();
            check_zstd(ZSTD_DCtx_setParameter(dctx.get(), ZSTD_d_windowLogMax, kMaxWindowLog), "zstd window");
            zout.resize(ZSTD_DStreamOutSize());
        }
        buffer.reserve(h.chunk_size + kAuthBytes + kHashBytes + 1);
        expect(Stage::frame_length, 4);
    }

    void read_frame_length() {
        const Header& h = *header;
        uint32_t length = get_u32(buffer.data());
        size_t low = h.encrypted ? kAuthBytes : 1;
        size_t high = h.encrypted ? h.chunk_size + kAuthBytes : 1 + h.chunk_size + kHashBytes;
        if (length < low || length > high) tampered("corrupt or tampered data (impossible chunk length)");
        if (!h.encrypted) crypto_generichash_update(&hash, buffer.data(), buffer.size());
        expect(Stage::frame_body, length);
    }

    void read_frame_body() {
        const Header& h = *header;
        bool final = false;
        const uint8_t* payload = nullptr;
        size_t payload_size = 0;
        if (h.encrypted) {
            unsigned long long plain_size = 0;
            uint8_t tag = 0;
            if (crypto_secretstream_xchacha20poly1305_pull(&pull, plain.data(), &plain_size, &tag,
                                                           buffer.data(), buffer.size(), header_bytes.data(),
                                                           header_bytes.size()) != 0)
                tampered("wrong key or tampered data");
            if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL)
                final = true;
            else if (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE)
                tampered("tampered data (unexpected chunk tag)");
            payload = plain.data();
            payload_size = static_cast<size_t>(plain_size);
        } else {
            uint8_t tag = buffer[0];
            if (tag == kTagFinal) {
                if (buffer.size() < 1 + kHashBytes) tampered("corrupt or tampered data (short final chunk)");
                final = true;
                payload_size = buffer.size() - 1 - kHashBytes;
                crypto_generichash_update(&hash, buffer.data(), 1 + payload_size);
                uint8_t digest[kHashBytes];
                crypto_generichash_final(&hash, digest, sizeof digest);
                if (sodium_memcmp(digest, buffer.data() + 1 + payload_size, kHashBytes) != 0)
                    tampered("corrupt or tampered data (hash mismatch)");
            } else if (tag == kTagData) {
                payload_size = buffer.size() - 1;
                crypto_generichash_update(&hash, buffer.data(), buffer.size());
            } else {
                tampered("corrupt or tampered data (unknown chunk tag)");
            }
            payload = buffer.data() + 1;
        }
        if (h.compression == Compression::zstd)
            decompress(payload, payload_size);
        else
            deliver(payload, payload_size);
        ++frame_index;
        if (!final) {
            expect(Stage::frame_length, 4);
            return;
        }
        if (h.compression == Compression::zstd && !zstd_done)
            tampered("corrupt data (compressed stream incomplete)");
        if (output_total != h.original_size)
            tampered("corrupt data (" + std::to_string(output_total) + " bytes decoded, header says " +
                     std::to_string(h.original_size) + ")");
        expect(Stage::done, 0);
    }

    void decompress(const uint8_t* data, size_t size) {
        ZSTD_inBuffer in{data, size, 0};
        while (in.pos < in.size) {
            if (zstd_done) tampered("corrupt data (bytes after the compressed stream)");
            ZSTD_outBuffer out{zout.data(), zout.size(), 0};
            size_t rc = ZSTD_decompressStream(dctx.get(), &out, &in);
            if (ZSTD_isError(rc)) tampered(std::string("corrupt compressed data: ") + ZSTD_getErrorName(rc));
            deliver(zout.data(), out.pos);
            if (rc == 0) zstd_done = true;
            // A full output buffer may hide more output: flush it before leaving.
            while (!zstd_done && in.pos == in.size && out.pos == out.size) {
                out = ZSTD_outBuffer{zout.data(), zout.size(), 0};
                rc = ZSTD_decompressStream(dctx.get(), &out, &in);
                if (ZSTD_isError(rc))
                    tampered(std::string("corrupt compressed data: ") + ZSTD_getErrorName(rc));
                deliver(zout.data(), out.pos);
                if (rc == 0) zstd_done = true;
            }
        }
    }

    void deliver(const uint8_t* data, size_t size) {
        if (size == 0) return;
        output_total += size;
        if (output_total > header->original_size)
            tampered("corrupt data (more bytes than the header's original size)");
        sink(data, size);
    }
};

Decoder::Decoder(std::optional<Key> key, Sink sink, Expected expected) : state_(std::make_unique<State>()) {
    ensure_sodium();
    state_->key = std::move(key);
    state_->sink = std::move(sink);
    state_->expected = std::move(expected);
    state_->buffer.reserve(kFixedHeaderBytesV2);
}

Decoder::~Decoder() = default;

void Decoder::feed(const uint8_t* data, size_t size) {
    state_->feed(data, size);
}

DecodeResult Decoder::finish() {
    if (state_->stage != State::Stage::done) {
        std::string where =
            state_->header ? "after " + std::to_string(state_->frame_index) + " chunks" : "in the header";
        throw Error("truncated data: the stream ends " + where + " without its final chunk",
                    ErrorKind::truncated);
    }
    DecodeResult result;
    result.header = *state_->header;
    result.encoded_size = state_->fed;
    return result;
}

Header read_header(const uint8_t* data, size_t size, const std::optional<Key>& key,
                   const Expected& expected) {
    Decoder decoder(
        key, [](const uint8_t*, size_t) {}, expected);
    decoder.state_->header_only = true;
    decoder.feed(data, size);
    if (!decoder.state_->header_checked())
        throw Error("truncated data: the stream ends in the header", ErrorKind::truncated);
    return *decoder.state_->header;
}

} // namespace wb::offsite
