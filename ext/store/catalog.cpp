// The catalog of a backup directory (see catalog.hpp).
#include "store/catalog.hpp"

#include <algorithm>
#include <set>
#include <sys/stat.h>

#include "common/error.hpp"
#include "policy/manifest.hpp"
#include "store/fd.hpp"
#include "store/temp_file.hpp"

namespace wb {

constexpr size_t kMaxSidecarBytes = 1 << 20;

std::string CatalogEntry::kind() const {
    if (!record) return "unknown"; // no readable record: not trusted as a backup
    if (!record->kind.empty()) return record->kind;
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

std::optional<Manifest> read_manifest(const Dir& dir, const BackupRecord& record) {
    if (record.manifest.empty()) return std::nullopt;
    const std::string name = record.name + std::string(kManifestSuffix);
    struct stat st {};
    Fd fd;
    try {
        fd = dir.open_regular(name, &st);
    } catch (const Error& e) {
        if (e.kind() == ErrorKind::not_found)
            throw Error("the manifest '" + name + "' is missing", ErrorKind::not_found);
        throw;
    }
    // Its start says how big it can be; a file of another size, or one that
    // describes another database than the record, is refused before the rest
    // is read (a forged record and a sparse file must not exhaust memory).
    std::string head(kManifestHeadBytes, '\0');
    const size_t got = read_at(fd.get(), reinterpret_cast<uint8_t*>(head.data()), head.size(), 0,
                               "reading the manifest '" + name + "' failed");
    ManifestHead h;
    try {
        h = parse_manifest_head(std::string_view(head).substr(0, got));
    } catch (const Error& e) {
        throw Error("the manifest '" + name + "' is damaged (" + e.what() + ")");
    }
    const auto size = static_cast<uint64_t>(st.st_size);
    if (h.page_count != static_cast<uint64_t>(std::max<int64_t>(record.page_count, 0)) ||
        h.page_size != static_cast<uint64_t>(std::max<int64_t>(record.page_size, 0)))
        throw Error("the manifest '" + name + "' is not the one recorded with the backup");
    if (size < h.min_bytes || size > h.max_bytes)
        throw Error("the manifest '" + name + "' is damaged (" + std::to_string(size) +
                    " bytes, which its counts cannot have)");
    std::string all(static_cast<size_t>(size), '\0');
    if (read_at(fd.get(), reinterpret_cast<uint8_t*>(all.data()), all.size(), 0,
                "reading the manifest '" + name + "' failed") != all.size())
        throw Error("the manifest '" + name + "' cannot be read", ErrorKind::io);
    const std::optional<std::string> bytes = std::move(all);
    if (manifest_id(*bytes) != record.manifest)
        throw Error("the manifest '" + name + "' is not the one recorded with the backup");
    try {
        return parse_manifest(*bytes);
    } catch (const Error& e) {
        throw Error("the manifest '" + name + "' is damaged (" + e.what() + ")");
    }
}

std::string write_manifest(const Dir& dir, const std::string& name, const Manifest& manifest) {
    const std::string bytes = serialize_manifest(manifest);
    write_file_atomic(dir, name + std::string(kManifestSuffix), bytes);
    return manifest_id(bytes);
}

std::vector<TableCount> recorded_tables(const Dir& dir, const BackupRecord& record) {
    if (const auto m = read_manifest(dir, record)) return m->tables;
    return record.tables;
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
        const std::string owner(companion_owner(name));
        if (!owner.empty() && parse_backup_name(prefix, owner) && !present.count(owner))
            dir.remove_quietly(name);
    }
}

std::string allocate_name(const Dir& dir, const std::string& prefix, bool safety, int64_t seconds,
                          bool incremental) {
    int highest = 0;
    for (const auto& entry : dir.list()) {
        const std::string_view owner = companion_owner(entry);
        const std::string base = owner.empty() ? entry : std::string(owner);
        const auto parsed = parse_backup_name(prefix, base);
        if (parsed && parsed->safety == safety && parsed->epoch_seconds == seconds)
            highest = std::max(highest, parsed->sequence);
    }
    auto free = [&](const std::string& name) {
        return !dir.exists(name) && !dir.exists(name + std::string(kSidecarSuffix)) &&
               !dir.exists(name + std::string(kManifestSuffix));
    };
    for (int sequence = highest + 1; sequence < 100000; ++sequence) {
        // A full backup and an increment of the same second never share a sequence number.
        std::string full = backup_name(prefix, safety, seconds, sequence);
        std::string increment = backup_name(prefix, safety, seconds, sequence, true);
        if (free(full) && free(increment)) return incremental ? increment : full;
    }
    throw Error("too many backups within one second");
}

} // namespace wb
