// Off-site copies: what moves between the backup directory and the target
// (codec.hpp: zstd + libsodium secretstream; target.hpp: a mounted directory
// or S3). The commands (command/create, fetch, verify, list) call these.
//
// What leaves the machine is `<backup name>.wcbk`: the backup compressed
// (`compress`) and encrypted with `encrypt_key_file`; its header carries the
// backup's recorded xxh3t checksum. Without encrypt_key_file every sync, fetch
// and verify of an off-site copy is refused unless offsite_plaintext is 1.
// Local backups stay plain database files.
//
// sync, after each successful regular backup:
//   1. lists the target (one request) and the local regular backups;
//   2. applies the off-site retention (offsite_keep_*) to their union, so a
//      backup the policy would delete at once is never sent;
//   3. sends every kept local backup missing there, newest first, then reads
//      it back (size, decode, xxh3t of the decoded bytes against the record)
//      before it counts; a copy that does not check out is deleted;
//   4. records offsite_at / offsite_ok / offsite_error in the backup's sidecar;
//   5. when everything was sent, deletes the objects the policy does not keep
//      (never when something failed: the off-site set only shrinks once the
//      new copies are there);
//   6. rewrites the index file (index.hpp) that list and stats read.
// It runs after the backup lock is released (uploads are slow; create,
// cleanup and restore of other callers go on meanwhile); syncs of one backup
// directory are serialised by their own lock. The backup being sent is read
// through a descriptor opened first, so a cleanup that deletes it meanwhile
// cannot change what is sent.
//
// Secrets: credentials come from the environment or s3_credentials_file and
// the key from encrypt_key_file; nothing here puts either in a message, and
// only the target description is ever printed.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "common/observer.hpp"
#include "offsite/index.hpp"
#include "policy/retention.hpp"
#include "policy/settings.hpp"
#include "store/dir.hpp"

namespace wb::offsite {

struct SyncResult {
    int64_t sent = 0;
    int64_t deleted = 0;
    int64_t objects = 0; // off-site copies of this database after the sync
    std::string error;   // "" = everything sent and checked
};

// Sends what is missing, checks it, applies off-site retention. Does nothing
// when `offsite` is ''. Failures are returned (and recorded for stats and
// sqlite3_log), never thrown: the local backup has already succeeded.
SyncResult sync(const Settings& settings, Observer& observer) noexcept;

// The target as shown in stats and messages: never a secret.
std::string describe_target(const Settings& settings);
// The off-site keep rules.
RetentionPolicy retention_policy(const Settings& settings);
// The index of `dir` for the current target; empty when it was written for
// another target or cannot be read (the next sync rewrites it).
OffsiteIndex read_index(const Dir& dir, const Settings& settings);

// Throws Error(auth) when off-site copies would go or be read unencrypted
// (no encrypt_key_file) and offsite_plaintext is not 1.
void require_encryption(const Settings& settings);

// Whether an error of this kind is a problem with the data of a copy (wrong
// key, tampered, truncated, not our format), as opposed to reaching it.
bool is_data_problem(ErrorKind kind);

struct Download {
    uint64_t bytes = 0;
    std::string checksum;        // xxh3t of the decoded bytes
    std::string header_checksum; // the checksum the stream's header carries
    uint64_t header_size = 0;    // the original size the header announces
};

// Streams `<name>.wcbk` through the decoder into `out_fd` (written from
// offset 0). Throws Error: not_found when there is no such object, a data
// kind (is_data_problem) when it does not decode, io/network/remote else.
Download download(const Settings& settings, const std::string& name, int out_fd, Observer& observer);

struct RemoteCheck {
    bool ok = false;
    std::string checksum_status = "none"; // match, mismatch, none
    std::string checksum;
    int64_t size_bytes = 0;
    std::vector<std::string> errors;
};

// Checks the off-site copy of `name` by streaming it (authenticate,
// decompress, xxh3t against the header's checksum and the index's record)
// without writing plaintext anywhere. nullopt when there is no target or no
// such object.
std::optional<RemoteCheck> check_copy(const Settings& settings, const std::string& name,
                                      const std::optional<OffsiteObject>& known, Observer& observer);

} // namespace wb::offsite
