// What leaves the machine: an optionally compressed and encrypted,
// self-describing stream made from a backup file. Errors are wb::Error with
// the off-site kinds (config, format, wrong_key, tampered, truncated, ...).
//
// Usage
//   Key key = load_key_file("/etc/wecare/offsite.key").key;   // key.hpp
//   EncodeOptions opt;                      // zstd level 3, 1 MiB chunks
//   opt.key = key;                          // omit for no encryption
//   opt.original_checksum = "xxh3t:...";    // stored, returned on decode
//   encode_stream(source, size, opt, [&](const uint8_t* p, size_t n) { ... });
//
//   Decoder dec(key, [&](const uint8_t* p, size_t n) { /* plaintext */ });
//   dec.feed(bytes, n); ...                 // in any pieces
//   DecodeResult r = dec.finish();          // throws if anything is wrong
//
// Stream format, version 1 (all integers little-endian)
//   header  "WCBK1"            magic (5 bytes)
//           u8  version        1
//           u8  compression    0 none, 1 zstd
//           i8  level          0 for none, 1..19 for zstd
//           u8  encrypted      0 / 1
//           u32 chunk_size     4 KiB .. 4 MiB
//           u64 original_size  bytes of the original file
//           u8[8] key_id       BLAKE2b of the key (zero when not encrypted)
//           u8  checksum_len, then the caller's checksum string
//           [encrypted] 24-byte crypto_secretstream header
//   frames  u32 length, then `length` bytes, repeated; the payload is the
//           (compressed) data cut into pieces of at most chunk_size bytes.
//     not encrypted: u8 tag (0 data, 1 final) + piece; the final frame ends
//           with a 32-byte BLAKE2b hash of every stream byte before it, so any
//           changed, lost or reordered byte is detected (corruption, not an
//           attacker: without a key anyone can recompute the hash).
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
//   unknown compression or level.
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
constexpr uint8_t kFormatVersion = 1;

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
    // must not be encrypted.
    Decoder(std::optional<Key> key, Sink sink);
    ~Decoder();
    Decoder(const Decoder&) = delete;
    Decoder& operator=(const Decoder&) = delete;

    void feed(const uint8_t* data, size_t size);
    // Checks that the stream is complete; returns the header.
    DecodeResult finish();

  private:
    struct State;
    std::unique_ptr<State> state_;
};

} // namespace wb::offsite
