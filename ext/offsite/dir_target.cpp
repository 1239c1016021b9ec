// dir_target.cpp - see dir_target.hpp.
#include "dir_target.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <vector>

#include "fs_util.hpp"

namespace wecare::offsite {

namespace {

struct DirCloser {
    void operator()(DIR* d) const { ::closedir(d); }
};

std::string utc_timestamp(time_t t) {
    struct tm tm {};
    gmtime_r(&t, &tm);
    char text[32];
    strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return text;
}

} // namespace

void validate_object_name(const std::string& name) {
    if (name.empty() || name.size() > 200)
        throw OffsiteError(ErrorKind::config, "object name must have 1 to 200 characters");
    if (name[0] == '.')
        throw OffsiteError(ErrorKind::config, "object name '" + name + "' must not start with '.'");
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                  c == '_' || c == '-';
        if (!ok)
            throw OffsiteError(ErrorKind::config,
                               "object name '" + name + "' may only use letters, digits, '.', '_' and '-'");
    }
}

DirTarget::DirTarget(std::string directory) : directory_(std::move(directory)) {
    while (directory_.size() > 1 && directory_.back() == '/')
        directory_.pop_back();
    struct stat st {};
    if (::stat(directory_.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        throw OffsiteError(ErrorKind::config,
                           "off-site directory '" + directory_ + "' does not exist (is it mounted?)");
}

std::string DirTarget::path_of(const std::string& name) const {
    validate_object_name(name);
    return directory_ + "/" + name;
}

void DirTarget::put_stream(const std::string& name, const WriteFn& write) {
    AtomicFile file(path_of(name), true);
    write([&file](const uint8_t* p, size_t n) { file.write(p, n); });
    file.commit();
}

void DirTarget::get_stream(const std::string& name, const Sink& sink) {
    std::string path = path_of(name);
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) throw OffsiteError(ErrorKind::not_found, "no object '" + path + "'");
        throw_io("cannot open", path);
    }
    std::vector<uint8_t> block(size_t{256} * 1024);
    for (;;) {
        size_t n = read_full(fd.get(), block.data(), block.size(), path);
        if (n == 0) break;
        sink(block.data(), n);
    }
}

std::vector<ObjectInfo> DirTarget::list(const std::string& name_prefix) {
    std::unique_ptr<DIR, DirCloser> dir(::opendir(directory_.c_str()));
    if (!dir) throw_io("cannot list", directory_);
    std::vector<ObjectInfo> objects;
    for (;;) {
        errno = 0;
        struct dirent* entry = ::readdir(dir.get());
        if (!entry) {
            if (errno != 0) throw_io("cannot list", directory_);
            break;
        }
        std::string name = entry->d_name;
        if (name.empty() || name[0] == '.' || name.compare(0, name_prefix.size(), name_prefix) != 0) continue;
        struct stat st {};
        if (::fstatat(::dirfd(dir.get()), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (!S_ISREG(st.st_mode)) continue;
        objects.push_back({name, static_cast<uint64_t>(st.st_size), utc_timestamp(st.st_mtime)});
    }
    std::sort(objects.begin(), objects.end(),
              [](const ObjectInfo& a, const ObjectInfo& b) { return a.name < b.name; });
    return objects;
}

void DirTarget::remove(const std::string& name) {
    std::string path = path_of(name);
    if (::unlink(path.c_str()) != 0) {
        if (errno == ENOENT) return;
        throw_io("cannot delete", path);
    }
    fsync_directory(directory_);
}

std::optional<uint64_t> DirTarget::size(const std::string& name) {
    std::string path = path_of(name);
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) return std::nullopt;
        throw_io("cannot stat", path);
    }
    if (!S_ISREG(st.st_mode)) throw OffsiteError(ErrorKind::io, "'" + path + "' is not a regular file");
    return static_cast<uint64_t>(st.st_size);
}

} // namespace wecare::offsite
