// The backups of one database in its backup directory, as found on disk: the
// files whose names parse as this prefix's backups, each with the record from
// its sidecar (if any). Listing reads the small sidecar files; it never opens
// a backup as a database.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "metadata.hpp"
#include "naming.hpp"

namespace wb {

struct CatalogEntry {
    std::string name;
    ParsedName parsed;
    std::optional<BackupRecord> record;
    int64_t size_bytes = 0;
    int64_t mtime_ns = 0;

    std::string kind() const;
    std::optional<bool> verify_ok() const { return record ? record->verify_ok : std::nullopt; }
};

// Newest first: by the time in the name, then the recorded creation time in
// nanoseconds, then the same-second sequence number.
std::vector<CatalogEntry> scan_catalog(int dir_fd, const std::string& prefix);
// That order: whether `a` lists before `b`.
bool newer_first(const CatalogEntry& a, const CatalogEntry& b);

// Reads one backup's sidecar record: nullopt when there is none or it cannot
// be read. `damaged` (if given) is set when a sidecar exists but does not parse.
std::optional<BackupRecord> read_record(int dir_fd, const std::string& name, bool* damaged = nullptr);
void write_record(int dir_fd, const BackupRecord& record);

// Deletes temp files left by a crash, and sidecars whose backup is gone.
// Only called while holding the directory lock.
void remove_leftovers(int dir_fd, const std::string& prefix);

} // namespace wb
