// Steps shared by several commands (see shared.hpp).
#include "command/shared.hpp"

#include <set>
#include <unordered_map>

#include "common/clock.hpp"
#include "offsite/sync.hpp"
#include "policy/increment_format.hpp"
#include "policy/naming.hpp"
#include "store/catalog.hpp"
#include "store/checksum.hpp"

namespace wb {

void require_file_database(const OperationContext& ctx) {
    if (ctx.db_path.empty())
        throw Error("the main database is in memory or temporary; open a database file to back it up",
                    ErrorKind::misuse);
}

std::string unknown_backup(const std::string& name) {
    return "there is no backup named '" + name + "'; see SELECT name FROM wecare_backup_list";
}

bool backup_dir_missing(const OperationContext& ctx) {
    return !ctx.dir_is_default && path_missing(ctx.settings.dir);
}

void require_configured_dir(const OperationContext& ctx) {
    if (backup_dir_missing(ctx))
        throw Error("the backup directory '" + ctx.settings.dir +
                        "' does not exist; create it (mkdir -m 700) or mount its disk (a directory set with "
                        "wecare_backup_config is never created, so backups never land on the disk under an "
                        "unmounted one)",
                    ErrorKind::cantopen);
}

Error caller_reading_error(const OperationContext& ctx) {
    if (ctx.other_statement_open)
        return Error(
            "another statement of this connection is still open (a query whose rows were not all read), "
            "and its read keeps a rollback-journal database locked; finish it first (read all its "
            "rows, or reset or close its cursor), then call it again",
            ErrorKind::busy);
    return Error(
        "the statement that calls it reads the database, which keeps a rollback-journal database locked; "
        "call it in a statement that reads no table, with the name as a literal or a bound parameter",
        ErrorKind::busy);
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
    require_configured_dir(ctx);
    if (path_missing(ctx.settings.dir)) throw Error(unknown_backup(name), ErrorKind::not_found);
    return Dir::open_backup_dir(ctx.settings.dir, false);
}

Fd open_named_backup(const OperationContext& ctx, const Dir& dir, const std::string& name, struct stat* st) {
    try {
        return dir.open_regular(name, st);
    } catch (const Error& e) {
        if (e.kind() != ErrorKind::not_found) throw;
        const auto only_offsite = [&] {
            const offsite::OffsiteIndex index = offsite::read_index(dir, ctx.settings);
            return index.find(name) || index.find_legacy(name);
        };
        if (!ctx.settings.offsite.empty() && only_offsite())
            throw Error("the backup '" + name +
                            "' is only off-site; fetch it first with wecare_backup_fetch('" + name + "')",
                        ErrorKind::not_found);
        throw Error(unknown_backup(name), ErrorKind::not_found);
    }
}

namespace {

// What a path to an increment gets: it is no database by itself.
constexpr const char* kIncrementAlone =
    "an incremental backup holds only the pages changed since the backup it builds on; verify it by its "
    "name in its backup directory, or export it with wecare_backup_export to get a database file";

OpenedBackup open_chain(const OperationContext& ctx, const Dir& dir, const std::string& name, Fd file) {
    OpenedBackup b;
    b.name = name;
    b.increment = true;
    struct stat st {};
    if (::fstat(file.get(), &st) != 0) throw system_error("cannot examine '" + name + "'", errno);
    b.size_bytes = st.st_size;
    Chain chain;
    try {
        chain = Chain::open(dir, ctx.settings.prefix, name, std::move(file));
    } catch (const Error& e) {
        if (e.kind() == ErrorKind::interrupted) throw;
        b.read_problem = e.what();
        b.record = read_record(dir, name, &b.record_damaged);
        return b;
    }
    b.file = chain.last().file;
    b.record = chain.last().record;
    b.chain_problems = chain.check();
    b.chain = std::make_unique<Chain>(std::move(chain));
    if (!b.chain_problems.empty()) return b;
    b.image = b.chain->image();
    try {
        std::vector<uint8_t> page(b.image->page_size());
        b.image->read_page(1, page.data());
        b.header = parse_db_header(page.data(), page.size());
    } catch (const Error& e) {
        b.read_problem = e.what();
    }
    if (!b.header.valid) b.image.reset();
    return b;
}

} // namespace

OpenedBackup open_in_dir(const OperationContext& ctx, const Dir& dir, const std::string& name) {
    Fd file = open_named_backup(ctx, dir, name);
    const auto parsed = parse_backup_name(ctx.settings.prefix, name);
    if (parsed && parsed->incremental) return open_chain(ctx, dir, name, std::move(file));
    return open_backup(&dir, name, std::move(file));
}

OpenedBackup open_backup(const Dir* dir, const std::string& name, Fd file) {
    OpenedBackup b;
    b.name = name;
    struct stat st {};
    if (::fstat(file.get(), &st) != 0) throw system_error("cannot examine '" + name + "'", errno);
    b.size_bytes = st.st_size;
    try {
        uint8_t bytes[kDbHeaderBytes] = {};
        const size_t got = read_at(file.get(), bytes, sizeof bytes, 0, "reading the file failed");
        b.header = parse_db_header(bytes, got);
        if (looks_like_increment(std::string_view(reinterpret_cast<const char*>(bytes), got))) {
            b.increment = true;
            b.read_problem = kIncrementAlone;
        }
    } catch (const Error& e) {
        b.read_problem = e.what();
    }
    b.file = std::make_shared<Fd>(std::move(file));
    std::vector<uint64_t> hashes;
    if (dir) {
        b.record = read_record(*dir, name, &b.record_damaged);
        if (b.record) {
            try {
                if (auto manifest = read_manifest(*dir, *b.record)) {
                    b.record->tables = std::move(manifest->tables);
                    if (manifest->page_count == static_cast<uint64_t>(b.record->page_count))
                        hashes = std::move(manifest->page_hashes);
                }
            } catch (const Error& e) {
                b.manifest_problem = e.what();
            }
        }
    }
    if (!b.header.valid) return b;
    // The page count the backup should have: its record's, else its header's.
    uint32_t pages = b.header.page_count_valid ? b.header.page_count
                                               : static_cast<uint32_t>(b.size_bytes / b.header.page_size);
    if (b.record && b.record->page_count > 0 && b.record->page_size == b.header.page_size)
        pages = static_cast<uint32_t>(b.record->page_count);
    b.image = Image::of_file(b.file, name, b.header.page_size, pages, std::move(hashes));
    return b;
}

void check_chain_links(const Chain& chain, VerifyOutcome& out, Observer& observer) {
    const auto& links = chain.links();
    for (size_t i = 0; i + 1 < links.size(); ++i) {
        const ChainLink& link = links[i];
        if (link.record.checksum.empty()) continue;
        std::string sum;
        try {
            sum = checksum_fd(link.file->get(), static_cast<uint64_t>(link.size_bytes), &observer);
        } catch (const Error& e) {
            if (e.kind() == ErrorKind::interrupted) throw;
            out.errors.push_back("reading '" + link.name + "', which it builds on, failed: " + e.what());
            continue;
        }
        if (sum != link.record.checksum)
            out.errors.push_back("'" + link.name +
                                 "', which it builds on, is not the file recorded when it was made");
    }
}

namespace {

// An incremental backup: the chain, then the database it materialises.
VerifyOutcome verify_chain(const OperationContext& ctx, const OpenedBackup& b, Observer& observer,
                           const std::optional<BackupRecord>& record) {
    VerifyOutcome out;
    out.recorded = record.has_value();
    out.size_bytes = b.size_bytes;
    if (!b.chain || !b.chain_problems.empty() || !b.image) {
        out.integrity = "not checked: the chain of backups it builds on cannot be read";
        if (!b.read_problem.empty()) out.errors.push_back(b.read_problem);
        for (const auto& p : b.chain_problems)
            out.errors.push_back(p);
        if (out.errors.empty()) out.errors.push_back("its first page is not a database header");
        if (record && !record->checksum.empty()) out.checksum_status = "not checked";
        return out;
    }
    check_chain_links(*b.chain, out, observer);
    VerifyRequest req;
    req.image = b.image.get();
    req.file_fd = b.file->get();
    req.file_is_image = false;
    req.expected = record ? &*record : nullptr;
    req.critical_tables = ctx.settings.critical_tables;
    VerifyOutcome image = verify_image(req, observer);
    image.errors.insert(image.errors.begin(), out.errors.begin(), out.errors.end());
    image.size_bytes = b.size_bytes;
    return image;
}

} // namespace

VerifyOutcome verify_opened(const OperationContext& ctx, const OpenedBackup& b, Observer& observer,
                            const std::optional<BackupRecord>& expected) {
    const std::optional<BackupRecord>& record = expected ? expected : b.record;
    VerifyOutcome out;
    if (b.increment) {
        out = verify_chain(ctx, b, observer, record);
    } else if (!b.image) {
        // Not a database: still say whether it is the file that was recorded.
        out.recorded = record.has_value();
        out.size_bytes = b.size_bytes;
        out.integrity = "not an SQLite database (bad header)";
        if (!b.read_problem.empty()) out.errors.push_back(b.read_problem);
        out.errors.push_back("integrity: " + out.integrity);
        if (record && !record->checksum.empty()) {
            out.checksum_status = "mismatch";
            if (record->size_bytes == b.size_bytes) {
                try {
                    out.checksum = checksum_fd(b.file->get(), static_cast<uint64_t>(b.size_bytes), &observer);
                    if (out.checksum == record->checksum) out.checksum_status = "match";
                } catch (const Error& e) {
                    if (e.kind() == ErrorKind::interrupted) throw;
                    out.errors.push_back(std::string("reading the file failed: ") + e.what());
                }
            }
            if (out.checksum_status == "mismatch")
                out.errors.push_back(
                    "checksum mismatch: the file is not the one recorded when the backup was made");
        }
    } else {
        VerifyRequest req;
        req.image = b.image.get();
        req.file_fd = b.file->get();
        req.expected = record ? &*record : nullptr;
        req.critical_tables = ctx.settings.critical_tables;
        out = verify_image(req, observer);
    }
    if (!b.manifest_problem.empty()) out.errors.push_back(b.manifest_problem);
    if (b.record_damaged && !expected)
        out.errors.push_back("the recorded metadata '" + b.name + std::string(kSidecarSuffix) +
                             "' is damaged; the checksum cannot be compared");
    out.ok = out.errors.empty();
    return out;
}

std::vector<std::string> retention_reasons_for(const std::vector<CatalogEntry>& entries, const Settings& s,
                                               const std::set<std::string>& timeline_bases) {
    std::vector<RetentionItem> items;
    items.reserve(entries.size());
    std::unordered_map<std::string, size_t> index;
    for (size_t i = 0; i < entries.size(); ++i)
        index.emplace(entries[i].name, i);
    for (const auto& e : entries) {
        std::optional<size_t> base;
        if (e.record && !e.record->base.empty()) {
            auto it = index.find(e.record->base);
            if (it != index.end()) base = it->second;
        }
        items.push_back({e.parsed.safety, e.parsed.epoch_seconds, e.verify_ok(), e.record.has_value(), e.name,
                         base, timeline_bases.count(e.name) ? "timeline base" : ""});
    }
    RetentionPolicy policy{s.keep_last,    s.keep_daily,  s.keep_weekly,
                           s.keep_monthly, s.keep_safety, now_seconds()};
    return retention_reasons(items, policy);
}

} // namespace wb
