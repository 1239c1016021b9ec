// The value checks of the settings table (see setting_values.hpp).
#include "policy/setting_values.hpp"

#include "common/error.hpp"
#include "policy/naming.hpp"
#include "policy/text.hpp"

namespace wb {

namespace {

bool is_lower_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool is_alnum(char c) {
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

bool plain_path(const std::string& value) {
    return !value.empty() && value[0] == '/' && value.size() <= 4096 &&
           value.find('\0') == std::string::npos && is_valid_utf8(value);
}

std::string strip_trailing_slashes(std::string value) {
    while (value.size() > 1 && value.back() == '/')
        value.pop_back();
    return value;
}

} // namespace

std::string check_offsite_spec(const std::string&, const std::string& value) {
    static const std::string valid =
        "offsite must be '' (off), an absolute directory path (a mounted share), or s3://bucket/prefix "
        "(bucket: 3 to 63 of a-z 0-9 . -; prefix: letters, digits, . _ - /)";
    if (value.empty()) return value;
    if (value.compare(0, 5, "s3://") == 0) {
        const std::string rest = value.substr(5);
        const size_t slash = rest.find('/');
        const std::string bucket = rest.substr(0, slash);
        std::string prefix = slash == std::string::npos ? "" : rest.substr(slash + 1);
        bool ok = bucket.size() >= 3 && bucket.size() <= 63 && is_lower_alnum(bucket.front()) &&
                  is_lower_alnum(bucket.back());
        for (char c : bucket)
            ok = ok && (is_lower_alnum(c) || c == '.' || c == '-');
        while (!prefix.empty() && prefix.back() == '/')
            prefix.pop_back();
        ok = ok && prefix.size() <= 512 && (prefix.empty() || prefix[0] != '/') &&
             prefix.find("//") == std::string::npos && prefix.find("..") == std::string::npos;
        for (char c : prefix)
            ok = ok && (is_alnum(c) || c == '.' || c == '_' || c == '-' || c == '/');
        if (!ok) throw Error(valid);
        return "s3://" + bucket + (prefix.empty() ? "" : "/" + prefix);
    }
    if (!plain_path(value)) throw Error(valid);
    return strip_trailing_slashes(value);
}

std::string check_s3_endpoint(const std::string&, const std::string& value) {
    static const std::string valid =
        "s3_endpoint must be '' (AWS) or http(s)://host[:port] of an S3-compatible store, e.g. "
        "http://127.0.0.1:9000 (no user name, password, path or query: credentials come from the environment "
        "or "
        "s3_credentials_file)";
    if (value.empty()) return value;
    std::string rest;
    if (value.compare(0, 7, "http://") == 0)
        rest = value.substr(7);
    else if (value.compare(0, 8, "https://") == 0)
        rest = value.substr(8);
    else
        throw Error(valid);
    while (!rest.empty() && rest.back() == '/')
        rest.pop_back();
    const size_t colon = rest.find(':');
    const std::string host = rest.substr(0, colon);
    bool ok = !host.empty() && host.size() <= 253;
    for (char c : host)
        ok = ok && (is_alnum(c) || c == '.' || c == '-');
    if (colon != std::string::npos) ok = ok && parse_decimal(rest.substr(colon + 1), 1, 65535).has_value();
    // Only the host is echoed back: a rejected value may hold a password.
    if (!ok) throw Error(valid);
    return value.substr(0, value.find("://") + 3) + rest;
}

std::string check_s3_region(const std::string&, const std::string& value) {
    bool ok = value.size() <= 64;
    for (char c : value)
        ok = ok && (is_lower_alnum(c) || c == '-');
    if (!ok)
        throw Error(
            "s3_region must be '' (from AWS_REGION, else us-east-1) or a region name such as eu-west-1");
    return value;
}

std::string check_compress(const std::string&, const std::string& value) {
    static const std::string valid =
        "compress must be 'none', 'zstd' (level 3) or 'zstd:N' with N from 1 to 19";
    if (value == "none") return value;
    if (value == "zstd") return "zstd:" + std::to_string(kDefaultZstdLevel);
    if (value.compare(0, 5, "zstd:") != 0 || value.size() < 6 || value[5] == '0' ||
        !parse_decimal(std::string_view(value).substr(5), 1, 19))
        throw Error(valid);
    return value;
}

std::string check_absolute_file(const std::string& key, const std::string& value) {
    if (value.empty()) return value;
    if (!plain_path(value) || value.back() == '/')
        throw Error(key + " must be '' or the absolute path of a file (UTF-8, at most 4096 bytes)");
    return value;
}

int zstd_level_of(const std::string& compress) {
    if (compress.compare(0, 5, "zstd:") != 0) return 0;
    return static_cast<int>(parse_decimal(std::string_view(compress).substr(5), 1, 19).value_or(0));
}

std::string check_dir(const std::string&, const std::string& value) {
    if (value.find('\0') != std::string::npos || value.size() > 4096 || !is_valid_utf8(value))
        throw Error("dir must be a directory path in UTF-8 of at most 4096 bytes ('' = the default)");
    return value;
}

std::string check_prefix(const std::string&, const std::string& value) {
    if (value.empty()) return value;
    const std::string problem = prefix_problem(value);
    if (!problem.empty()) throw Error(problem + "; " + kPrefixRule + " ('' = the default)");
    return value;
}

std::vector<std::string> check_table_list(const std::string&, const std::string& value) {
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

} // namespace wb
