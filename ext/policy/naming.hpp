// Backup names, and the checks every name argument passes before any file is
// touched. Pure: no files, no SQLite, no clock (times are passed in).
//
// How it works: a name carries its creation time (UTC, to the second) and a
// sequence number for backups made within one second, so names sort in
// creation order and are never reused. parse_backup_name accepts exactly the
// spelling backup_name produces, so each backup has one name.
//
//   <prefix>_backup_YYYY-MM-DD_HH-MM-SS.db       manual and scheduled backups
//   <prefix>_safety_YYYY-MM-DD_HH-MM-SS.db       taken by restore before it replaces the database
//   <prefix>_backup_YYYY-MM-DD_HH-MM-SS_N.db     the N-th (N >= 2) backup within the same second
//   <prefix>_backup_YYYY-MM-DD_HH-MM-SS.incr     an incremental backup (policy/increment_format.hpp):
//                                                not a database file by itself; the sequence
//                                                numbers of one second are shared with .db
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace wb {

struct ParsedName {
    bool safety = false;
    int64_t epoch_seconds = 0; // UTC, from the name
    int sequence = 1;          // 1 = no suffix
    bool incremental = false;  // .incr
};

constexpr size_t kMaxNameBytes = 255;
constexpr size_t kMaxPrefixBytes = 160;
constexpr std::string_view kSidecarSuffix = ".meta";      // the record (record.hpp)
constexpr std::string_view kManifestSuffix = ".manifest"; // the manifest (manifest.hpp)

// Civil UTC time <-> seconds since 1970, independent of the process's time zone.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d);
void civil_from_seconds(int64_t epoch_seconds, int& y, int& mon, int& d, int& h, int& min, int& s);
std::string iso_utc(int64_t epoch_seconds); // 2026-11-26T09:00:00Z

std::string backup_name(std::string_view prefix, bool safety, int64_t epoch_seconds, int sequence,
                        bool incremental = false);
std::optional<ParsedName> parse_backup_name(std::string_view prefix, std::string_view name);

// Continuous capture's segment files (policy/segment_format.hpp):
//   <prefix>_segment_YYYY-MM-DD_HH-MM-SS[_N].wcseg   (the time of its creation, UTC)
// They are not backups: scan_catalog and retention never see them.
std::string segment_name(std::string_view prefix, int64_t epoch_seconds, int sequence);
std::optional<ParsedName> parse_segment_name(std::string_view prefix, std::string_view name);

// Why `name` cannot be a plain backup file name, or "" when it can. Checks the
// raw bytes: `length` is what SQLite says the value holds, so an embedded NUL is seen.
std::string name_problem(const char* name, size_t length);

// The prefix a database gets by default: its file name without the extension,
// with every ASCII character a prefix may not hold made '_' ("db" when that is
// still no prefix).
std::string default_prefix(std::string_view db_path);
// Why `prefix` cannot be used, or "". A prefix is 1 to 160 bytes of UTF-8:
// ASCII letters and digits, space, '_', '-', '.' and any non-ASCII character
// (accented or Thai letters, say); it does not start with '.' nor contain '..'.
// So a backup name holds no quote, slash, '%', '?', '#' or other character a
// SQL string, a URL or a shell treats specially (but for the space, which a
// shell needs quoted). kPrefixRule says the same to the user.
std::string prefix_problem(std::string_view prefix);
constexpr const char* kPrefixRule =
    "a prefix is at most 160 bytes of letters, digits, spaces, '_', '-', '.' and non-ASCII characters "
    "(UTF-8), not starting with '.' nor containing '..'";

bool is_sidecar_name(std::string_view name);
// The backup a companion file (its record or manifest) belongs to, or "" when
// `name` is neither.
std::string_view companion_owner(std::string_view name);

// The one newest-first order of backups, local or off-site: by the time in the
// name, then the recorded creation time in nanoseconds (0 = not known), then
// the same-second sequence number, then the name.
struct BackupOrder {
    int64_t epoch_seconds = 0;
    int64_t created_ns = 0;
    int sequence = 1;
    std::string_view name;
};
bool newer_first(const BackupOrder& a, const BackupOrder& b);

} // namespace wb
