// Steps shared by several commands (command/*.cpp); not used outside command/.
#pragma once
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <sys/stat.h>
#include <vector>

#include "command/commands.hpp"
#include "common/error.hpp"
#include "engine/chain.hpp"
#include "engine/image.hpp"
#include "offsite/segments.hpp"
#include "policy/wal_format.hpp"
#include "store/db_header.hpp"
#include "store/dir.hpp"

namespace wb {

void require_file_database(const OperationContext& ctx);
std::string unknown_backup(const std::string& name);
// Throws the error for a backup directory set with wecare_backup_config that
// does not exist (backup_dir_missing, commands.hpp): every command that
// consults the directory raises it, so an unmounted disk is never taken for
// a directory with no backups.
void require_configured_dir(const OperationContext& ctx);
// The error for a restore whose caller's connection holds a read on a
// rollback-journal database: it names the statement that holds it (the
// calling one, or another, unfinished one: ctx.other_statement_open).
Error caller_reading_error(const OperationContext& ctx);
// The backup directory, for an operation on the backup `name`: the default
// directory that does not exist yet simply holds no backup of that name.
Dir open_dir_holding(const OperationContext& ctx, const std::string& name);
// Opens the local backup `name`. A missing one is unknown, or "only off-site"
// when the off-site index has it.
Fd open_named_backup(const OperationContext& ctx, const Dir& dir, const std::string& name,
                     struct stat* st = nullptr);
// The retention reason of each entry (newest first), under ctx's keep rules;
// `timeline_bases` (continuous capture's, see timeline_bases()) are kept too.
std::vector<std::string> retention_reasons_for(const std::vector<CatalogEntry>& entries, const Settings& s,
                                               const std::set<std::string>& timeline_bases = {});
// The base backups continuous capture's kept restore points need.
std::set<std::string> timeline_bases(const Dir& dir, const std::string& prefix);
// The timeline in the backup directory as the off-site code sees it: every
// segment is closed but the newest generation's last file (command/continuous.cpp).
offsite::LocalTimeline local_timeline(const Dir& dir, const std::string& prefix);
// After a regular backup: the off-site sync of the backups (the timeline's
// bases kept, offsite::kept_timeline_bases), then of the timeline's closed
// segments, the target listed and checked whole. Failures are recorded, never thrown.
void sync_offsite(const OperationContext& ctx, Observer& observer);
// The capturer's off-site sync (its shipper thread): the base backups the
// closed segments need when the off-site index lacks one, then the segments;
// `list_target`: check the target whole, else trust the segment index.
// Returns whether everything was sent.
bool ship_timeline(const OperationContext& ctx, bool list_target, Observer& observer);
// Applies retention; the caller holds the backup lock. `just_made` is never
// deleted: a create or restore must not remove what it returns, even when other
// backups carry later dates (a clock set back).
int64_t cleanup_locked(const OperationContext& ctx, const Dir& dir, const std::string& just_made = "");
// Snapshot, verify and publish one backup; the caller holds the backup lock.
// `position` (if given) receives where in the log the snapshot was (WAL
// mode); `incremental` asks for an increment whatever the settings say (a
// base for continuous capture), when a parent qualifies.
std::string create_locked(const OperationContext& ctx, const Dir& dir, const std::string& kind,
                          const std::optional<std::string>& label, Observer& observer,
                          WalIndexHeader* position = nullptr, bool incremental = false);
// A backup file opened once and checked (a regular file, not a link), with
// its record and manifest, and the image through which SQLite reads it.
struct OpenedBackup {
    std::string name;
    std::shared_ptr<Fd> file;
    int64_t size_bytes = 0;
    std::optional<BackupRecord> record; // tables filled from the manifest
    bool record_damaged = false;
    std::string manifest_problem; // "" = fine (or none)
    std::string read_problem;     // reading its header failed
    DbHeader header;
    std::unique_ptr<Image> image; // null when the file is not a database
    // An incremental backup: it and every backup it builds on (engine/chain.hpp);
    // `image` is the database the chain materialises.
    std::unique_ptr<Chain> chain;
    bool increment = false;                  // the file is an incremental backup
    std::vector<std::string> chain_problems; // the chain does not check out
};
// `file` is open already (by name in the backup directory, or by path).
OpenedBackup open_backup(const Dir* dir, const std::string& name, Fd file);
// Opens the backup `name` of the backup directory: a full backup as above, an
// incremental one with its chain. Errors as open_named_backup.
OpenedBackup open_in_dir(const OperationContext& ctx, const Dir& dir, const std::string& name);
// Verifies it; `expected` overrides its own record (a path compared with the
// record of the backup of the same name).
VerifyOutcome verify_opened(const OperationContext& ctx, const OpenedBackup& backup, Observer& observer,
                            const std::optional<BackupRecord>& expected);
// Adds an error for each backup `chain` builds on (all but its last) whose
// file no longer has its recorded checksum.
void check_chain_links(const Chain& chain, VerifyOutcome& out, Observer& observer);
// Under the backup lock: takes the database's write lock, a safety backup of
// it as it is, and replaces it with `image` (engine/restore.hpp), then
// rotates. `what` names what is restored (in the safety backup's label).
RestoreOutcome restore_image_locked(const OperationContext& ctx, const Dir& dir, const Image& image,
                                    const std::string& what, const std::string& journal_mode_if_new,
                                    Observer& observer);
// Verification before a restore (see verify.cpp). With `pages_checked_by_copy`
// (a restore, which reads every page through the image and checks it against
// its recorded hash, and commits nothing when one does not match), a full
// backup that verified ok is not read a second time for its checksum.
VerifyOutcome verify_for_restore(const OperationContext& ctx, const OpenedBackup& backup, Observer& observer,
                                 bool pages_checked_by_copy = false);

} // namespace wb
