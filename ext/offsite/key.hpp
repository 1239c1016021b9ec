// The off-site encryption key file: exactly 32 raw bytes, or 64 hex
// characters with an optional trailing newline.
//
// Who can read or replace the key decides who can read or forge every
// off-site copy, so, as ssh's StrictModes does for private keys:
//   * the file is opened without blocking (a FIFO cannot hang the caller),
//     without following a symbolic link, and must be a regular file;
//   * it must be owned by the running user (or root), and neither its group
//     nor other users may read or write it (mode 0600 or 0400);
//   * its directory must be owned by the running user (or root) and writable
//     by neither its group nor other users (they could swap the file).
// Each refusal names the chmod (or chown) to run. The directory is opened
// first and the file is opened relative to it, so what was checked is what
// is read.
#pragma once
#include <string>

#include "offsite/codec.hpp"

namespace wb::offsite {

struct LoadedKey {
    Key key;
};

// Throws Error(config) saying what is wrong and how to fix it.
LoadedKey load_key_file(const std::string& path);

} // namespace wb::offsite
