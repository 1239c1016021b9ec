// Steps shared by several commands (command/*.cpp); not used outside command/.
#pragma once
#include <string>
#include <sys/stat.h>
#include <vector>

#include "command/commands.hpp"
#include "common/error.hpp"
#include "store/dir.hpp"

namespace wb {

void require_file_database(const OperationContext& ctx);
std::string unknown_backup(const std::string& name);
// The backup directory, for an operation on the backup `name`: a directory
// that does not exist yet simply holds no backup of that name.
Dir open_dir_holding(const OperationContext& ctx, const std::string& name);
// Opens the local backup `name`. A missing one is unknown, or "only off-site"
// when the off-site index has it.
Fd open_named_backup(const OperationContext& ctx, const Dir& dir, const std::string& name,
                     struct stat* st = nullptr);
// The retention reason of each entry (newest first), under ctx's keep rules.
std::vector<std::string> retention_reasons_for(const std::vector<CatalogEntry>& entries, const Settings& s);
// Applies retention; the caller holds the backup lock. `just_made` is never
// deleted: a create or restore must not remove what it returns, even when other
// backups carry later dates (a clock set back).
int64_t cleanup_locked(const OperationContext& ctx, const Dir& dir, const std::string& just_made = "");
// Snapshot, verify and publish one backup; the caller holds the backup lock.
std::string create_locked(const OperationContext& ctx, const Dir& dir, const std::string& kind,
                          const std::optional<std::string>& label, Observer& observer);
// Verification before a restore (see verify.cpp).
VerifyOutcome verify_for_restore(const OperationContext& ctx, const Dir& dir, int fd, const std::string& name,
                                 Observer& observer);

} // namespace wb
