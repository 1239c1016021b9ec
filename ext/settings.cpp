#include "settings.hpp"

#include "error.hpp"
#include "naming.hpp"
#include "offsite_settings.hpp"

namespace wb {

namespace {

constexpr int64_t kMaxKeep = 1000000;

int64_t parse_integer(const std::string& key, const std::string& value, int64_t lo, int64_t hi) {
    const std::string range = std::to_string(lo) + " to " + std::to_string(hi);
    if (value.empty() || value.size() > 12) throw Error(key + " must be a whole number from " + range);
    int64_t v = 0;
    for (char c : value) {
        if (c < '0' || c > '9')
            throw Error(key + " must be a whole number from " + range + ", not '" + value + "'");
        v = v * 10 + (c - '0');
    }
    if (v < lo || v > hi) throw Error(key + " must be a whole number from " + range + ", not " + value);
    return v;
}

std::vector<std::string> parse_table_list(const std::string& value) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= value.size()) {
        size_t comma = value.find(',', start);
        if (comma == std::string::npos) comma = value.size();
        std::string item = value.substr(start, comma - start);
        const size_t b = item.find_first_not_of(" \t");
        const size_t e = item.find_last_not_of(" \t");
        item = b == std::string::npos ? "" : item.substr(b, e - b + 1);
        if (!item.empty()) {
            if (item.find('\0') != std::string::npos || !is_valid_utf8(item))
                throw Error("critical_tables must be comma-separated table names in UTF-8");
            out.push_back(item);
        }
        start = comma + 1;
    }
    return out;
}

} // namespace

const std::vector<std::string>& setting_keys() {
    static const std::vector<std::string> keys = {"dir",
                                                  "prefix",
                                                  "keep_last",
                                                  "keep_daily",
                                                  "keep_weekly",
                                                  "keep_monthly",
                                                  "keep_safety",
                                                  "verify_on_create",
                                                  "critical_tables",
                                                  "max_snapshot_seconds",
                                                  "busy_timeout_ms",
                                                  "offsite",
                                                  "s3_endpoint",
                                                  "s3_region",
                                                  "s3_credentials_file",
                                                  "compress",
                                                  "encrypt_key_file",
                                                  "offsite_keep_last",
                                                  "offsite_keep_daily",
                                                  "offsite_keep_weekly",
                                                  "offsite_keep_monthly"};
    return keys;
}

std::string join(const std::vector<std::string>& items, const std::string& separator) {
    std::string out;
    for (const auto& item : items) {
        if (!out.empty()) out += separator;
        out += item;
    }
    return out;
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
    if (key == "dir") return s.dir;
    if (key == "prefix") return s.prefix;
    if (key == "keep_last") return std::to_string(s.keep_last);
    if (key == "keep_daily") return std::to_string(s.keep_daily);
    if (key == "keep_weekly") return std::to_string(s.keep_weekly);
    if (key == "keep_monthly") return std::to_string(s.keep_monthly);
    if (key == "keep_safety") return std::to_string(s.keep_safety);
    if (key == "verify_on_create") return s.verify_on_create ? "1" : "0";
    if (key == "critical_tables") return join(s.critical_tables, ",");
    if (key == "max_snapshot_seconds") return std::to_string(s.max_snapshot_seconds);
    if (key == "busy_timeout_ms") return std::to_string(s.busy_timeout_ms);
    if (key == "offsite") return s.offsite;
    if (key == "s3_endpoint") return s.s3_endpoint;
    if (key == "s3_region") return s.s3_region;
    if (key == "s3_credentials_file") return s.s3_credentials_file;
    if (key == "compress") return s.compress;
    if (key == "encrypt_key_file") return s.encrypt_key_file;
    if (key == "offsite_keep_last") return std::to_string(s.offsite_keep_last);
    if (key == "offsite_keep_daily") return std::to_string(s.offsite_keep_daily);
    if (key == "offsite_keep_weekly") return std::to_string(s.offsite_keep_weekly);
    if (key == "offsite_keep_monthly") return std::to_string(s.offsite_keep_monthly);
    throw Error("unknown setting '" + key + "'; valid settings are: " + join(setting_keys(), ", "));
}

void set_setting(Settings& s, const std::string& key, const std::string& value) {
    Settings next = s;
    if (key == "dir") {
        if (value.find('\0') != std::string::npos || value.size() > 4096 || !is_valid_utf8(value))
            throw Error("dir must be a directory path in UTF-8 of at most 4096 bytes ('' = the default)");
        next.dir = value;
    } else if (key == "prefix") {
        if (!value.empty()) {
            const std::string problem = prefix_problem(value);
            if (!problem.empty())
                throw Error(problem + "; use letters, digits, '_' or '-' ('' = the default)");
        }
        next.prefix = value;
    } else if (key == "keep_last") {
        next.keep_last = parse_integer(key, value, 0, kMaxKeep);
    } else if (key == "keep_daily") {
        next.keep_daily = parse_integer(key, value, 0, kMaxKeep);
    } else if (key == "keep_weekly") {
        next.keep_weekly = parse_integer(key, value, 0, kMaxKeep);
    } else if (key == "keep_monthly") {
        next.keep_monthly = parse_integer(key, value, 0, kMaxKeep);
    } else if (key == "keep_safety") {
        next.keep_safety = parse_integer(key, value, 0, kMaxKeep);
    } else if (key == "verify_on_create") {
        if (value != "0" && value != "1") throw Error("verify_on_create must be 0 or 1, not '" + value + "'");
        next.verify_on_create = value == "1";
    } else if (key == "critical_tables") {
        next.critical_tables = parse_table_list(value);
    } else if (key == "max_snapshot_seconds") {
        next.max_snapshot_seconds = parse_integer(key, value, 1, int64_t{7} * 86400);
    } else if (key == "busy_timeout_ms") {
        next.busy_timeout_ms = parse_integer(key, value, 0, int64_t{3600} * 1000);
    } else if (key == "offsite") {
        next.offsite = check_offsite_spec(value);
    } else if (key == "s3_endpoint") {
        next.s3_endpoint = check_s3_endpoint(value);
    } else if (key == "s3_region") {
        next.s3_region = check_s3_region(value);
    } else if (key == "s3_credentials_file") {
        next.s3_credentials_file = check_absolute_file(key, value);
    } else if (key == "compress") {
        next.compress = check_compress(value);
    } else if (key == "encrypt_key_file") {
        next.encrypt_key_file = check_absolute_file(key, value);
    } else if (key == "offsite_keep_last") {
        next.offsite_keep_last = parse_integer(key, value, 0, kMaxKeep);
    } else if (key == "offsite_keep_daily") {
        next.offsite_keep_daily = parse_integer(key, value, 0, kMaxKeep);
    } else if (key == "offsite_keep_weekly") {
        next.offsite_keep_weekly = parse_integer(key, value, 0, kMaxKeep);
    } else if (key == "offsite_keep_monthly") {
        next.offsite_keep_monthly = parse_integer(key, value, 0, kMaxKeep);
    } else {
        throw Error("unknown setting '" + key + "'; valid settings are: " + join(setting_keys(), ", "));
    }
    s = std::move(next);
}

} // namespace wb
