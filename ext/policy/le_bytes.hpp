// Little-endian integers in byte strings, for the file formats of policy/
// (increment_format, segment_format). Pure.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace wb {

// Appends the low `bytes` bytes of `v`, least significant first.
inline void put_le(std::string& out, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i)
        out += static_cast<char>(v >> (8 * i));
}

// The `bytes`-byte little-endian integer at `at` (the caller checks the bounds).
inline uint64_t get_le(std::string_view in, size_t at, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i)
        v |= static_cast<uint64_t>(static_cast<uint8_t>(in[at + static_cast<size_t>(i)])) << (8 * i);
    return v;
}

} // namespace wb
