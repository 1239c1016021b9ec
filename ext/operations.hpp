// The backup operations behind the SQL functions, on one database and its
// backup directory. Each takes an OperationContext: the resolved settings and
// the database file, copied at call time, so a scheduler thread never shares
// mutable state with the connection that started it.
//
// Create, cleanup and restore hold the directory lock (fsutil.hpp) for their
// whole run; list, verify and export read without it.
#pragma once
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "catalog.hpp"
#include "settings.hpp"
#include "verify.hpp"

namespace wb {

struct OperationContext {
    Settings settings; // resolved: dir and prefix filled in
    std::string db_path;
    bool interactive = false; // draw progress on a terminal
    // Only the default directory (beside the database) is created when
    // missing: a configured one that is missing is often an unmounted disk,
    // and backups must not land on the disk underneath it.
    bool dir_is_default = true;
    const std::atomic<bool>* cancel = nullptr;
};

struct ListedBackup {
    CatalogEntry entry;
    std::string path;
    std::string retain_reason;      // "" = the next cleanup deletes it
    std::string location = "local"; // "local", "offsite" (path ""), "both": see offsite_sync.hpp
};

// Creates a backup of kind "manual", "auto" or "safety" and returns its name;
// then applies retention. With `skip_if_newer_than` > 0, returns nullopt
// without creating when a regular backup younger than that many seconds exists
// (checked under the lock, so processes sharing a directory agree).
std::optional<std::string> create_backup(const OperationContext& ctx, const std::string& kind,
                                         const std::optional<std::string>& label,
                                         int64_t skip_if_newer_than = 0);
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
std::string export_backup(const OperationContext& ctx, const std::string& name,
                          const std::string& destination);
std::string existing_backup_path(const OperationContext& ctx, const std::string& name);

// Throws the standard error for a name argument that is not one of this
// database's backup names.
void check_backup_name(const OperationContext& ctx, const std::string& name);

constexpr const char* kRestorePhrase = "I understand this will replace the current database";

} // namespace wb
