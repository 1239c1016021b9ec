// offsite_error.hpp - the one exception type of the off-site building blocks.
//
// Every failure in ext/offsite/ (codec, key file, directory target, S3 client)
// is thrown as OffsiteError. what() is a short lower-case message that says
// what went wrong and, where it helps, what to do; the SQL layer prefixes it
// with the function name. kind() lets callers (and tests) branch without
// parsing text. Messages never contain key material or S3 secrets.
#pragma once

#include <stdexcept>
#include <string>

namespace wecare::offsite {

enum class ErrorKind {
    config,        // bad option, missing key/credentials, unsupported combination
    io,            // local file system error
    format,        // not our format, unknown version, corrupt framing
    wrong_key,     // the key does not match the one the data was encrypted with
    tampered,      // authentication failed: wrong key or modified bytes
    truncated,     // stream ended before its final chunk
    trailing_data, // bytes after the final chunk
    not_found,     // object / file does not exist
    network,       // connection failed (after retries)
    remote,        // the storage service answered with an error
};

class OffsiteError : public std::runtime_error {
  public:
    OffsiteError(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
    ErrorKind kind() const noexcept { return kind_; }

  private:
    ErrorKind kind_;
};

} // namespace wecare::offsite
