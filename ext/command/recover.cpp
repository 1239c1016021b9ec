// wecare_backup_recover: restore a database file that is damaged or missing,
// from any connection (engine/recover.hpp). The backup is verified first, as
// for a restore; the database's file is then replaced under SQLite's own
// exclusive lock, the damaged one kept beside it.
#include "engine/recover.hpp"
#include "command/shared.hpp"
#include "policy/text.hpp"
#include "store/lock.hpp"

namespace wb {

RecoverOutcome recover_backup(const OperationContext& ctx, const std::string& name) {
    require_file_database(ctx);
    check_backup_name(ctx, name);
    Progress progress = progress_of(ctx, "verify");
    Dir dir = open_dir_holding(ctx, name);
    FileLock lock = lock_backup_dir(dir, ctx.settings.busy_timeout_ms, &progress);
    OpenedBackup opened = open_in_dir(ctx, dir, name);
    const VerifyOutcome outcome = verify_for_restore(ctx, opened, progress);
    if (!outcome.ok)
        throw Error("the backup '" + name + "' failed verification (" + join(outcome.errors, "; ") +
                    "); nothing was changed; choose another backup");
    RecoverRequest req;
    req.db_path = ctx.db_path;
    req.image = opened.image.get();
    req.wal = opened.record && opened.record->journal_mode == "wal";
    if (opened.record && !opened.increment) req.expected_checksum = opened.record->checksum;
    if (opened.record) req.expected_db_checksum = opened.record->db_checksum;
    req.observer = &progress;
    const RecoverResult r = recover_database(req);
    RecoverOutcome out;
    out.recovered = name;
    out.damaged_as = r.damaged_as;
    out.pages = r.pages;
    out.journal_mode = req.wal ? "wal" : "delete";
    return out;
}

} // namespace wb
