// The settings table (settings.hpp): each row of WB_SETTINGS becomes a
// SettingSpec whose get/set convert between the field and its text form, by
// kind. Checks live in setting_values.cpp; resolving the defaults that depend
// on the database path is resolve_settings.
#include "policy/settings.hpp"

#include "common/error.hpp"
#include "policy/naming.hpp"
#include "policy/text.hpp"

namespace wb {

namespace {

std::string format_value(const std::string& v) {
    return v;
}
std::string format_value(int64_t v) {
    return std::to_string(v);
}
std::string format_value(bool v) {
    return v ? "1" : "0";
}
std::string format_value(const std::vector<std::string>& v) {
    return join(v, ",");
}

std::string parse_TEXT(const std::string& key, const std::string& value,
                       std::string (*check)(const std::string&, const std::string&)) {
    return check(key, value);
}

std::vector<std::string> parse_LIST(const std::string& key, const std::string& value,
                                    std::vector<std::string> (*check)(const std::string&,
                                                                      const std::string&)) {
    return check(key, value);
}

int64_t parse_INTEGER(const std::string& key, const std::string& value, Range range) {
    const std::string valid =
        key + " must be a whole number from " + std::to_string(range.lo) + " to " + std::to_string(range.hi);
    if (value.empty() || value.size() > 12) throw Error(valid);
    for (char c : value)
        if (c < '0' || c > '9') throw Error(valid + ", not '" + value + "'");
    const auto v = parse_decimal(value, range.lo, range.hi);
    if (!v) throw Error(valid + ", not " + value);
    return *v;
}

bool parse_FLAG(const std::string& key, const std::string& value, int) {
    if (value != "0" && value != "1") throw Error(key + " must be 0 or 1, not '" + value + "'");
    return value == "1";
}

#define WB_SETTING_SPEC(kind, name, def, check, stats, doc)                                                  \
    SettingSpec{#name,                                                                                       \
                SettingKind::kind,                                                                           \
                (stats) != 0,                                                                                \
                doc,                                                                                         \
                [](const Settings& s) { return format_value(s.name); },                                      \
                [](Settings& s, const std::string& v) { s.name = parse_##kind(#name, v, check); }},

Error unknown_setting(const std::string& key) {
    return Error("unknown setting '" + key + "'; valid settings are: " + join(setting_keys(), ", "));
}

const SettingSpec& spec_of(const std::string& key) {
    for (const auto& spec : setting_specs())
        if (key == spec.key) return spec;
    throw unknown_setting(key);
}

} // namespace

const std::vector<SettingSpec>& setting_specs() {
    static const std::vector<SettingSpec> specs = {WB_SETTINGS(WB_SETTING_SPEC)};
    return specs;
}

std::vector<std::string> setting_keys() {
    std::vector<std::string> keys;
    for (const auto& spec : setting_specs())
        keys.emplace_back(spec.key);
    return keys;
}

std::string normalize_path(const std::string& path) {
    const bool absolute = !path.empty() && path[0] == '/';
    std::vector<std::string> parts;
    size_t start = 0;
    while (start <= path.size()) {
        size_t slash = path.find('/', start);
        if (slash == std::string::npos) slash = path.size();
        const std::string part = path.substr(start, slash - start);
        if (part == "..") {
            if (!parts.empty() && parts.back() != "..") {
                parts.pop_back();
            } else if (!absolute) {
                parts.push_back(part); // a relative path may climb; "/.." is "/"
            }
        } else if (!part.empty() && part != ".") {
            parts.push_back(part);
        }
        start = slash + 1;
    }
    const std::string joined = join(parts, "/");
    if (absolute) return "/" + joined;
    return joined.empty() ? "." : joined;
}

Settings resolve_settings(const Settings& settings, const std::string& db_path) {
    Settings out = settings;
    const size_t slash = db_path.find_last_of('/');
    const std::string db_dir =
        slash == std::string::npos ? "." : (slash == 0 ? "/" : db_path.substr(0, slash));
    if (out.dir.empty()) {
        out.dir = db_dir + (db_dir == "/" ? "" : "/") + "backups";
    } else if (out.dir[0] != '/') {
        out.dir = db_dir + (db_dir == "/" ? "" : "/") + out.dir;
    }
    out.dir = normalize_path(out.dir);
    if (out.prefix.empty()) out.prefix = default_prefix(db_path);
    return out;
}

std::string get_setting(const Settings& s, const std::string& key) {
    return spec_of(key).get(s);
}

void set_setting(Settings& s, const std::string& key, const std::string& value) {
    const SettingSpec& spec = spec_of(key);
    Settings next = s;
    spec.set(next, value);
    s = std::move(next);
}

} // namespace wb
