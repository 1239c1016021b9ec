#include "operations.hpp"

#include <algorithm>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checksum.hpp"
#include "fsutil.hpp"
#include "offsite_sync.hpp"
#include "restore.hpp"
#include "retention.hpp"
#include "snapshot.hpp"

namespace wb {

namespace {

RetentionPolicy policy_of(const Settings& s) {
    return {s.keep_last, s.keep_daily, s.keep_weekly, s.keep_monthly, s.keep_safety};
}

std::vector<std::string> reasons_for(const std::vector<CatalogEntry>& entries, const Settings& s) {
    std::vector<RetentionItem> items;
    items.reserve(entries.size());
    for (const auto& e : entries)
        items.push_back({e.parsed.safety, e.parsed.epoch_seconds, e.verify_ok()});
    return retention_reasons(items, policy_of(s));
}

// Applies retention; the caller holds the directory lock. `just_made` is never
// deleted: a create or restore must not remove what it returns, even when other
// backups carry later dates (a clock set back).
int64_t cleanup_locked(const OperationContext& ctx, int dir_fd, const std::string& just_made = "") {
    const auto entries = scan_catalog(dir_fd, ctx.settings.prefix);
    const auto reasons = reasons_for(entries, ctx.settings);
    int64_t deleted = 0;
    for (size_t i = 0; i < entries.size(); ++i) {
        if (!reasons[i].empty() || entries[i].name == just_made) continue;
        const std::string& name = entries[i].name;
        if (::unlinkat(dir_fd, name.c_str(), 0) != 0) {
            if (errno == ENOENT) continue;
            throw system_error("cannot delete the old backup '" + name + "'", errno);
        }
        ::unlinkat(dir_fd, (name + std::string(kSidecarSuffix)).c_str(), 0);
        ++deleted;
    }
    if (deleted) fsync_fd(dir_fd, "cannot record deletions in the backup directory");
    return deleted;
}

// The next name for this second: one past the highest sequence in use, so a
// name is never reused after rotation and names sort in creation order.
std::string allocate_name(int dir_fd, const std::string& prefix, bool safety, int64_t seconds) {
    int highest = 0;
    for (const auto& entry : list_dir(dir_fd)) {
        const std::string base =
            is_sidecar_name(entry) ? entry.substr(0, entry.size() - kSidecarSuffix.size()) : entry;
        const auto parsed = parse_backup_name(prefix, base);
        if (parsed && parsed->safety == safety && parsed->epoch_seconds == seconds)
            highest = std::max(highest, parsed->sequence);
    }
    for (int sequence = highest + 1; sequence < 100000; ++sequence) {
        std::string name = backup_name(prefix, safety, seconds, sequence);
        if (!exists_at(dir_fd, name) && !exists_at(dir_fd, name + std::string(kSidecarSuffix))) return name;
    }
    throw Error("too many backups within one second");
}

// Snapshot, verify and publish one backup; the caller holds the directory lock.
std::string create_locked(const OperationContext& ctx, int dir_fd, const std::string& kind,
                          const std::optional<std::string>& label, Progress& progress) {
    const int64_t created_ns = now_nanoseconds();
    std::string name = allocate_name(dir_fd, ctx.settings.prefix, kind == "safety", created_ns / 1000000000);
    const std::string temp = temp_name_for(name);
    const std::string sidecar = name + std::string(kSidecarSuffix);
    bool sidecar_written = false;
    try {
        SnapshotRequest req;
        req.db_path = ctx.db_path;
        req.dir_fd = dir_fd;
        req.dir_path = ctx.settings.dir;
        req.temp_name = temp;
        req.busy_timeout_ms = ctx.settings.busy_timeout_ms;
        req.max_snapshot_seconds = ctx.settings.max_snapshot_seconds;
        req.cancel = ctx.cancel;
        req.progress = &progress;
        const SnapshotResult snap = snapshot_to(req);

        BackupRecord record;
        record.name = name;
        record.kind = kind;
        record.label = label;
        record.created_ns = created_ns;
        record.size_bytes = snap.size_bytes;
        record.checksum = snap.checksum;
        record.page_count = snap.page_count;
        record.page_size = snap.page_size;
        record.source = ctx.db_path;
        record.journal_mode = snap.journal_mode;
        record.tables = snap.tables;

        // A safety backup is not held to verification: restoring is exactly what
        // one does when the current database is damaged, and a damaged current
        // database must not block it. Its checksum is recorded all the same.
        if (ctx.settings.verify_on_create && kind != "safety") {
            progress.phase("verify");
            Fd fd = open_regular_at(dir_fd, temp);
            const VerifyOutcome outcome =
                verify_file(fd.get(), ctx.settings.dir + "/" + temp, &record, ctx.settings.critical_tables,
                            &progress, ctx.cancel, true);
            if (!outcome.ok)
                throw Error("the new backup failed verification (" + join(outcome.errors, "; ") +
                            "); it was not published and no backup was deleted");
            record.verified_at = now_seconds();
            record.verify_ok = true;
        }
        write_record(dir_fd, record);
        sidecar_written = true;
        rename_noreplace(dir_fd, temp, name);
        fsync_fd(dir_fd, "cannot record the new backup in the backup directory");
        return name;
    } catch (...) {
        ::unlinkat(dir_fd, temp.c_str(), 0);
        if (sidecar_written && !exists_at(dir_fd, name)) ::unlinkat(dir_fd, sidecar.c_str(), 0);
        throw;
    }
}

// Whether a regular backup was made within the last `seconds` (one dated in
// the future, after the clock was set back, does not count).
bool has_recent_backup(const std::vector<CatalogEntry>& entries, int64_t seconds, int64_t now) {
    for (const auto& e : entries)
        if (!e.parsed.safety && e.parsed.epoch_seconds > now - seconds && e.parsed.epoch_seconds <= now)
            return true;
    return false;
}

void require_file_database(const OperationContext& ctx) {
    if (ctx.db_path.empty())
        throw Error("the main database is in memory or temporary; open a database file to back it up",
                    kErrMisuse);
}

// Header bytes 18-19 say whether a database file is in WAL mode.
struct HeaderFacts {
    bool wal = false;
    uint32_t page_size = 0;
};

HeaderFacts header_of(int fd) {
    unsigned char header[20] = {};
    HeaderFacts facts;
    if (fd < 0 || ::pread(fd, header, sizeof header, 0) != static_cast<ssize_t>(sizeof header)) return facts;
    facts.wal = header[18] == 2;
    facts.page_size = static_cast<uint32_t>(header[16] << 8 | header[17]);
    if (facts.page_size == 1) facts.page_size = 65536;
    return facts;
}

HeaderFacts header_of(const std::string& path) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    return header_of(fd.get());
}

bool is_wal_file(const std::string& path) {
    return header_of(path).wal;
}

std::string unknown_backup(const std::string& name) {
    return "there is no backup named '" + name + "'; see SELECT name FROM wecare_backup_list";
}

// The backup directory, for an operation on the backup `name`: a directory
// that does not exist yet simply holds no backup of that name.
Fd open_dir_holding(const OperationContext& ctx, const std::string& name) {
    struct stat st {};
    if (::lstat(ctx.settings.dir.c_str(), &st) != 0 && errno == ENOENT)
        throw Error(unknown_backup(name), kErrNotFound);
    return open_backup_dir(ctx.settings.dir, false);
}

// Opens the local backup `name`. A missing one is unknown, or "only off-site"
// when the off-site index has it.
Fd open_named_backup(const OperationContext& ctx, int dir_fd, const std::string& name,
                     struct stat* st = nullptr) {
    try {
        return open_regular_at(dir_fd, name, st);
    } catch (const Error& e) {
        if (e.code() != kErrNotFound) throw;
        if (known_offsite(ctx, dir_fd, name))
            throw Error("the backup '" + name +
                            "' is only off-site; fetch it first with wecare_backup_fetch('" + name + "')",
                        kErrNotFound);
        throw Error(unknown_backup(name), kErrNotFound);
    }
}

// Verifies the local backup open at `fd` against its record. A record that
// exists but cannot be read fails verification (`damaged`): it is the evidence,
// and it is never overwritten.
VerifyOutcome verify_local(const OperationContext& ctx, int dir_fd, int fd, const std::string& name,
                           Progress& progress, bool& damaged) {
    const auto record = read_record(dir_fd, name, &damaged);
    VerifyOutcome outcome = verify_file(fd, ctx.settings.dir + "/" + name, record ? &*record : nullptr,
                                        ctx.settings.critical_tables, &progress, ctx.cancel);
    if (damaged) {
        outcome.errors.push_back("the recorded metadata '" + name + std::string(kSidecarSuffix) +
                                 "' is damaged; the checksum cannot be compared");
        outcome.ok = false;
    }
    return outcome;
}

// Verification before a restore. A backup whose record says it verified ok,
// and whose bytes still match the checksum recorded with it, is the very file
// that passed integrity_check and the row counts then: re-reading it for the
// checksum proves that, at a fraction of the cost. The critical tables are
// checked against its recorded row counts. Anything else (never verified, no
// checksum, a damaged record) gets the full verification.
VerifyOutcome verify_for_restore(const OperationContext& ctx, int dir_fd, int fd, const std::string& name,
                                 Progress& progress) {
    bool damaged = false;
    const auto record = read_record(dir_fd, name, &damaged);
    if (damaged || !record || record->verify_ok != std::optional<bool>(true) || record->checksum.empty())
        return verify_local(ctx, dir_fd, fd, name, progress, damaged);
    VerifyOutcome out;
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw system_error("cannot examine the backup", errno);
    out.size_bytes = st.st_size;
    try {
        out.checksum = checksum_fd(
            fd, static_cast<uint64_t>(st.st_size),
            [&](uint64_t done) {
                progress.update(static_cast<int64_t>(done), static_cast<int64_t>(st.st_size));
            },
            ctx.cancel);
    } catch (const Error& e) {
        out.errors.push_back(std::string("reading the file failed: ") + e.what());
    }
    out.checksum_status = out.checksum == record->checksum ? "match" : "mismatch";
    if (out.checksum_status == "mismatch")
        out.errors.push_back("checksum mismatch: the file is not the one recorded when the backup was made");
    out.integrity =
        "ok (unchanged since it was verified at " + iso_utc(record->verified_at.value_or(0)) + ")";
    out.tables = record->tables;
    for (const auto& table : ctx.settings.critical_tables) {
        auto it = std::find_if(record->tables.begin(), record->tables.end(),
                               [&](const TableCount& t) { return t.name == table; });
        if (it == record->tables.end()) {
            out.errors.push_back("critical table '" + table + "' is missing");
        } else if (it->rows == 0) {
            out.errors.push_back("critical table '" + table + "' is empty");
        }
    }
    out.ok = out.errors.empty();
    return out;
}

} // namespace

void check_backup_name(const OperationContext& ctx, const std::string& name) {
    const std::string problem = name_problem(name.data(), name.size());
    if (!problem.empty())
        throw Error(problem + "; pass the plain file name of a backup, as listed by wecare_backup_list");
    if (!parse_backup_name(ctx.settings.prefix, name))
        throw Error("'" + name + "' is not a backup name of this database (expected " + ctx.settings.prefix +
                    "_backup_YYYY-MM-DD_HH-MM-SS.db); see SELECT name FROM wecare_backup_list");
}

std::optional<std::string> create_backup(const OperationContext& ctx, const std::string& kind,
                                         const std::optional<std::string>& label,
                                         int64_t skip_if_newer_than) {
    require_file_database(ctx);
    Progress progress(ctx.settings.dir, "create", ctx.interactive);
    std::optional<std::string> created;
    try {
        struct stat st {};
        if (!ctx.dir_is_default && ::lstat(ctx.settings.dir.c_str(), &st) != 0 && errno == ENOENT)
            throw Error(
                "the backup directory '" + ctx.settings.dir +
                    "' does not exist; create it (mkdir -m 700) or "
                    "mount its disk (a directory set with wecare_backup_config is never created, so backups "
                    "never land on the disk under an unmounted one)",
                kErrCantOpen);
        Fd dir = open_backup_dir(ctx.settings.dir, true);
        DirLock lock(dir.get(), ctx.settings.busy_timeout_ms, ctx.cancel);
        remove_leftovers(dir.get(), ctx.settings.prefix);
        if (skip_if_newer_than > 0) {
            if (has_recent_backup(scan_catalog(dir.get(), ctx.settings.prefix), skip_if_newer_than,
                                  now_seconds()))
                return std::nullopt;
        }
        created = create_locked(ctx, dir.get(), kind, label, progress);
        record_success(ctx.settings.dir, now_seconds());
        // Rotation only ever follows a successful backup.
        cleanup_locked(ctx, dir.get(), *created);
    } catch (const Error& e) {
        // A cancelled run (the connection closing) is not a failure to report.
        if (!(ctx.cancel && ctx.cancel->load())) record_error(ctx.settings.dir, e.what(), now_seconds());
        throw;
    }
    // Off-site copies, once the directory lock is released; a failure there is
    // recorded, and the local backup stands (offsite_sync.hpp).
    if (kind != "safety") sync_offsite(ctx);
    return created;
}

int64_t cleanup_backups(const OperationContext& ctx) {
    require_file_database(ctx);
    struct stat st {};
    if (::lstat(ctx.settings.dir.c_str(), &st) != 0 && errno == ENOENT) return 0; // no backup made yet
    Fd dir = open_backup_dir(ctx.settings.dir, false);
    DirLock lock(dir.get(), ctx.settings.busy_timeout_ms);
    remove_leftovers(dir.get(), ctx.settings.prefix);
    return cleanup_locked(ctx, dir.get());
}

std::vector<ListedBackup> list_backups(const OperationContext& ctx) {
    if (ctx.db_path.empty()) return {};
    struct stat st {};
    if (::lstat(ctx.settings.dir.c_str(), &st) != 0 && errno == ENOENT) return {}; // no backup made yet
    Fd dir = open_backup_dir(ctx.settings.dir, false);
    auto entries = scan_catalog(dir.get(), ctx.settings.prefix);
    const auto reasons = reasons_for(entries, ctx.settings);
    std::vector<ListedBackup> out;
    out.reserve(entries.size());
    for (size_t i = 0; i < entries.size(); ++i) {
        const std::string path = ctx.settings.dir + "/" + entries[i].name;
        out.push_back({std::move(entries[i]), path, reasons[i]});
    }
    merge_offsite_rows(ctx, dir.get(), out);
    return out;
}

std::string existing_backup_path(const OperationContext& ctx, const std::string& name) {
    check_backup_name(ctx, name);
    Fd dir = open_dir_holding(ctx, name);
    struct stat st {};
    if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
        throw Error(unknown_backup(name), kErrNotFound);
    if (!S_ISREG(st.st_mode))
        throw Error("'" + name + "' is not a regular file; it cannot be a backup", kErrCantOpen);
    return ctx.settings.dir + "/" + name;
}

std::pair<std::string, VerifyOutcome> verify_backup(const OperationContext& ctx, const std::string& arg) {
    require_file_database(ctx);
    Progress progress(ctx.settings.dir, "verify", ctx.interactive);
    if (arg.find('/') != std::string::npos) {
        // A path: any file, e.g. an exported copy. Its checksum is compared with
        // the record of the backup of the same name, if this directory has one.
        if (arg.find('\0') != std::string::npos) throw Error("the path contains a NUL byte");
        Fd fd = open_regular_path(arg);
        const std::string base = arg.substr(arg.find_last_of('/') + 1);
        std::optional<BackupRecord> record;
        if (parse_backup_name(ctx.settings.prefix, base)) {
            struct stat st {};
            if (::stat(ctx.settings.dir.c_str(), &st) == 0) {
                Fd dir = open_backup_dir(ctx.settings.dir, false);
                record = read_record(dir.get(), base);
            }
        }
        auto outcome = verify_file(fd.get(), arg, record ? &*record : nullptr, ctx.settings.critical_tables,
                                   &progress, ctx.cancel);
        return {base, outcome};
    }
    check_backup_name(ctx, arg);
    Fd dir = open_dir_holding(ctx, arg);
    if (!exists_at(dir.get(), arg)) {
        // Perhaps only off-site: checked by streaming it (offsite_sync.hpp).
        if (auto offsite = verify_offsite_copy(ctx, arg)) return {arg, *offsite};
    }
    Fd fd = open_named_backup(ctx, dir.get(), arg);
    bool damaged = false;
    const VerifyOutcome outcome = verify_local(ctx, dir.get(), fd.get(), arg, progress, damaged);
    if (damaged) return {arg, outcome};
    // Record the result, unless the backup was deleted meanwhile.
    DirLock lock(dir.get(), ctx.settings.busy_timeout_ms);
    if (exists_at(dir.get(), arg)) {
        BackupRecord updated = read_record(dir.get(), arg).value_or(BackupRecord{});
        if (updated.name.empty()) updated.name = arg;
        if (updated.kind.empty())
            updated.kind = parse_backup_name(ctx.settings.prefix, arg)->safety ? "safety" : "manual";
        updated.verified_at = now_seconds();
        updated.verify_ok = outcome.ok;
        updated.verify_error = outcome.ok ? "" : outcome.errors.front();
        write_record(dir.get(), updated);
        fsync_fd(dir.get(), "cannot record the verification result");
    }
    return {arg, outcome};
}

RestoreOutcome restore_backup(const OperationContext& ctx, const std::string& name, bool caller_reading) {
    require_file_database(ctx);
    check_backup_name(ctx, name);
    if (caller_reading && !is_wal_file(ctx.db_path))
        throw Error(
            "the statement that calls it reads the database, which keeps a rollback-journal database locked; "
            "call it in a statement that reads no table, with the name as a literal or a bound parameter",
            kErrBusy);
    Progress progress(ctx.settings.dir, "verify", ctx.interactive);
    Fd dir = open_dir_holding(ctx, name);
    DirLock lock(dir.get(), ctx.settings.busy_timeout_ms);
    Fd fd = open_named_backup(ctx, dir.get(), name);
    const VerifyOutcome outcome = verify_for_restore(ctx, dir.get(), fd.get(), name, progress);
    if (!outcome.ok)
        throw Error("the backup '" + name + "' failed verification (" + join(outcome.errors, "; ") +
                    "); it was not restored and the database is unchanged; choose another backup");
    // SQLite cannot change the page size of a WAL database: say so before any work.
    const HeaderFacts live = header_of(ctx.db_path);
    const HeaderFacts backup = header_of(fd.get());
    if (live.wal && live.page_size != backup.page_size)
        throw Error("the backup has pages of " + std::to_string(backup.page_size) +
                        " bytes and the database, in WAL "
                        "mode, has pages of " +
                        std::to_string(live.page_size) +
                        "; the database is unchanged: switch "
                        "it to PRAGMA journal_mode=DELETE for the restore, then back to WAL",
                    kErrMisuse);
    progress.phase("safety");
    RestoreOutcome result;
    result.restored = name;
    result.safety_backup =
        create_locked(ctx, dir.get(), "safety", std::string("before restoring ") + name, progress);
    progress.phase("restore");
    result.pages =
        restore_into(ctx.db_path, ctx.settings.dir + "/" + name, ctx.settings.busy_timeout_ms, &progress);
    cleanup_locked(ctx, dir.get(), result.safety_backup);
    return result;
}

std::string export_backup(const OperationContext& ctx, const std::string& name,
                          const std::string& destination) {
    require_file_database(ctx);
    check_backup_name(ctx, name);
    if (destination.empty() || destination.find('\0') != std::string::npos || destination.size() > 4096)
        throw Error("the destination must be a file or directory path");
    Fd dir = open_dir_holding(ctx, name);
    struct stat src_st {};
    Fd src = open_named_backup(ctx, dir.get(), name, &src_st);
    const auto record = read_record(dir.get(), name);

    std::string target = destination;
    struct stat st {};
    if (::stat(destination.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) target = destination + "/" + name;
    while (target.find("//") != std::string::npos)
        target.replace(target.find("//"), 2, "/");
    const size_t slash = target.find_last_of('/');
    const std::string parent =
        slash == std::string::npos ? "." : (slash == 0 ? "/" : target.substr(0, slash));
    const std::string base = slash == std::string::npos ? target : target.substr(slash + 1);
    if (base.empty()) throw Error("the destination '" + destination + "' has no file name");
    const int parent_raw = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (parent_raw < 0) throw system_error("the destination folder '" + parent + "' is not usable", errno);
    Fd parent_fd(parent_raw);
    if (exists_at(parent_fd.get(), base))
        throw Error("'" + target + "' already exists; export to a new name or delete that file first",
                    kErrCantOpen);

    Progress progress(ctx.settings.dir, "export", ctx.interactive);
    const std::string temp = "." + base + ".tmp-" + std::to_string(::getpid());
    ::unlinkat(parent_fd.get(), temp.c_str(), 0);
    try {
        Fd out = create_exclusive_at(parent_fd.get(), temp);
        BlockHasher hasher;
        std::vector<uint8_t> buf(kHashBlock);
        uint64_t offset = 0;
        const auto size = static_cast<uint64_t>(src_st.st_size);
        while (offset < size) {
            const size_t want = static_cast<size_t>(std::min<uint64_t>(kHashBlock, size - offset));
            ssize_t got;
            do {
                got = ::pread(src.get(), buf.data(), want, static_cast<off_t>(offset));
            } while (got < 0 && errno == EINTR);
            if (got < 0) throw system_error("reading the backup failed", errno);
            if (static_cast<size_t>(got) != want)
                throw Error("the backup changed size while it was exported", kErrIo);
            hasher.update(offset, buf.data(), want);
            write_all_at(out.get(), buf.data(), want, offset, "writing the exported copy failed");
            offset += want;
            progress.update(static_cast<int64_t>(offset), static_cast<int64_t>(size));
        }
        const std::string source_sum = hasher.finish(src.get(), size);
        if (record && !record->checksum.empty() && source_sum != record->checksum)
            throw Error("the backup '" + name +
                        "' does not match its recorded checksum; it was not exported");
        fsync_fd(out.get(), "writing the exported copy to disk failed");
        out.close_checked("writing the exported copy failed");
        if (::renameat2(parent_fd.get(), temp.c_str(), parent_fd.get(), base.c_str(), RENAME_NOREPLACE) != 0)
            throw system_error("cannot publish '" + target + "'", errno);
        fsync_fd(parent_fd.get(), "cannot record the exported copy in its folder");
        // Read the copy back from the device, not from the page cache.
        Fd check = open_regular_at(parent_fd.get(), base);
        ::posix_fadvise(check.get(), 0, 0, POSIX_FADV_DONTNEED);
        if (checksum_fd(check.get(), size) != source_sum) {
            ::unlinkat(parent_fd.get(), base.c_str(), 0);
            throw Error("the exported copy at '" + target + "' reads back differently; it was removed",
                        kErrIo);
        }
    } catch (...) {
        ::unlinkat(parent_fd.get(), temp.c_str(), 0);
        throw;
    }
    return target;
}

} // namespace wb
