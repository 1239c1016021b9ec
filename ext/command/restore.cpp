// wecare_backup_restore: verify the backup, take a safety backup, replace the
// database (engine/restore), rotate.
#include "engine/restore.hpp"
#include "command/shared.hpp"
#include "policy/text.hpp"
#include "store/db_header.hpp"
#include "store/lock.hpp"

namespace wb {

namespace {

DbHeader header_of_path(const std::string& path) {
    try {
        Fd fd = open_regular_path(path);
        return read_db_header(fd.get());
    } catch (const Error&) {
        return DbHeader{};
    }
}

} // namespace

RestoreOutcome restore_backup(const OperationContext& ctx, const std::string& name, bool caller_reading) {
    require_file_database(ctx);
    check_backup_name(ctx, name);
    const DbHeader live = header_of_path(ctx.db_path);
    if (caller_reading && !live.wal)
        throw Error(
            "the statement that calls it reads the database, which keeps a rollback-journal database locked; "
            "call it in a statement that reads no table, with the name as a literal or a bound parameter",
            ErrorKind::busy);
    Progress progress = progress_of(ctx, "verify");
    Dir dir = open_dir_holding(ctx, name);
    FileLock lock = lock_backup_dir(dir, ctx.settings.busy_timeout_ms);
    const OpenedBackup opened = open_backup(&dir, name, open_named_backup(ctx, dir, name));
    const VerifyOutcome outcome = verify_for_restore(ctx, opened, progress);
    if (!outcome.ok)
        throw Error("the backup '" + name + "' failed verification (" + join(outcome.errors, "; ") +
                    "); it was not restored and the database is unchanged; choose another backup");
    // SQLite cannot change the page size of a WAL database: say so before any work.
    const DbHeader& backup = opened.header;
    if (live.wal && live.page_size != backup.page_size)
        throw Error(
            "the backup has pages of " + std::to_string(backup.page_size) +
                " bytes and the database, in WAL mode, has pages of " + std::to_string(live.page_size) +
                "; the database is unchanged: switch it to PRAGMA journal_mode=DELETE for the restore, "
                "then back to WAL",
            ErrorKind::misuse);
    progress.phase("safety");
    RestoreOutcome result;
    result.restored = name;
    result.safety_backup =
        create_locked(ctx, dir, "safety", std::string("before restoring ") + name, progress);
    progress.phase("restore");
    result.pages = restore_into(ctx.db_path, dir.path_of(name), ctx.settings.busy_timeout_ms, progress);
    cleanup_locked(ctx, dir, result.safety_backup);
    return result;
}

} // namespace wb
