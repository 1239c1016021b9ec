// The steps every off-site transfer is made of, shared by the backups' sync
// (sync.cpp) and the timeline's (segments.cpp); not used outside offsite/:
// the key and the target from the settings, the identity an object must
// carry, a whole object streamed through the decoder, a copy read back, and
// one object's header checked with one small read.
#pragma once
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/error.hpp"
#include "common/observer.hpp"
#include "offsite/codec.hpp"
#include "offsite/target.hpp"
#include "policy/settings.hpp"

namespace wb::offsite {

// Every object is `<file name>.wcbk`.
constexpr const char* kObjectSuffix = ".wcbk";
std::string object_name(const std::string& file);

bool is_s3(const Settings& s);
// The key of encrypt_key_file; nullopt with offsite_plaintext = 1. Throws
// Error(auth) when neither is set (require_encryption), Error(cantopen) when
// the key file cannot be used.
std::optional<Key> load_key(const Settings& s);
// Throws Error(cantopen) naming the target (never a secret).
std::unique_ptr<Target> open_offsite_target(const Settings& s);

// What the object of the file `name` must say it is; created_ns and base when known.
Expected identity(const Settings& s, const std::string& name, int64_t created_ns,
                  std::optional<std::string> base);
// Compression and encryption as the settings say (encryption required when there is a key).
EncodeOptions encode_options(const Settings& s, const std::optional<Key>& key);

struct Decoded {
    Header header;
    uint64_t bytes = 0;
    std::string checksum; // xxh3t of the decoded bytes
};

// Streams an object through the decoder; `also` sees the plaintext (a
// download writes it to a file; check and read-back only hash it). Errors of
// the decoder come out with a data kind (is_data_problem).
Decoded decode_remote(Target& target, const std::string& object, const std::optional<Key>& key,
                      const Expected& expected, Observer& observer,
                      const std::function<void(const uint8_t*, size_t, uint64_t)>& also = {});

// Checks a copy just sent: its size, then the whole stream decoded and its
// checksum (`expected`, of `size` bytes) compared with the file's.
void read_back(Target& target, const std::string& object, uint64_t encoded_size, uint64_t size,
               const std::string& expected, const std::optional<Key>& key, const Expected& identity_sent,
               Observer& observer);

// Sends `size` bytes of the file `fd` (named options.name) as its object,
// hashing them as they are read; the object is removed again unless those
// bytes hash to options.original_checksum (else Error(`changed`)) and the
// copy reads back whole under the key. Returns the object's encoded size.
uint64_t send_checked(Target& target, const Settings& s, int fd, uint64_t size, const EncodeOptions& options,
                      const std::optional<Key>& key, const std::string& changed, Observer& observer);

// A failed send's message: a data problem is the copy read back damaged.
std::string message_of(const std::exception& e);

// Checks one object's header (one small read). Returns the header, or throws
// Error with a data kind when the object is not the file its name says.
// Format 1 headers are recognised (the caller never counts them).
Header probe(Target& target, const std::string& object, const std::optional<Key>& key, Expected expected);

// Why an object did not authenticate, for sqlite3_log.
std::string reason_of(const Error& e);

// Whether an error means every later send would fail the same way (the
// target, the network, the settings, or the operation stopping).
bool target_problem(const std::exception& e);

} // namespace wb::offsite
