#include "catalog.hpp"

#include <algorithm>
#include <fcntl.h>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

#include "error.hpp"
#include "fsutil.hpp"

namespace wb {

constexpr size_t kMaxSidecarBytes = 1 << 20;

std::string CatalogEntry::kind() const {
    if (record && !record->kind.empty()) return record->kind;
    return parsed.safety ? "safety" : "manual";
}

std::optional<BackupRecord> read_record(int dir_fd, const std::string& name, bool* damaged) {
    if (damaged) *damaged = false;
    const std::string sidecar = name + std::string(kSidecarSuffix);
    const auto text = read_small_file_at(dir_fd, sidecar, kMaxSidecarBytes);
    if (!text) {
        if (damaged) *damaged = exists_at(dir_fd, sidecar);
        return std::nullopt;
    }
    try {
        BackupRecord r = parse_record(*text);
        if (r.name == name) return r;
    } catch (const Error&) {
    }
    // A damaged sidecar, or one copied from another backup: the backup lists
    // with what can be known, and verification reports it.
    if (damaged) *damaged = true;
    return std::nullopt;
}

void write_record(int dir_fd, const BackupRecord& record) {
    write_file_atomic(dir_fd, record.name + std::string(kSidecarSuffix), serialize_record(record));
}

std::vector<CatalogEntry> scan_catalog(int dir_fd, const std::string& prefix) {
    std::vector<CatalogEntry> out;
    for (const auto& name : list_dir(dir_fd)) {
        const auto parsed = parse_backup_name(prefix, name);
        if (!parsed) continue;
        struct stat st {};
        if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) continue;
        CatalogEntry e;
        e.name = name;
        e.parsed = *parsed;
        e.size_bytes = st.st_size;
        e.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
        e.record = read_record(dir_fd, name);
        out.push_back(std::move(e));
    }
    std::sort(out.begin(), out.end(), newer_first);
    return out;
}

bool newer_first(const CatalogEntry& a, const CatalogEntry& b) {
    if (a.parsed.epoch_seconds != b.parsed.epoch_seconds)
        return a.parsed.epoch_seconds > b.parsed.epoch_seconds;
    const int64_t an = a.record ? a.record->created_ns : 0;
    const int64_t bn = b.record ? b.record->created_ns : 0;
    if (an != bn) return an > bn;
    if (a.parsed.sequence != b.parsed.sequence) return a.parsed.sequence > b.parsed.sequence;
    return a.name > b.name;
}

void remove_leftovers(int dir_fd, const std::string& prefix) {
    const auto names = list_dir(dir_fd);
    const std::set<std::string> present(names.begin(), names.end());
    for (const auto& name : names) {
        if (is_temp_name(name, prefix)) {
            ::unlinkat(dir_fd, name.c_str(), 0);
            continue;
        }
        if (is_sidecar_name(name)) {
            const std::string backup = name.substr(0, name.size() - kSidecarSuffix.size());
            if (parse_backup_name(prefix, backup) && !present.count(backup))
                ::unlinkat(dir_fd, name.c_str(), 0);
        }
    }
}

} // namespace wb
