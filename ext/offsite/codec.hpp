// What leaves the machine: an optionally compressed and encrypted,
// self-describing stream made from a backup file. Errors are wb::Error with
// the off-site kinds (config, format, wrong_key, tampered, truncated, ...).
//
// Usage
//   Key key = load_key_file("/etc/wecare/offsite.key").key;   // key.hpp
//   EncodeOptions opt;                      // zstd level 3, 1 MiB chunks
//   opt.key = key;                          // omit for no encryption
//   opt.original_checksum = "xxh3t:...";    // stored, returned on decode
//   opt.name = "app_backup_2026-11-26_02-15-00.db"; opt.prefix = "app";
//   opt.created_ns = ...;                   // the three bound into the header
//   opt.base = "";                          // an increment: the backup it builds on
//   encode_stream(source, size, opt, [&](const uint8_t* p, size_t n) { ... });
//
//   Expected expected{opt.name, opt.prefix, opt.created_ns, opt.base};
//   Decoder dec(key, [&](const uint8_t* p, size_t n) { /* plaintext */ }, expected);
//   dec.feed(bytes, n); ...                 // in any pieces
//   DecodeResult r = dec.finish();          // throws if anything is wrong
//
// Stream format, version 2 (what this version writes; integers little-endian)
//   header  "WCBK2"            magic (5 bytes)
//           u8  version        2
//           u8  compression    0 none, 1 zstd
//           i8  level          0 for none, 1..19 for zstd
//           u8  encrypted      0 / 1
//           u32 chunk_size     4 KiB .. 4 MiB
//           u64 original_size  bytes of the original file
//           u8[8] key_id       BLAKE2b of the key (zero when not encrypted)
//           i64 created_ns     the backup's creation time (ns since 1970, UTC)
//           u8  checksum_len, u8 prefix_len, u8 name_len, u8 base_len
//           checksum, prefix, name, base   the caller's checksum string, the
//                              database's prefix, the backup's name and, for
//                              an incremental backup, the name of the backup
//                              it builds on (empty for a full backup)
//           [encrypted] u8[32] header MAC: keyed BLAKE2b-256 of every header
//                              byte before it, under a key derived from the key
//           [encrypted] 24-byte crypto_secretstream header
//   frames  as in version 1 below; the additional data of every encrypted
//           frame is the whole header up to and including the MAC.
//   The secretstream and the MAC use two subkeys derived from the key
//   (crypto_kdf, context "wcbkoff2", ids 1 and 2), never the key itself.
//
// Why the header has its own MAC: an object counts off-site only if it
// authenticates under the key (sync.hpp), and checking that must not cost a
// download of every object on every sync. The MAC lets read_header()
// authenticate an object's name, prefix, creation time, base, sizes and
// checksum from its first bytes (kHeaderProbeBytes, one small ranged read).
// The frames carry the MAC in their additional data, so a header cannot be
// moved onto another object's frames either. A decoder is told which object
// it is reading (Expected): a header naming another backup, another database,
// another creation time or (when the caller knows it) another base is
// "tampered" (an object renamed, or an older one copied over a newer name),
// even though it authenticates. The base is bound so that the chain an
// increment needs can be found from the objects alone (a new machine fetching
// it), and nobody without the key can point an increment at another parent.
//
// Stream format, version 1 (written by 1.0.0; read only when the caller asks)
//   header  "WCBK1", u8 version 1, u8 compression, i8 level, u8 encrypted,
//           u32 chunk_size, u64 original_size, u8[8] key_id, u8 checksum_len,
//           checksum; [encrypted] 24-byte secretstream header (under the key
//           itself). No name, prefix or time: a version 1 object cannot prove
//           which backup it is, only that the key holder wrote it.
//   frames  u32 length, then `length` bytes, repeated; the payload is the
//           (compressed) data cut into pieces of at most chunk_size bytes.
//     not encrypted: u8 tag (0 data, 1 final) + piece; the final frame ends
//           with a 32-byte BLAKE2b hash of every stream byte before it, so any
//           changed, lost or reordered byte is detected (corruption, not an
//           attacker: without a key anyone can recompute the hash, and without
//           a key nothing in the header is authenticated either).
//     encrypted: crypto_secretstream_xchacha20poly1305 message of the piece,
//           tag FINAL on the last frame; every frame authenticates the whole
//           header as additional data, so no header byte can be altered.
//   Exactly one final frame (possibly empty) ends the stream: a missing final
//   frame is "truncated", any byte after it is "trailing data".
//
// How it works
//   The encoder reads the file in 256 KiB blocks, runs them through
//   ZSTD_compressStream2 (or not), collects the output into one chunk and
//   emits a frame each time the chunk is full. The decoder is push-driven (so
//   it can sit behind an HTTP download) and keeps at most one frame plus the
//   zstd window in memory: a few MiB whatever the size. Windows above 8 MiB
//   (zstd levels above 19) are refused. The key id lets the decoder say
//   "wrong key" instead of the less helpful "wrong key or tampered data".
//   Unsupported combinations are errors, never a silent downgrade: asking for
//   encryption without a key, a key given to decode a plaintext stream, an
//   unknown compression or level, a version 1 stream the caller did not accept.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/error.hpp"

namespace wb::offsite {

// Receives output bytes. May throw; the exception propagates to the caller.
using Sink = std::function<void(const uint8_t* data, size_t size)>;
// Fills up to `capacity` bytes of `buffer`, returns the count; 0 = end.
using Source = std::function<size_t(uint8_t* buffer, size_t capacity)>;

constexpr size_t kKeyBytes = 32;
constexpr uint32_t kMinChunkSize = 4 * 1024;
constexpr uint32_t kMaxChunkSize = 4 * 1024 * 1024;
constexpr uint32_t kDefaultChunkSize = 1024 * 1024;
constexpr uint8_t kFormatVersion = 2;       // what encode_stream writes
constexpr uint8_t kLegacyFormatVersion = 1; // what 1.0.0 wrote
constexpr size_t kMaxHeaderField = 255;     // checksum, prefix, name, base
// Enough bytes of a stream's start to hold any header (at most 41 + 4 * 255
// + 32 + 24 = 1117 bytes): what read_header() needs.
constexpr size_t kHeaderProbeBytes = 2048;

// Makes sure libsodium is initialised (throws Error(config) if it cannot be).
void ensure_sodium();

// A 32-byte secret key, wiped from memory when destroyed.
class Key {
  public:
    Key() = default;
    explicit Key(const uint8_t (&bytes)[kKeyBytes]);
    Key(const Key& other) = default;
    Key& operator=(const Key& other) = default;
    ~Key();
    const uint8_t* data() const { return bytes_.data(); }
    uint8_t* data() { return bytes_.data(); }
    // 16 hex chars, safe to show: derived with BLAKE2b, reveals nothing of the key.
    std::string id_hex() const;

  private:
    std::array<uint8_t, kKeyBytes> bytes_{};
};

enum class Compression : uint8_t { none = 0, zstd = 1 };

struct EncodeOptions {
    Compression compression = Compression::zstd;
    int level = 3;                   // zstd 1..19; must be 0 for none
    std::optional<Key> key;          // encrypt when present
    bool require_encryption = false; // true: refuse to run without a key
    uint32_t chunk_size = kDefaultChunkSize;
    std::string original_checksum; // opaque, at most 255 bytes
    // Version 2: which backup this is (bound into the authenticated header).
    std::string name;   // the backup's name, 1..255 bytes
    std::string prefix; // the database's prefix, at most 255 bytes
    int64_t created_ns = 0;
    std::string base; // an increment: the backup it builds on; "" for a full backup
    // 1 writes what 1.0.0 wrote (no name, prefix or time): only for the tests
    // and the fuzz corpus, which must keep the version 1 reader exercised.
    uint8_t format_version = kFormatVersion;
};

struct Header {
    uint8_t version = kFormatVersion;
    Compression compression = Compression::none;
    int level = 0;
    bool encrypted = false;
    uint32_t chunk_size = 0;
    uint64_t original_size = 0;
    std::array<uint8_t, 8> key_id{};
    std::string original_checksum;
    // Version 2 only (empty / 0 in version 1):
    std::string name;
    std::string prefix;
    int64_t created_ns = 0;
    std::string base; // "" for a full backup
};

// What the caller knows about the object it is about to decode. A version 2
// header must carry exactly this name and prefix (and created_ns and base
// when given), or decoding fails as "tampered": the object was renamed or
// replayed.
struct Expected {
    std::string name;
    std::string prefix;
    std::optional<int64_t> created_ns;
    std::optional<std::string> base; // "" = must be a full backup; nullopt = not known
    // Version 1 streams cannot prove which backup they are; the caller
    // accepts one only when it can check the result some other way (a
    // checksum it recorded itself) or only looks at the version.
    bool accept_version1 = false;
    // Checks nothing of the identity and accepts version 1: the fuzzer and
    // tests of the framing only.
    bool any_identity = false;

    static Expected any() {
        Expected e;
        e.accept_version1 = true;
        e.any_identity = true;
        return e;
    }
};

struct EncodeResult {
    Header header;
    uint64_t encoded_size = 0; // bytes given to the sink
};

// Encodes `original_size` bytes read from `source`; throws if the source
// yields a different number of bytes (the file changed while being read).
EncodeResult encode_stream(const Source& source, uint64_t original_size, const EncodeOptions& options,
                           const Sink& sink);
struct DecodeResult {
    Header header;
    uint64_t encoded_size = 0; // bytes fed
};

// Push decoder. Plaintext reaches `sink` as soon as it is authenticated
// chunk by chunk: a caller writing a file must discard it unless finish()
// returns normally.
class Decoder {
  public:
    // With a key, the stream must be encrypted with that key; without one it
    // must not be encrypted. `expected` says which object this must be.
    Decoder(std::optional<Key> key, Sink sink, Expected expected);
    ~Decoder();
    Decoder(const Decoder&) = delete;
    Decoder& operator=(const Decoder&) = delete;

    void feed(const uint8_t* data, size_t size);
    // Checks that the stream is complete; returns the header.
    DecodeResult finish();

  private:
    friend Header read_header(const uint8_t* data, size_t size, const std::optional<Key>& key,
                              const Expected& expected);
    struct State;
    std::unique_ptr<State> state_;
};

// Reads and checks the header at the start of a stream exactly as the decoder
// does (versions, key id, MAC, the identity in `expected`) without decoding
// any frame. `data` is the stream's first `size` bytes (kHeaderProbeBytes are
// always enough); throws Error(truncated) when they end inside the header.
// With a key, a version 2 header that passes is authenticated; a version 1
// header (if accepted) is not, nor is anything without a key.
Header read_header(const uint8_t* data, size_t size, const std::optional<Key>& key, const Expected& expected);

} // namespace wb::offsite
