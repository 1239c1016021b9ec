// wecare_backup_verify: check one backup (by name, or any file by path)
// against its record and record the result; and the cheaper verification a
// restore runs first. The file is opened once and read only through that
// descriptor (command/shared.hpp open_backup).
#include <algorithm>

#include "command/shared.hpp"
#include "common/clock.hpp"
#include "offsite/sync.hpp"
#include "policy/text.hpp"
#include "store/checksum.hpp"
#include "store/lock.hpp"

namespace wb {

namespace {

// A path: any file, e.g. an exported copy. Its checksum is compared with the
// record of the backup of the same name, if this directory has one.
std::pair<std::string, VerifyOutcome> verify_path(const OperationContext& ctx, const std::string& path,
                                                  Observer& observer) {
    if (path.find('\0') != std::string::npos) throw Error("the path contains a NUL byte");
    Fd fd = open_regular_path(path);
    const std::string base = path.substr(path.find_last_of('/') + 1);
    std::optional<BackupRecord> record;
    require_configured_dir(ctx); // its record may be on the unmounted disk
    if (parse_backup_name(ctx.settings.prefix, base) && !path_missing(ctx.settings.dir)) {
        Dir dir = Dir::open_backup_dir(ctx.settings.dir, false);
        record = read_record(dir, base);
        if (record) {
            try {
                record->tables = recorded_tables(dir, *record);
            } catch (const Error&) {
                record->tables.clear(); // the backup's own verification reports its manifest
            }
        }
    }
    const OpenedBackup backup = open_backup(nullptr, base, std::move(fd));
    return {base, verify_opened(ctx, backup, observer, record)};
}

// An off-site copy, checked by streaming it; nullopt when there is none.
// `dir` is null when there is no backup directory yet (a new machine). An
// increment's stream is checked like any other (its header names its base);
// its chain is checked only once fetched: that needs the files.
std::optional<VerifyOutcome> verify_offsite(const OperationContext& ctx, const Dir* dir,
                                            const std::string& name, Observer& observer) {
    if (ctx.settings.offsite.empty()) return std::nullopt;
    offsite::require_encryption(ctx.settings);
    const offsite::OffsiteIndex index =
        dir ? offsite::read_index(*dir, ctx.settings) : offsite::OffsiteIndex{};
    const auto check = offsite::check_copy(ctx.settings, name, index, observer);
    if (!check) return std::nullopt;
    VerifyOutcome out;
    out.ok = check->ok;
    out.checksum_status = check->checksum_status;
    out.checksum = check->checksum;
    out.size_bytes = check->size_bytes;
    out.errors = check->errors;
    if (check->base.empty())
        out.integrity = "not checked: the backup is only off-site (fetch it with wecare_backup_fetch to run "
                        "integrity_check)";
    else
        out.integrity =
            "not checked: the backup is only off-site, and incremental: its chain (it builds on '" +
            check->base +
            "') is checked once fetched (wecare_backup_fetch brings the chain, then runs "
            "integrity_check on the database it makes)";
    return out;
}

// Records the result in the backup's sidecar, unless it was deleted meanwhile.
void record_verification(const OperationContext& ctx, const Dir& dir, const std::string& name,
                         const VerifyOutcome& outcome) {
    FileLock lock = lock_backup_dir(dir, ctx.settings.busy_timeout_ms);
    if (!dir.exists(name)) return;
    bool damaged = false;
    auto existing = read_record(dir, name, &damaged);
    if (damaged) return; // the evidence is never overwritten
    BackupRecord updated = existing.value_or(BackupRecord{});
    if (updated.name.empty()) updated.name = name;
    if (updated.kind.empty())
        updated.kind = parse_backup_name(ctx.settings.prefix, name)->safety ? "safety" : "manual";
    updated.verified_at = now_seconds();
    updated.verify_ok = outcome.ok;
    updated.verify_error = outcome.ok ? "" : outcome.errors.front();
    write_record(dir, updated);
    dir.sync("cannot record the verification result");
}

} // namespace

std::pair<std::string, VerifyOutcome> verify_backup(const OperationContext& ctx, const std::string& arg) {
    require_file_database(ctx);
    Progress progress = progress_of(ctx, "verify");
    if (arg.find('/') != std::string::npos) return verify_path(ctx, arg, progress);
    check_backup_name(ctx, arg);
    if (path_missing(ctx.settings.dir)) { // no backup made here yet: only an off-site copy can exist
        if (auto offsite = verify_offsite(ctx, nullptr, arg, progress)) return {arg, *offsite};
    }
    Dir dir = open_dir_holding(ctx, arg);
    if (!dir.exists(arg)) {
        if (auto offsite = verify_offsite(ctx, &dir, arg, progress)) return {arg, *offsite};
    }
    const OpenedBackup backup = open_in_dir(ctx, dir, arg);
    const VerifyOutcome outcome = verify_opened(ctx, backup, progress, std::nullopt);
    if (!backup.record_damaged) record_verification(ctx, dir, arg, outcome);
    return {arg, outcome};
}

// A backup whose record says it verified ok, and whose bytes still match the
// checksum recorded with it, is the very file that passed integrity_check and
// the row counts then: re-reading it for the checksum proves that, at a
// fraction of the cost. The critical tables are checked against its recorded
// row counts. Anything else (never verified, no checksum, a damaged record)
// gets the full verification. An incremental backup takes the same short cut
// when its chain checks out, none of the backups it builds on failed
// verification, and every one of them still has its recorded checksum.
VerifyOutcome verify_for_restore(const OperationContext& ctx, const OpenedBackup& backup, Observer& observer,
                                 bool pages_checked_by_copy) {
    const auto& record = backup.record;
    bool full_check = backup.record_damaged || !record || record->verify_ok != std::optional<bool>(true) ||
                      record->checksum.empty() || !backup.manifest_problem.empty();
    if (backup.increment) {
        full_check = full_check || !backup.chain || !backup.image || !backup.chain_problems.empty();
        if (backup.chain)
            for (const auto& link : backup.chain->links())
                if (link.record.verify_ok == std::optional<bool>(false) || link.record.checksum.empty())
                    full_check = true;
    }
    if (full_check) return verify_opened(ctx, backup, observer, std::nullopt);
    VerifyOutcome out;
    out.size_bytes = backup.size_bytes;
    if (backup.chain) check_chain_links(*backup.chain, out, observer);
    // Every page is read once by the copy and checked against the hash the
    // manifest (bound to the record) holds for it; with the file's size as
    // recorded, that covers every byte the checksum covers.
    const bool by_copy = pages_checked_by_copy && !backup.increment && backup.image &&
                         backup.image->checked() && record->size_bytes == backup.size_bytes &&
                         static_cast<uint64_t>(backup.size_bytes) == backup.image->size_bytes();
    if (by_copy) {
        out.checksum_status = "checked page by page as it is copied";
    } else {
        try {
            out.checksum =
                checksum_fd(backup.file->get(), static_cast<uint64_t>(backup.size_bytes), &observer);
        } catch (const Error& e) {
            if (e.kind() == ErrorKind::interrupted) throw;
            out.errors.push_back(std::string("reading the file failed: ") + e.what());
        }
        out.checksum_status = out.checksum == record->checksum ? "match" : "mismatch";
        if (out.checksum_status == "mismatch")
            out.errors.push_back(
                "checksum mismatch: the file is not the one recorded when the backup was made");
    }
    out.integrity =
        "ok (unchanged since it was verified at " + iso_utc(record->verified_at.value_or(0)) + ")";
    out.tables = record->tables;
    for (auto& error : critical_table_errors(out.tables, ctx.settings.critical_tables))
        out.errors.push_back(std::move(error));
    out.ok = out.errors.empty();
    return out;
}

} // namespace wb
