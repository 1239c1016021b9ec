// Writes the seed corpus of fuzz_codec and fuzz_offsite_index with the real
// encoder and serializer, so the fuzzers start from valid input and mutate
// from there. Run once when the formats change (see fuzz/README.md):
//   build/fuzz/make_seeds fuzz/corpus
// Each file is small enough for the runs' -max_len=4096.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "fuzz_key.hpp"
#include "offsite/codec.hpp"
#include "offsite/index.hpp"

using namespace wb::offsite;

namespace {

void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) {
        std::perror(path.c_str());
        std::exit(1);
    }
}

// fuzz_codec's input: the mode byte, then the stream, in format `version`
// (format 2 seeds carry fuzz_identity(), and `base` when given: an increment;
// format 1 is what 1.0.0 wrote).
void codec_seed(const std::string& dir, const std::string& name, const std::string& original,
                Compression compression, int level, bool encrypted, uint8_t piece,
                uint8_t version = kFormatVersion, const std::string& base = "") {
    EncodeOptions opt;
    opt.compression = compression;
    opt.level = level;
    opt.chunk_size = kMinChunkSize;
    opt.original_checksum = "xxh3t:00112233445566778899aabbccddeeff";
    opt.format_version = version;
    if (version == kFormatVersion) {
        opt.name = fuzz_identity().name;
        opt.prefix = fuzz_identity().prefix;
        opt.created_ns = kFuzzCreatedNs;
        opt.base = base;
    }
    if (encrypted) opt.key = fuzz_key();
    std::string out(1, static_cast<char>((encrypted ? 1 : 0) | piece << 1));
    size_t pos = 0;
    encode_stream(
        [&](uint8_t* buf, size_t cap) {
            const size_t n = std::min(cap, original.size() - pos);
            std::memcpy(buf, original.data() + pos, n);
            pos += n;
            return n;
        },
        original.size(), opt,
        [&](const uint8_t* p, size_t n) { out.append(reinterpret_cast<const char*>(p), n); });
    // A seed the decoder refuses would start the fuzzer off in the wrong place.
    std::string back;
    Decoder dec(
        encrypted ? std::optional<Key>(fuzz_key()) : std::nullopt,
        [&](const uint8_t* p, size_t n) { back.append(reinterpret_cast<const char*>(p), n); },
        fuzz_identity());
    dec.feed(reinterpret_cast<const uint8_t*>(out.data()) + 1, out.size() - 1);
    dec.finish();
    if (back != original || out.size() > 4096) {
        std::fprintf(stderr, "%s: does not round-trip or is too large\n", name.c_str());
        std::exit(1);
    }
    write_file(dir + "/" + name, out);
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s fuzz/corpus\n", argv[0]);
        return 2;
    }
    const std::string root = argv[1];

    const std::string codec = root + "/fuzz_codec";
    std::string page(3000, '\0');
    for (size_t i = 0; i < page.size(); ++i)
        page[i] = static_cast<char>(i % 7 == 0 ? i * 31 : 'a' + i % 13);
    // Format 1 (1.0.0): the names these seeds have had since 1.0.0.
    codec_seed(codec, "plain_none", page.substr(0, 1000), Compression::none, 0, false, 0,
               kLegacyFormatVersion);
    codec_seed(codec, "plain_zstd_pieces", page, Compression::zstd, 3, false, 17, kLegacyFormatVersion);
    codec_seed(codec, "encrypted_none", page.substr(0, 800), Compression::none, 0, true, 0,
               kLegacyFormatVersion);
    codec_seed(codec, "encrypted_zstd_pieces", page, Compression::zstd, 19, true, 5, kLegacyFormatVersion);
    codec_seed(codec, "empty", "", Compression::zstd, 1, false, 1, kLegacyFormatVersion);
    // Format 2: the authenticated header with the backup's name, prefix and time.
    codec_seed(codec, "v2_plain_none", page.substr(0, 1000), Compression::none, 0, false, 0);
    codec_seed(codec, "v2_plain_zstd_pieces", page, Compression::zstd, 3, false, 17);
    codec_seed(codec, "v2_encrypted_none", page.substr(0, 800), Compression::none, 0, true, 0);
    codec_seed(codec, "v2_encrypted_zstd_pieces", page, Compression::zstd, 19, true, 5);
    codec_seed(codec, "v2_encrypted_empty", "", Compression::zstd, 1, true, 1);
    // Format 2 with a base: an incremental backup's object.
    codec_seed(codec, "v2_encrypted_increment", page.substr(0, 1500), Compression::zstd, 3, true, 9,
               kFormatVersion, "wecare_backup_2026-11-25_02-15-00.db");
    codec_seed(codec, "v2_plain_increment", page.substr(0, 600), Compression::none, 0, false, 0,
               kFormatVersion, "wecare_backup_2026-11-25_02-15-00.db");

    const std::string index_dir = root + "/fuzz_offsite_index";
    OffsiteIndex index;
    index.target = "s3://clinic-backups/wecare";
    index.last_success_at = 1795683600;
    index.objects.push_back({"wecare_backup_2026-11-26_02-15-00.db", 21495808, 67108864, 1795683300123456789,
                             "auto", "xxh3t:0f1e2d3c4b5a69788796a5b4c3d2e1f0", 1795683607});
    index.objects.push_back({"wecare_backup_2026-11-27_02-15-00_2.db", 512, 0, 0, "", "", 0});
    write_file(index_dir + "/synced", serialize_offsite_index(index));
    index.last_error =
        "s3 put_object 's3://clinic-backups/wecare/x': HTTP 503 SlowDown: 100% busy\nretry later";
    index.last_error_at = 1795687200;
    write_file(index_dir + "/failed", serialize_offsite_index(index));
    OffsiteIndex empty;
    empty.target = "/mnt/nas/wecare";
    write_file(index_dir + "/empty", serialize_offsite_index(empty) + "future_key=1\n");
    // What this version writes: authenticated objects, foreign count, 1.0.0 objects it sent.
    OffsiteIndex v2 = index;
    v2.object_format = 2;
    v2.foreign = 7;
    v2.legacy.push_back({"wecare_backup_2026-11-20_02-15-00.db", 20971520, 67108864, 1795165200000000000,
                         "auto", "xxh3t:00112233445566778899aabbccddeeff", 1795165207});
    write_file(index_dir + "/authenticated", serialize_offsite_index(v2));
    // A chain off-site: increments name the backup they build on.
    OffsiteIndex chain = v2;
    OffsiteObject increment{"wecare_backup_2026-11-26_03-15-00.incr", 4096, 8192, 1795686900000000000,
                            "auto", "xxh3t:ffeeddccbbaa99887766554433221100", 1795686907};
    increment.base = "wecare_backup_2026-11-26_02-15-00.db";
    chain.objects.push_back(increment);
    increment.name = "wecare_backup_2026-11-26_04-15-00.incr";
    increment.base = "wecare_backup_2026-11-26_03-15-00.incr";
    chain.objects.push_back(increment);
    write_file(index_dir + "/chain", serialize_offsite_index(chain));
    return 0;
}
