// wecare_backup_create and the scheduler's runs: snapshot, verify, publish,
// rotate, then send off-site.
//
// How it works: under the backup lock, a name is allocated, the snapshot
// (engine/snapshot) writes a temporary file, verification runs on it, its
// sidecar record is written, and the file is renamed to its name and the
// directory fsynced; only then does rotation run. The off-site sync runs
// after the lock is released.
#include <fcntl.h>
#include <sys/stat.h>

#include "command/shared.hpp"
#include "common/clock.hpp"
#include "engine/snapshot.hpp"
#include "offsite/sync.hpp"
#include "policy/text.hpp"
#include "store/db_header.hpp"
#include "store/lock.hpp"
#include "store/temp_file.hpp"

namespace wb {

namespace {

// Whether a regular backup was made within the last `seconds` (one dated in
// the future, after the clock was set back, does not count).
bool has_recent_backup(const std::vector<CatalogEntry>& entries, int64_t seconds, int64_t now) {
    for (const auto& e : entries)
        if (!e.parsed.safety && e.parsed.epoch_seconds > now - seconds && e.parsed.epoch_seconds <= now)
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
                          const std::optional<std::string>& label, Observer& observer) {
    const int64_t created_ns = now_nanoseconds();
    const std::string name =
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
    BackupRecord record = record_of(ctx, name, kind, label, created_ns, snap);
    const Manifest manifest = manifest_of(snap);

    // A safety backup is not held to verification: restoring is exactly what
    // one does when the current database is damaged, and a damaged current
    // database must not block it. Its checksum is recorded all the same.
    if (ctx.settings.verify_on_create && kind != "safety") {
        observer.phase("verify");
        BackupRecord expected = record;
        expected.tables = manifest.tables;
        const auto image = Image::of_file(std::make_shared<Fd>(dup_fd(temp.fd())), name,
                                          static_cast<uint32_t>(snap.page_size),
                                          static_cast<uint32_t>(snap.page_count), manifest.page_hashes);
        VerifyRequest verify;
        verify.image = image.get();
        verify.file_fd = temp.fd();
        verify.expected = &expected;
        verify.critical_tables = ctx.settings.critical_tables;
        const VerifyOutcome outcome = verify_image(verify, observer);
        if (!outcome.ok)
            throw Error("the new backup failed verification (" + join(outcome.errors, "; ") +
                        "); it was not published and no backup was deleted");
        record.verified_at = now_seconds();
        record.verify_ok = true;
    }
    record.manifest = write_manifest(dir, name, manifest);
    write_record(dir, record);
    temp.publish("cannot record the new backup in the backup directory");
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
        Dir dir = Dir::open_backup_dir(ctx.settings.dir, true);
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
        offsite::sync(ctx.settings, offsite_progress);
    }
    return created;
}

} // namespace wb
