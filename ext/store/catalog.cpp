// The catalog of a backup directory (see catalog.hpp).
#include "store/catalog.hpp"

#include <algorithm>
#include <set>

#include "common/error.hpp"
#include "store/temp_file.hpp"

namespace wb {

constexpr size_t kMaxSidecarBytes = 1 << 20;

std::string CatalogEntry::kind() const {
    if (record && !record->kind.empty()) return record->kind;
    return parsed.safety ? "safety" : "manual";
}

BackupOrder CatalogEntry::order() const {
    return {parsed.epoch_seconds, record ? record->created_ns : 0, parsed.sequence, name};
}

std::optional<BackupRecord> read_record(const Dir& dir, const std::string& name, bool* damaged) {
    if (damaged) *damaged = false;
    const std::string sidecar = name + std::string(kSidecarSuffix);
    const auto text = dir.read_small_file(sidecar, kMaxSidecarBytes);
    if (!text) {
        if (damaged) *damaged = dir.exists(sidecar);
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

void write_record(const Dir& dir, const BackupRecord& record) {
    write_file_atomic(dir, record.name + std::string(kSidecarSuffix), serialize_record(record));
}

std::vector<CatalogEntry> scan_catalog(const Dir& dir, const std::string& prefix) {
    std::vector<CatalogEntry> out;
    for (const auto& name : dir.list()) {
        const auto parsed = parse_backup_name(prefix, name);
        if (!parsed) continue;
        struct stat st {};
        if (!dir.stat(name, &st) || !S_ISREG(st.st_mode)) continue;
        CatalogEntry e;
        e.name = name;
        e.parsed = *parsed;
        e.size_bytes = st.st_size;
        e.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
        e.record = read_record(dir, name);
        out.push_back(std::move(e));
    }
    std::sort(out.begin(), out.end(),
              [](const CatalogEntry& a, const CatalogEntry& b) { return newer_first(a.order(), b.order()); });
    return out;
}

void remove_leftovers(const Dir& dir, const std::string& prefix) {
    const auto names = dir.list();
    const std::set<std::string> present(names.begin(), names.end());
    for (const auto& name : names) {
        if (is_temp_name(name, prefix)) {
            dir.remove_quietly(name);
            continue;
        }
        if (is_sidecar_name(name)) {
            const std::string backup = name.substr(0, name.size() - kSidecarSuffix.size());
            if (parse_backup_name(prefix, backup) && !present.count(backup)) dir.remove_quietly(name);
        }
    }
}

std::string allocate_name(const Dir& dir, const std::string& prefix, bool safety, int64_t seconds) {
    int highest = 0;
    for (const auto& entry : dir.list()) {
        const std::string base =
            is_sidecar_name(entry) ? entry.substr(0, entry.size() - kSidecarSuffix.size()) : entry;
        const auto parsed = parse_backup_name(prefix, base);
        if (parsed && parsed->safety == safety && parsed->epoch_seconds == seconds)
            highest = std::max(highest, parsed->sequence);
    }
    for (int sequence = highest + 1; sequence < 100000; ++sequence) {
        std::string name = backup_name(prefix, safety, seconds, sequence);
        if (!dir.exists(name) && !dir.exists(name + std::string(kSidecarSuffix))) return name;
    }
    throw Error("too many backups within one second");
}

} // namespace wb
