// The off-site index files (.wecare_offsite_index_<prefix>, and the timeline's
// .wecare_offsite_segments_<prefix>): each parser on any text, then the
// serialize/parse round trip: what parses must serialise to text that parses
// to the same index, and serialise again to the same text.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "offsite/index.hpp"

using namespace wb;
using namespace wb::offsite;

namespace {
void check(bool ok) {
    if (!ok) std::abort();
}
bool same(const OffsiteObject& a, const OffsiteObject& b) {
    return a.name == b.name && a.object_bytes == b.object_bytes && a.original_bytes == b.original_bytes &&
           a.created_ns == b.created_ns && a.kind == b.kind && a.checksum == b.checksum &&
           a.uploaded_at == b.uploaded_at && a.base == b.base;
}
bool same(const OffsiteIndex& a, const OffsiteIndex& b) {
    if (a.target != b.target || a.last_success_at != b.last_success_at || a.last_error != b.last_error ||
        a.last_error_at != b.last_error_at || a.object_format != b.object_format || a.foreign != b.foreign ||
        a.objects.size() != b.objects.size() || a.legacy.size() != b.legacy.size())
        return false;
    for (size_t i = 0; i < a.objects.size(); ++i)
        if (!same(a.objects[i], b.objects[i])) return false;
    for (size_t i = 0; i < a.legacy.size(); ++i)
        if (!same(a.legacy[i], b.legacy[i])) return false;
    return true;
}
bool same(const SegmentObject& a, const SegmentObject& b) {
    return a.name == b.name && a.object_bytes == b.object_bytes && a.original_bytes == b.original_bytes &&
           a.created_ns == b.created_ns && a.base == b.base && a.checksum == b.checksum &&
           a.last_point_ns == b.last_point_ns && a.modified == b.modified && a.uploaded_at == b.uploaded_at;
}
bool same(const SegmentIndex& a, const SegmentIndex& b) {
    if (a.target != b.target || a.last_success_at != b.last_success_at || a.last_error != b.last_error ||
        a.last_error_at != b.last_error_at || a.foreign != b.foreign ||
        a.segments.size() != b.segments.size())
        return false;
    for (size_t i = 0; i < a.segments.size(); ++i)
        if (!same(a.segments[i], b.segments[i])) return false;
    return true;
}

void segment_index_round_trip(std::string_view text) {
    SegmentIndex index;
    try {
        index = parse_segment_index(text);
    } catch (const Error&) {
        return;
    }
    const std::string once = serialize_segment_index(index);
    SegmentIndex back;
    try {
        back = parse_segment_index(once);
    } catch (const Error&) {
        check(false);
    }
    check(same(index, back));
    check(serialize_segment_index(back) == once);
    for (const auto& o : index.segments)
        check(index.find(o.name) != nullptr);
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    segment_index_round_trip(text);
    OffsiteIndex index;
    try {
        index = parse_offsite_index(text);
    } catch (const Error&) {
        return 0;
    }
    const std::string once = serialize_offsite_index(index);
    OffsiteIndex back;
    try {
        back = parse_offsite_index(once);
    } catch (const Error&) {
        check(false); // what we wrote, we must read
    }
    check(same(index, back));
    check(serialize_offsite_index(back) == once);
    for (const auto& o : index.objects)
        check(index.find(o.name) != nullptr);
    for (const auto& o : index.legacy)
        check(index.find_legacy(o.name) != nullptr);
    return 0;
}
