// wecare_backup_list, wecare_backup_path and the off-site part of stats: what
// is in the backup directory and, from the off-site index, what is only
// off-site. Never opens a backup and never uses the network.
#include <algorithm>
#include <unordered_set>

#include "command/shared.hpp"
#include "offsite/sync.hpp"

namespace wb {

namespace {

void add_offsite_row(const offsite::OffsiteObject& o, const ParsedName& parsed, const std::string& reason,
                     std::vector<ListedBackup>& rows) {
    ListedBackup row;
    row.entry.name = o.name;
    row.entry.parsed = parsed;
    row.entry.size_bytes = o.original_bytes ? o.original_bytes : o.object_bytes;
    BackupRecord r;
    r.name = o.name;
    r.kind = o.kind.empty() ? "manual" : o.kind;
    r.created_ns = o.created_ns;
    r.size_bytes = row.entry.size_bytes;
    r.checksum = o.checksum;
    if (o.uploaded_at) r.offsite_at = o.uploaded_at;
    r.offsite_ok = true;
    row.entry.record = std::move(r);
    row.retain_reason = reason;
    row.location = "offsite";
    rows.push_back(std::move(row));
}

// Adds location and the off-site-only backups (from the index) to a listing.
// Off-site-only rows show the off-site rule that keeps them.
void merge_offsite_rows(const Settings& s, const Dir& dir, std::vector<ListedBackup>& rows) {
    if (s.offsite.empty()) return;
    const offsite::OffsiteIndex index = offsite::read_index(dir, s);
    if (index.objects.empty()) return;
    std::unordered_set<std::string> local;
    for (auto& row : rows)
        local.insert(row.entry.name);
    struct Remote {
        const offsite::OffsiteObject* object;
        ParsedName parsed;
        BackupOrder order() const {
            return {parsed.epoch_seconds, object->created_ns, parsed.sequence, object->name};
        }
    };
    std::vector<Remote> remote;
    std::unordered_set<std::string> remote_names;
    for (const auto& o : index.objects) {
        const auto parsed = parse_backup_name(s.prefix, o.name);
        if (!parsed) continue;
        remote_names.insert(o.name);
        remote.push_back({&o, *parsed});
    }
    for (auto& row : rows)
        if (remote_names.count(row.entry.name)) row.location = "both";
    std::sort(remote.begin(), remote.end(),
              [](const Remote& a, const Remote& b) { return newer_first(a.order(), b.order()); });
    std::vector<RetentionItem> items;
    items.reserve(remote.size());
    for (const auto& r : remote)
        items.push_back({false, r.parsed.epoch_seconds, std::nullopt, true, r.object->name, {}, {}});
    const auto reasons = retention_reasons(items, offsite::retention_policy(s));
    bool added = false;
    for (size_t i = 0; i < remote.size(); ++i) {
        if (local.count(remote[i].object->name)) continue;
        add_offsite_row(*remote[i].object, remote[i].parsed, reasons[i], rows);
        added = true;
    }
    if (!added) return;
    std::stable_sort(rows.begin(), rows.end(), [](const ListedBackup& a, const ListedBackup& b) {
        return newer_first(a.entry.order(), b.entry.order());
    });
}

} // namespace

std::vector<ListedBackup> list_backups(const OperationContext& ctx) {
    if (ctx.db_path.empty()) return {};
    require_configured_dir(ctx);
    if (path_missing(ctx.settings.dir)) return {}; // the default directory: no backup made yet
    Dir dir = Dir::open_backup_dir(ctx.settings.dir, false);
    auto entries = scan_catalog(dir, ctx.settings.prefix);
    const auto reasons =
        retention_reasons_for(entries, ctx.settings, timeline_bases(dir, ctx.settings.prefix));
    std::vector<ListedBackup> out;
    out.reserve(entries.size());
    for (size_t i = 0; i < entries.size(); ++i) {
        const std::string path = dir.path_of(entries[i].name);
        out.push_back({std::move(entries[i]), path, reasons[i]});
    }
    merge_offsite_rows(ctx.settings, dir, out);
    return out;
}

std::string existing_backup_path(const OperationContext& ctx, const std::string& name) {
    check_backup_name(ctx, name);
    if (parse_backup_name(ctx.settings.prefix, name)->incremental)
        throw Error("'" + name +
                        "' is an incremental backup, not a database file by itself; export it with "
                        "wecare_backup_export('" +
                        name + "', '<folder>') to get the database it holds",
                    ErrorKind::misuse);
    Dir dir = open_dir_holding(ctx, name);
    struct stat st {};
    if (!dir.stat(name, &st)) throw Error(unknown_backup(name), ErrorKind::not_found);
    if (!S_ISREG(st.st_mode))
        throw Error("'" + name + "' is not a regular file; it cannot be a backup", ErrorKind::cantopen);
    return dir.path_of(name);
}

OffsiteStatus offsite_status(const OperationContext& ctx) {
    OffsiteStatus status;
    const Settings& s = ctx.settings;
    if (s.offsite.empty()) return status;
    status.target = offsite::describe_target(s);
    struct stat st {};
    if (ctx.db_path.empty() || ::lstat(s.dir.c_str(), &st) != 0) return status;
    Dir dir = Dir::open_backup_dir(s.dir, false);
    const offsite::OffsiteIndex index = offsite::read_index(dir, s);
    status.last_success_at = index.last_success_at;
    status.last_error = index.last_error;
    status.last_error_at = index.last_error_at;
    status.objects = static_cast<int64_t>(index.objects.size());
    status.foreign = index.foreign;
    return status;
}

} // namespace wb
