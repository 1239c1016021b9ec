// The fixed key of fuzz_codec, shared with fuzz/make_seeds.cpp so that the
// encrypted seeds decrypt. Not a secret: it only lets the fuzzer reach past
// the header of an encrypted stream.
#pragma once
#include <cstddef>
#include <cstdint>

#include "offsite/codec.hpp"

inline wb::offsite::Key fuzz_key() {
    wb::offsite::Key key;
    for (size_t i = 0; i < wb::offsite::kKeyBytes; ++i)
        key.data()[i] = static_cast<uint8_t>(i * 11 + 3);
    return key;
}
