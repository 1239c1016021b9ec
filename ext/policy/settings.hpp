// The settings of one connection: every key of wecare_backup_config() in one
// table, WB_SETTINGS below. Pure: wecare_backup_config() is a thin SQL binding
// over get_setting() and set_setting().
//
// Adding a setting is one edit: a row of WB_SETTINGS. The row gives
//   kind     TEXT (std::string), INTEGER (int64_t), FLAG (bool, 0 or 1) or
//            LIST (comma-separated, std::vector<std::string>)
//   key      the field of Settings and the key of wecare_backup_config
//   default  the field's initial value
//   check    TEXT/LIST: a function (key, value) -> canonical value that throws
//            Error naming the valid values; INTEGER: Range{lo, hi}; FLAG: 0
//   stats    1 when wecare_backup_stats() shows it (never a setting that
//            could identify a secret's location beyond a path)
//   doc      the line of documentation (the README's settings table)
// From the table come the Settings fields, the parser and formatter of each
// key, the list of valid keys in errors, and the settings in stats.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "policy/increment_format.hpp"
#include "policy/setting_values.hpp"

namespace wb {

constexpr int64_t kMaxKeep = 1000000;

struct Range {
    int64_t lo;
    int64_t hi;
};

// clang-format off
#define WB_SETTINGS(X)                                                                                  \
    X(TEXT, dir, "", check_dir, 1,                                                                      \
      "backup directory; '' = `backups` beside the database file; a relative path is relative to the "  \
      "database's folder")                                                                              \
    X(TEXT, prefix, "", check_prefix, 1,                                                                \
      "names are <prefix>_backup_...; '' = the database file name without extension")                   \
    X(INTEGER, keep_last, 7, (Range{0, kMaxKeep}), 1, "keep the N newest backups")                       \
    X(INTEGER, keep_daily, 0, (Range{0, kMaxKeep}), 1,                                                  \
      "keep the newest backup of each of the last N days that have one")                                \
    X(INTEGER, keep_weekly, 0, (Range{0, kMaxKeep}), 1, "... of each of the last N ISO weeks")           \
    X(INTEGER, keep_monthly, 0, (Range{0, kMaxKeep}), 1, "... of each of the last N months")             \
    X(INTEGER, keep_safety, 3, (Range{0, kMaxKeep}), 1, "keep the N newest safety backups")              \
    X(FLAG, verify_on_create, true, 0, 1, "verify each new backup before it is published")              \
    X(FLAG, incremental, false, 0, 1,                                                                   \
      "each regular backup stores only the pages changed since its parent (a chain: a full backup, "     \
      "then increments)")                                                                               \
    X(INTEGER, full_every, 7, (Range{1, static_cast<int64_t>(kMaxChainLinks)}), 1,                                                      \
      "a chain holds a full backup and at most N-1 increments; the next backup after that is full")     \
    X(INTEGER, wal_max_bytes, int64_t{64} << 20, (Range{int64_t{1} << 20, int64_t{1} << 40}), 1,          \
      "continuous capture keeps the write-ahead log below this size (it checkpoints and restarts it)")    \
    X(INTEGER, pitr_hours, 24, (Range{1, int64_t{24} * 366}), 1,                                          \
      "continuous capture keeps every second of the last H hours restorable; older restore points go")  \
    X(INTEGER, offsite_interval, 10, (Range{1, 86400}), 1,                                                \
      "continuous capture: segments are closed and sent off-site within N seconds")                     \
    X(LIST, critical_tables, {}, check_table_list, 0,                                                   \
      "comma-separated tables that must exist and be non-empty for a backup to verify")                 \
    X(INTEGER, max_snapshot_seconds, 3600, (Range{1, int64_t{7} * 86400}), 0,                          \
      "a copy holding its read snapshot longer than this is abandoned")                                 \
    X(INTEGER, busy_timeout_ms, 10000, (Range{0, int64_t{3600} * 1000}), 0,                            \
      "how long to wait for the backup lock and for a busy database")                                   \
    X(TEXT, offsite, "", check_offsite_spec, 0,                                                         \
      "where copies go: an absolute directory (a mounted share) or s3://bucket/prefix")                 \
    X(TEXT, s3_endpoint, "", check_s3_endpoint, 0,                                                      \
      "http(s)://host[:port] of an S3-compatible store; '' = AWS")                                      \
    X(TEXT, s3_region, "", check_s3_region, 0,                                                          \
      "'' = $AWS_REGION, else $AWS_DEFAULT_REGION, else us-east-1")                                     \
    X(TEXT, s3_credentials_file, "", check_absolute_file, 0,                                            \
      "absolute path of an INI file like ~/.aws/credentials; '' = the AWS_* environment variables")     \
    X(TEXT, compress, "zstd:3", check_compress, 1, "none, zstd (= zstd:3) or zstd:N, N 1-19")           \
    X(TEXT, encrypt_key_file, "", check_absolute_file, 0,                                               \
      "absolute path of a 256-bit key: 32 raw bytes or 64 hex characters, mode 0600")                   \
    X(FLAG, offsite_plaintext, false, 0, 1,                                                             \
      "1 = without encrypt_key_file, send off-site copies unencrypted and unauthenticated (not "        \
      "recommended); 0 = refuse them")                                                                  \
    X(INTEGER, offsite_keep_last, 7, (Range{0, kMaxKeep}), 0, "keep rule for the off-site copies")       \
    X(INTEGER, offsite_keep_daily, 0, (Range{0, kMaxKeep}), 0, "keep rule for the off-site copies")      \
    X(INTEGER, offsite_keep_weekly, 0, (Range{0, kMaxKeep}), 0, "keep rule for the off-site copies")     \
    X(INTEGER, offsite_keep_monthly, 0, (Range{0, kMaxKeep}), 0, "keep rule for the off-site copies")
// clang-format on

#define WB_SETTING_FIELD_TEXT(key, def) std::string key = def;
#define WB_SETTING_FIELD_INTEGER(key, def) int64_t key = def;
#define WB_SETTING_FIELD_FLAG(key, def) bool key = def;
#define WB_SETTING_FIELD_LIST(key, def) std::vector<std::string> key = def;
#define WB_SETTING_FIELD(kind, key, def, check, stats, doc) WB_SETTING_FIELD_##kind(key, def)

struct Settings {
    WB_SETTINGS(WB_SETTING_FIELD)
};

enum class SettingKind { TEXT, INTEGER, FLAG, LIST };

struct SettingSpec {
    const char* key;
    SettingKind kind;
    bool in_stats;
    const char* doc;
    std::string (*get)(const Settings&); // the value as wecare_backup_config returns it
    void (*set)(Settings&, const std::string&);
};

// The table, in the order the documentation lists the keys.
const std::vector<SettingSpec>& setting_specs();
std::vector<std::string> setting_keys();

// Replaces the "" defaults with the values derived from the database path and
// makes `dir` absolute (a relative dir is relative to the database's folder).
Settings resolve_settings(const Settings& settings, const std::string& db_path);

// The value of `key` as text. Throws Error naming the valid keys.
std::string get_setting(const Settings& settings, const std::string& key);

// Sets `key` from text. Throws Error naming the valid keys or values; on error
// `settings` is unchanged.
void set_setting(Settings& settings, const std::string& key, const std::string& value);

// `path` without "." components, repeated slashes and "dir/.." pairs
// (lexically: symbolic links are not followed).
std::string normalize_path(const std::string& path);

} // namespace wb
