// Loading the off-site key file (see key.hpp).
#include "offsite/key.hpp"

#include <cerrno>
#include <cstdio>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

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

std::string mode_text(mode_t mode) {
    char text[8];
    std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
    return text;
}

bool owned_by_us_or_root(const struct stat& st) {
    return st.st_uid == ::geteuid() || st.st_uid == 0;
}

// The directory part of `path` ("/" for "/key") and the file's own name.
std::pair<std::string, std::string> split_path(const std::string& path) {
    const size_t slash = path.find_last_of('/');
    if (slash == std::string::npos) return {".", path};
    return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

// The directory holding the key: nobody else may put another file there.
void check_directory(const Dir& dir) {
    struct stat st {};
    if (::fstat(dir.fd(), &st) != 0) throw system_error("cannot examine '" + dir.path() + "'", errno);
    if (!owned_by_us_or_root(st))
        throw Error("the directory '" + dir.path() + "' of the key file belongs to another user (uid " +
                        std::to_string(st.st_uid) + "), who could replace the key; keep the key in a " +
                        "directory of your own or root's",
                    ErrorKind::config);
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        throw Error("the directory '" + dir.path() + "' of the key file can be written by " +
                        ((st.st_mode & S_IWOTH) ? "all users" : "its group") + " (mode " +
                        mode_text(st.st_mode) + "), who could replace the key; run: chmod go-w '" +
                        dir.path() + "'",
                    ErrorKind::config);
}

void check_file(const std::string& path, const struct stat& st) {
    if (!owned_by_us_or_root(st))
        throw Error("key file '" + path + "' belongs to another user (uid " + std::to_string(st.st_uid) +
                        "); run: chown $(id -u) '" + path + "'",
                    ErrorKind::config);
    if (st.st_mode & (S_IROTH | S_IWOTH))
        throw Error("key file '" + path + "' is accessible by all users (mode " + mode_text(st.st_mode) +
                        "); run: chmod 600 '" + path + "'",
                    ErrorKind::config);
    if (st.st_mode & (S_IRGRP | S_IWGRP))
        throw Error("key file '" + path + "' is accessible by its group (mode " + mode_text(st.st_mode) +
                        "); run: chmod 600 '" + path + "'",
                    ErrorKind::config);
}

} // namespace

LoadedKey load_key_file(const std::string& path) {
    ensure_sodium();
    const auto [directory, base] = split_path(path);
    struct stat st {};
    Fd fd;
    try {
        if (base.empty() || base == "." || base == "..")
            throw Error("'" + path + "' names a directory, not a file", ErrorKind::cantopen);
        const Dir dir = Dir::open_existing(directory, "the key file's directory");
        check_directory(dir);
        fd = dir.open_regular(base, &st);
    } catch (const Error& e) {
        if (e.kind() == ErrorKind::config) throw;
        throw Error("key file '" + path + "': " + std::string(e.what()), ErrorKind::config);
    }
    check_file(path, st);
    LoadedKey loaded;
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
