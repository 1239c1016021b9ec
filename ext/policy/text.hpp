// Text primitives shared by every layer: hex, percent-encoding, UTF-8 checks,
// integer parsing, joining. Pure: no files, no SQLite.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wb {

// Lower-case hex of `n` bytes ("0a1b...").
std::string hex_lower(const uint8_t* bytes, size_t n);
// The value of one hex digit, or -1.
int hex_digit(char c);

// `text` with every byte for which `keep(byte)` is false written as %XX
// (upper-case hex).
std::string percent_encode(std::string_view text, bool (*keep)(unsigned char));
// Decodes %XX; throws Error("<what>: bad escape") on a malformed escape.
std::string percent_decode(std::string_view text, std::string_view what);

// RFC 3986 unreserved characters (letters, digits, - _ . ~).
bool is_unreserved(unsigned char c);

bool is_valid_utf8(std::string_view text);
// `text` with every byte that is not part of valid UTF-8 (and every NUL)
// written as \xNN, so a message that quotes hostile input is always valid text.
std::string printable_utf8(std::string_view text);

// A decimal integer, optionally negative, that fits in 64 bits; throws
// Error("<what>: bad number") otherwise.
int64_t parse_int64(std::string_view text, std::string_view what);
// Plain decimal digits (no sign, no spaces) whose value is within [lo, hi];
// nullopt otherwise.
std::optional<int64_t> parse_decimal(std::string_view text, int64_t lo, int64_t hi);

// A 64-bit value as 16 lower-case hex digits, and back (throws Error("<what>: ...")).
std::string hex64(uint64_t value);
uint64_t parse_hex64(std::string_view text, std::string_view what);

std::string join(const std::vector<std::string>& items, const std::string& separator);

} // namespace wb
