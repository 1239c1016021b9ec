// Text primitives (see text.hpp). The one hex table of the project lives here.
#include "policy/text.hpp"

#include "common/error.hpp"

namespace wb {

namespace {

constexpr char kLowerHex[] = "0123456789abcdef";
constexpr char kUpperHex[] = "0123456789ABCDEF";

} // namespace

std::string hex_lower(const uint8_t* bytes, size_t n) {
    std::string out;
    out.reserve(n * 2);
    for (size_t i = 0; i < n; ++i) {
        out += kLowerHex[bytes[i] >> 4];
        out += kLowerHex[bytes[i] & 15];
    }
    return out;
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

std::string percent_encode(std::string_view text, bool (*keep)(unsigned char)) {
    std::string out;
    out.reserve(text.size());
    for (unsigned char c : text) {
        if (keep(c)) {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += kUpperHex[c >> 4];
            out += kUpperHex[c & 15];
        }
    }
    return out;
}

std::string percent_decode(std::string_view text, std::string_view what) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out += text[i];
            continue;
        }
        if (i + 2 >= text.size()) throw Error(std::string(what) + ": bad escape");
        const int hi = hex_digit(text[i + 1]);
        const int lo = hex_digit(text[i + 2]);
        if (hi < 0 || lo < 0) throw Error(std::string(what) + ": bad escape");
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return out;
}

bool is_unreserved(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

bool is_valid_utf8(std::string_view text) {
    size_t i = 0;
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        size_t extra;
        if (c < 0x80) {
            extra = 0;
        } else if (c >= 0xC2 && c <= 0xDF) {
            extra = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            extra = 2;
        } else if (c >= 0xF0 && c <= 0xF4) {
            extra = 3;
        } else {
            return false;
        }
        if (extra > 0 && i + extra >= text.size()) return false;
        for (size_t k = 1; k <= extra; ++k) {
            const auto cc = static_cast<unsigned char>(text[i + k]);
            if ((cc & 0xC0) != 0x80) return false;
        }
        if (extra == 2) {
            const auto c1 = static_cast<unsigned char>(text[i + 1]);
            if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0)) return false; // overlong, surrogates
        } else if (extra == 3) {
            const auto c1 = static_cast<unsigned char>(text[i + 1]);
            if ((c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 >= 0x90)) return false;
        }
        i += extra + 1;
    }
    return true;
}

std::string printable_utf8(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    size_t i = 0;
    while (i < text.size()) {
        // The longest valid sequence starting here (1 to 4 bytes), or none.
        size_t take = 0;
        for (size_t n = 1; n <= 4 && i + n <= text.size(); ++n) {
            if (is_valid_utf8(text.substr(i, n))) {
                take = n;
                break;
            }
        }
        const auto c = static_cast<unsigned char>(text[i]);
        if (take == 0 || c == 0) {
            out += "\\x";
            out += kUpperHex[c >> 4];
            out += kUpperHex[c & 15];
            ++i;
        } else {
            out.append(text.substr(i, take));
            i += take;
        }
    }
    return out;
}

int64_t parse_int64(std::string_view v, std::string_view what) {
    const bool negative = !v.empty() && v[0] == '-';
    if (negative) v.remove_prefix(1);
    if (v.empty() || v.size() > 19) throw Error(std::string(what) + ": bad number");
    uint64_t out = 0;
    for (char c : v) {
        if (c < '0' || c > '9') throw Error(std::string(what) + ": bad number");
        out = out * 10 + static_cast<uint64_t>(c - '0');
    }
    if (out > static_cast<uint64_t>(INT64_MAX)) throw Error(std::string(what) + ": number out of range");
    return negative ? -static_cast<int64_t>(out) : static_cast<int64_t>(out);
}

std::optional<int64_t> parse_decimal(std::string_view text, int64_t lo, int64_t hi) {
    if (text.empty() || text.size() > 18) return std::nullopt;
    int64_t v = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + (c - '0');
    }
    if (v < lo || v > hi) return std::nullopt;
    return v;
}

std::string hex64(uint64_t value) {
    std::string out(16, '0');
    for (int i = 15; i >= 0; --i) {
        out[static_cast<size_t>(i)] = kLowerHex[value & 15];
        value >>= 4;
    }
    return out;
}

uint64_t parse_hex64(std::string_view text, std::string_view what) {
    if (text.size() != 16) throw Error(std::string(what) + ": bad value");
    uint64_t v = 0;
    for (char c : text) {
        const int d = hex_digit(c);
        if (d < 0) throw Error(std::string(what) + ": bad value");
        v = v << 4 | static_cast<uint64_t>(d);
    }
    return v;
}

std::string join(const std::vector<std::string>& items, const std::string& separator) {
    std::string out;
    for (const auto& item : items) {
        if (!out.empty()) out += separator;
        out += item;
    }
    return out;
}

} // namespace wb
