// The off-site stream decoder (offsite/codec.hpp) on arbitrary bytes, with
// and without a key, fed in pieces of any size, expecting the identity the
// format 2 seeds carry (fuzz_key.hpp) and accepting format 1. It must finish
// or throw wb::Error of an off-site kind, never crash; it never delivers more
// bytes than the header's original size, and a stream it accepts delivered
// exactly that many and was fed whole. read_header, given the same bytes,
// agrees with the decoder: it accepts the header of every stream the decoder
// accepts (and returns the same one, base included), and what it refuses for
// another reason than too few bytes, the decoder refuses too.
// Input: 1 mode byte (bit 0: decode with the fixed key of fuzz_key.hpp;
// bits 1-7: piece size, 0 = all at once), then the stream.
#include <cstdint>
#include <cstdlib>
#include <optional>

#include "common/error.hpp"
#include "fuzz_key.hpp"
#include "offsite/codec.hpp"

using namespace wb;
using namespace wb::offsite;

namespace {
void check(bool ok) {
    if (!ok) std::abort();
}
bool offsite_kind(ErrorKind k) {
    return k == ErrorKind::config || k == ErrorKind::format || k == ErrorKind::wrong_key ||
           k == ErrorKind::tampered || k == ErrorKind::truncated || k == ErrorKind::trailing_data;
}
// original_size as the fixed header carries it (offset 13, little-endian).
uint64_t announced_size(const uint8_t* stream, size_t size) {
    if (size < 21) return 0;
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i)
        v = (v << 8) | stream[13 + i];
    return v;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    const bool with_key = data[0] & 1;
    const size_t piece = data[0] >> 1;
    const uint8_t* stream = data + 1;
    const size_t stream_size = size - 1;
    const uint64_t announced = announced_size(stream, stream_size);

    const std::optional<Key> key = with_key ? std::optional<Key>(fuzz_key()) : std::nullopt;
    const Expected expected = fuzz_identity();

    std::optional<Header> probed;
    bool probe_refused = false;
    try {
        probed = read_header(stream, stream_size, key, expected);
    } catch (const Error& e) {
        check(offsite_kind(e.kind()));
        probe_refused = e.kind() != ErrorKind::truncated;
    }

    uint64_t delivered = 0;
    Decoder decoder(
        key,
        [&](const uint8_t* p, size_t n) {
            check(p != nullptr && n > 0);
            delivered += n;
            // Nothing is delivered before a valid header, and never beyond its size.
            check(delivered <= announced);
            check(probed.has_value());
        },
        expected);
    try {
        for (size_t at = 0; at < stream_size;) {
            const size_t n = piece == 0 ? stream_size - at : std::min(piece, stream_size - at);
            decoder.feed(stream + at, n);
            at += n;
        }
        const DecodeResult result = decoder.finish();
        check(result.header.original_size == delivered);
        check(result.encoded_size == stream_size);
        check(result.header.encrypted == with_key);
        check(!probe_refused && probed.has_value());
        check(probed->name == result.header.name && probed->created_ns == result.header.created_ns &&
              probed->base == result.header.base &&
              probed->original_checksum == result.header.original_checksum &&
              probed->version == result.header.version);
        if (result.header.version == kFormatVersion)
            check(result.header.name == expected.name && result.header.prefix == expected.prefix);
        else
            check(result.header.base.empty()); // format 1 has no base
    } catch (const Error& e) {
        check(offsite_kind(e.kind()));
    }
    return 0;
}
