// The off-site index file: serialisation and parsing (see index.hpp).
#include "offsite/index.hpp"

#include "common/error.hpp"
#include "policy/record.hpp"
#include "policy/text.hpp"

namespace wb::offsite {

namespace {

constexpr std::string_view kMagic = "wecare_offsite_index 1";
constexpr std::string_view kSegmentMagic = "wecare_offsite_segments 1";

// A text field of an object line. Spaces separate the fields and "-" stands
// for "", so a space and a lone "-" are escaped as well.
std::string field(const std::string& text) {
    if (text.empty()) return "-";
    if (text == "-") return "%2D";
    return percent_encode(text, [](unsigned char c) { return c != '%' && c > 0x20 && c != 0x7f; });
}
std::string unfield(std::string_view text) {
    return text == "-" ? "" : unescape_value(text);
}

int64_t number(std::string_view text) {
    return parse_int64(text, "offsite index");
}

std::vector<std::string_view> split_spaces(std::string_view text) {
    std::vector<std::string_view> out;
    size_t start = 0;
    while (start <= text.size()) {
        size_t space = text.find(' ', start);
        if (space == std::string_view::npos) space = text.size();
        out.push_back(text.substr(start, space - start));
        start = space + 1;
    }
    return out;
}

const OffsiteObject* find_in(const std::vector<OffsiteObject>& objects, const std::string& name) {
    for (const auto& o : objects)
        if (o.name == name) return &o;
    return nullptr;
}

std::string object_fields(const OffsiteObject& o) {
    return field(o.name) + " " + std::to_string(o.object_bytes) + " " + std::to_string(o.original_bytes) +
           " " + std::to_string(o.created_ns) + " " + field(o.kind) + " " + field(o.checksum) + " " +
           std::to_string(o.uploaded_at) + (o.base.empty() ? "" : " " + field(o.base)) + "\n";
}

OffsiteObject parse_object(std::string_view value) {
    const auto parts = split_spaces(value);
    if (parts.size() < 7) throw Error("offsite index: malformed object line");
    OffsiteObject o;
    o.name = unfield(parts[0]);
    o.object_bytes = number(parts[1]);
    o.original_bytes = number(parts[2]);
    o.created_ns = number(parts[3]);
    o.kind = unfield(parts[4]);
    o.checksum = unfield(parts[5]);
    o.uploaded_at = number(parts[6]);
    if (parts.size() > 7) o.base = unfield(parts[7]);
    return o;
}

std::string segment_fields(const SegmentObject& o) {
    return field(o.name) + " " + std::to_string(o.object_bytes) + " " + std::to_string(o.original_bytes) +
           " " + std::to_string(o.created_ns) + " " + field(o.base) + " " + field(o.checksum) + " " +
           std::to_string(o.last_point_ns) + " " + field(o.modified) + " " + std::to_string(o.uploaded_at) +
           "\n";
}

SegmentObject parse_segment(std::string_view value) {
    const auto parts = split_spaces(value);
    if (parts.size() < 9) throw Error("offsite segment index: malformed segment line");
    SegmentObject o;
    o.name = unfield(parts[0]);
    o.object_bytes = number(parts[1]);
    o.original_bytes = number(parts[2]);
    o.created_ns = number(parts[3]);
    o.base = unfield(parts[4]);
    o.checksum = unfield(parts[5]);
    o.last_point_ns = number(parts[6]);
    o.modified = unfield(parts[7]);
    o.uploaded_at = number(parts[8]);
    return o;
}

// The lines both indexes start with.
void serialize_status(std::string& out, const std::string& target, const std::optional<int64_t>& success,
                      const std::string& error, const std::optional<int64_t>& error_at) {
    out += "\ntarget=" + escape_value(target) + "\n";
    if (success) out += "last_success_at=" + std::to_string(*success) + "\n";
    if (!error.empty()) out += "last_error=" + escape_value(error) + "\n";
    if (error_at) out += "last_error_at=" + std::to_string(*error_at) + "\n";
}

std::string_view after_magic(std::string_view text, std::string_view magic, const char* what) {
    if (text.substr(0, magic.size()) != magic || text.size() == magic.size() || text[magic.size()] != '\n')
        throw Error(std::string(what));
    return text.substr(magic.size() + 1);
}

} // namespace

const SegmentObject* SegmentIndex::find(const std::string& name) const {
    for (const auto& o : segments)
        if (o.name == name) return &o;
    return nullptr;
}

std::string segment_index_file_name(const std::string& prefix) {
    return ".wecare_offsite_segments_" + prefix;
}

std::string serialize_segment_index(const SegmentIndex& index) {
    std::string out(kSegmentMagic);
    serialize_status(out, index.target, index.last_success_at, index.last_error, index.last_error_at);
    if (index.foreign) out += "foreign=" + std::to_string(index.foreign) + "\n";
    for (const auto& o : index.segments)
        out += "segment=" + segment_fields(o);
    return out;
}

SegmentIndex parse_segment_index(std::string_view text) {
    text = after_magic(text, kSegmentMagic, "offsite segment index: not a wecare_backup segment index");
    SegmentIndex index;
    for_each_key_value(text, "offsite segment index", [&](std::string_view key, std::string_view value) {
        if (key == "target") {
            index.target = unescape_value(value);
        } else if (key == "last_success_at") {
            index.last_success_at = number(value);
        } else if (key == "last_error") {
            index.last_error = unescape_value(value);
        } else if (key == "last_error_at") {
            index.last_error_at = number(value);
        } else if (key == "foreign") {
            index.foreign = number(value);
        } else if (key == "segment") {
            index.segments.push_back(parse_segment(value));
        }
    });
    return index;
}

const OffsiteObject* OffsiteIndex::find(const std::string& name) const {
    return find_in(objects, name);
}

const OffsiteObject* OffsiteIndex::find_legacy(const std::string& name) const {
    return find_in(legacy, name);
}

std::string offsite_index_file_name(const std::string& prefix) {
    return ".wecare_offsite_index_" + prefix;
}

std::string serialize_offsite_index(const OffsiteIndex& index) {
    std::string out(kMagic);
    serialize_status(out, index.target, index.last_success_at, index.last_error, index.last_error_at);
    if (index.object_format) out += "object_format=" + std::to_string(index.object_format) + "\n";
    if (index.foreign) out += "foreign=" + std::to_string(index.foreign) + "\n";
    for (const auto& o : index.objects)
        out += "object=" + object_fields(o);
    for (const auto& o : index.legacy)
        out += "legacy=" + object_fields(o);
    return out;
}

OffsiteIndex parse_offsite_index(std::string_view text) {
    text = after_magic(text, kMagic, "offsite index: not a wecare_backup off-site index");
    OffsiteIndex index;
    for_each_key_value(text, "offsite index", [&](std::string_view key, std::string_view value) {
        if (key == "target") {
            index.target = unescape_value(value);
        } else if (key == "last_success_at") {
            index.last_success_at = number(value);
        } else if (key == "last_error") {
            index.last_error = unescape_value(value);
        } else if (key == "last_error_at") {
            index.last_error_at = number(value);
        } else if (key == "object_format") {
            index.object_format = number(value);
        } else if (key == "foreign") {
            index.foreign = number(value);
        } else if (key == "object") {
            index.objects.push_back(parse_object(value));
        } else if (key == "legacy") {
            index.legacy.push_back(parse_object(value));
        }
    });
    return index;
}

} // namespace wb::offsite
