// The off-site settings: what each accepts, and the canonical value it keeps.
// Pure (no files, no network): settings.cpp calls these from set_setting, so
// a bad value is refused when it is set, naming the valid values. None of
// these values can carry a secret: an endpoint with a user name or password
// is refused, and credentials and keys are only ever named by a file path.
//
//   offsite              ""  | /absolute/dir | s3://bucket[/prefix]
//   s3_endpoint          ""  | http(s)://host[:port]
//   s3_region            ""  | e.g. eu-west-1
//   s3_credentials_file  ""  | /absolute/path (INI like ~/.aws/credentials)
//   compress             none | zstd | zstd:N (N 1..19); "zstd" reads back as "zstd:3"
//   encrypt_key_file     ""  | /absolute/path (32 raw bytes or 64 hex characters)
#pragma once
#include <string>

namespace wb {

constexpr int kDefaultZstdLevel = 3;

// Each returns the canonical value, or throws Error naming the valid values.
std::string check_offsite_spec(const std::string& value);
std::string check_s3_endpoint(const std::string& value);
std::string check_s3_region(const std::string& value);
std::string check_compress(const std::string& value);
// `key` names the setting in the message (s3_credentials_file, encrypt_key_file).
std::string check_absolute_file(const std::string& key, const std::string& value);

// The zstd level of a canonical `compress` value; 0 = no compression.
int zstd_level_of(const std::string& compress);

} // namespace wb
