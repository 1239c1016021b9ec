// The operations behind the SQL functions, one file each in command/, on one
// database and its backup directory. Each takes an OperationContext
// (context.hpp).
//
// Create, cleanup, restore and fetch hold the backup lock (store/lock.hpp) for
// their whole run; list, verify and export read without it.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "command/context.hpp"
#include "engine/verify.hpp"
#include "store/catalog.hpp"

namespace wb {

constexpr const char* kRestorePhrase = "I understand this will replace the current database";

struct ListedBackup {
    CatalogEntry entry;
    std::string path;
    std::string retain_reason;      // "" = the next cleanup deletes it
    std::string location = "local"; // "local", "offsite" (path ""), "both"
};

// Creates a backup of kind "manual", "auto" or "safety" and returns its name;
// then applies retention and, for a regular backup, the off-site sync. With
// `skip_if_newer_than` > 0, returns nullopt without creating when a regular
// backup younger than that many seconds exists (checked under the lock, so
// processes sharing a directory agree).
std::optional<std::string> create_backup(const OperationContext& ctx, const std::string& kind,
                                         const std::optional<std::string>& label,
                                         int64_t skip_if_newer_than = 0);
// The time in the name of the newest regular (manual or auto) backup that is
// not dated after `now` (a clock set back), or nullopt when there is none.
// The scheduler counts its interval from it.
std::optional<int64_t> newest_regular_backup_at(const OperationContext& ctx, int64_t now);
int64_t cleanup_backups(const OperationContext& ctx);
std::vector<ListedBackup> list_backups(const OperationContext& ctx);
// `name_or_path`: a backup name, or a path (containing '/') to any file.
std::pair<std::string, VerifyOutcome> verify_backup(const OperationContext& ctx,
                                                    const std::string& name_or_path);
struct RestoreOutcome {
    std::string restored;
    std::string safety_backup;
    int64_t pages = 0;
};
// `caller_reading`: the calling statement itself holds a read transaction on
// the database (it reads a table), which blocks a rollback-journal database.
RestoreOutcome restore_backup(const OperationContext& ctx, const std::string& name,
                              bool caller_reading = false);
struct RecoverOutcome {
    std::string recovered;
    std::optional<std::string> damaged_as; // nullopt: the database file was missing
    int64_t pages = 0;
    std::string journal_mode;
};
// Restores the database file ctx.db_path (absolute), damaged or missing, from
// the backup `name` of its backup directory (see engine/recover.hpp).
RecoverOutcome recover_backup(const OperationContext& ctx, const std::string& name);
std::string export_backup(const OperationContext& ctx, const std::string& name,
                          const std::string& destination);
// Downloads `<name>.wcbk`, checks it against the checksum in its header,
// verifies it like a new backup, and publishes it in the backup directory.
std::string fetch_backup(const OperationContext& ctx, const std::string& name);
// wecare_backup_fetch('timeline'): every segment of continuous capture
// off-site and the base backups (with their chains) it needs, each checked,
// published in the backup directory; files already here are skipped. Returns
// JSON: segments (fetched), segments_here, bases (fetched), foreign,
// restorable_from, restorable_to.
std::string fetch_timeline(const OperationContext& ctx);
std::string existing_backup_path(const OperationContext& ctx, const std::string& name);

struct OffsiteStatus {
    std::string target; // "" = off-site copies are off
    std::optional<int64_t> last_success_at;
    std::string last_error;
    std::optional<int64_t> last_error_at;
    int64_t objects = 0; // objects that authenticated at the last sync
    int64_t foreign = 0; // objects named like backups that did not
};
OffsiteStatus offsite_status(const OperationContext& ctx);

// Whether the backup directory was set with wecare_backup_config and does not
// exist (often an unmounted disk). The default directory, before the first
// backup, is not missing in this sense: it is created by the first backup.
bool backup_dir_missing(const OperationContext& ctx);

// Throws the standard error for a name argument that is not one of this
// database's backup names.
void check_backup_name(const OperationContext& ctx, const std::string& name);

} // namespace wb
