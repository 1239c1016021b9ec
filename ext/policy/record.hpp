// What is recorded about a backup when it is made: the sidecar file
// `<backup name>.meta` beside it. Pure serialisation and parsing; the file I/O
// lives in store/catalog.cpp.
//
// Format: a first line `wecare_backup_meta 1`, then `key=value` lines. Values
// are percent-escaped ('%', CR, LF and anything below 0x20), so any label fits
// on one line. Unknown keys are ignored, so newer versions can add keys.
// The row counts of the tables live in the backup's manifest (manifest.hpp),
// so the record stays small however big the schema: listing reads only it.
// Records written by 1.0.0 carry `table=<escaped name> <row count>` lines,
// which are still read.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wb {

struct TableCount {
    std::string name;
    int64_t rows = 0;
    bool operator==(const TableCount& o) const { return name == o.name && rows == o.rows; }
};

struct BackupRecord {
    std::string name;
    std::string kind; // manual, auto, safety
    std::optional<std::string> label;
    int64_t created_ns = 0; // UTC nanoseconds since 1970, orders backups made within one second
    int64_t size_bytes = 0;
    std::string checksum; // "xxh3t:<hex>"
    int64_t page_count = 0;
    int64_t page_size = 0;
    std::string source; // the database file it was taken from
    std::string journal_mode;
    std::string type = "full";           // full, incremental
    std::string base;                    // an increment: the backup it builds on
    std::string manifest;                // the id of its manifest (manifest.hpp manifest_id); "" = none
    std::optional<uint64_t> db_checksum; // XOR of its page hashes
    std::vector<TableCount> tables;      // only in records of 1.0.0
    std::optional<int64_t> verified_at;  // UTC seconds
    std::optional<bool> verify_ok;
    std::string verify_error; // the first problem of the last failed verification
    // The last copy off-site (offsite_sync.hpp): when, whether it was read back ok, and why not.
    std::optional<int64_t> offsite_at; // UTC seconds
    std::optional<bool> offsite_ok;
    std::string offsite_error;
};

std::string serialize_record(const BackupRecord& record);
// Throws Error when `text` is not a record this version can read.
BackupRecord parse_record(std::string_view text);

// The line format shared by the sidecar records and the off-site index:
// values are percent-escaped ('%', control characters), one `key=value` a line.
std::string escape_value(std::string_view value);
std::string unescape_value(std::string_view value);
// Calls `on_line(key, raw value)` for each `key=value` line of `text` (the part
// after the magic line); throws Error("<what>: ...") on a malformed line.
void for_each_key_value(std::string_view text, std::string_view what,
                        const std::function<void(std::string_view, std::string_view)>& on_line);

} // namespace wb
