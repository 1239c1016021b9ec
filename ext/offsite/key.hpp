// The off-site encryption key file: exactly 32 raw bytes, or 64 hex
// characters with an optional trailing newline. The file is opened without
// blocking and must be a regular file; one that all users can read or write
// is refused (the error says which chmod to run).
#pragma once
#include <string>

#include "offsite/codec.hpp"

namespace wb::offsite {

struct LoadedKey {
    Key key;
    std::string warning; // non-empty e.g. when the file is group-readable
};

LoadedKey load_key_file(const std::string& path);

} // namespace wb::offsite
