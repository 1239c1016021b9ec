// The sidecar record: serialisation and parsing (see record.hpp).
#include "policy/record.hpp"

#include <cstdint>

#include "common/error.hpp"
#include "policy/text.hpp"

namespace wb {

namespace {

constexpr std::string_view kMagic = "wecare_backup_meta 1";
constexpr size_t kMaxRecordBytes = 16 << 20;

void put(std::string& out, std::string_view key, std::string_view value) {
    out += key;
    out += '=';
    out += escape_value(value);
    out += '\n';
}

int64_t parse_int(std::string_view key, std::string_view v) {
    return parse_int64(v, "metadata: " + std::string(key));
}

} // namespace

void for_each_key_value(std::string_view text, std::string_view what,
                        const std::function<void(std::string_view, std::string_view)>& on_line) {
    while (!text.empty()) {
        const size_t nl = text.find('\n');
        if (nl == std::string_view::npos) throw Error(std::string(what) + ": truncated");
        const std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl + 1);
        const size_t eq = line.find('=');
        if (eq == std::string_view::npos) throw Error(std::string(what) + ": malformed line");
        on_line(line.substr(0, eq), line.substr(eq + 1));
    }
}

std::string escape_value(std::string_view value) {
    return percent_encode(value, [](unsigned char c) { return c != '%' && c >= 0x20 && c != 0x7f; });
}

std::string unescape_value(std::string_view value) {
    return percent_decode(value, "metadata");
}

std::string serialize_record(const BackupRecord& r) {
    std::string out(kMagic);
    out += '\n';
    put(out, "name", r.name);
    put(out, "kind", r.kind);
    if (r.label) put(out, "label", *r.label);
    put(out, "created_ns", std::to_string(r.created_ns));
    put(out, "size_bytes", std::to_string(r.size_bytes));
    put(out, "checksum", r.checksum);
    put(out, "page_count", std::to_string(r.page_count));
    put(out, "page_size", std::to_string(r.page_size));
    put(out, "source", r.source);
    put(out, "journal_mode", r.journal_mode);
    put(out, "type", r.type);
    if (!r.base.empty()) put(out, "base", r.base);
    if (!r.manifest.empty()) put(out, "manifest", r.manifest);
    if (r.db_checksum) put(out, "db_checksum", hex64(*r.db_checksum));
    for (const auto& t : r.tables) {
        out += "table=" + escape_value(t.name) + " " + std::to_string(t.rows) + "\n";
    }
    if (r.verified_at) put(out, "verified_at", std::to_string(*r.verified_at));
    if (r.verify_ok) put(out, "verify_ok", *r.verify_ok ? "1" : "0");
    if (!r.verify_error.empty()) put(out, "verify_error", r.verify_error);
    if (r.offsite_at) put(out, "offsite_at", std::to_string(*r.offsite_at));
    if (r.offsite_ok) put(out, "offsite_ok", *r.offsite_ok ? "1" : "0");
    if (!r.offsite_error.empty()) put(out, "offsite_error", r.offsite_error);
    return out;
}

BackupRecord parse_record(std::string_view text) {
    if (text.size() > kMaxRecordBytes) throw Error("metadata: record too large");
    if (text.substr(0, kMagic.size()) != kMagic || text.size() == kMagic.size() ||
        text[kMagic.size()] != '\n')
        throw Error("metadata: not a wecare_backup record");
    text.remove_prefix(kMagic.size() + 1);
    BackupRecord r;
    bool have_name = false;
    for_each_key_value(text, "metadata", [&](std::string_view key, std::string_view raw) {
        if (key == "table") {
            const size_t space = raw.rfind(' ');
            if (space == std::string_view::npos) throw Error("metadata: malformed table line");
            r.tables.push_back({unescape_value(raw.substr(0, space)), parse_int(key, raw.substr(space + 1))});
            return;
        }
        const std::string value = unescape_value(raw);
        if (key == "name") {
            r.name = value;
            have_name = true;
        } else if (key == "kind") {
            if (!value.empty() && value != "manual" && value != "auto" && value != "safety")
                throw Error("metadata: unknown kind");
            r.kind = value;
        } else if (key == "label") {
            r.label = value;
        } else if (key == "created_ns") {
            r.created_ns = parse_int(key, value);
        } else if (key == "size_bytes") {
            r.size_bytes = parse_int(key, value);
        } else if (key == "checksum") {
            r.checksum = value;
        } else if (key == "page_count") {
            r.page_count = parse_int(key, value);
        } else if (key == "page_size") {
            r.page_size = parse_int(key, value);
        } else if (key == "source") {
            r.source = value;
        } else if (key == "journal_mode") {
            r.journal_mode = value;
        } else if (key == "type") {
            if (value != "full" && value != "incremental") throw Error("metadata: unknown type");
            r.type = value;
        } else if (key == "base") {
            r.base = value;
        } else if (key == "manifest") {
            r.manifest = value;
        } else if (key == "db_checksum") {
            r.db_checksum = parse_hex64(value, "metadata: db_checksum");
        } else if (key == "verified_at") {
            r.verified_at = parse_int(key, value);
        } else if (key == "verify_ok") {
            if (value != "0" && value != "1") throw Error("metadata: bad verify_ok");
            r.verify_ok = value == "1";
        } else if (key == "verify_error") {
            r.verify_error = value;
        } else if (key == "offsite_at") {
            r.offsite_at = parse_int(key, value);
        } else if (key == "offsite_ok") {
            if (value != "0" && value != "1") throw Error("metadata: bad offsite_ok");
            r.offsite_ok = value == "1";
        } else if (key == "offsite_error") {
            r.offsite_error = value;
        }
    });
    if (!have_name) throw Error("metadata: record without a name");
    return r;
}

} // namespace wb
