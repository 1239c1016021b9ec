// Unit tests of ext/offsite: the codec, key files, the directory target and
// the S3 client.
//
// The S3 tests need a server: tests/offsite/run.sh starts moto and sets
// WECARE_S3_ENDPOINT and WECARE_S3_BUCKET; without them those tests skip.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sodium.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "offsite/codec.hpp"
#include "offsite/dir_target.hpp"
#include "offsite/key.hpp"
#include "offsite/s3_client.hpp"

using namespace wb;
using namespace wb::offsite;
using Bytes = std::vector<uint8_t>;

namespace {

Bytes random_bytes(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    Bytes b(n);
    for (auto& x : b)
        x = static_cast<uint8_t>(rng());
    return b;
}

// Half random, half repetitive: exercises both compressible and not.
Bytes mixed_bytes(size_t n, uint32_t seed) {
    Bytes b = random_bytes(n, seed);
    for (size_t i = 0; i < n; ++i)
        if ((i / 1000) % 2 == 1) b[i] = static_cast<uint8_t>("wecare backup page "[i % 19]);
    return b;
}

Key test_key(uint8_t fill) {
    Key k;
    for (size_t i = 0; i < kKeyBytes; ++i)
        k.data()[i] = static_cast<uint8_t>(fill + i);
    return k;
}

// The backup every stream of these tests claims to be, unless a test says otherwise.
const char* const kName = "app_backup_2026-11-26_02-15-00.db";
const char* const kPrefix = "app";
constexpr int64_t kCreatedNs = 1795683300123456789;

Expected expected_identity() {
    Expected e;
    e.name = kName;
    e.prefix = kPrefix;
    e.created_ns = kCreatedNs;
    return e;
}

Bytes encode(const Bytes& input, EncodeOptions opt) {
    if (opt.name.empty() && opt.format_version == kFormatVersion) {
        opt.name = kName;
        opt.prefix = kPrefix;
        opt.created_ns = kCreatedNs;
    }
    Bytes out;
    size_t pos = 0;
    Source src = [&](uint8_t* buf, size_t cap) {
        size_t n = std::min(cap, input.size() - pos);
        std::copy(input.begin() + static_cast<long>(pos), input.begin() + static_cast<long>(pos + n), buf);
        pos += n;
        return n;
    };
    EncodeResult r = encode_stream(src, input.size(), opt,
                                   [&](const uint8_t* p, size_t n) { out.insert(out.end(), p, p + n); });
    EXPECT_EQ(r.encoded_size, out.size());
    return out;
}

Bytes decode(const Bytes& encoded, std::optional<Key> key, size_t piece = 0, DecodeResult* result = nullptr,
             const Expected& expected = expected_identity()) {
    Bytes out;
    Decoder dec(
        std::move(key), [&](const uint8_t* p, size_t n) { out.insert(out.end(), p, p + n); }, expected);
    if (piece == 0) {
        dec.feed(encoded.data(), encoded.size());
    } else {
        for (size_t at = 0; at < encoded.size(); at += piece)
            dec.feed(encoded.data() + at, std::min(piece, encoded.size() - at));
    }
    DecodeResult r = dec.finish();
    if (result) *result = r;
    return out;
}

ErrorKind decode_error_kind(const Bytes& encoded, std::optional<Key> key, std::string* message = nullptr,
                            const Expected& expected = expected_identity()) {
    try {
        decode(encoded, std::move(key), 0, nullptr, expected);
    } catch (const Error& e) {
        if (message) *message = e.what();
        return e.kind();
    }
    ADD_FAILURE() << "decoding succeeded but should have failed";
    return ErrorKind::config;
}

class TempDir {
  public:
    TempDir() {
        char tmpl[] = "/tmp/wecare_offsite_test.XXXXXX";
        path_ = mkdtemp(tmpl);
    }
    ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
    const std::string& path() const { return path_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

  private:
    std::string path_;
};

void write_file(const std::string& path, const std::string& content, mode_t mode = 0600) {
    std::ofstream(path, std::ios::binary) << content;
    ::chmod(path.c_str(), mode);
}

size_t count_entries(const std::string& dir) {
    size_t n = 0;
    for (const char* pattern : {"/*", "/.[!.]*"}) {
        std::string cmd = "ls -d " + dir + pattern + " 2>/dev/null | wc -l";
        FILE* p = popen(cmd.c_str(), "r");
        char buf[32] = {0};
        if (fgets(buf, sizeof buf, p)) n += std::strtoul(buf, nullptr, 10);
        pclose(p);
    }
    return n;
}

} // namespace

// ------------------------------------------------------------------ codec

struct RoundTripCase {
    Compression compression;
    int level;
    bool encrypted;
    size_t size;
};

class CodecRoundTrip : public ::testing::TestWithParam<RoundTripCase> {};

TEST_P(CodecRoundTrip, decoded_bytes_equal_the_original) {
    const RoundTripCase& c = GetParam();
    Bytes input = mixed_bytes(c.size, static_cast<uint32_t>(c.size));
    EncodeOptions opt;
    opt.compression = c.compression;
    opt.level = c.level;
    opt.chunk_size = kMinChunkSize; // many chunks even for small inputs
    opt.original_checksum = "xxh3t:0123456789abcdef0123456789abcdef";
    std::optional<Key> key;
    if (c.encrypted) key = opt.key = test_key(1);
    Bytes encoded = encode(input, opt);

    DecodeResult result;
    EXPECT_EQ(decode(encoded, key, 0, &result), input);
    EXPECT_EQ(result.header.original_size, input.size());
    EXPECT_EQ(result.header.original_checksum, opt.original_checksum);
    EXPECT_EQ(result.header.encrypted, c.encrypted);
    EXPECT_EQ(result.header.compression, c.compression);
    EXPECT_EQ(result.encoded_size, encoded.size());
    // Arbitrary piece boundaries (as an HTTP download gives them).
    EXPECT_EQ(decode(encoded, key, 7), input);
    EXPECT_EQ(decode(encoded, key, 4099), input);
}

INSTANTIATE_TEST_SUITE_P(
    AllModes, CodecRoundTrip,
    ::testing::Values(
        RoundTripCase{Compression::none, 0, false, 0}, RoundTripCase{Compression::none, 0, true, 0},
        RoundTripCase{Compression::zstd, 3, false, 0}, RoundTripCase{Compression::zstd, 3, true, 0},
        RoundTripCase{Compression::none, 0, false, 1}, RoundTripCase{Compression::none, 0, true, 1},
        RoundTripCase{Compression::zstd, 1, false, 1}, RoundTripCase{Compression::zstd, 19, true, 1},
        RoundTripCase{Compression::none, 0, false, 4096}, RoundTripCase{Compression::none, 0, true, 4096},
        RoundTripCase{Compression::none, 0, true, 4097}, RoundTripCase{Compression::none, 0, false, 3 * 4096},
        RoundTripCase{Compression::none, 0, true, 3 * 4096 + 17},
        RoundTripCase{Compression::zstd, 3, false, 3 * 4096 + 17},
        RoundTripCase{Compression::zstd, 3, true, 200000}, RoundTripCase{Compression::zstd, 9, true, 1000003},
        RoundTripCase{Compression::none, 0, true, 1000003}));

TEST(Codec, large_input_with_default_chunks_round_trips) {
    Bytes input = mixed_bytes(5 * 1024 * 1024 + 123, 42);
    EncodeOptions opt;
    opt.key = test_key(9);
    const Bytes encoded = encode(input, opt);
    DecodeResult r;
    EXPECT_EQ(decode(encoded, test_key(9), 0, &r), input);
    EXPECT_EQ(r.header.chunk_size, kDefaultChunkSize);
    EXPECT_LT(encoded.size(), input.size()); // compressed
}

TEST(Codec, encrypted_stream_does_not_contain_the_plaintext) {
    std::string marker = "PLAINTEXT-MARKER-0123456789";
    std::string text;
    for (int i = 0; i < 2000; ++i)
        text += marker;
    Bytes input(text.begin(), text.end());
    EncodeOptions opt;
    opt.compression = Compression::none;
    opt.level = 0;
    opt.key = test_key(5);
    Bytes encoded = encode(input, opt);
    std::string as_text(encoded.begin(), encoded.end());
    EXPECT_EQ(as_text.find(marker), std::string::npos);
    EXPECT_EQ(as_text.compare(0, 5, "WCBK2"), 0);
}

TEST(Codec, wrong_key_is_reported_as_wrong_key) {
    EncodeOptions opt;
    opt.key = test_key(1);
    Bytes encoded = encode(random_bytes(10000, 1), opt);
    std::string message;
    EXPECT_EQ(decode_error_kind(encoded, test_key(2), &message), ErrorKind::wrong_key);
    EXPECT_NE(message.find("wrong key"), std::string::npos) << message;
}

TEST(Codec, encrypted_stream_without_key_and_plain_stream_with_key_are_refused) {
    EncodeOptions opt;
    opt.key = test_key(1);
    Bytes encrypted = encode(random_bytes(100, 1), opt);
    std::string message;
    EXPECT_EQ(decode_error_kind(encrypted, std::nullopt, &message), ErrorKind::config);
    EXPECT_NE(message.find("key is needed"), std::string::npos) << message;
    opt.key.reset();
    Bytes plain = encode(random_bytes(100, 1), opt);
    EXPECT_EQ(decode_error_kind(plain, test_key(1), &message), ErrorKind::config);
    EXPECT_NE(message.find("not encrypted"), std::string::npos) << message;
}

class CodecTamper : public ::testing::TestWithParam<std::tuple<Compression, bool>> {};

TEST_P(CodecTamper, every_flipped_byte_is_detected) {
    auto [compression, encrypted] = GetParam();
    EncodeOptions opt;
    opt.compression = compression;
    opt.level = compression == Compression::zstd ? 3 : 0;
    opt.chunk_size = kMinChunkSize;
    opt.original_checksum = "xxh3t:abc";
    std::optional<Key> key;
    if (encrypted) key = opt.key = test_key(7);
    Bytes encoded = encode(mixed_bytes(9000, 11), opt); // 3+ chunks
    for (size_t i = 0; i < encoded.size(); ++i) {
        for (uint8_t mask : {0x01, 0x80}) {
            Bytes bad = encoded;
            bad[i] ^= mask;
            EXPECT_THROW(decode(bad, key), Error) << "byte " << i << " mask " << int(mask);
        }
    }
}

TEST_P(CodecTamper, every_truncation_is_reported_as_truncated) {
    auto [compression, encrypted] = GetParam();
    EncodeOptions opt;
    opt.compression = compression;
    opt.level = compression == Compression::zstd ? 3 : 0;
    opt.chunk_size = kMinChunkSize;
    std::optional<Key> key;
    if (encrypted) key = opt.key = test_key(7);
    Bytes encoded = encode(mixed_bytes(9000, 12), opt);
    for (size_t len = 0; len < encoded.size(); ++len) {
        Bytes cut(encoded.begin(), encoded.begin() + static_cast<long>(len));
        std::string message;
        ASSERT_EQ(decode_error_kind(cut, key, &message), ErrorKind::truncated) << "length " << len;
        ASSERT_NE(message.find("truncated"), std::string::npos);
    }
}

TEST_P(CodecTamper, trailing_garbage_is_refused) {
    auto [compression, encrypted] = GetParam();
    EncodeOptions opt;
    opt.compression = compression;
    opt.level = compression == Compression::zstd ? 3 : 0;
    std::optional<Key> key;
    if (encrypted) key = opt.key = test_key(7);
    Bytes encoded = encode(mixed_bytes(5000, 13), opt);
    Bytes one_more = encoded;
    one_more.push_back(0);
    EXPECT_EQ(decode_error_kind(one_more, key), ErrorKind::trailing_data);
    Bytes twice = encoded;
    twice.insert(twice.end(), encoded.begin(), encoded.end());
    EXPECT_EQ(decode_error_kind(twice, key), ErrorKind::trailing_data);
}

INSTANTIATE_TEST_SUITE_P(AllModes, CodecTamper,
                         ::testing::Combine(::testing::Values(Compression::none, Compression::zstd),
                                            ::testing::Bool()));

TEST(Codec, unknown_version_and_foreign_data_are_refused) {
    EncodeOptions opt;
    Bytes encoded = encode(random_bytes(100, 1), opt);
    Bytes v3 = encoded;
    v3[4] = '3';
    v3[5] = 3;
    std::string message;
    EXPECT_EQ(decode_error_kind(v3, std::nullopt, &message), ErrorKind::format);
    EXPECT_NE(message.find("unsupported off-site format version 3"), std::string::npos) << message;
    Bytes mixed = encoded; // "WCBK2" with version byte 1
    mixed[5] = 1;
    EXPECT_EQ(decode_error_kind(mixed, std::nullopt, nullptr, Expected::any()), ErrorKind::format);
    Bytes sqlite(100, 0);
    std::string magic = "SQLite format 3";
    std::copy(magic.begin(), magic.end(), sqlite.begin());
    EXPECT_EQ(decode_error_kind(sqlite, std::nullopt, &message), ErrorKind::format);
    EXPECT_NE(message.find("not a wecare_backup off-site stream"), std::string::npos) << message;
}

// ------------------------------------------------------------------ format 2: which backup an object is

namespace {

Bytes encode_as(const Bytes& input, const std::optional<Key>& key, const std::string& name,
                const std::string& prefix, int64_t created_ns, Compression compression = Compression::zstd) {
    EncodeOptions opt;
    opt.compression = compression;
    opt.level = compression == Compression::zstd ? 3 : 0;
    opt.chunk_size = kMinChunkSize;
    opt.key = key;
    opt.name = name;
    opt.prefix = prefix;
    opt.created_ns = created_ns;
    opt.original_checksum = "xxh3t:" + name;
    return encode(input, opt);
}

Expected identity_of(const std::string& name, const std::string& prefix, std::optional<int64_t> created_ns) {
    Expected e;
    e.name = name;
    e.prefix = prefix;
    e.created_ns = created_ns;
    return e;
}

} // namespace

TEST(CodecV2, the_header_carries_name_prefix_and_creation_time) {
    const Bytes input = mixed_bytes(10000, 3);
    const Bytes encoded = encode_as(input, test_key(1), kName, kPrefix, kCreatedNs);
    DecodeResult r;
    EXPECT_EQ(decode(encoded, test_key(1), 0, &r), input);
    EXPECT_EQ(r.header.version, kFormatVersion);
    EXPECT_EQ(r.header.name, kName);
    EXPECT_EQ(r.header.prefix, kPrefix);
    EXPECT_EQ(r.header.created_ns, kCreatedNs);
    // The creation time is checked only when the caller knows it (a new machine does not).
    EXPECT_EQ(decode(encoded, test_key(1), 0, nullptr, identity_of(kName, kPrefix, std::nullopt)), input);
}

TEST(CodecV2, an_object_under_another_name_prefix_or_time_is_tampered) {
    // What a bucket writer without the key can do: copy an older object over a
    // newer name, rename one, or move one between databases.
    const Bytes older = encode_as(mixed_bytes(5000, 1), test_key(1), "app_backup_2026-11-25_02-15-00.db",
                                  "app", kCreatedNs - 86400000000000);
    for (const Expected& expected :
         {identity_of(kName, kPrefix, kCreatedNs), identity_of(kName, kPrefix, std::nullopt),
          identity_of("app_backup_2026-11-25_02-15-00.db", "other", std::nullopt),
          identity_of("app_backup_2026-11-25_02-15-00.db", "app", kCreatedNs)}) {
        std::string message;
        EXPECT_EQ(decode_error_kind(older, test_key(1), &message, expected), ErrorKind::tampered);
        EXPECT_NE(message.find("tampered"), std::string::npos) << message;
        EXPECT_THROW(read_header(older.data(), older.size(), test_key(1), expected), Error);
    }
    std::string message;
    decode_error_kind(older, test_key(1), &message, identity_of(kName, kPrefix, std::nullopt));
    EXPECT_NE(message.find("renamed or replayed"), std::string::npos) << message;
    EXPECT_NE(message.find("app_backup_2026-11-25_02-15-00.db"), std::string::npos) << message;
    // Without a key the name is checked too (a mistake, not an attacker, is what it catches).
    const Bytes plain = encode_as(mixed_bytes(5000, 1), std::nullopt, "app_backup_2026-11-25_02-15-00.db",
                                  "app", 1, Compression::none);
    EXPECT_EQ(decode_error_kind(plain, std::nullopt, nullptr, identity_of(kName, kPrefix, std::nullopt)),
              ErrorKind::tampered);
}

TEST(CodecV2, a_header_rewritten_without_the_key_does_not_authenticate) {
    // Same-length name: only the MAC can tell.
    const std::string real = "app_backup_2026-11-25_02-15-00.db";
    Bytes forged = encode_as(mixed_bytes(5000, 2), test_key(1), real, "app", kCreatedNs);
    auto at = std::find_end(forged.begin(), forged.end(), real.begin(), real.end()); // the name field
    ASSERT_NE(at, forged.end());
    const std::string claimed = kName;
    ASSERT_EQ(claimed.size(), real.size());
    std::copy(claimed.begin(), claimed.end(), at);
    std::string message;
    EXPECT_EQ(decode_error_kind(forged, test_key(1), &message, identity_of(kName, kPrefix, std::nullopt)),
              ErrorKind::tampered);
    EXPECT_NE(message.find("does not authenticate"), std::string::npos) << message;
    try {
        read_header(forged.data(), kHeaderProbeBytes, test_key(1), identity_of(kName, kPrefix, std::nullopt));
        ADD_FAILURE() << "a forged header authenticated";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::tampered);
    }
}

TEST(CodecV2, a_valid_header_on_another_objects_chunks_is_refused) {
    const Bytes input = mixed_bytes(9000, 4);
    const Bytes a = encode_as(input, test_key(1), kName, kPrefix, kCreatedNs, Compression::none);
    const Bytes b = encode_as(input, test_key(1), kName, kPrefix, kCreatedNs + 1, Compression::none);
    const size_t header = read_header(a.data(), a.size(), test_key(1), expected_identity()).name.size() +
                          std::string(kPrefix).size() + std::string("xxh3t:").size() +
                          std::string(kName).size() + 41 + 32 + 24;
    ASSERT_EQ(a.size(), b.size());
    Bytes spliced(a.begin(), a.begin() + static_cast<long>(header));
    spliced.insert(spliced.end(), b.begin() + static_cast<long>(header), b.end());
    EXPECT_EQ(decode_error_kind(spliced, test_key(1)), ErrorKind::tampered);
}

TEST(CodecV2, read_header_authenticates_from_the_first_bytes_only) {
    const Bytes encoded = encode_as(mixed_bytes(300000, 5), test_key(1), kName, kPrefix, kCreatedNs);
    const Header h = read_header(encoded.data(), kHeaderProbeBytes, test_key(1), expected_identity());
    EXPECT_EQ(h.name, kName);
    EXPECT_EQ(h.created_ns, kCreatedNs);
    EXPECT_EQ(h.original_size, 300000u);
    EXPECT_EQ(h.original_checksum, std::string("xxh3t:") + kName);
    // The longest header fits in kHeaderProbeBytes.
    EncodeOptions longest;
    longest.key = test_key(1);
    longest.name = std::string(255, 'n');
    longest.prefix = std::string(255, 'p');
    longest.original_checksum = std::string(255, 'c');
    longest.base = std::string(255, 'b');
    const Bytes big = encode(Bytes(10, 1), longest);
    Expected e = identity_of(longest.name, longest.prefix, std::nullopt);
    EXPECT_LE(big.size() - 10, kHeaderProbeBytes);
    const Header probed = read_header(big.data(), std::min(big.size(), kHeaderProbeBytes), test_key(1), e);
    EXPECT_EQ(probed.name, longest.name);
    EXPECT_EQ(probed.base, longest.base);
    // Too few bytes: truncated, never a guess.
    for (size_t n : {size_t{0}, size_t{5}, size_t{39}, size_t{100}}) {
        try {
            read_header(encoded.data(), n, test_key(1), expected_identity());
            ADD_FAILURE() << n;
        } catch (const Error& err) {
            EXPECT_EQ(err.kind(), ErrorKind::truncated) << n;
        }
    }
    // Under another key: wrong_key (what a key rotation leaves behind).
    try {
        read_header(encoded.data(), kHeaderProbeBytes, test_key(2), expected_identity());
        ADD_FAILURE();
    } catch (const Error& err) {
        EXPECT_EQ(err.kind(), ErrorKind::wrong_key);
    }
}

TEST(CodecV2, the_header_binds_the_base_an_increment_builds_on) {
    const std::string increment = "app_backup_2026-11-27_02-15-00.incr";
    const std::string base = "app_backup_2026-11-26_02-15-00.db";
    EncodeOptions opt;
    opt.key = test_key(1);
    opt.name = increment;
    opt.prefix = kPrefix;
    opt.created_ns = kCreatedNs;
    opt.base = base;
    const Bytes input = mixed_bytes(7000, 8);
    const Bytes encoded = encode(input, opt);
    // Known or not, the right base decodes, and read_header and the decoder both return it.
    for (const std::optional<std::string>& known :
         {std::optional<std::string>(base), std::optional<std::string>()}) {
        Expected e = identity_of(increment, kPrefix, kCreatedNs);
        e.base = known;
        DecodeResult r;
        EXPECT_EQ(decode(encoded, test_key(1), 0, &r, e), input);
        EXPECT_EQ(r.header.base, base);
        EXPECT_EQ(read_header(encoded.data(), kHeaderProbeBytes, test_key(1), e).base, base);
    }
    // Another base than the one this directory knows (or "a full backup") is tampered,
    // though the header authenticates: another object under this name.
    for (const std::string& other : {std::string("app_backup_2026-11-25_02-15-00.db"), std::string()}) {
        Expected e = identity_of(increment, kPrefix, kCreatedNs);
        e.base = other;
        std::string message;
        EXPECT_EQ(decode_error_kind(encoded, test_key(1), &message, e), ErrorKind::tampered);
        EXPECT_NE(message.find("building on '" + base + "'"), std::string::npos) << message;
        try {
            read_header(encoded.data(), kHeaderProbeBytes, test_key(1), e);
            ADD_FAILURE() << "another base was accepted";
        } catch (const Error& err) {
            EXPECT_EQ(err.kind(), ErrorKind::tampered);
        }
    }
    // A full backup's header says so: an empty base, which a caller expecting one checks.
    const Bytes full = encode(input, EncodeOptions{});
    Expected full_expected = expected_identity();
    full_expected.base = "";
    DecodeResult r;
    EXPECT_EQ(decode(full, std::nullopt, 0, &r, full_expected), input);
    EXPECT_EQ(r.header.base, "");
    full_expected.base = base;
    EXPECT_EQ(decode_error_kind(full, std::nullopt, nullptr, full_expected), ErrorKind::tampered);
    // The base bytes are authenticated: one changed byte and the header no longer does.
    Bytes forged = encoded;
    auto at = std::search(forged.begin(), forged.end(), base.begin(), base.end());
    ASSERT_NE(at, forged.end());
    *(at + 15) = static_cast<uint8_t>(*(at + 15) ^ 1);
    std::string message;
    EXPECT_EQ(decode_error_kind(forged, test_key(1), &message, identity_of(increment, kPrefix, std::nullopt)),
              ErrorKind::tampered);
    EXPECT_NE(message.find("does not authenticate"), std::string::npos) << message;
    // An over-long base is refused when encoding.
    opt.base = std::string(256, 'b');
    EXPECT_THROW(
        encode_stream([](uint8_t*, size_t) { return size_t{0}; }, 0, opt, [](const uint8_t*, size_t) {}),
        Error);
}

TEST(CodecV2, an_object_needs_its_name) {
    EncodeOptions opt;
    opt.key = test_key(1);
    try {
        encode_stream([](uint8_t*, size_t) { return size_t{0}; }, 0, opt, [](const uint8_t*, size_t) {});
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::config);
    }
}

// ------------------------------------------------------------------ format 1: what 1.0.0 wrote

TEST(CodecV1, a_version_1_stream_is_refused_unless_the_caller_accepts_it) {
    const Bytes input = mixed_bytes(20000, 6);
    for (bool encrypted : {false, true}) {
        EncodeOptions opt;
        opt.format_version = kLegacyFormatVersion;
        opt.chunk_size = kMinChunkSize;
        opt.original_checksum = "xxh3t:v1";
        std::optional<Key> key;
        if (encrypted) key = opt.key = test_key(3);
        const Bytes v1 = encode(input, opt);
        EXPECT_EQ(std::string(v1.begin(), v1.begin() + 5), "WCBK1");
        std::string message;
        EXPECT_EQ(decode_error_kind(v1, key, &message), ErrorKind::format);
        EXPECT_NE(message.find("1.0.0"), std::string::npos) << message;
        Expected accepting = expected_identity();
        accepting.accept_version1 = true;
        DecodeResult r;
        EXPECT_EQ(decode(v1, key, 7, &r, accepting), input);
        EXPECT_EQ(r.header.version, kLegacyFormatVersion);
        EXPECT_EQ(r.header.name, ""); // it cannot say which backup it is
        EXPECT_EQ(r.header.original_checksum, "xxh3t:v1");
        EXPECT_EQ(read_header(v1.data(), v1.size(), key, accepting).version, kLegacyFormatVersion);
    }
}

TEST(CodecV1, the_corpus_streams_of_1_0_0_still_decode) {
    // fuzz/corpus/fuzz_codec/{plain,encrypted}_* were written by 1.0.0's encoder
    // (fuzz_key.hpp's key; a mode byte first).
    for (const char* file :
         {"plain_none", "plain_zstd_pieces", "encrypted_none", "encrypted_zstd_pieces", "empty"}) {
        // The source tree from this file's path (relative to the build's working directory, or absolute).
        const std::string here = __FILE__;
        const std::string root = here.substr(0, here.rfind("tests/unit/"));
        std::ifstream in(root + "fuzz/corpus/fuzz_codec/" + file, std::ios::binary);
        ASSERT_TRUE(in) << file;
        const Bytes bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        ASSERT_FALSE(bytes.empty());
        const Bytes stream(bytes.begin() + 1, bytes.end());
        Key key;
        for (size_t i = 0; i < kKeyBytes; ++i)
            key.data()[i] = static_cast<uint8_t>(i * 11 + 3);
        std::optional<Key> k;
        if (bytes[0] & 1) k = key;
        DecodeResult r;
        EXPECT_NO_THROW(decode(stream, k, 0, &r, Expected::any())) << file;
        EXPECT_EQ(r.header.version, kLegacyFormatVersion) << file;
        if (std::string(file) != "plain_none") continue;
        // And format_version 1 writes what 1.0.0 wrote, byte for byte (the
        // input and options of fuzz/make_seeds.cpp).
        Bytes page(1000);
        for (size_t i = 0; i < page.size(); ++i)
            page[i] = static_cast<uint8_t>(i % 7 == 0 ? i * 31 : 'a' + i % 13);
        EncodeOptions opt;
        opt.format_version = kLegacyFormatVersion;
        opt.compression = Compression::none;
        opt.level = 0;
        opt.chunk_size = kMinChunkSize;
        opt.original_checksum = "xxh3t:00112233445566778899aabbccddeeff";
        EXPECT_EQ(encode(page, opt), stream);
    }
}

TEST(Codec, unsupported_options_are_errors_not_downgrades) {
    Bytes input(10, 1);
    auto fails = [&](EncodeOptions opt) {
        try {
            encode(input, opt);
        } catch (const Error& e) {
            return e.kind() == ErrorKind::config;
        }
        return false;
    };
    EncodeOptions o;
    o.level = 0;
    EXPECT_TRUE(fails(o));
    o.level = 22;
    EXPECT_TRUE(fails(o));
    o = EncodeOptions{};
    o.compression = Compression::none; // level 3 left over: refused
    EXPECT_TRUE(fails(o));
    o = EncodeOptions{};
    o.require_encryption = true;
    EXPECT_TRUE(fails(o));
    o = EncodeOptions{};
    o.chunk_size = 100;
    EXPECT_TRUE(fails(o));
    o = EncodeOptions{};
    o.original_checksum = std::string(300, 'x');
    EXPECT_TRUE(fails(o));
}

TEST(Codec, input_that_changes_size_while_encoding_is_an_error) {
    Bytes input(1000, 1);
    size_t pos = 0;
    Source src = [&](uint8_t* buf, size_t cap) {
        size_t n = std::min(cap, input.size() - pos);
        std::copy(input.begin() + static_cast<long>(pos), input.begin() + static_cast<long>(pos + n), buf);
        pos += n;
        return n;
    };
    auto sink = [](const uint8_t*, size_t) {};
    EXPECT_THROW(encode_stream(src, 2000, EncodeOptions{}, sink), Error);
    pos = 0;
    EXPECT_THROW(encode_stream(src, 500, EncodeOptions{}, sink), Error);
}

// ------------------------------------------------------------------ keys

TEST(KeyFile, raw_and_hex_key_files_load_the_same_key) {
    TempDir dir;
    Key key = test_key(3);
    write_file(dir.file("raw.key"), std::string(reinterpret_cast<const char*>(key.data()), kKeyBytes));
    char hex[2 * kKeyBytes + 1];
    sodium_bin2hex(hex, sizeof hex, key.data(), kKeyBytes);
    write_file(dir.file("hex.key"), std::string(hex) + "\n");
    write_file(dir.file("hex_nonl.key"), std::string(hex));
    write_file(dir.file("hex_crlf.key"), std::string(hex) + "\r\n");
    for (const char* name : {"raw.key", "hex.key", "hex_nonl.key", "hex_crlf.key"}) {
        LoadedKey loaded = load_key_file(dir.file(name));
        EXPECT_EQ(0, std::memcmp(loaded.key.data(), key.data(), kKeyBytes)) << name;
    }
}

TEST(KeyFile, malformed_key_files_are_refused) {
    TempDir dir;
    write_file(dir.file("short.key"), std::string(31, 'a'));
    write_file(dir.file("badhex.key"), std::string(63, 'a') + "g\n");
    write_file(dir.file("long.key"), std::string(65, 'a'));
    write_file(dir.file("empty.key"), "");
    for (const char* name : {"short.key", "badhex.key", "long.key", "empty.key"}) {
        try {
            load_key_file(dir.file(name));
            ADD_FAILURE() << name << " loaded";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("32 raw bytes or 64 hex"), std::string::npos) << e.what();
        }
    }
    EXPECT_THROW(load_key_file(dir.file("missing.key")), Error);
    EXPECT_THROW(load_key_file(dir.path()), Error); // a directory
}

std::string key_error(const std::string& path) {
    try {
        load_key_file(path);
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::config) << e.what();
        return e.what();
    }
    ADD_FAILURE() << path << " loaded";
    return "";
}

TEST(KeyFile, a_key_its_group_or_all_users_can_read_or_write_is_refused_with_the_chmod) {
    TempDir dir;
    const std::string hex(64, 'a');
    for (mode_t mode : {0644, 0604, 0606, 0640, 0620, 0660, 0440}) {
        const std::string path = dir.file("k" + std::to_string(mode) + ".key");
        write_file(path, hex, mode);
        const std::string message = key_error(path);
        EXPECT_NE(message.find("run: chmod 600 '" + path + "'"), std::string::npos) << message;
        EXPECT_NE(message.find((mode & 006) ? "all users" : "its group"), std::string::npos) << message;
    }
    for (mode_t mode : {0600, 0400}) {
        write_file(dir.file("ok.key"), hex, mode);
        EXPECT_NO_THROW(load_key_file(dir.file("ok.key"))) << mode;
        ::unlink(dir.file("ok.key").c_str());
    }
}

TEST(KeyFile, a_key_in_a_directory_others_can_write_is_refused_with_the_chmod) {
    TempDir dir;
    write_file(dir.file("offsite.key"), std::string(64, 'a'), 0600);
    for (mode_t mode : {0777, 0770, 0730, 0703, 01777}) {
        ::chmod(dir.path().c_str(), mode);
        const std::string message = key_error(dir.file("offsite.key"));
        EXPECT_NE(message.find("run: chmod go-w '" + dir.path() + "'"), std::string::npos) << message;
    }
    ::chmod(dir.path().c_str(), 0755); // others may read and enter it: fine
    EXPECT_NO_THROW(load_key_file(dir.file("offsite.key")));
    ::chmod(dir.path().c_str(), 0700);
}

TEST(KeyFile, a_fifo_or_a_symbolic_link_is_refused_at_once) {
    TempDir dir;
    ASSERT_EQ(::mkfifo(dir.file("fifo.key").c_str(), 0600), 0);
    const auto started = std::chrono::steady_clock::now();
    EXPECT_NE(key_error(dir.file("fifo.key")).find("not a regular file"), std::string::npos);
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
    write_file(dir.file("real.key"), std::string(64, 'a'), 0600);
    ASSERT_EQ(::symlink(dir.file("real.key").c_str(), dir.file("link.key").c_str()), 0);
    EXPECT_NE(key_error(dir.file("link.key")).find("symbolic link"), std::string::npos);
}

TEST(KeyFile, key_ids_are_short_hex_and_differ_between_keys) {
    TempDir dir;
    const Key key = test_key(7);
    std::string hex;
    for (size_t i = 0; i < kKeyBytes; ++i) {
        char two[3];
        std::snprintf(two, sizeof two, "%02x", key.data()[i]);
        hex += two;
    }
    write_file(dir.file("new.key"), hex + "\n");
    LoadedKey loaded = load_key_file(dir.file("new.key"));
    EXPECT_EQ(0, std::memcmp(loaded.key.data(), key.data(), kKeyBytes));
    EXPECT_EQ(loaded.key.id_hex(), key.id_hex());
    EXPECT_EQ(key.id_hex().size(), 16u);
    EXPECT_NE(test_key(1).id_hex(), test_key(2).id_hex());
}

// ------------------------------------------------------------------ directory target

TEST(DirTarget, objects_round_trip_and_list_by_prefix) {
    TempDir dir;
    DirTarget target(dir.path());
    Bytes data = random_bytes(300000, 5);
    target.put_stream("app_backup_1.db.wcbk", [&](const Sink& out) {
        out(data.data(), 1000);
        out(data.data() + 1000, data.size() - 1000);
    });
    target.put_stream("app_backup_0.db.wcbk", [&](const Sink& out) { out(data.data(), 10); });
    target.put_stream("other.txt", [&](const Sink&) {});
    Bytes back;
    target.get_stream("app_backup_1.db.wcbk",
                      [&](const uint8_t* p, size_t n) { back.insert(back.end(), p, p + n); });
    EXPECT_EQ(back, data);
    EXPECT_EQ(target.size("app_backup_1.db.wcbk"), std::optional<uint64_t>(data.size()));
    EXPECT_EQ(target.size("nothing"), std::nullopt);
    EXPECT_EQ(target.read_head("app_backup_1.db.wcbk", 1024), Bytes(data.begin(), data.begin() + 1024));
    EXPECT_EQ(target.read_head("app_backup_0.db.wcbk", 1024), Bytes(data.begin(), data.begin() + 10));
    auto listed = target.list("app_");
    ASSERT_EQ(listed.size(), 2u);
    EXPECT_EQ(listed[0].name, "app_backup_0.db.wcbk");
    EXPECT_EQ(listed[1].name, "app_backup_1.db.wcbk");
    EXPECT_EQ(listed[1].size, data.size());
    EXPECT_EQ(listed[1].last_modified.size(), 20u);
    EXPECT_EQ(target.list("").size(), 3u);
    struct stat st {};
    ASSERT_EQ(stat(dir.file("other.txt").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    target.remove("other.txt");
    target.remove("other.txt"); // already gone: fine
    EXPECT_EQ(target.list("").size(), 2u);
    EXPECT_EQ(target.describe(), dir.path());
}

TEST(DirTarget, failed_write_leaves_nothing_behind_and_keeps_the_old_object) {
    TempDir dir;
    DirTarget target(dir.path());
    target.put_stream("a.wcbk", [](const Sink& out) { out(reinterpret_cast<const uint8_t*>("old"), 3); });
    EXPECT_THROW(target.put_stream("a.wcbk",
                                   [](const Sink& out) {
                                       out(reinterpret_cast<const uint8_t*>("new!"), 4);
                                       throw Error("encoder failed", ErrorKind::io);
                                   }),
                 Error);
    EXPECT_EQ(count_entries(dir.path()), 1u);
    EXPECT_EQ(target.size("a.wcbk"), std::optional<uint64_t>(3));
}

TEST(DirTarget, missing_objects_bad_names_and_unmounted_directories_are_errors) {
    TempDir dir;
    DirTarget target(dir.path());
    try {
        target.get_stream("nope.wcbk", [](const uint8_t*, size_t) {});
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::not_found);
    }
    for (const char* bad : {"", "../x", "a/b", ".hidden", "sp ace"})
        EXPECT_THROW(target.size(bad), Error) << bad;
    try {
        DirTarget missing(dir.file("not-mounted"));
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("is it mounted"), std::string::npos);
    }
    // Temp files of an interrupted write are not listed.
    write_file(dir.file(".x.wcbk.tmp-1-0"), "partial");
    EXPECT_TRUE(target.list("").empty());
    try {
        target.read_head("nope.wcbk", 1024);
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::not_found);
    }
}

TEST(DirTarget, a_fifo_planted_as_an_object_is_refused_without_hanging) {
    TempDir dir;
    DirTarget target(dir.path());
    ASSERT_EQ(::mkfifo(dir.file("app_backup_2031-01-01_00-00-00.db.wcbk").c_str(), 0600), 0);
    const auto started = std::chrono::steady_clock::now();
    EXPECT_THROW(target.read_head("app_backup_2031-01-01_00-00-00.db.wcbk", 1024), Error);
    EXPECT_THROW(target.get_stream("app_backup_2031-01-01_00-00-00.db.wcbk", [](const uint8_t*, size_t) {}),
                 Error);
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
    EXPECT_TRUE(target.list("").empty()); // not a regular file: not listed either
}

TEST(OpenTarget, picks_the_implementation_from_the_spec) {
    TempDir dir;
    auto target = open_target(dir.path(), TargetOptions{});
    EXPECT_NE(dynamic_cast<DirTarget*>(target.get()), nullptr);
    EXPECT_THROW(open_target("relative/dir", TargetOptions{}), Error);
    EXPECT_THROW(open_target("s3://", TargetOptions{}), Error);
    auto s3 = std::make_shared<S3Options>();
    s3->credentials = S3Credentials{"AKID", "secret", ""};
    s3->endpoint = "http://127.0.0.1:1";
    auto remote = open_target("s3://bucket/some/prefix", TargetOptions{s3});
    EXPECT_EQ(remote->describe(), "s3://bucket/some/prefix/");
}

// ------------------------------------------------------------------ S3 (credentials)

TEST(S3Credentials, credentials_file_profile_is_read) {
    TempDir dir;
    write_file(dir.file("credentials"),
               "# comment\n[other]\naws_access_key_id = OTHER\naws_secret_access_key = othersecret\n\n"
               "[default]\r\naws_access_key_id=AKIDDEFAULT\r\naws_secret_access_key = s3cr3t/+x\r\n"
               "aws_session_token = tok\r\n");
    S3Options o;
    o.credentials_file = dir.file("credentials");
    S3Credentials c = resolve_credentials(o);
    EXPECT_EQ(c.access_key_id, "AKIDDEFAULT");
    EXPECT_EQ(c.secret_access_key, "s3cr3t/+x");
    EXPECT_EQ(c.session_token, "tok");
    o.profile = "other";
    EXPECT_EQ(resolve_credentials(o).access_key_id, "OTHER");
    o.profile = "absent";
    try {
        resolve_credentials(o);
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("no [absent] profile"), std::string::npos);
        EXPECT_EQ(std::string(e.what()).find("othersecret"), std::string::npos);
    }
}

TEST(S3Credentials, environment_is_the_fallback) {
    setenv("AWS_ACCESS_KEY_ID", "ENVKEY", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
    S3Options o;
    EXPECT_EQ(resolve_credentials(o).secret_access_key, "envsecret");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    EXPECT_THROW(resolve_credentials(o), Error);
    unsetenv("AWS_ACCESS_KEY_ID");
}

// ------------------------------------------------------------------ S3 (server)

namespace {

const char* kSecret = "Very/Secret+Key_4a8d1c00ffee";

std::string s3_endpoint() {
    const char* e = std::getenv("WECARE_S3_ENDPOINT");
    return e ? e : "";
}

S3Options s3_options() {
    S3Options o;
    o.endpoint = s3_endpoint();
    const char* bucket = std::getenv("WECARE_S3_BUCKET");
    o.bucket = bucket ? bucket : "wecare-test";
    o.region = "us-east-1";
    o.credentials = S3Credentials{"AKIDTEST", kSecret, ""};
    o.part_size = 5 * 1024 * 1024;
    o.retry.base_delay = std::chrono::milliseconds(1);
    o.retry.max_delay = std::chrono::milliseconds(5);
    return o;
}

#define REQUIRE_S3()                                                                                         \
    if (s3_endpoint().empty()) GTEST_SKIP() << "WECARE_S3_ENDPOINT not set (use tests/offsite/run.sh)"

std::string sha256_of(const Bytes& b) {
    uint8_t d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(d, b.data(), b.size());
    char hex[2 * sizeof d + 1];
    sodium_bin2hex(hex, sizeof hex, d, sizeof d);
    return hex;
}

} // namespace

TEST(S3, small_object_put_head_get_delete) {
    REQUIRE_S3();
    S3Client s3(s3_options());
    Bytes data = random_bytes(1234, 1);
    s3.put_object("small/one bin+x", data.data(), data.size());
    EXPECT_EQ(s3.head_object("small/one bin+x"), std::optional<uint64_t>(1234));
    Bytes back;
    s3.get_object("small/one bin+x", [&](const uint8_t* p, size_t n) { back.insert(back.end(), p, p + n); });
    EXPECT_EQ(back, data);
    s3.delete_object("small/one bin+x");
    EXPECT_EQ(s3.head_object("small/one bin+x"), std::nullopt);
    try {
        s3.get_object("small/one bin+x", [](const uint8_t*, size_t) {});
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::not_found);
    }
    s3.delete_object("small/one bin+x"); // deleting a missing object is fine
}

TEST(S3, the_first_bytes_of_an_object_come_from_one_ranged_get) {
    REQUIRE_S3();
    S3Client s3(s3_options());
    const Bytes data = random_bytes(5000, 3);
    s3.put_object("head/five", data.data(), data.size());
    EXPECT_EQ(s3.get_object_head("head/five", 1024), Bytes(data.begin(), data.begin() + 1024));
    EXPECT_EQ(s3.get_object_head("head/five", 9000), data); // smaller than asked: all of it
    s3.put_object("head/empty", nullptr, 0);
    EXPECT_TRUE(s3.get_object_head("head/empty", 1024).empty());
    try {
        s3.get_object_head("head/none", 1024);
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::not_found);
    }
    for (const char* key : {"head/five", "head/empty"})
        s3.delete_object(key);
}

TEST(S3, multipart_upload_survives_a_part_failing_once) {
    REQUIRE_S3();
    S3Options o = s3_options();
    std::vector<std::string> attempts;
    int sleeps = 0;
    o.retry.inject_failure = [&](const std::string& op, int attempt) {
        attempts.push_back(op + "#" + std::to_string(attempt));
        return op == "upload_part 2" && attempt == 1;
    };
    o.retry.sleep = [&](std::chrono::milliseconds) { ++sleeps; };
    std::vector<std::string> log;
    o.log = [&](const std::string& line) { log.push_back(line); };
    S3Client s3(o);
    Bytes data = random_bytes(20 * 1024 * 1024 + 123, 2);
    {
        auto upload = s3.start_upload("multi/twenty.bin");
        for (size_t pos = 0; pos < data.size(); pos += 256 * 1024)
            upload->write(data.data() + pos, std::min<size_t>(256 * 1024, data.size() - pos));
        upload->commit();
    }
    EXPECT_EQ(sleeps, 1);
    EXPECT_NE(std::find(attempts.begin(), attempts.end(), "upload_part 2#2"), attempts.end());
    EXPECT_NE(std::find(attempts.begin(), attempts.end(), "upload_part 5#1"),
              attempts.end()); // short last part
    ASSERT_EQ(log.size(), 1u);
    EXPECT_NE(log[0].find("retrying"), std::string::npos) << log[0];
    EXPECT_EQ(s3.head_object("multi/twenty.bin"), std::optional<uint64_t>(data.size()));
    Bytes back;
    s3.get_object("multi/twenty.bin", [&](const uint8_t* p, size_t n) { back.insert(back.end(), p, p + n); });
    EXPECT_EQ(sha256_of(back), sha256_of(data));
    s3.delete_object("multi/twenty.bin");
}

TEST(S3, failing_upload_is_aborted_and_leaves_no_object) {
    REQUIRE_S3();
    S3Options o = s3_options();
    o.retry.max_attempts = 2;
    o.retry.inject_failure = [](const std::string& op, int) { return op == "upload_part 2"; };
    S3Client s3(o);
    Bytes data = random_bytes(11 * 1024 * 1024, 3);
    auto upload = s3.start_upload("multi/failing.bin");
    try {
        upload->write(data.data(), data.size());
        upload->commit();
        ADD_FAILURE() << "upload succeeded";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::network);
        EXPECT_NE(std::string(e.what()).find("gave up after 2 attempts"), std::string::npos) << e.what();
    }
    EXPECT_EQ(s3.head_object("multi/failing.bin"), std::nullopt);
    // An upload dropped midway (encoder threw) is aborted by its destructor;
    // run.sh checks that no multipart upload is left open.
    {
        auto dropped = s3.start_upload("multi/dropped.bin");
        dropped->write(data.data(), 6 * 1024 * 1024);
    }
    EXPECT_EQ(s3.head_object("multi/dropped.bin"), std::nullopt);
}

TEST(S3, listing_follows_continuation_pages) {
    REQUIRE_S3();
    S3Options o = s3_options();
    std::set<std::string> pages;
    o.retry.inject_failure = [&](const std::string& op, int) {
        if (op.rfind("list_objects", 0) == 0) pages.insert(op);
        return false;
    };
    S3Client s3(o);
    for (int i = 0; i < 25; ++i) {
        std::string key = "list/item-" + std::string(i < 10 ? "0" : "") + std::to_string(i);
        s3.put_object(key, reinterpret_cast<const uint8_t*>(key.data()), key.size());
    }
    s3.put_object("listing-not-in-prefix", nullptr, 0);
    auto objects = s3.list_objects("list/", 10);
    ASSERT_EQ(objects.size(), 25u);
    EXPECT_EQ(pages.size(), 3u);
    EXPECT_EQ(objects[0].name, "list/item-00");
    EXPECT_EQ(objects[24].name, "list/item-24");
    EXPECT_EQ(objects[3].size, std::string("list/item-03").size());
    EXPECT_EQ(objects[3].last_modified.size(), 20u) << objects[3].last_modified;
    for (auto& obj : objects)
        s3.delete_object(obj.name);
    EXPECT_TRUE(s3.list_objects("list/").empty());
}

TEST(S3, encrypted_backup_goes_through_the_s3_target) {
    REQUIRE_S3();
    S3Options o = s3_options();
    o.bucket = "";
    auto shared = std::make_shared<S3Options>(o);
    std::string spec = "s3://" + s3_options().bucket + "/check";
    auto target = open_target(spec, TargetOptions{shared});
    std::string text;
    for (int i = 0; i < 300000; ++i)
        text += "WECARE-PLAINTEXT-MARKER-" + std::to_string(i) + "\n";
    Bytes input(text.begin(), text.end()); // ~9 MiB
    EncodeOptions enc;
    enc.key = test_key(8);
    enc.name = kName;
    enc.prefix = kPrefix;
    enc.created_ns = kCreatedNs;
    enc.compression = Compression::none; // stays > 5 MiB part size: multipart through the target
    enc.level = 0;
    target->put_stream("encrypted.wcbk", [&](const Sink& out) {
        size_t pos = 0;
        encode_stream(
            [&](uint8_t* buf, size_t cap) {
                size_t n = std::min(cap, input.size() - pos);
                std::memcpy(buf, input.data() + pos, n);
                pos += n;
                return n;
            },
            input.size(), enc, out);
    });
    auto listed = target->list("encr");
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].name, "encrypted.wcbk");
    EXPECT_EQ(target->size("encrypted.wcbk"), std::optional<uint64_t>(listed[0].size));
    Bytes back;
    Decoder dec(
        test_key(8), [&](const uint8_t* p, size_t n) { back.insert(back.end(), p, p + n); },
        expected_identity());
    target->get_stream("encrypted.wcbk", [&](const uint8_t* p, size_t n) { dec.feed(p, n); });
    dec.finish();
    EXPECT_EQ(back, input);
    // Its header authenticates from one ranged GET of the first bytes.
    const Bytes head = target->read_head("encrypted.wcbk", kHeaderProbeBytes);
    EXPECT_LE(head.size(), kHeaderProbeBytes);
    EXPECT_EQ(read_header(head.data(), head.size(), test_key(8), expected_identity()).original_size,
              input.size());
    // The object stays for run.sh, which checks from outside that it is not plaintext.
}

TEST(S3, unreachable_target_fails_cleanly_after_bounded_retries) {
    S3Options o = s3_options();
    o.endpoint = "http://127.0.0.1:9"; // discard port: connection refused
    o.bucket = "wecare-test";
    o.retry.max_attempts = 3;
    std::vector<std::string> log;
    o.log = [&](const std::string& line) { log.push_back(line); };
    S3Client s3(o);
    auto start = std::chrono::steady_clock::now();
    try {
        s3.put_object("x", nullptr, 0);
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::network);
        std::string m = e.what();
        EXPECT_NE(m.find("gave up after 3 attempts"), std::string::npos) << m;
        EXPECT_NE(m.find("connect"), std::string::npos) << m;
        EXPECT_EQ(m.find(kSecret), std::string::npos);
    }
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
    EXPECT_EQ(log.size(), 2u);
    for (auto& line : log)
        EXPECT_EQ(line.find(kSecret), std::string::npos);
}

TEST(S3, secret_never_appears_in_error_messages) {
    REQUIRE_S3();
    S3Options o = s3_options();
    std::vector<std::string> messages;
    o.log = [&](const std::string& line) { messages.push_back(line); };
    auto collect = [&](const std::function<void()>& f) {
        try {
            f();
        } catch (const std::exception& e) {
            messages.push_back(e.what());
        }
    };
    {
        S3Client s3(o);
        // Even a key that contains the secret (echoed by S3 in its error) is redacted.
        collect([&] { s3.get_object(std::string("missing/") + kSecret, [](const uint8_t*, size_t) {}); });
        collect([&] { s3.upload_part("missing", kSecret, 1, nullptr, 0); });
    }
    o.bucket = "no-such-bucket-wecare";
    {
        S3Client s3(o);
        collect([&] { s3.put_object("k", nullptr, 0); });
        collect([&] { s3.list_objects(""); });
    }
    o.endpoint = "http://127.0.0.1:9";
    o.retry.max_attempts = 2;
    {
        S3Client s3(o);
        collect([&] { s3.get_object("k", [](const uint8_t*, size_t) {}); });
    }
    ASSERT_GE(messages.size(), 5u);
    if (std::getenv("WECARE_SHOW_MESSAGES"))
        for (const auto& m : messages)
            std::cout << "  message: " << m << "\n";
    for (const auto& m : messages) {
        EXPECT_EQ(m.find(kSecret), std::string::npos) << m;
        EXPECT_EQ(m.find("Very/Secret"), std::string::npos) << m;
    }
}

// ------------------------------------------------------------------ S3 (download resume)

namespace {

// A one-thread HTTP server answering each connection with the next scripted
// reply; records the requests. Enough to cut a download midway.
class ScriptedServer {
  public:
    using Reply = std::function<std::string(const std::string& request)>;
    explicit ScriptedServer(std::vector<Reply> replies) : replies_(std::move(replies)) {
        fd_ = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        socklen_t len = sizeof addr;
        getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
        port_ = ntohs(addr.sin_port);
        listen(fd_, 4);
        thread_ = std::thread([this] { serve(); });
    }
    ~ScriptedServer() {
        shutdown(fd_, SHUT_RDWR);
        close(fd_);
        thread_.join();
    }
    std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
    std::vector<std::string> requests;

  private:
    void serve() {
        for (const Reply& reply : replies_) {
            int c = accept(fd_, nullptr, nullptr);
            if (c < 0) return;
            std::string request;
            char buf[4096];
            while (request.find("\r\n\r\n") == std::string::npos) {
                ssize_t n = recv(c, buf, sizeof buf, 0);
                if (n <= 0) break;
                request.append(buf, static_cast<size_t>(n));
            }
            requests.push_back(request);
            std::string answer = reply(request);
            send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
            close(c); // every reply ends its connection
        }
    }
    std::vector<Reply> replies_;
    int fd_ = -1;
    int port_ = 0;
    std::thread thread_;
};

std::string http_reply(const std::string& status, const std::string& headers, const std::string& body,
                       size_t content_length) {
    return "HTTP/1.1 " + status + "\r\nContent-Length: " + std::to_string(content_length) +
           "\r\nETag: \"v1\"\r\nConnection: close\r\n" + headers + "\r\n" + body;
}

} // namespace

TEST(S3Download, broken_download_resumes_with_a_range_pinned_to_the_etag) {
    Bytes data = random_bytes(100000, 77);
    std::string body(data.begin(), data.end());
    ScriptedServer server({
        // Promises 100000 bytes, sends 40000, hangs up.
        [&](const std::string&) { return http_reply("200 OK", "", body.substr(0, 40000), body.size()); },
        [&](const std::string&) {
            return http_reply("206 Partial Content", "Content-Range: bytes 40000-99999/100000\r\n",
                              body.substr(40000), body.size() - 40000);
        },
    });
    S3Options o = s3_options();
    o.endpoint = server.endpoint();
    o.bucket = "b";
    S3Client s3(o);
    Bytes back;
    s3.get_object("obj", [&](const uint8_t* p, size_t n) { back.insert(back.end(), p, p + n); });
    EXPECT_EQ(back, data);
    ASSERT_EQ(server.requests.size(), 2u);
    EXPECT_NE(server.requests[1].find("Range: bytes=40000-"), std::string::npos) << server.requests[1];
    EXPECT_NE(server.requests[1].find("If-Match: \"v1\""), std::string::npos) << server.requests[1];
}

TEST(S3Download, server_ignoring_the_range_does_not_duplicate_bytes) {
    Bytes data = random_bytes(50000, 78);
    std::string body(data.begin(), data.end());
    ScriptedServer server({
        [&](const std::string&) { return http_reply("200 OK", "", body.substr(0, 30000), body.size()); },
        [&](const std::string&) { return http_reply("200 OK", "", body, body.size()); },
    });
    S3Options o = s3_options();
    o.endpoint = server.endpoint();
    o.bucket = "b";
    S3Client s3(o);
    Bytes back;
    s3.get_object("obj", [&](const uint8_t* p, size_t n) { back.insert(back.end(), p, p + n); });
    EXPECT_EQ(back, data);
}

TEST(S3Download, object_replaced_during_download_is_an_error) {
    std::string body(20000, 'x');
    ScriptedServer server({
        [&](const std::string&) { return http_reply("200 OK", "", body.substr(0, 5000), body.size()); },
        [&](const std::string&) { return http_reply("412 Precondition Failed", "", "", 0); },
    });
    S3Options o = s3_options();
    o.endpoint = server.endpoint();
    o.bucket = "b";
    S3Client s3(o);
    try {
        s3.get_object("obj", [](const uint8_t*, size_t) {});
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("changed while"), std::string::npos) << e.what();
    }
}

// ------------------------------------------------------------------ S3 (answers read whole)

TEST(S3Listing, a_listing_page_larger_than_64_kib_is_read_whole) {
    // 1000 keys fill a page of about 250 KiB; the body must not be cut at the
    // size kept for error answers.
    std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult "
                      "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><IsTruncated>false</IsTruncated>";
    for (int i = 0; i < 1000; ++i)
        xml += "<Contents><Key>db/wecare_backup_2026-11-26_02-15-00_" + std::to_string(i) +
               ".db.wcbk</Key><LastModified>2026-11-26T02:15:07.000Z</LastModified><ETag>"
               "&quot;599bab3ed2c697f1d26842727561fd94-3&quot;</ETag><Size>" +
               std::to_string(i) + "</Size><StorageClass>STANDARD</StorageClass></Contents>";
    xml += "</ListBucketResult>";
    ASSERT_GT(xml.size(), 200u * 1024);
    ScriptedServer server({[&](const std::string&) { return http_reply("200 OK", "", xml, xml.size()); }});
    S3Options o = s3_options();
    o.endpoint = server.endpoint();
    o.bucket = "b";
    S3Client s3(o);
    const auto objects = s3.list_objects("db/");
    ASSERT_EQ(objects.size(), 1000u);
    EXPECT_EQ(objects.back().name, "db/wecare_backup_2026-11-26_02-15-00_999.db.wcbk");
}

TEST(S3Listing, an_answer_that_is_not_a_listing_is_an_error_not_an_empty_list) {
    const std::string html = "<html><body>captive portal</body></html>";
    ScriptedServer server({[&](const std::string&) { return http_reply("200 OK", "", html, html.size()); }});
    S3Options o = s3_options();
    o.endpoint = server.endpoint();
    o.bucket = "b";
    S3Client s3(o);
    try {
        s3.list_objects("db/");
        ADD_FAILURE() << "listed";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::remote);
        EXPECT_NE(std::string(e.what()).find("the answer is <html>, expected <ListBucketResult>"),
                  std::string::npos)
            << e.what();
    }
}

// ------------------------------------------------------------------ S3 (messages)

TEST(S3Errors, an_answer_without_an_error_document_names_the_status_not_a_bare_number) {
    // A HEAD answer has no body: the message must still say what 403 means.
    ScriptedServer server({[&](const std::string&) { return http_reply("403 Forbidden", "", "", 0); }});
    S3Options o = s3_options();
    o.endpoint = server.endpoint();
    o.bucket = "b";
    S3Client s3(o);
    try {
        s3.head_object("obj");
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        const std::string message = e.what();
        EXPECT_NE(message.find("HTTP 403 Forbidden; check the credentials"), std::string::npos) << message;
        EXPECT_FALSE(std::isdigit(static_cast<unsigned char>(message.back()))) << message;
    }
}
