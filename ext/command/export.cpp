// wecare_backup_export: a durable, checked copy of a backup elsewhere (a
// mounted share): copied with its checksum computed on the way, compared with
// the record, fsynced, published without replacing anything, and read back
// from the device. An incremental backup is exported as the plain database
// file its chain gives (named .db), so the copy stands on its own.
#include <algorithm>
#include <fcntl.h>

#include "command/shared.hpp"
#include "engine/page_writer.hpp"
#include "policy/naming.hpp"
#include "policy/text.hpp"
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

// An incremental backup: the database its chain materialises, written as a
// plain database file, every page checked on reading and the whole compared
// with the database checksum recorded when the increment was made. Returns
// the checksum of the written file.
std::string materialize(const OperationContext& ctx, const Dir& dir, const std::string& name, int out,
                        Observer& observer) {
    const OpenedBackup opened = open_in_dir(ctx, dir, name);
    std::vector<std::string> problems = opened.chain_problems;
    if (!opened.read_problem.empty()) problems.insert(problems.begin(), opened.read_problem);
    if (!opened.image && problems.empty()) problems.push_back("its first page is not a database header");
    if (!problems.empty())
        throw Error("the backup '" + name + "' cannot be read (" + join(problems, "; ") +
                    "); it was not exported");
    ImageSource source(*opened.image);
    PageWriter writer(out, source.page_size(), PageWriter::Options{1, "the exported copy"});
    copy_pages(source, writer, observer);
    const PageWriter::Result written = writer.finish();
    if (opened.record && opened.record->db_checksum && *opened.record->db_checksum != written.db_checksum)
        throw Error("the database exported from '" + name +
                    "' does not match the one recorded when it was made; it was not exported");
    return written.checksum;
}

} // namespace

std::string export_backup(const OperationContext& ctx, const std::string& name,
                          const std::string& destination) {
    require_file_database(ctx);
    check_backup_name(ctx, name);
    const bool increment = parse_backup_name(ctx.settings.prefix, name)->incremental;
    // An increment is exported as the database it gives: a .db file.
    const Destination dest =
        destination_of(destination, increment ? name.substr(0, name.size() - 5) + ".db" : name);
    Dir dir = open_dir_holding(ctx, name);

    const Dir parent = Dir::open_existing(dest.parent, "the destination folder");
    if (parent.exists(dest.base))
        throw Error("'" + dest.target + "' already exists; export to a new name or delete that file first",
                    ErrorKind::cantopen);

    Progress progress = progress_of(ctx, "export");
    TempFile out(parent, dest.base);
    std::string source_sum;
    if (increment) {
        source_sum = materialize(ctx, dir, name, out.fd(), progress);
    } else {
        struct stat src_st {};
        Fd src = open_named_backup(ctx, dir, name, &src_st);
        const auto record = read_record(dir, name);
        source_sum = copy_with_checksum(src.get(), out.fd(), static_cast<uint64_t>(src_st.st_size), progress);
        if (record && !record->checksum.empty() && source_sum != record->checksum)
            throw Error("the backup '" + name +
                        "' does not match its recorded checksum; it was not exported");
    }
    out.publish("writing the exported copy to disk failed");
    // Read the copy back from the device, not from the page cache.
    struct stat written {};
    Fd check = parent.open_regular(dest.base, &written);
    ::posix_fadvise(check.get(), 0, 0, POSIX_FADV_DONTNEED);
    if (checksum_fd(check.get(), static_cast<uint64_t>(written.st_size)) != source_sum) {
        parent.remove_quietly(dest.base);
        throw Error("the exported copy at '" + dest.target + "' reads back differently; it was removed",
                    ErrorKind::io);
    }
    return dest.target;
}

} // namespace wb
