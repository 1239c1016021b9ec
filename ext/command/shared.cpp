// Steps shared by several commands (see shared.hpp).
#include "command/shared.hpp"

#include "offsite/sync.hpp"
#include "policy/naming.hpp"

namespace wb {

void require_file_database(const OperationContext& ctx) {
    if (ctx.db_path.empty())
        throw Error("the main database is in memory or temporary; open a database file to back it up",
                    ErrorKind::misuse);
}

std::string unknown_backup(const std::string& name) {
    return "there is no backup named '" + name + "'; see SELECT name FROM wecare_backup_list";
}

void check_backup_name(const OperationContext& ctx, const std::string& name) {
    const std::string problem = name_problem(name.data(), name.size());
    if (!problem.empty())
        throw Error(problem + "; pass the plain file name of a backup, as listed by wecare_backup_list");
    if (!parse_backup_name(ctx.settings.prefix, name))
        throw Error("'" + name + "' is not a backup name of this database (expected " + ctx.settings.prefix +
                    "_backup_YYYY-MM-DD_HH-MM-SS.db); see SELECT name FROM wecare_backup_list");
}

Dir open_dir_holding(const OperationContext& ctx, const std::string& name) {
    if (path_missing(ctx.settings.dir)) throw Error(unknown_backup(name), ErrorKind::not_found);
    return Dir::open_backup_dir(ctx.settings.dir, false);
}

Fd open_named_backup(const OperationContext& ctx, const Dir& dir, const std::string& name, struct stat* st) {
    try {
        return dir.open_regular(name, st);
    } catch (const Error& e) {
        if (e.kind() != ErrorKind::not_found) throw;
        if (!ctx.settings.offsite.empty() && offsite::read_index(dir, ctx.settings).find(name))
            throw Error("the backup '" + name +
                            "' is only off-site; fetch it first with wecare_backup_fetch('" + name + "')",
                        ErrorKind::not_found);
        throw Error(unknown_backup(name), ErrorKind::not_found);
    }
}

std::vector<std::string> retention_reasons_for(const std::vector<CatalogEntry>& entries, const Settings& s) {
    std::vector<RetentionItem> items;
    items.reserve(entries.size());
    for (const auto& e : entries)
        items.push_back({e.parsed.safety, e.parsed.epoch_seconds, e.verify_ok()});
    return retention_reasons(items,
                             {s.keep_last, s.keep_daily, s.keep_weekly, s.keep_monthly, s.keep_safety});
}

} // namespace wb
