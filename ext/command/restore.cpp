// wecare_backup_restore: verify the backup, then, under the database's write
// lock, take a safety backup of the database as it is and replace it
// (engine/restore.hpp), then rotate.
//
// A restore that fails with an error leaves no safety backup: it is taken only
// once the lock is held, and removed when the restore then fails. A restore
// that is killed keeps its safety backup, which is complete and valid.
#include "engine/restore.hpp"
#include "command/continuous.hpp"
#include "command/shared.hpp"
#include "common/clock.hpp"
#include "engine/page_writer.hpp"
#include "policy/text.hpp"
#include "store/lock.hpp"
#include "store/temp_file.hpp"

namespace wb {

namespace {

// Writes the safety backup from `current` and publishes it; returns its name.
std::string write_safety(const OperationContext& ctx, const Dir& dir, PageSource& current,
                         const std::string& journal_mode, const std::string& restoring, Observer& observer) {
    observer.phase("safety backup");
    observer.page_size(current.page_size());
    const int64_t created_ns = now_nanoseconds();
    std::string name = allocate_name(dir, ctx.settings.prefix, true, created_ns / 1000000000);
    TempFile temp(dir, name);
    PageWriter out(temp.fd(), current.page_size(), PageWriter::Options{});
    copy_pages(current, out, observer);
    PageWriter::Result written = out.finish();

    Manifest manifest;
    manifest.page_size = current.page_size();
    manifest.page_count = current.page_count();
    manifest.db_checksum = written.db_checksum;
    manifest.page_hashes = std::move(written.page_hashes);
    BackupRecord record;
    record.name = name;
    record.kind = "safety";
    record.label = "before restoring " + restoring;
    record.created_ns = created_ns;
    record.size_bytes = written.size_bytes;
    record.checksum = written.checksum;
    record.page_count = current.page_count();
    record.page_size = current.page_size();
    record.source = ctx.db_path;
    record.journal_mode = journal_mode;
    record.db_checksum = written.db_checksum;
    try {
        record.manifest = write_manifest(dir, name, manifest);
        write_record(dir, record);
        temp.publish("cannot record the safety backup in the backup directory");
    } catch (...) {
        dir.remove_quietly(name + std::string(kSidecarSuffix));
        dir.remove_quietly(name + std::string(kManifestSuffix));
        throw;
    }
    return name;
}

void remove_backup(const Dir& dir, const std::string& name) {
    dir.remove_quietly(name);
    dir.remove_quietly(name + std::string(kSidecarSuffix));
    dir.remove_quietly(name + std::string(kManifestSuffix));
    try {
        dir.sync("cannot record a deletion");
    } catch (const Error&) {
        // The restore's own error is the one to report.
    }
}

} // namespace

RestoreOutcome restore_backup(const OperationContext& ctx, const std::string& name, bool caller_reading) {
    require_file_database(ctx);
    check_backup_name(ctx, name);
    const DbMode live = db_mode_of(ctx.db_path, ctx.settings.busy_timeout_ms);
    if (caller_reading && live.journal_mode != "wal") throw caller_reading_error(ctx);
    Progress progress = progress_of(ctx, "verify");
    Dir dir = open_dir_holding(ctx, name);
    FileLock lock = lock_backup_dir(dir, ctx.settings.busy_timeout_ms, &progress);
    OpenedBackup opened = open_in_dir(ctx, dir, name);
    const VerifyOutcome outcome = verify_for_restore(ctx, opened, progress, true);
    if (!outcome.ok)
        throw Error("the backup '" + name + "' failed verification (" + join(outcome.errors, "; ") +
                    "); it was not restored and the database is unchanged; choose another backup");
    // SQLite cannot change the page size of a WAL database: say so before any work.
    if (live.journal_mode == "wal" && live.page_count > 0 && live.page_size != opened.header.page_size)
        throw Error(
            "the backup has pages of " + std::to_string(opened.header.page_size) +
                " bytes and the database, in WAL mode, has pages of " + std::to_string(live.page_size) +
                "; the database is unchanged: switch it to PRAGMA journal_mode=DELETE for the restore, "
                "then back to WAL",
            ErrorKind::misuse);

    RestoreOutcome result = restore_image_locked(ctx, dir, *opened.image, name,
                                                 opened.record ? opened.record->journal_mode : "", progress);
    result.restored = name;
    return result;
}

RestoreOutcome restore_image_locked(const OperationContext& ctx, const Dir& dir, const Image& image,
                                    const std::string& what, const std::string& journal_mode_if_new,
                                    Observer& observer) {
    RestoreOutcome result;
    RestoreRequest req;
    req.db_path = ctx.db_path;
    req.image = &image;
    req.busy_timeout_ms = ctx.settings.busy_timeout_ms;
    req.observer = &observer;
    req.journal_mode_if_new = journal_mode_if_new;
    req.what = "the backup '" + what + "'";
    bool marked = false;
    // Continuous capture (in any process) must not capture the restore's
    // transaction as a restore point (command/continuous.hpp): the marker
    // records where the log stands before the copy writes its first frame.
    req.before_copy = [&](const std::string& journal_mode) {
        if (journal_mode == "wal") {
            mark_restore(ctx, dir, what);
            marked = true;
        }
    };
    // In WAL mode this runs on a thread of its own beside the copy
    // (engine/restore.hpp); `on` is then that thread's observer.
    req.take_safety = [&](PageSource& current, const std::string& journal_mode, Observer& on) {
        if (current.page_count() > 0) // an empty database: nothing to keep
            result.safety_backup = write_safety(ctx, dir, current, journal_mode, what, on);
    };
    try {
        result.pages = restore_into(req).pages;
        if (marked) note_restore_committed(ctx, dir);
    } catch (...) {
        if (!result.safety_backup.empty()) remove_backup(dir, result.safety_backup);
        if (marked) unmark_restore(ctx, dir);
        throw;
    }
    cleanup_locked(ctx, dir, result.safety_backup);
    return result;
}

} // namespace wb
