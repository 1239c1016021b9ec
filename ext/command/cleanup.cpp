// wecare_backup_cleanup, and the rotation that follows every successful
// create and restore: apply the keep rules (policy/retention) to the catalog.
#include "command/shared.hpp"
#include "store/lock.hpp"
#include "store/temp_file.hpp"

namespace wb {

int64_t cleanup_locked(const OperationContext& ctx, const Dir& dir, const std::string& just_made) {
    const auto entries = scan_catalog(dir, ctx.settings.prefix);
    const auto reasons =
        retention_reasons_for(entries, ctx.settings, timeline_bases(dir, ctx.settings.prefix));
    int64_t deleted = 0;
    for (size_t i = 0; i < entries.size(); ++i) {
        if (!reasons[i].empty() || entries[i].name == just_made) continue;
        const std::string& name = entries[i].name;
        if (!dir.remove(name, "cannot delete the old backup '" + name + "'")) continue;
        dir.remove_quietly(name + std::string(kSidecarSuffix));
        dir.remove_quietly(name + std::string(kManifestSuffix));
        ++deleted;
    }
    if (deleted) dir.sync("cannot record deletions in the backup directory");
    return deleted;
}

int64_t cleanup_backups(const OperationContext& ctx) {
    require_file_database(ctx);
    require_configured_dir(ctx);
    if (path_missing(ctx.settings.dir)) return 0; // the default directory: no backup made yet
    Dir dir = Dir::open_backup_dir(ctx.settings.dir, false);
    FileLock lock = lock_backup_dir(dir, ctx.settings.busy_timeout_ms);
    remove_leftovers(dir, ctx.settings.prefix);
    return cleanup_locked(ctx, dir);
}

} // namespace wb
