// Where off-site copies go: one small interface, two stores (a mounted
// directory, dir_target.hpp; an S3 bucket, s3_client.hpp).
//
// Usage
//   TargetOptions opt;                                 // S3 settings if any
//   auto target = open_target("s3://bucket/backups", opt);   // or "/mnt/nas/x"
//   target->put_stream("app_backup_2024-01-01_00-00-00.db.wcbk",
//                      [&](const Sink& out) { encode_stream(source, size, enc, out); });
//   target->get_stream(name, [&](const uint8_t* p, size_t n) { dec.feed(p, n); });
//   auto head = target->read_head(name, kHeaderProbeBytes);   // codec.hpp read_header
//
// Object names are plain names ("a-z A-Z 0-9 . _ -", not starting with '.',
// at most 200 chars); the target adds its own prefix (S3) or directory.
// put_stream is all-or-nothing: the object appears (complete, durable) only
// if the write function returns normally, otherwise nothing is left behind
// (temp file removed / multipart upload aborted). An existing object of the
// same name is replaced. remove() of a missing object is not an error.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "offsite/codec.hpp" // Sink

namespace wb::offsite {

struct ObjectInfo {
    std::string name; // without the target's prefix
    uint64_t size = 0;
    std::string last_modified; // 'YYYY-MM-DDTHH:MM:SSZ'
};

// Writes the whole object through the sink it is given.
using WriteFn = std::function<void(const Sink& out)>;

class Target {
  public:
    virtual ~Target() = default;
    virtual void put_stream(const std::string& name, const WriteFn& write) = 0;
    // Streams the object into `sink`; throws Error(not_found) if absent.
    virtual void get_stream(const std::string& name, const Sink& sink) = 0;
    // The object's first bytes, at most `max_bytes` (fewer when it is smaller),
    // in one small read (S3: a ranged GET); throws Error(not_found) if absent.
    virtual std::vector<uint8_t> read_head(const std::string& name, size_t max_bytes) = 0;
    // Objects whose name starts with `name_prefix`, sorted by name.
    virtual std::vector<ObjectInfo> list(const std::string& name_prefix) = 0;
    virtual void remove(const std::string& name) = 0;
    // Size in bytes, or nullopt if the object does not exist.
    virtual std::optional<uint64_t> size(const std::string& name) = 0;
    // "s3://bucket/prefix" or the directory: for messages, never a secret.
    virtual std::string describe() const = 0;
};

// Throws Error(config) naming the problem if `name` is not valid.
void validate_object_name(const std::string& name);

struct S3Options; // s3_client.hpp

struct TargetOptions {
    // Used for s3:// specs; bucket and prefix come from the spec.
    std::shared_ptr<const S3Options> s3;
};

// "s3://bucket[/prefix]" -> S3 target, an absolute path -> directory target.
std::unique_ptr<Target> open_target(const std::string& spec, const TargetOptions& options);

} // namespace wb::offsite
