// Off-site copies: the glue between the backup directory and ext/offsite/
// (codec: zstd + libsodium secretstream; targets: a mounted directory or S3).
//
// What leaves the machine is `<backup name>.wcbk`: the backup compressed
// (`compress`) and, with `encrypt_key_file`, encrypted; its header carries the
// backup's recorded xxh3t checksum. Local backups stay plain database files.
//
// sync_offsite, after each successful regular backup:
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
//   6. rewrites the index file (offsite_index.hpp) that list and stats read.
// It runs after the directory lock is released (uploads are slow; create,
// cleanup and restore of other callers go on meanwhile); syncs of one backup
// directory are serialised by their own lock, `.wecare_offsite.lock`. The
// backup being sent is read through a descriptor opened first, so a cleanup
// that deletes it meanwhile cannot change what is sent.
//
// Secrets: credentials come from the environment or s3_credentials_file and
// the key from encrypt_key_file; ext/offsite never puts either in a message,
// and nothing here prints settings other than the target description.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "operations.hpp"
#include "verify.hpp"

namespace wb {

struct OffsiteSyncResult {
    int64_t sent = 0;
    int64_t deleted = 0;
    int64_t objects = 0; // off-site copies of this database after the sync
    std::string error;   // "" = everything sent and checked
};

// Sends what is missing, checks it, applies off-site retention. Does nothing
// when `offsite` is ''. Failures are returned (and recorded for stats and
// sqlite3_log), never thrown: the local backup has already succeeded.
OffsiteSyncResult sync_offsite(const OperationContext& ctx) noexcept;

// wecare_backup_fetch: downloads `<name>.wcbk`, checks it against the
// checksum in its header, verifies it like a new backup, and publishes it in
// the backup directory. Holds the directory lock while it runs.
std::string fetch_backup(const OperationContext& ctx, const std::string& name);

// Verifies the off-site copy of `name` by streaming it (authenticate,
// decompress, xxh3t against the header's checksum) without writing plaintext
// to disk. nullopt when there is no off-site target or no such object.
std::optional<VerifyOutcome> verify_offsite_copy(const OperationContext& ctx, const std::string& name);

// From the index only (no network): is `name` known to be off-site?
bool known_offsite(const OperationContext& ctx, int dir_fd, const std::string& name);

// Adds location and the off-site-only backups (from the index) to a listing.
void merge_offsite_rows(const OperationContext& ctx, int dir_fd, std::vector<ListedBackup>& rows);

struct OffsiteStatus {
    std::string target; // "" = off-site copies are off
    std::optional<int64_t> last_success_at;
    std::string last_error;
    std::optional<int64_t> last_error_at;
    int64_t objects = 0;
};
OffsiteStatus offsite_status(const OperationContext& ctx);

} // namespace wb
