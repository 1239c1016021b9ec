#include "offsite_settings.hpp"

#include "error.hpp"
#include "naming.hpp"

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

std::string check_offsite_spec(const std::string& value) {
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

std::string check_s3_endpoint(const std::string& value) {
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
    if (colon != std::string::npos) {
        const std::string port = rest.substr(colon + 1);
        long number = 0;
        ok = ok && !port.empty() && port.size() <= 5;
        for (char c : port) {
            ok = ok && c >= '0' && c <= '9';
            number = number * 10 + (c - '0');
        }
        ok = ok && number > 0 && number <= 65535;
    }
    // Only the host is echoed back: a rejected value may hold a password.
    if (!ok) throw Error(valid);
    return value.substr(0, value.find("://") + 3) + rest;
}

std::string check_s3_region(const std::string& value) {
    bool ok = value.size() <= 64;
    for (char c : value)
        ok = ok && (is_lower_alnum(c) || c == '-');
    if (!ok)
        throw Error(
            "s3_region must be '' (from AWS_REGION, else us-east-1) or a region name such as eu-west-1");
    return value;
}

std::string check_compress(const std::string& value) {
    static const std::string valid =
        "compress must be 'none', 'zstd' (level 3) or 'zstd:N' with N from 1 to 19";
    if (value == "none") return value;
    if (value == "zstd") return "zstd:" + std::to_string(kDefaultZstdLevel);
    if (value.compare(0, 5, "zstd:") != 0 || value.size() < 6 || value.size() > 7) throw Error(valid);
    int level = 0;
    for (size_t i = 5; i < value.size(); ++i) {
        if (value[i] < '0' || value[i] > '9') throw Error(valid);
        level = level * 10 + (value[i] - '0');
    }
    if (level < 1 || level > 19 || value[5] == '0') throw Error(valid);
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
    return std::stoi(compress.substr(5));
}

} // namespace wb
