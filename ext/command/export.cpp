// wecare_backup_export: a durable, checked copy of a backup elsewhere (a
// mounted share): copied with its checksum computed on the way, compared with
// the record, fsynced, published without replacing anything, and read back
// from the device.
#include <algorithm>
#include <fcntl.h>

#include "command/shared.hpp"
#include "store/checksum.hpp"
#include "store/temp_file.hpp"

namespace wb {

namespace {

struct Destination {
    std::string target; // the file path that will be written
    std::string parent; // its folder
    std::string base;   // its file name
};

Destination destination_of(const std::string& destination, const std::string& name) {
    if (destination.empty() || destination.find('\0') != std::string::npos || destination.size() > 4096)
        throw Error("the destination must be a file or directory path");
    Destination d;
    d.target = destination;
    struct stat st {};
    if (::stat(destination.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) d.target = destination + "/" + name;
    while (d.target.find("//") != std::string::npos)
        d.target.replace(d.target.find("//"), 2, "/");
    const size_t slash = d.target.find_last_of('/');
    d.parent = slash == std::string::npos ? "." : (slash == 0 ? "/" : d.target.substr(0, slash));
    d.base = slash == std::string::npos ? d.target : d.target.substr(slash + 1);
    if (d.base.empty()) throw Error("the destination '" + destination + "' has no file name");
    return d;
}

// Copies `size` bytes of `src` into `out`, returning the checksum of what was read.
std::string copy_with_checksum(int src, int out, uint64_t size, Observer& observer) {
    BlockHasher hasher;
    std::vector<uint8_t> buf(kHashBlock);
    for (uint64_t offset = 0; offset < size;) {
        observer.check();
        const size_t want = static_cast<size_t>(std::min<uint64_t>(kHashBlock, size - offset));
        if (read_at(src, buf.data(), want, offset, "reading the backup failed") != want)
            throw Error("the backup changed size while it was exported", ErrorKind::io);
        hasher.update(offset, buf.data(), want);
        write_all_at(out, buf.data(), want, offset, "writing the exported copy failed");
        offset += want;
        observer.progress(static_cast<int64_t>(offset), static_cast<int64_t>(size));
    }
    return hasher.finish(src, size);
}

} // namespace

std::string export_backup(const OperationContext& ctx, const std::string& name,
                          const std::string& destination) {
    require_file_database(ctx);
    check_backup_name(ctx, name);
    const Destination dest = destination_of(destination, name);
    Dir dir = open_dir_holding(ctx, name);
    struct stat src_st {};
    Fd src = open_named_backup(ctx, dir, name, &src_st);
    const auto record = read_record(dir, name);

    const Dir parent = Dir::open_existing(dest.parent, "the destination folder");
    if (parent.exists(dest.base))
        throw Error("'" + dest.target + "' already exists; export to a new name or delete that file first",
                    ErrorKind::cantopen);

    Progress progress = progress_of(ctx, "export");
    const auto size = static_cast<uint64_t>(src_st.st_size);
    TempFile out(parent, dest.base);
    const std::string source_sum = copy_with_checksum(src.get(), out.fd(), size, progress);
    if (record && !record->checksum.empty() && source_sum != record->checksum)
        throw Error("the backup '" + name + "' does not match its recorded checksum; it was not exported");
    out.publish("writing the exported copy to disk failed");
    // Read the copy back from the device, not from the page cache.
    Fd check = parent.open_regular(dest.base);
    ::posix_fadvise(check.get(), 0, 0, POSIX_FADV_DONTNEED);
    if (checksum_fd(check.get(), size) != source_sum) {
        parent.remove_quietly(dest.base);
        throw Error("the exported copy at '" + dest.target + "' reads back differently; it was removed",
                    ErrorKind::io);
    }
    return dest.target;
}

} // namespace wb
