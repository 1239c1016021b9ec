// The settings of one connection, with their defaults, parsing and checks.
// Pure: wecare_backup_config() is a thin SQL binding over get_setting() and
// set_setting().
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace wb {

struct Settings {
    std::string dir;    // "" = the folder `backups` beside the database file
    std::string prefix; // "" = the database file's name without extension
    int64_t keep_last = 7;
    int64_t keep_daily = 0;
    int64_t keep_weekly = 0;
    int64_t keep_monthly = 0;
    int64_t keep_safety = 3;
    bool verify_on_create = true;
    std::vector<std::string> critical_tables;
    int64_t max_snapshot_seconds = 3600; // bounds how long a read snapshot holds back checkpoints
    int64_t busy_timeout_ms = 10000;     // waits for other writers and for the backup lock
    // Off-site copies (offsite_settings.hpp, offsite_sync.hpp); "" = off / default.
    std::string offsite;
    std::string s3_endpoint;
    std::string s3_region;
    std::string s3_credentials_file;
    std::string compress = "zstd:3";
    std::string encrypt_key_file;
    int64_t offsite_keep_last = 7;
    int64_t offsite_keep_daily = 0;
    int64_t offsite_keep_weekly = 0;
    int64_t offsite_keep_monthly = 0;
};

// The keys, in the order the documentation lists them.
const std::vector<std::string>& setting_keys();

// Replaces the "" defaults with the values derived from the database path and
// makes `dir` absolute (a relative dir is relative to the database's folder).
Settings resolve_settings(const Settings& settings, const std::string& db_path);

// The value of `key` as text. Throws Error naming the valid keys.
std::string get_setting(const Settings& settings, const std::string& key);

// Sets `key` from text. Throws Error naming the valid keys or values; on error
// `settings` is unchanged.
void set_setting(Settings& settings, const std::string& key, const std::string& value);

std::string join(const std::vector<std::string>& items, const std::string& separator);

// `path` without "." components, repeated slashes and "dir/.." pairs
// (lexically: symbolic links are not followed).
std::string normalize_path(const std::string& path);

} // namespace wb
