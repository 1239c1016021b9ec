// The directory target (see dir_target.hpp).
#include "offsite/dir_target.hpp"

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <sys/stat.h>
#include <vector>

#include "policy/naming.hpp"
#include "store/temp_file.hpp"

namespace wb::offsite {

namespace {

Dir open_directory(std::string directory) {
    while (directory.size() > 1 && directory.back() == '/')
        directory.pop_back();
    struct stat st {};
    if (::stat(directory.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        throw Error("off-site directory '" + directory + "' does not exist (is it mounted?)",
                    ErrorKind::config);
    Dir dir = Dir::open_existing(directory, "the off-site directory");
    require_private_directory(dir.fd(), directory, "the off-site directory");
    return dir;
}

} // namespace

void validate_object_name(const std::string& name) {
    if (name.empty() || name.size() > 200)
        throw Error("object name must have 1 to 200 characters", ErrorKind::config);
    if (name[0] == '.') throw Error("object name '" + name + "' must not start with '.'", ErrorKind::config);
    for (char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                        c == '.' || c == '_' || c == '-';
        if (!ok)
            throw Error("object name '" + name + "' may only use letters, digits, '.', '_' and '-'",
                        ErrorKind::config);
    }
}

DirTarget::DirTarget(std::string directory) : dir_(open_directory(std::move(directory))) {}

void DirTarget::put_stream(const std::string& name, const WriteFn& write) {
    validate_object_name(name);
    TempFile file(dir_, name);
    uint64_t offset = 0;
    write([&](const uint8_t* p, size_t n) {
        write_all_at(file.fd(), p, n, offset, "cannot write '" + dir_.path_of(file.name()) + "'");
        offset += n;
    });
    file.publish("cannot store '" + dir_.path_of(name) + "'", true);
}

Fd DirTarget::open_object(const std::string& name) const {
    validate_object_name(name);
    try {
        return dir_.open_regular(name);
    } catch (const Error& e) {
        if (e.kind() == ErrorKind::not_found)
            throw Error("no object '" + dir_.path_of(name) + "'", ErrorKind::not_found);
        throw Error("off-site object " + std::string(e.what()), ErrorKind::io);
    }
}

std::vector<uint8_t> DirTarget::read_head(const std::string& name, size_t max_bytes) {
    const Fd fd = open_object(name);
    std::vector<uint8_t> head(max_bytes);
    head.resize(read_at(fd.get(), head.data(), head.size(), 0, "cannot read '" + dir_.path_of(name) + "'"));
    return head;
}

void DirTarget::get_stream(const std::string& name, const Sink& sink) {
    const Fd fd = open_object(name);
    std::vector<uint8_t> block(size_t{256} * 1024);
    for (uint64_t offset = 0;;) {
        const size_t n =
            read_at(fd.get(), block.data(), block.size(), offset, "cannot read '" + dir_.path_of(name) + "'");
        if (n == 0) break;
        sink(block.data(), n);
        offset += n;
    }
}

std::vector<ObjectInfo> DirTarget::list(const std::string& name_prefix) {
    std::vector<ObjectInfo> objects;
    for (const auto& name : dir_.list()) {
        if (name.empty() || name[0] == '.' || name.compare(0, name_prefix.size(), name_prefix) != 0) continue;
        struct stat st {};
        if (!dir_.stat(name, &st) || !S_ISREG(st.st_mode)) continue;
        objects.push_back({name, static_cast<uint64_t>(st.st_size), iso_utc(st.st_mtime)});
    }
    std::sort(objects.begin(), objects.end(),
              [](const ObjectInfo& a, const ObjectInfo& b) { return a.name < b.name; });
    return objects;
}

void DirTarget::remove(const std::string& name) {
    validate_object_name(name);
    if (dir_.remove(name)) dir_.sync("cannot record a deletion in '" + dir_.path() + "'");
}

std::optional<uint64_t> DirTarget::size(const std::string& name) {
    validate_object_name(name);
    struct stat st {};
    if (!dir_.stat(name, &st)) return std::nullopt;
    if (!S_ISREG(st.st_mode))
        throw Error("'" + dir_.path_of(name) + "' is not a regular file", ErrorKind::io);
    return static_cast<uint64_t>(st.st_size);
}

} // namespace wb::offsite
