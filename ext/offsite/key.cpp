// Loading the off-site key file (see key.hpp).
#include "offsite/key.hpp"

#include <cstdio>
#include <sodium.h>
#include <sys/stat.h>

#include "common/error.hpp"
#include "store/dir.hpp"

namespace wb::offsite {

namespace {

constexpr size_t kMaxKeyFileBytes = 4096;

// Wipes a buffer that held key material, whatever happens.
struct Wipe {
    uint8_t* p;
    size_t n;
    ~Wipe() { sodium_memzero(p, n); }
};

} // namespace

LoadedKey load_key_file(const std::string& path) {
    ensure_sodium();
    struct stat st {};
    Fd fd;
    try {
        fd = open_regular_path(path, &st);
    } catch (const Error& e) {
        throw Error("key file: " + std::string(e.what()), ErrorKind::config);
    }
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    if (st.st_mode & (S_IROTH | S_IWOTH))
        throw Error("key file '" + path + "' is accessible by all users (mode " + mode +
                        "); run: chmod 600 '" + path + "'",
                    ErrorKind::config);
    LoadedKey loaded;
    if (st.st_mode & (S_IRGRP | S_IWGRP))
        loaded.warning = "key file '" + path + "' is accessible by its group (mode " + mode +
                         "); consider: chmod 600 '" + path + "'";
    uint8_t buffer[kMaxKeyFileBytes + 1];
    Wipe wipe{buffer, sizeof buffer};
    const size_t size = read_at(fd.get(), buffer, sizeof buffer, 0, "cannot read key file '" + path + "'");
    if (size == kKeyBytes) {
        std::copy(buffer, buffer + kKeyBytes, loaded.key.data());
        return loaded;
    }
    size_t text = size;
    if (text > 0 && buffer[text - 1] == '\n') --text;
    if (text > 0 && buffer[text - 1] == '\r') --text;
    size_t decoded = 0;
    if (text == 2 * kKeyBytes &&
        sodium_hex2bin(loaded.key.data(), kKeyBytes, reinterpret_cast<const char*>(buffer), text, nullptr,
                       &decoded, nullptr) == 0 &&
        decoded == kKeyBytes)
        return loaded;
    throw Error("key file '" + path + "' must hold exactly 32 raw bytes or 64 hex characters (it has " +
                    std::to_string(size) + " bytes)",
                ErrorKind::config);
}

} // namespace wb::offsite
