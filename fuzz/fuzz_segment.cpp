// Continuous capture's segment format (policy/segment_format.hpp): the file
// header and the point header on hostile bytes, with their trailing checksums
// fixed by the harness so the checks past them are reached, and the round
// trip of what parses.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "common/error.hpp"
#include "policy/segment_format.hpp"

using namespace wb;

namespace {
void check(bool ok) {
    if (!ok) std::abort();
}

std::string sealed(const uint8_t* data, size_t size, size_t length) {
    std::string out(length, '\0');
    std::memcpy(out.data(), data, size < length - 8 ? size : length - 8);
    const uint64_t sum = XXH3_64bits(out.data(), length - 8);
    for (int i = 0; i < 8; ++i)
        out[length - 8 + static_cast<size_t>(i)] = static_cast<char>(sum >> (8 * i));
    return out;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    if (data[0] & 1) {
        const std::string head = sealed(data + 1, size - 1, kSegmentHeaderBytes);
        SegmentHeader h;
        try {
            h = parse_segment_header(head);
        } catch (const Error&) {
            return 0;
        }
        const SegmentHeader again = parse_segment_header(serialize_segment_header(h));
        check(again.generation == h.generation && again.sequence == h.sequence && again.base == h.base &&
              again.reason == h.reason && again.frame == h.frame && again.page_size == h.page_size &&
              again.base_created_ns == h.base_created_ns);
        check(!h.base.empty() && h.page_size >= 512 && h.page_size <= 65536);
    } else {
        const std::string head = sealed(data + 1, size - 1, kPointHeaderBytes);
        PointHeader p;
        try {
            p = parse_point_header(head);
        } catch (const Error&) {
            return 0;
        }
        check(serialize_point_header(p) == head);
        check(p.entries <= p.page_count && p.first_frame >= 1 && p.last_frame >= p.first_frame);
    }
    return 0;
}
