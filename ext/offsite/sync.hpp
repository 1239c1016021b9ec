// Off-site copies: what moves between the backup directory and the target
// (codec.hpp: zstd + libsodium secretstream; target.hpp: a mounted directory
// or S3). The commands (command/create, fetch, verify, list) call these.
//
// What leaves the machine is `<backup name>.wcbk`: the backup compressed
// (`compress`) and encrypted with `encrypt_key_file` (codec.hpp, format 2);
// its authenticated header carries the backup's name, the database's prefix,
// its creation time, its base (the backup an incremental backup builds on),
// its size and its recorded xxh3t checksum. An incremental backup (.incr) is
// sent as it is: the changed pages, not a database. Without
// encrypt_key_file every sync, fetch and verify of an off-site copy is refused
// unless offsite_plaintext is 1. Local backups stay plain database files.
//
// Which objects count. An object counts (for listing, retention, verify and
// fetch) only if it authenticates under the key as the backup its name says.
// sync checks each listed object's header with one small read of its first
// bytes (read_header: the header MAC, then name, prefix and, when this
// directory knows them, the creation time and the base; a .db object must
// name no base, a .incr object a backup of this database); the decoder checks the same header
// again, and every chunk after it, when verify or fetch reads a whole object,
// and when sync reads back a copy it has just sent. Objects named like this
// database's backups that do not authenticate are "foreign": junk, a renamed
// or replayed object, an object under another key (after a key rotation), a
// plaintext object while a key is set, or one written by 1.0.0. They are
// never counted, never listed as backups and never deleted; sync reports how
// many (offsite_foreign in stats) and names them in sqlite3_log.
//
// Objects written by 1.0.0 (format 1) cannot prove their name. They are
// foreign like the rest; in addition:
//   * one whose backup is still local (and kept by the off-site rules) is sent
//     again in format 2 under the same name, so it replaces the old object;
//   * this directory's index keeps the checksum it recorded when it sent each
//     of them (`legacy` lines), and verify and fetch accept such an object only
//     if it decodes, under the key, to exactly that checksum.
//
// Chains. Every backup the off-site rules keep must be restorable from the
// objects alone (a new machine has nothing else). So the rules run over the
// union with each candidate's base (its local record's, else its
// authenticated header's): a kept increment keeps every backup it builds on
// ("base of <name>", policy/retention.hpp), which is then sent if missing,
// and never deleted off-site. An increment whose chain is not whole in the
// union (a backup it builds on is neither local nor off-site) can be restored
// from nothing: it is "broken chain" (counted by no rule, so it never makes
// room by pushing out a restorable backup), never sent, never deleted, and
// named in sqlite3_log at every sync. It is sent once its chain is whole
// again (the missing backup fetched under an old key, say).
//
// sync, after each successful regular backup:
//   1. lists the target (one request), checks each object's header, and
//      reads the local regular backups;
//   2. applies the off-site retention (offsite_keep_*) to the union of the
//      local backups and the objects that authenticated (offsite_plan), so a
//      backup the policy would delete at once is never sent;
//   3. sends every kept local backup missing there, newest chain first and,
//      within a chain, each base before the increments on it (a base that
//      fails to go takes its increments with it), then reads each back (size,
//      decode, xxh3t of the decoded bytes against the record) before it
//      counts; a copy that does not check out is deleted;
//   4. records offsite_at / offsite_ok / offsite_error in the backup's sidecar;
//   5. when everything was sent, deletes the authenticated objects the policy
//      does not keep (never when something failed: the off-site set only
//      shrinks once the new copies are there);
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
#include <set>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "common/observer.hpp"
#include "offsite/codec.hpp"
#include "offsite/index.hpp"
#include "policy/retention.hpp"
#include "policy/settings.hpp"
#include "store/catalog.hpp"
#include "store/dir.hpp"

namespace wb::offsite {

struct SyncResult {
    int64_t sent = 0;
    int64_t deleted = 0;
    int64_t objects = 0; // off-site copies of this database after the sync
    int64_t foreign = 0; // objects named like them that did not authenticate
    std::string error;   // "" = everything sent and checked
};

// Sends what is missing, checks it, applies off-site retention. Does nothing
// when `offsite` is ''. Failures are returned (and recorded for stats and
// sqlite3_log), never thrown: the local backup has already succeeded.
// `timeline_bases` (segments.hpp kept_timeline_bases) are kept as "timeline
// base", as local retention keeps them.
SyncResult sync(const Settings& settings, Observer& observer,
                const std::set<std::string>& timeline_bases = {}) noexcept;
// The same, unless another sync of this directory is running (it sends what
// this one would): then nothing is done and nullopt returned.
std::optional<SyncResult> sync_unless_running(const Settings& settings, Observer& observer,
                                              const std::set<std::string>& timeline_bases) noexcept;

// The target as shown in stats and messages: never a secret.
std::string describe_target(const Settings& settings);
// The off-site keep rules.
RetentionPolicy retention_policy(const Settings& settings);
// The index of `dir` for the current target; empty when it was written for
// another target or cannot be read (the next sync rewrites it). The object
// lines of an index written by 1.0.0 come back as `legacy`: nothing in it
// authenticated.
OffsiteIndex read_index(const Dir& dir, const Settings& settings);

// One backup the off-site rules look at: a local regular backup with a record
// that has not failed verification, an object that authenticated, or both.
struct OffsiteCandidate {
    std::string name;
    ParsedName parsed;
    int64_t created_ns = 0;
    std::optional<bool> verify_ok;
    const CatalogEntry* local = nullptr; // into the caller's list
    std::optional<OffsiteObject> remote;
    std::string base;                 // the backup it builds on; "" = a full backup
    std::optional<size_t> base_index; // where that backup is in the plan
    bool whole = true;                // its chain is complete among the candidates
    std::string reason;               // the off-site rule that keeps it; "" = not kept

    BackupOrder order() const { return {parsed.epoch_seconds, created_ns, parsed.sequence, name}; }
};

// The off-site rules over the union of `local` (any of this database's
// backups; those that cannot be sent are left out) and `remote` (objects that
// authenticated): newest first, each with its base and reason. sync acts on
// it; the listing shows it.
// `timeline_bases` are kept as "timeline base" (with their chains).
std::vector<OffsiteCandidate> offsite_plan(const Settings& settings,
                                           const std::vector<const CatalogEntry*>& local,
                                           const std::vector<OffsiteObject>& remote,
                                           const std::set<std::string>& timeline_bases = {});

// Throws Error(auth) when off-site copies would go or be read unencrypted
// (no encrypt_key_file) and offsite_plaintext is not 1.
void require_encryption(const Settings& settings);

// Whether an error of this kind is a problem with the data of a copy (wrong
// key, tampered, truncated, not our format), as opposed to reaching it.
bool is_data_problem(ErrorKind kind);

struct Download {
    uint64_t bytes = 0;
    std::string checksum;          // xxh3t of the decoded bytes
    std::string header_checksum;   // the checksum the stream's header carries
    uint64_t header_size = 0;      // the original size the header announces
    int64_t created_ns = 0;        // from the authenticated header (format 2), else the index's
    std::string base;              // from the authenticated header: "" = a full backup
    std::string recorded_checksum; // what this directory recorded when it sent it ("" = nothing)
    bool legacy = false;           // written by 1.0.0, accepted on recorded_checksum
};

// Streams `<name>.wcbk` through the decoder into `out_fd` (written from
// offset 0), expecting the object to be `name` of this database (created
// when `index` recorded it, building on `base` when given, else on what
// `index` recorded). Throws Error: not_found when there is no such object, a
// data kind (is_data_problem) when it does not decode or is not that backup,
// io/network/remote else. The caller compares the checksums.
Download download(const Settings& settings, const std::string& name, const OffsiteIndex& index, int out_fd,
                  Observer& observer, const std::optional<std::string>& base = std::nullopt);

// The authenticated header of the object of `name`, from its first bytes
// (one small read), checked as download checks it (a format 1 object only
// when `index` recorded it). Throws as download does. Fetch uses it to find
// an increment's chain before it downloads anything.
Header remote_header(const Settings& settings, const std::string& name, const OffsiteIndex& index);

struct RemoteCheck {
    bool ok = false;
    std::string checksum_status = "none"; // match, mismatch, none
    std::string checksum;
    int64_t size_bytes = 0;
    std::string base; // what the authenticated header says it builds on
    std::vector<std::string> errors;
};

// Checks the off-site copy of `name` by streaming it (authenticate the
// header and its identity, every chunk, decompress, xxh3t against the
// header's checksum and the index's record) without writing plaintext
// anywhere. nullopt when there is no target or no such object.
std::optional<RemoteCheck> check_copy(const Settings& settings, const std::string& name,
                                      const OffsiteIndex& index, Observer& observer);

} // namespace wb::offsite
