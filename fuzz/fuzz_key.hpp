// The fixed key of fuzz_codec, shared with fuzz/make_seeds.cpp so that the
// encrypted seeds decrypt, and the identity its format 2 seeds carry and the
// fuzzer expects. Not a secret: it only lets the fuzzer reach past the header
// of an encrypted stream.
#pragma once
#include <cstddef>
#include <cstdint>

#include "offsite/codec.hpp"

inline wb::offsite::Expected fuzz_identity() {
    wb::offsite::Expected e;
    e.name = "wecare_backup_2026-11-26_02-15-00.db";
    e.prefix = "wecare";
    e.accept_version1 = true; // the format 1 seeds, as 1.0.0 wrote them
    return e;
}
constexpr int64_t kFuzzCreatedNs = 1795683300123456789;

inline wb::offsite::Key fuzz_key() {
    wb::offsite::Key key;
    for (size_t i = 0; i < wb::offsite::kKeyBytes; ++i)
        key.data()[i] = static_cast<uint8_t>(i * 11 + 3);
    return key;
}
