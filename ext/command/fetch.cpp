// wecare_backup_fetch: bring a backup back from the off-site target, check it
// against the checksum in its header and the index's record, verify it like a
// new backup, record it and publish it under its name. Holds the backup lock.
// The object must authenticate under the key as this very backup (its name,
// this database's prefix, and the creation time the index recorded): a
// renamed or replayed object is refused (offsite/sync.hpp).
#include "command/shared.hpp"
#include "common/clock.hpp"
#include "offsite/sync.hpp"
#include "policy/text.hpp"
#include "store/db_header.hpp"
#include "store/lock.hpp"
#include "store/temp_file.hpp"

namespace wb {

namespace {

// Downloads into `temp`, turning the off-site errors into the fetch's messages.
offsite::Download download_checked(const Settings& s, const std::string& name, const TempFile& temp,
                                   const offsite::OffsiteIndex& index, Observer& observer) {
    const std::string where = offsite::describe_target(s);
    offsite::Download got;
    try {
        got = offsite::download(s, name, index, temp.fd(), observer);
    } catch (const Error& e) {
        if (offsite::is_data_problem(e.kind()))
            throw Error("the off-site copy of '" + name + "' cannot be used: " + e.what() +
                        "; nothing was fetched");
        if (e.kind() == ErrorKind::not_found)
            throw Error("there is no off-site copy of '" + name + "' in " + where, ErrorKind::not_found);
        if (e.kind() == ErrorKind::interrupted || e.kind() == ErrorKind::cantopen ||
            e.kind() == ErrorKind::full || e.kind() == ErrorKind::auth)
            throw;
        throw Error("fetching '" + name + "' from " + where + " failed: " + e.what(), ErrorKind::io);
    }
    if (got.header_checksum.empty())
        throw Error("the off-site copy of '" + name + "' carries no checksum; nothing was fetched");
    if (got.checksum != got.header_checksum || got.bytes != got.header_size)
        throw Error("the off-site copy of '" + name +
                    "' does not match the checksum in its header (damaged); nothing was fetched");
    if (!got.recorded_checksum.empty() && got.recorded_checksum != got.checksum)
        throw Error("the off-site copy of '" + name +
                    "' is not the backup that was sent (its checksum differs); nothing was fetched");
    return got;
}

} // namespace

std::string fetch_backup(const OperationContext& ctx, const std::string& name) {
    const Settings& s = ctx.settings;
    if (ctx.db_path.empty())
        throw Error("the main database is in memory or temporary; open a database file to fetch its backups",
                    ErrorKind::misuse);
    if (s.offsite.empty())
        throw Error("no off-site target is set; set it first with wecare_backup_config('offsite', ...)",
                    ErrorKind::misuse);
    require_configured_dir(ctx);
    offsite::require_encryption(s);
    Dir dir = Dir::open_backup_dir(s.dir, ctx.dir_is_default);
    Progress progress = progress_of(ctx, "fetch");
    FileLock lock = lock_backup_dir(dir, s.busy_timeout_ms, &progress);
    if (dir.exists(name))
        throw Error("a backup named '" + name +
                        "' is already in the backup directory; verify or restore it directly",
                    ErrorKind::cantopen);
    const offsite::OffsiteIndex index = offsite::read_index(dir, s);
    const offsite::OffsiteObject* known = index.find(name);

    TempFile temp(dir, name);
    const offsite::Download got = download_checked(s, name, temp, index, progress);
    fsync_fd(temp.fd(), "writing the fetched backup to disk failed");

    BackupRecord record;
    record.name = name;
    record.kind = known && (known->kind == "manual" || known->kind == "auto") ? known->kind : "manual";
    record.label = "fetched from off-site";
    record.created_ns =
        got.created_ns ? got.created_ns : parse_backup_name(s.prefix, name)->epoch_seconds * 1000000000;
    record.size_bytes = static_cast<int64_t>(got.bytes);
    record.checksum = got.checksum;
    record.page_size = read_db_header(temp.fd()).page_size;
    record.source = offsite::describe_target(s);
    progress.phase("verify");
    const OpenedBackup opened = open_backup(nullptr, name, dup_fd(temp.fd()));
    const VerifyOutcome outcome = verify_opened(ctx, opened, progress, record);
    if (!outcome.ok)
        throw Error("the fetched backup '" + name + "' failed verification (" + join(outcome.errors, "; ") +
                    "); it was not kept");
    record.page_count = outcome.page_count;
    Manifest manifest;
    manifest.page_size = static_cast<uint32_t>(record.page_size);
    manifest.page_count = static_cast<uint64_t>(outcome.page_count);
    manifest.tables = outcome.tables;
    record.manifest = write_manifest(dir, name, manifest);
    record.verified_at = now_seconds();
    record.verify_ok = true;
    if (known && known->uploaded_at) record.offsite_at = known->uploaded_at;
    record.offsite_ok = true;
    write_record(dir, record);
    try {
        temp.publish("cannot record the fetched backup in the backup directory");
    } catch (...) {
        if (!dir.exists(name)) {
            dir.remove_quietly(name + std::string(kSidecarSuffix));
            dir.remove_quietly(name + std::string(kManifestSuffix));
        }
        throw;
    }
    return name;
}

} // namespace wb
