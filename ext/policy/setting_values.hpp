// What each setting accepts, and the canonical value it keeps: the checks the
// settings table (settings.hpp) names. Pure: a bad value is refused when it is
// set, naming the valid values. No value can carry a secret: an endpoint with
// a user name or password is refused, and credentials and keys are only ever
// named by a file path.
//
//   dir                  a path in UTF-8, at most 4096 bytes ("" = the default)
//   prefix               see naming.hpp prefix_problem ("" = the default)
//   critical_tables      comma-separated table names
//   offsite              ""  | /absolute/dir | s3://bucket[/prefix]
//   s3_endpoint          ""  | http(s)://host[:port]
//   s3_region            ""  | e.g. eu-west-1
//   s3_credentials_file  ""  | /absolute/path (INI like ~/.aws/credentials)
//   compress             none | zstd | zstd:N (N 1..19); "zstd" reads back as "zstd:3"
//   encrypt_key_file     ""  | /absolute/path (32 raw bytes or 64 hex characters)
#pragma once
#include <string>
#include <vector>

namespace wb {

constexpr int kDefaultZstdLevel = 3;

// Each takes the setting's key (for the message) and its value as text, and
// returns the canonical value or throws Error naming the valid values.
std::string check_dir(const std::string& key, const std::string& value);
std::string check_prefix(const std::string& key, const std::string& value);
std::vector<std::string> check_table_list(const std::string& key, const std::string& value);
std::string check_offsite_spec(const std::string& key, const std::string& value);
std::string check_s3_endpoint(const std::string& key, const std::string& value);
std::string check_s3_region(const std::string& key, const std::string& value);
std::string check_compress(const std::string& key, const std::string& value);
std::string check_absolute_file(const std::string& key, const std::string& value);

// The zstd level of a canonical `compress` value; 0 = no compression.
int zstd_level_of(const std::string& compress);

} // namespace wb
