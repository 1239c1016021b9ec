// The backups of one database in its backup directory, as found on disk: the
// files whose names parse as this prefix's backups, each with the record from
// its sidecar (if any). Listing reads the small sidecar files; it never opens
// a backup as a database.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "policy/manifest.hpp"
#include "policy/naming.hpp"
#include "policy/record.hpp"
#include "store/dir.hpp"

namespace wb {

struct CatalogEntry {
    std::string name;
    ParsedName parsed;
    std::optional<BackupRecord> record;
    int64_t size_bytes = 0;
    int64_t mtime_ns = 0;

    std::string kind() const;
    std::optional<bool> verify_ok() const { return record ? record->verify_ok : std::nullopt; }
    BackupOrder order() const;
};

// Newest first (policy/naming.hpp newer_first).
std::vector<CatalogEntry> scan_catalog(const Dir& dir, const std::string& prefix);

// Reads one backup's sidecar record: nullopt when there is none or it cannot
// be read. `damaged` (if given) is set when a sidecar exists but does not parse.
std::optional<BackupRecord> read_record(const Dir& dir, const std::string& name, bool* damaged = nullptr);
// Writes it atomically; the caller fsyncs the directory.
void write_record(const Dir& dir, const BackupRecord& record);

// The manifest of `record`'s backup: nullopt when the record names none.
// Throws Error when it is missing, damaged or not the one the record names.
std::optional<Manifest> read_manifest(const Dir& dir, const BackupRecord& record);
// Writes `<name>.manifest` atomically and returns its id (for the record);
// the caller fsyncs the directory.
std::string write_manifest(const Dir& dir, const std::string& name, const Manifest& manifest);
// The recorded row counts of a backup: its manifest's, or a 1.0.0 record's.
std::vector<TableCount> recorded_tables(const Dir& dir, const BackupRecord& record);

// Deletes temp files left by a crash, and sidecars whose backup is gone.
// Only called while holding the backup lock.
void remove_leftovers(const Dir& dir, const std::string& prefix);

// The next free name for a backup made at `seconds`: one past the highest
// sequence in use in that second, so a name is never reused after rotation
// and names sort in creation order. Called while holding the backup lock.
std::string allocate_name(const Dir& dir, const std::string& prefix, bool safety, int64_t seconds,
                          bool incremental = false);

} // namespace wb
