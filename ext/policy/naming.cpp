// Backup names: formatting, parsing and the checks on name arguments (see naming.hpp).
#include "policy/naming.hpp"

#include <cstdio>

#include "policy/text.hpp"

namespace wb {

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    // Proleptic Gregorian calendar in 400-year eras (146097 days each).
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civil_from_seconds(int64_t t, int& y, int& mon, int& d, int& h, int& min, int& s) {
    int64_t days = t / 86400;
    int64_t rem = t % 86400;
    if (rem < 0) {
        rem += 86400;
        --days;
    }
    h = static_cast<int>(rem / 3600);
    min = static_cast<int>(rem % 3600 / 60);
    s = static_cast<int>(rem % 60);
    days += 719468;
    const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    const auto doe = static_cast<unsigned>(days - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
    mon = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
    y = static_cast<int>(static_cast<int64_t>(yoe) + era * 400 + (mon <= 2));
}

std::string iso_utc(int64_t t) {
    int y, mon, d, h, mi, s;
    civil_from_seconds(t, y, mon, d, h, mi, s);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, mon, d, h, mi, s);
    return buf;
}

std::string backup_name(std::string_view prefix, bool safety, int64_t t, int sequence, bool incremental) {
    int y, mon, d, h, mi, s;
    civil_from_seconds(t, y, mon, d, h, mi, s);
    char stamp[40];
    std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02d_%02d-%02d-%02d", y, mon, d, h, mi, s);
    std::string name(prefix);
    name += safety ? "_safety_" : "_backup_";
    name += stamp;
    if (sequence > 1) name += "_" + std::to_string(sequence);
    return name + (incremental && !safety ? ".incr" : ".db");
}

namespace {

bool take_digits(std::string_view& s, size_t n, int& out) {
    if (s.size() < n) return false;
    int v = 0;
    for (size_t i = 0; i < n; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    out = v;
    s.remove_prefix(n);
    return true;
}

bool take(std::string_view& s, std::string_view lit) {
    if (s.substr(0, lit.size()) != lit) return false;
    s.remove_prefix(lit.size());
    return true;
}

} // namespace

std::optional<ParsedName> parse_backup_name(std::string_view prefix, std::string_view name) {
    if (prefix.empty() || name.size() > kMaxNameBytes || !take(name, prefix)) return std::nullopt;
    ParsedName out;
    if (take(name, "_safety_")) {
        out.safety = true;
    } else if (!take(name, "_backup_")) {
        return std::nullopt;
    }
    int y, mon, d, h, mi, s;
    if (!take_digits(name, 4, y) || !take(name, "-") || !take_digits(name, 2, mon) || !take(name, "-") ||
        !take_digits(name, 2, d) || !take(name, "_") || !take_digits(name, 2, h) || !take(name, "-") ||
        !take_digits(name, 2, mi) || !take(name, "-") || !take_digits(name, 2, s))
        return std::nullopt;
    if (mon < 1 || mon > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return std::nullopt;
    if (take(name, "_")) {
        // A suffix is 2..99999, without leading zeros, so each name has one spelling.
        if (name.empty() || name[0] == '0') return std::nullopt;
        int seq = 0;
        size_t n = 0;
        while (n < name.size() && n < 6 && name[n] >= '0' && name[n] <= '9')
            seq = seq * 10 + (name[n++] - '0');
        if (n == 0 || n > 5 || seq < 2) return std::nullopt;
        name.remove_prefix(n);
        out.sequence = seq;
    }
    if (name == ".incr" && !out.safety) {
        out.incremental = true;
    } else if (name != ".db") {
        return std::nullopt;
    }
    const int64_t days = days_from_civil(y, static_cast<unsigned>(mon), static_cast<unsigned>(d));
    // Reject dates like 02-31 that do not exist: they would not round-trip.
    int cy, cmon, cd, ch, cmi, cs;
    civil_from_seconds(days * 86400, cy, cmon, cd, ch, cmi, cs);
    if (cy != y || cmon != mon || cd != d) return std::nullopt;
    out.epoch_seconds = days * 86400 + int64_t{h} * 3600 + int64_t{mi} * 60 + s;
    return out;
}

std::string segment_name(std::string_view prefix, int64_t epoch_seconds, int sequence) {
    std::string name = backup_name(prefix, false, epoch_seconds, sequence);
    name.replace(prefix.size(), std::string_view("_backup_").size(), "_segment_");
    return name.substr(0, name.size() - 3) + ".wcseg";
}

std::optional<ParsedName> parse_segment_name(std::string_view prefix, std::string_view name) {
    constexpr std::string_view kind = "_segment_";
    constexpr std::string_view suffix = ".wcseg";
    if (prefix.empty() || name.size() > kMaxNameBytes || name.substr(0, prefix.size()) != prefix ||
        name.substr(prefix.size(), kind.size()) != kind ||
        name.size() < prefix.size() + kind.size() + suffix.size() ||
        name.substr(name.size() - suffix.size()) != suffix)
        return std::nullopt;
    // The same stamp and sequence rules as a backup's name.
    const std::string as_backup =
        std::string(prefix) + "_backup_" +
        std::string(name.substr(prefix.size() + kind.size(),
                                name.size() - prefix.size() - kind.size() - suffix.size())) +
        ".db";
    return parse_backup_name(prefix, as_backup);
}

std::string name_problem(const char* name, size_t length) {
    if (!name || length == 0) return "the backup name is empty";
    const std::string_view text(name, length);
    if (text.find('\0') != std::string_view::npos) return "the backup name contains a NUL byte";
    if (length > kMaxNameBytes) return "the backup name is longer than 255 bytes";
    if (text.find('/') != std::string_view::npos) return "the backup name contains '/'";
    if (text.find('\\') != std::string_view::npos) return "the backup name contains '\\'";
    if (text.find("..") != std::string_view::npos) return "the backup name contains '..'";
    if (text[0] == '.') return "the backup name starts with '.'";
    if (!is_valid_utf8(text)) return "the backup name is not valid UTF-8";
    for (unsigned char c : text)
        if (c < 0x20 || c == 0x7f) return "the backup name contains a control character";
    return "";
}

namespace {

// The characters a prefix may hold besides non-ASCII ones (see naming.hpp).
bool prefix_ascii_allowed(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ' ' ||
           c == '_' || c == '-' || c == '.';
}

} // namespace

std::string default_prefix(std::string_view db_path) {
    const size_t slash = db_path.find_last_of('/');
    std::string_view base = slash == std::string_view::npos ? db_path : db_path.substr(slash + 1);
    while (!base.empty() && base.front() == '.')
        base.remove_prefix(1);
    const size_t dot = base.find_last_of('.');
    if (dot != std::string_view::npos && dot > 0) base = base.substr(0, dot);
    std::string prefix(base.substr(0, kMaxPrefixBytes));
    // "my+clinic.db" gets "my_clinic": a character a prefix may not hold becomes '_'.
    for (char& c : prefix) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x80 && !prefix_ascii_allowed(byte)) c = '_';
    }
    if (!prefix_problem(prefix).empty()) return "db";
    return prefix;
}

std::string prefix_problem(std::string_view prefix) {
    if (prefix.empty()) return "the prefix is empty";
    if (prefix.size() > kMaxPrefixBytes) return "the prefix is longer than 160 bytes";
    if (prefix.find('\0') != std::string_view::npos) return "the prefix contains a NUL byte";
    if (!is_valid_utf8(prefix)) return "the prefix is not valid UTF-8";
    if (prefix[0] == '.') return "the prefix starts with '.'";
    if (prefix.find("..") != std::string_view::npos) return "the prefix contains '..'";
    for (unsigned char c : prefix) {
        if (c >= 0x80 || prefix_ascii_allowed(c)) continue;
        if (c < 0x20 || c == 0x7f) return "the prefix contains a control character";
        return std::string("the prefix contains '") + static_cast<char>(c) + "'";
    }
    return "";
}

bool is_sidecar_name(std::string_view name) {
    return name.size() > kSidecarSuffix.size() &&
           name.substr(name.size() - kSidecarSuffix.size()) == kSidecarSuffix;
}

std::string_view companion_owner(std::string_view name) {
    for (std::string_view suffix : {kSidecarSuffix, kManifestSuffix})
        if (name.size() > suffix.size() && name.substr(name.size() - suffix.size()) == suffix)
            return name.substr(0, name.size() - suffix.size());
    return {};
}

bool newer_first(const BackupOrder& a, const BackupOrder& b) {
    if (a.epoch_seconds != b.epoch_seconds) return a.epoch_seconds > b.epoch_seconds;
    if (a.created_ns != b.created_ns) return a.created_ns > b.created_ns;
    if (a.sequence != b.sequence) return a.sequence > b.sequence;
    return a.name > b.name;
}

} // namespace wb
