// wecare_backup_list, wecare_backup_path and the off-site part of stats: what
// is in the backup directory and, from the off-site index, what is only
// off-site. Never opens a backup and never uses the network.
#include <algorithm>
#include <unordered_set>

#include "command/shared.hpp"
#include "common/clock.hpp"
#include "offsite/segments.hpp"
#include "offsite/sync.hpp"

namespace wb {

namespace {

void add_offsite_row(const offsite::OffsiteCandidate& c, std::vector<ListedBackup>& rows) {
    const offsite::OffsiteObject& o = *c.remote;
    ListedBackup row;
    row.entry.name = o.name;
    row.entry.parsed = c.parsed;
    row.entry.size_bytes = o.original_bytes ? o.original_bytes : o.object_bytes;
    BackupRecord r;
    r.name = o.name;
    r.kind = o.kind.empty() ? "manual" : o.kind;
    r.created_ns = o.created_ns;
    r.size_bytes = row.entry.size_bytes;
    r.checksum = o.checksum;
    r.type = c.parsed.incremental ? "incremental" : "full";
    r.base = o.base;
    if (o.uploaded_at) r.offsite_at = o.uploaded_at;
    r.offsite_ok = true;
    row.entry.record = std::move(r);
    row.retain_reason = c.reason;
    row.location = "offsite";
    rows.push_back(std::move(row));
}

// Adds location and the off-site-only backups (from the index) to a listing.
// Off-site-only rows show the off-site rule that keeps them, as the next sync
// would apply it (offsite::offsite_plan: over the local backups and the
// objects together, chains included).
void merge_offsite_rows(const Settings& s, const Dir& dir, const offsite::LocalTimeline& timeline,
                        std::vector<ListedBackup>& rows) {
    if (s.offsite.empty()) return;
    const offsite::OffsiteIndex index = offsite::read_index(dir, s);
    if (index.objects.empty()) return;
    std::vector<const CatalogEntry*> local;
    local.reserve(rows.size());
    for (const auto& row : rows)
        local.push_back(&row.entry);
    const auto plan = offsite::offsite_plan(
        s, local, index.objects, offsite::kept_timeline_bases(s, dir, timeline, now_nanoseconds()));
    std::unordered_set<std::string> remote_names;
    for (const auto& c : plan)
        if (c.remote) remote_names.insert(c.name);
    for (auto& row : rows)
        if (remote_names.count(row.entry.name)) row.location = "both";
    // `plan` points into `rows`: pick the off-site-only ones before rows grow.
    std::vector<const offsite::OffsiteCandidate*> only_offsite;
    for (const auto& c : plan)
        if (!c.local && c.remote) only_offsite.push_back(&c);
    if (only_offsite.empty()) return;
    for (const auto* c : only_offsite)
        add_offsite_row(*c, rows);
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
    const offsite::LocalTimeline timeline = local_timeline(dir, ctx.settings.prefix);
    std::set<std::string> bases;
    for (const auto& g : timeline.generations)
        bases.insert(g.base);
    const auto reasons = retention_reasons_for(entries, ctx.settings, bases);
    std::vector<ListedBackup> out;
    out.reserve(entries.size());
    for (size_t i = 0; i < entries.size(); ++i) {
        const std::string path = dir.path_of(entries[i].name);
        out.push_back({std::move(entries[i]), path, reasons[i]});
    }
    merge_offsite_rows(ctx.settings, dir, timeline, out);
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
