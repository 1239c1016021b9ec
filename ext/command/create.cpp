// wecare_backup_create and the scheduler's runs: snapshot, verify, publish,
// rotate, then send off-site.
//
// How it works: under the backup lock, a name is allocated, the snapshot
// (engine/snapshot, or engine/increment when settings.incremental and a
// parent chain qualifies) writes a temporary file, verification runs on it, its
// sidecar record is written, and the file is renamed to its name and the
// directory fsynced; only then does rotation run. The off-site sync runs
// after the lock is released.
#include <fcntl.h>
#include <sys/stat.h>

#include "command/shared.hpp"
#include "common/clock.hpp"
#include "engine/chain.hpp"
#include "engine/increment.hpp"
#include "engine/snapshot.hpp"
#include "offsite/sync.hpp"
#include "policy/retention.hpp"
#include "policy/text.hpp"
#include "store/checksum.hpp"
#include "store/db_header.hpp"
#include "store/lock.hpp"
#include "store/temp_file.hpp"

namespace wb {

namespace {

// Whether a regular backup was made within the last `seconds` (one dated in
// the future, after the clock was set back, does not count).
bool has_recent_backup(const std::vector<CatalogEntry>& entries, int64_t seconds, int64_t now) {
    for (const auto& e : entries)
        if (e.record && !e.parsed.safety && e.parsed.epoch_seconds > now - seconds &&
            e.parsed.epoch_seconds <= now)
            return true;
    return false;
}

BackupRecord record_of(const OperationContext& ctx, const std::string& name, const std::string& kind,
                       const std::optional<std::string>& label, int64_t created_ns,
                       const SnapshotResult& snap) {
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
    record.db_checksum = snap.db_checksum;
    return record;
}

Manifest manifest_of(SnapshotResult& snap) {
    Manifest m;
    m.page_size = static_cast<uint32_t>(snap.page_size);
    m.page_count = static_cast<uint64_t>(snap.page_count);
    m.db_checksum = snap.db_checksum;
    m.tables = std::move(snap.tables);
    m.page_hashes = std::move(snap.page_hashes);
    return m;
}

// Removes a sidecar written for a backup that was then not published.
class SidecarGuard {
  public:
    SidecarGuard(const Dir& dir, std::string name) : dir_(dir), name_(std::move(name)) {}
    ~SidecarGuard() {
        if (written_ && !dir_.exists(name_)) {
            dir_.remove_quietly(name_ + std::string(kSidecarSuffix));
            dir_.remove_quietly(name_ + std::string(kManifestSuffix));
        }
    }
    SidecarGuard(const SidecarGuard&) = delete;
    SidecarGuard& operator=(const SidecarGuard&) = delete;
    void written() { written_ = true; }

  private:
    const Dir& dir_;
    std::string name_;
    bool written_ = false;
};

// The manifest, the record, then the file under its name (the caller's
// SidecarGuard removes the first two if publishing fails).
void publish_backup(const Dir& dir, TempFile& temp, BackupRecord& record, const Manifest& manifest) {
    record.manifest = write_manifest(dir, record.name, manifest);
    write_record(dir, record);
    temp.publish("cannot record the new backup in the backup directory");
}

// Runs verification on creation; returns its errors ("" = it passed).
std::string verification_failure(const OperationContext& ctx, const Image& image, int fd, bool file_is_image,
                                 const BackupRecord& expected, Observer& observer,
                                 const std::vector<std::string>& problems) {
    observer.phase("verify");
    VerifyRequest verify;
    verify.image = &image;
    verify.file_fd = fd;
    verify.file_is_image = file_is_image;
    verify.expected = &expected;
    verify.critical_tables = ctx.settings.critical_tables;
    VerifyOutcome outcome = verify_image(verify, observer);
    outcome.errors.insert(outcome.errors.begin(), problems.begin(), problems.end());
    return join(outcome.errors, "; ");
}

// An increment's verification on creation; returns its problems ("" = none):
//   * integrity_check and the row counts ran on the snapshot the pages were
//     read from (engine/increment.hpp), the critical tables are in them;
//   * the new file reads back with the checksum computed while writing it;
//   * the chain with it on top checks out (contiguity, sizes, database
//     checksums: it reproduces exactly the pages that were read);
//   * every backup it builds on still has its recorded checksum, so each page
//     a restore takes from them is the page that was hashed.
std::string increment_failure(const OperationContext& ctx, Chain& chain, const std::string& name,
                              const BackupRecord& record, int fd, const IncrementResult& made,
                              Observer& observer) {
    VerifyOutcome out;
    if (made.integrity != "ok") out.errors.push_back("integrity: " + made.integrity);
    for (auto& error : critical_table_errors(made.tables, ctx.settings.critical_tables))
        out.errors.push_back(std::move(error));
    if (checksum_fd(fd, static_cast<uint64_t>(made.size_bytes), &observer) != made.checksum)
        out.errors.push_back("the new file does not read back as it was written");
    chain.append(name, record, std::make_shared<Fd>(dup_fd(fd)));
    for (auto& problem : chain.check())
        out.errors.push_back(std::move(problem));
    if (out.errors.empty()) check_chain_links(chain, out, observer);
    return join(out.errors, "; ");
}

// Whether the backup `e` may be a new increment's parent: a recorded regular
// backup, not dated in the future, that has not failed verification.
bool may_be_parent(const CatalogEntry& e, int64_t now) {
    return e.record && !e.parsed.safety && e.parsed.epoch_seconds <= now + kFutureToleranceSeconds &&
           e.record->verify_ok != std::optional<bool>(false);
}

// The chain a new increment builds on: that of the newest backup that may be
// a parent, when that chain is whole and checks out, has room under
// full_every, none of its backups failed verification, and its full backup
// has page hashes. nullopt: the next backup is a full one.
std::optional<Chain> parent_chain(const OperationContext& ctx, const Dir& dir) {
    const int64_t now = now_seconds();
    for (const auto& e : scan_catalog(dir, ctx.settings.prefix)) {
        if (!may_be_parent(e, now)) continue;
        try {
            Chain chain = Chain::open(dir, ctx.settings.prefix, e.name);
            if (static_cast<int64_t>(chain.links().size()) >= ctx.settings.full_every) return std::nullopt;
            for (const auto& link : chain.links())
                if (link.record.verify_ok == std::optional<bool>(false)) return std::nullopt;
            if (chain.links().front().full_hashes.empty() || !chain.check().empty()) return std::nullopt;
            return chain;
        } catch (const Error& e2) {
            if (e2.kind() == ErrorKind::interrupted) throw;
            return std::nullopt; // a broken chain is never built on
        }
    }
    return std::nullopt;
}

// An increment on `parent`; nullopt when the database's page size changed,
// or the increment fails verification (the caller takes a full backup).
std::optional<std::string> create_increment_locked(const OperationContext& ctx, const Dir& dir, Chain parent,
                                                   const std::string& kind,
                                                   const std::optional<std::string>& label,
                                                   Observer& observer, WalIndexHeader* position) {
    const int64_t created_ns = now_nanoseconds();
    std::string name = allocate_name(dir, ctx.settings.prefix, false, created_ns / 1000000000, true);
    TempFile temp(dir, name);
    SidecarGuard sidecar(dir, name);
    sidecar.written();

    IncrementRequest req;
    req.db_path = ctx.db_path;
    req.out_fd = temp.fd();
    req.name = name;
    req.base = parent.last().name;
    req.created_ns = static_cast<uint64_t>(created_ns);
    req.parent_page_size = parent.page_size();
    req.parent_hashes = parent.page_hashes();
    for (const uint64_t h : req.parent_hashes)
        req.parent_checksum ^= h; // chain.check() proved it is what the chain records
    req.busy_timeout_ms = ctx.settings.busy_timeout_ms;
    req.max_snapshot_seconds = ctx.settings.max_snapshot_seconds;
    req.check_integrity = ctx.settings.verify_on_create;
    req.observer = &observer;
    std::optional<IncrementResult> made = snapshot_increment(req);
    if (!made) return std::nullopt;
    if (position) *position = made->wal_position;

    BackupRecord record;
    record.name = name;
    record.kind = kind;
    record.label = label;
    record.created_ns = created_ns;
    record.size_bytes = made->size_bytes;
    record.checksum = made->checksum;
    record.page_count = made->header.page_count;
    record.page_size = made->header.page_size;
    record.source = ctx.db_path;
    record.journal_mode = made->journal_mode;
    record.type = "incremental";
    record.base = req.base;
    record.db_checksum = made->header.after;
    Manifest manifest;
    manifest.page_size = made->header.page_size;
    manifest.page_count = made->header.page_count;
    manifest.db_checksum = made->header.after;
    manifest.tables = std::move(made->tables);

    if (ctx.settings.verify_on_create) {
        const std::string failure = increment_failure(ctx, parent, name, record, temp.fd(), *made, observer);
        if (!failure.empty()) {
            // The live database is damaged (the full backup taken instead
            // fails too, and says so), or the chain it builds on is not
            // sound (a backup in it changed since it was made): a full
            // backup starts a new chain.
            sqlite3_log(
                SQLITE_WARNING,
                "wecare_backup: an incremental backup on '%s' failed verification (%s); taking a full "
                "backup instead",
                req.base.c_str(), failure.c_str());
            return std::nullopt;
        }
        record.verified_at = now_seconds();
        record.verify_ok = true;
    }
    publish_backup(dir, temp, record, manifest);
    return name;
}

// Whether the database file's header says WAL (bytes 18-19). The caller's own
// write transaction cannot change the journal mode, so reading it is safe.
bool database_in_wal_mode(const std::string& db_path) {
    const int fd = ::open(db_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    const Fd file(fd);
    return read_db_header(file.get()).wal;
}

// In rollback-journal mode the copy's reader waits for the caller's own write
// transaction, which cannot end while the caller waits for the copy: it would
// wait busy_timeout_ms and then blame "a writer". Refuse at once instead. In
// WAL mode the copy reads the last commit and never waits.
void refuse_inside_own_write_transaction(const OperationContext& ctx) {
    if (!ctx.caller_writes || database_in_wal_mode(ctx.db_path)) return;
    throw Error("this connection has an open write transaction on the database, which is in rollback-journal "
                "mode: the backup could not read it until that transaction ends; COMMIT (or ROLLBACK) first, "
                "then call it again",
                ErrorKind::misuse);
}

} // namespace

std::string create_locked(const OperationContext& ctx, const Dir& dir, const std::string& kind,
                          const std::optional<std::string>& label, Observer& observer,
                          WalIndexHeader* position, bool incremental) {
    if ((incremental || ctx.settings.incremental) && kind != "safety") {
        if (auto parent = parent_chain(ctx, dir)) {
            if (auto name =
                    create_increment_locked(ctx, dir, std::move(*parent), kind, label, observer, position))
                return *name;
        }
    }
    const int64_t created_ns = now_nanoseconds();
    std::string name = // not const: `return name` moves it
        allocate_name(dir, ctx.settings.prefix, kind == "safety", created_ns / 1000000000);
    TempFile temp(dir, name);
    SidecarGuard sidecar(dir, name);
    sidecar.written(); // the manifest and record written below go if the backup is not published

    SnapshotRequest req;
    req.db_path = ctx.db_path;
    req.out_fd = temp.fd();
    req.busy_timeout_ms = ctx.settings.busy_timeout_ms;
    req.max_snapshot_seconds = ctx.settings.max_snapshot_seconds;
    req.observer = &observer;
    SnapshotResult snap = snapshot_to(req);
    if (position) *position = snap.wal_position;
    BackupRecord record = record_of(ctx, name, kind, label, created_ns, snap);
    const Manifest manifest = manifest_of(snap);

    // A safety backup is not held to verification: restoring is exactly what
    // one does when the current database is damaged, and a damaged current
    // database must not block it. Its checksum is recorded all the same.
    if (ctx.settings.verify_on_create && kind != "safety") {
        BackupRecord expected = record;
        expected.tables = manifest.tables;
        const auto image = Image::of_file(std::make_shared<Fd>(dup_fd(temp.fd())), name,
                                          static_cast<uint32_t>(snap.page_size),
                                          static_cast<uint32_t>(snap.page_count), manifest.page_hashes);
        const std::string failure =
            verification_failure(ctx, *image, temp.fd(), true, expected, observer, {});
        if (!failure.empty())
            throw Error("the new backup failed verification (" + failure +
                        "); it was not published and no backup was deleted");
        record.verified_at = now_seconds();
        record.verify_ok = true;
    }
    publish_backup(dir, temp, record, manifest);
    return name;
}

std::optional<int64_t> newest_regular_backup_at(const OperationContext& ctx, int64_t now) {
    if (ctx.db_path.empty() || path_missing(ctx.settings.dir)) return std::nullopt;
    const Dir dir = Dir::open_backup_dir(ctx.settings.dir, false);
    std::optional<int64_t> newest;
    for (const auto& e : scan_catalog(dir, ctx.settings.prefix))
        if (!e.parsed.safety && e.parsed.epoch_seconds <= now &&
            (!newest || e.parsed.epoch_seconds > *newest))
            newest = e.parsed.epoch_seconds;
    return newest;
}

std::optional<std::string> create_backup(const OperationContext& ctx, const std::string& kind,
                                         const std::optional<std::string>& label,
                                         int64_t skip_if_newer_than) {
    require_file_database(ctx);
    refuse_inside_own_write_transaction(ctx);
    Progress progress = progress_of(ctx, "create");
    std::optional<std::string> created;
    try {
        require_configured_dir(ctx);
        // Only the default directory is ever made: a configured one that is
        // missing (an unmounted disk) must stay missing, even when it vanishes
        // after require_configured_dir looked.
        Dir dir = Dir::open_backup_dir(ctx.settings.dir, ctx.dir_is_default);
        FileLock lock = lock_backup_dir(dir, ctx.settings.busy_timeout_ms, &progress);
        remove_leftovers(dir, ctx.settings.prefix);
        if (skip_if_newer_than > 0 &&
            has_recent_backup(scan_catalog(dir, ctx.settings.prefix), skip_if_newer_than, now_seconds()))
            return std::nullopt;
        created = create_locked(ctx, dir, kind, label, progress);
        record_success(ctx.settings.dir, now_seconds());
        // Rotation only ever follows a successful backup.
        cleanup_locked(ctx, dir, *created);
    } catch (const Error& e) {
        // A cancelled run (the connection closing) is not a failure to report.
        if (!progress.stop_requested()) record_error(ctx.settings.dir, e.what(), now_seconds());
        throw;
    }
    // Off-site copies, once the backup lock is released; a failure there is
    // recorded, and the local backup stands (offsite/sync.hpp).
    if (kind != "safety" && !ctx.settings.offsite.empty()) {
        Progress offsite_progress = progress_of(ctx, "offsite");
        sync_offsite(ctx, offsite_progress);
    }
    return created;
}

} // namespace wb
