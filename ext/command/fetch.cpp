// wecare_backup_fetch: bring a backup back from the off-site target, check it
// against the checksum in its header and the index's record, verify it like a
// new backup, record it and publish it under its name. Holds the backup lock.
// The object must authenticate under the key as this very backup (its name,
// this database's prefix, the creation time the index recorded and the base
// it builds on): a renamed or replayed object is refused (offsite/sync.hpp).
//
// An incremental backup brings its chain. Before anything is downloaded, the
// headers of the objects (one small read each) give the backups it builds on,
// back to a full backup or to one already in the backup directory, at most
// kMaxChainLinks of them; a backup of the chain missing in both places fails
// the fetch before it starts. Then each missing backup is fetched, oldest
// first, and published only once it checks out:
//   * a full backup: its checksum, then its pages are hashed (Image::hash_pages)
//     so that the fetched chain can be verified and extended like one made
//     here, then it is verified like a new backup (integrity_check included);
//   * an increment: its own file header must name it and the base its
//     off-site header names; it is verified through its chain (Chain::open on
//     its base, append, check, then the image verified) as a new increment is.
// A failure leaves the backup that failed unpublished (its temporary file,
// record and manifest go); the backups of its chain fetched before it stay:
// each is complete and verified, and a second fetch goes on from them.
//
// wecare_backup_fetch('timeline') brings continuous capture's timeline here
// from the off-site copies alone (a new machine): the target is listed and
// every segment object's header checked (offsite/segments.hpp); the base
// backup of each generation off-site is fetched with its chain as above
// (unless it is here); then each segment missing here is downloaded, checked
// against the checksum in its authenticated header, checked as a segment (its
// header names the creation time and base its off-site header binds, every
// point's page map and checksum: engine/timeline.hpp check_segment_file) and
// published under its name. Files already here are skipped, so it can be run
// again; whatever fails is named, and everything fetched before it stays.
#include <algorithm>
#include <set>

#include "command/shared.hpp"
#include "common/clock.hpp"
#include "engine/chain.hpp"
#include "engine/timeline.hpp"
#include "offsite/segments.hpp"
#include "offsite/sync.hpp"
#include "policy/increment_format.hpp"
#include "policy/json.hpp"
#include "policy/text.hpp"
#include "policy/timeline.hpp"
#include "store/db_header.hpp"
#include "store/lock.hpp"
#include "store/temp_file.hpp"

namespace wb {

namespace {

// One backup to fetch, and what its authenticated header says it builds on.
struct Link {
    std::string name;
    std::string base; // "" = a full backup
};

// Turns an off-site error about the object of `name` into the fetch's
// message, ending in `outcome` (what was and was not fetched). `dependent`,
// when `name` is a backup of the chain of `requested`, is the backup that
// builds on it.
[[noreturn]] void throw_fetch_error(const Settings& s, const std::string& name, const std::string& dependent,
                                    const std::string& requested, const Error& e,
                                    const std::string& outcome) {
    const std::string where = offsite::describe_target(s);
    if (offsite::is_data_problem(e.kind()))
        throw Error("the off-site copy of '" + name + "' cannot be used: " + e.what() + "; " + outcome);
    if (e.kind() == ErrorKind::not_found && dependent.empty())
        throw Error("there is no off-site copy of '" + name + "' in " + where, ErrorKind::not_found);
    if (e.kind() == ErrorKind::not_found)
        throw Error(
            "'" + dependent + "' builds on '" + name + "', which is neither in the backup directory nor in " +
                where + " (deleted by hand?), so '" + requested +
                "' cannot be restored: fetch an older backup whose chain is whole, or put the missing "
                "object back; " +
                outcome,
            ErrorKind::not_found);
    if (e.kind() == ErrorKind::interrupted || e.kind() == ErrorKind::cantopen ||
        e.kind() == ErrorKind::full || e.kind() == ErrorKind::auth)
        throw e;
    throw Error("fetching '" + name + "' from " + where + " failed: " + e.what() + "; " + outcome,
                ErrorKind::io);
}

// The backups to fetch for `name`, oldest first and ending with it: it and
// every backup of its chain that is not in the backup directory, from the
// authenticated headers (and, for an increment already here, its record),
// before anything is downloaded.
std::vector<Link> chain_to_fetch(const Settings& s, const Dir& dir, const std::string& name,
                                 const offsite::OffsiteIndex& index) {
    std::vector<Link> links;
    std::set<std::string> seen;
    std::string next = name;
    std::string dependent;
    while (!next.empty()) {
        if (!seen.insert(next).second || seen.size() > kMaxChainLinks)
            throw Error("the chain of '" + name + "' " +
                        (seen.size() > kMaxChainLinks ? "is longer than any chain can be (" +
                                                            std::to_string(kMaxChainLinks) + " backups)"
                                                      : "loops at '" + next + "'") +
                        "; nothing was fetched");
        std::string base;
        if (next != name && dir.exists(next)) {
            // Already here: a full backup ends the chain; an increment's record
            // names the next backup down (Chain::open checks them all later).
            const auto record = read_record(dir, next);
            if (!record || record->type != "incremental") break;
            base = record->base;
        } else {
            offsite::Header header;
            try {
                header = offsite::remote_header(s, next, index);
            } catch (const Error& e) {
                throw_fetch_error(s, next, dependent, name, e, "nothing was fetched");
            }
            links.push_back({next, header.base});
            base = header.base;
        }
        dependent = next;
        next = base;
    }
    std::reverse(links.begin(), links.end());
    return links;
}

// Downloads into `temp`, turning the off-site errors into the fetch's messages.
offsite::Download download_checked(const Settings& s, const Link& link, const TempFile& temp,
                                   const offsite::OffsiteIndex& index, Observer& observer,
                                   const std::string& outcome) {
    const std::string& name = link.name;
    offsite::Download got;
    try {
        got = offsite::download(s, name, index, temp.fd(), observer, link.base);
    } catch (const Error& e) {
        throw_fetch_error(s, name, "", name, e, outcome);
    }
    if (got.header_checksum.empty())
        throw Error("the off-site copy of '" + name + "' carries no checksum; " + outcome);
    if (got.checksum != got.header_checksum || got.bytes != got.header_size)
        throw Error("the off-site copy of '" + name +
                    "' does not match the checksum in its header (damaged); " + outcome);
    if (!got.recorded_checksum.empty() && got.recorded_checksum != got.checksum)
        throw Error("the off-site copy of '" + name +
                    "' is not the backup that was sent (its checksum differs); " + outcome);
    return got;
}

VerifyRequest request_for(const OperationContext& ctx, const Image& image, int fd, bool file_is_image,
                          const BackupRecord& expected) {
    VerifyRequest req;
    req.image = &image;
    req.file_fd = fd;
    req.file_is_image = file_is_image;
    req.expected = &expected;
    req.critical_tables = ctx.settings.critical_tables;
    return req;
}

// A full backup: its pages hashed (so increments can be verified on it and
// built on it), then verified like a new backup. Fills the record and manifest.
VerifyOutcome verify_full(const OperationContext& ctx, const TempFile& temp, BackupRecord& record,
                          Manifest& manifest, Progress& progress) {
    const DbHeader header = read_db_header(temp.fd());
    VerifyOutcome failed;
    failed.integrity = "not checked";
    if (!header.valid) {
        failed.errors.push_back("it is not an SQLite database (bad header)");
        return failed;
    }
    const auto pages =
        header.page_count_valid
            ? header.page_count
            : static_cast<uint32_t>(record.size_bytes / static_cast<int64_t>(header.page_size));
    const auto image =
        Image::of_file(std::make_shared<Fd>(dup_fd(temp.fd())), record.name, header.page_size, pages, {});
    progress.phase("verify");
    // The file as written to disk, read once: its checksum and each page's hash.
    if (image->hash_pages(progress) != record.checksum) {
        failed.errors.push_back("the file written to disk is not what was downloaded");
        return failed;
    }
    // Checked once just now: verification reads every page against its hash.
    BackupRecord expected = record;
    expected.checksum.clear();
    VerifyOutcome outcome = verify_image(request_for(ctx, *image, temp.fd(), true, expected), progress);
    record.page_size = header.page_size;
    record.page_count = outcome.page_count;
    manifest.page_size = header.page_size;
    manifest.page_count = static_cast<uint64_t>(outcome.page_count);
    const std::vector<uint64_t>& hashes = image->page_hashes();
    if (hashes.size() == manifest.page_count) {
        manifest.page_hashes = hashes;
        uint64_t sum = 0;
        for (const uint64_t h : hashes)
            sum ^= h;
        manifest.db_checksum = sum;
        record.db_checksum = sum;
    }
    outcome.checksum = record.checksum;
    outcome.checksum_status = "match";
    return outcome;
}

// An increment: verified through its chain, as a new increment is. Fills the
// record (page size and count, database checksum from its header) and manifest.
VerifyOutcome verify_increment(const OperationContext& ctx, const Dir& dir, const TempFile& temp,
                               BackupRecord& record, Manifest& manifest, Progress& progress) {
    VerifyOutcome failed;
    failed.integrity = "not checked: the chain it builds on cannot be read";
    Chain chain;
    try {
        chain = Chain::open(dir, ctx.settings.prefix, record.base);
    } catch (const Error& e) {
        if (e.kind() == ErrorKind::interrupted) throw;
        failed.errors.push_back(std::string("the backups it builds on: ") + e.what());
        return failed;
    }
    try {
        // Reads its own header and page map, and checks they name it and its base.
        chain.append(record.name, record, std::make_shared<Fd>(dup_fd(temp.fd())));
    } catch (const Error& e) {
        if (e.kind() == ErrorKind::interrupted) throw;
        failed.errors.push_back(std::string("its own header disagrees with its off-site header: ") +
                                e.what());
        return failed;
    }
    const IncrementHeader& header = chain.last().header;
    if (static_cast<int64_t>(header.created_ns) != record.created_ns) {
        failed.errors.push_back("its own header says it was made at another time than its off-site header");
        return failed;
    }
    failed.errors = chain.check();
    if (!failed.errors.empty()) return failed;
    record.page_size = header.page_size;
    record.page_count = header.page_count;
    record.db_checksum = header.after;
    manifest.page_size = header.page_size;
    manifest.page_count = header.page_count;
    manifest.db_checksum = header.after;
    progress.phase("verify");
    const auto image = chain.image();
    return verify_image(request_for(ctx, *image, temp.fd(), false, record), progress);
}

// Fetches one backup of a chain (its base, if any, is in the directory by now).
void fetch_one(const OperationContext& ctx, const Dir& dir, const offsite::OffsiteIndex& index,
               const Link& link, Progress& progress, const std::string& outcome) {
    const Settings& s = ctx.settings;
    const std::string& name = link.name;
    const offsite::OffsiteObject* known = index.find(name);
    progress.phase("fetch");
    TempFile temp(dir, name);
    const offsite::Download got = download_checked(s, link, temp, index, progress, outcome);
    fsync_fd(temp.fd(), "writing the fetched backup to disk failed");

    BackupRecord record;
    record.name = name;
    record.kind = known && (known->kind == "manual" || known->kind == "auto") ? known->kind : "manual";
    record.label = "fetched from off-site";
    record.created_ns =
        got.created_ns ? got.created_ns : parse_backup_name(s.prefix, name)->epoch_seconds * 1000000000;
    record.size_bytes = static_cast<int64_t>(got.bytes);
    record.checksum = got.checksum;
    record.source = offsite::describe_target(s);
    record.type = link.base.empty() ? "full" : "incremental";
    record.base = link.base;
    Manifest manifest;
    const VerifyOutcome outcome_of_verify =
        link.base.empty() ? verify_full(ctx, temp, record, manifest, progress)
                          : verify_increment(ctx, dir, temp, record, manifest, progress);
    if (!outcome_of_verify.ok && !outcome_of_verify.errors.empty())
        throw Error("the fetched backup '" + name + "' failed verification (" +
                    join(outcome_of_verify.errors, "; ") + "); " + outcome);
    if (!outcome_of_verify.ok)
        throw Error("the fetched backup '" + name + "' failed verification; " + outcome);
    manifest.tables = outcome_of_verify.tables;
    record.verified_at = now_seconds();
    record.verify_ok = true;
    if (known && known->uploaded_at) record.offsite_at = known->uploaded_at;
    record.offsite_ok = true;
    record.manifest = write_manifest(dir, name, manifest);
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
}

// The checks every fetch makes first; returns the backup directory.
Dir fetch_dir(const OperationContext& ctx) {
    const Settings& s = ctx.settings;
    // With no database file, only a directory set by hand says where the backups go.
    if (ctx.db_path.empty() && ctx.dir_is_default)
        throw Error("the main database is in memory or temporary; open a database file to fetch its backups, "
                    "or set the backup directory and prefix first (wecare_backup_config('dir', ...), "
                    "wecare_backup_config('prefix', ...))",
                    ErrorKind::misuse);
    if (s.offsite.empty())
        throw Error("no off-site target is set; set it first with wecare_backup_config('offsite', ...)",
                    ErrorKind::misuse);
    require_configured_dir(ctx);
    offsite::require_encryption(s);
    return Dir::open_backup_dir(s.dir, ctx.dir_is_default);
}

// Downloads one segment, checks it and publishes it under its name.
void fetch_segment(const Settings& s, const Dir& dir, const offsite::SegmentObject& segment,
                   Progress& progress) {
    const std::string& name = segment.name;
    const std::string kept = "the segment '" + name + "' was not kept";
    TempFile temp(dir, name);
    offsite::SegmentDownload got;
    try {
        got = offsite::download_segment(s, segment, temp.fd(), progress);
    } catch (const Error& e) {
        if (offsite::is_data_problem(e.kind()))
            throw Error("the off-site copy of the segment '" + name + "' cannot be used: " + e.what());
        if (e.kind() == ErrorKind::not_found)
            throw Error("the segment '" + name + "' is no longer in " + offsite::describe_target(s),
                        ErrorKind::not_found);
        if (e.kind() == ErrorKind::interrupted || e.kind() == ErrorKind::cantopen ||
            e.kind() == ErrorKind::full || e.kind() == ErrorKind::auth)
            throw;
        throw Error("fetching the segment '" + name + "' from " + offsite::describe_target(s) +
                        " failed: " + e.what(),
                    ErrorKind::io);
    }
    if (got.header_checksum.empty() || got.checksum != got.header_checksum || got.bytes != got.header_size)
        throw Error("the off-site copy of the segment '" + name +
                    "' does not match the checksum in its header (damaged); " + kept);
    fsync_fd(temp.fd(), "writing the fetched segment to disk failed");
    SegmentHeader header;
    try {
        header = check_segment_file(temp.fd(), got.bytes, name, progress);
    } catch (const Error& e) {
        if (e.kind() != ErrorKind::format) throw;
        throw Error(std::string("the fetched segment failed its checks: ") + e.what() + "; " + kept);
    }
    if (static_cast<int64_t>(header.created_ns) != segment.created_ns || header.base != segment.base)
        throw Error("the segment '" + name +
                    "' names another creation time or base backup in its own header than in its off-site "
                    "header; " +
                    kept);
    temp.publish("cannot record the fetched segment in the backup directory");
}

} // namespace

std::string fetch_timeline(const OperationContext& ctx) {
    const Settings& s = ctx.settings;
    Dir dir = fetch_dir(ctx);
    Progress progress = progress_of(ctx, "fetch");
    FileLock lock = lock_backup_dir(dir, s.busy_timeout_ms, &progress);
    const std::string where = offsite::describe_target(s);
    offsite::RemoteTimeline remote;
    try {
        remote = offsite::survey_timeline(s, dir, progress);
    } catch (const Error& e) {
        if (e.kind() == ErrorKind::interrupted || e.kind() == ErrorKind::auth ||
            e.kind() == ErrorKind::cantopen)
            throw;
        throw Error(std::string(e.what()) + "; nothing was fetched", ErrorKind::io);
    }
    if (remote.segments.empty())
        throw Error("there is no timeline of prefix '" + s.prefix + "' in " + where +
                        (remote.foreign.empty()
                             ? std::string(" (no segment object)")
                             : " (" + std::to_string(remote.foreign.size()) +
                                   " object(s) named like its segments do not authenticate under the key: "
                                   "see sqlite3_log)") +
                        "; check the offsite, prefix and encrypt_key_file settings",
                    ErrorKind::not_found);

    // The bases first, oldest first: segments without theirs restore nothing.
    std::vector<std::string> bases;
    for (const auto& segment : remote.segments)
        if (std::find(bases.begin(), bases.end(), segment.base) == bases.end()) bases.push_back(segment.base);
    const offsite::OffsiteIndex index = offsite::read_index(dir, s);
    std::vector<std::string> fetched_bases;
    std::vector<std::string> problems;
    for (const auto& base : bases) {
        if (dir.exists(base)) continue;
        try {
            for (const Link& link : chain_to_fetch(s, dir, base, index)) {
                fetch_one(ctx, dir, index, link, progress, "it was not kept");
                fetched_bases.push_back(link.name);
            }
        } catch (const Error& e) {
            if (e.kind() == ErrorKind::interrupted || e.kind() == ErrorKind::auth) throw;
            problems.push_back("the base backup '" + base + "': " + e.what());
        }
    }
    int64_t fetched = 0;
    int64_t here = 0;
    for (const auto& segment : remote.segments) {
        if (dir.exists(segment.name)) {
            ++here;
            continue;
        }
        try {
            fetch_segment(s, dir, segment, progress);
            ++fetched;
        } catch (const Error& e) {
            if (e.kind() == ErrorKind::interrupted || e.kind() == ErrorKind::auth) throw;
            problems.push_back(e.what());
        }
    }
    if (!problems.empty())
        throw Error(std::to_string(problems.size()) + " part(s) of the timeline in " + where +
                    " could not be fetched: " + join(problems, "; ") + "; what was fetched stays (" +
                    std::to_string(fetched) + " segment(s), " + std::to_string(fetched_bases.size()) +
                    " backup(s), each checked) and restore_at works up to the first missing part; fetch "
                    "again to retry");

    const Timeline timeline = Timeline::open(dir, s.prefix);
    const auto rows = timeline_rows(timeline.generations());
    std::optional<std::string> from;
    std::optional<std::string> to;
    for (const auto& row : rows) {
        if (row.kind != "range") continue;
        if (!from) from = format_time_ns(row.from_ns);
        to = format_time_ns(row.to_ns);
    }
    return JsonObject()
        .integer("segments", fetched)
        .integer("segments_here", here)
        .strings("bases", fetched_bases)
        .integer("foreign", static_cast<int64_t>(remote.foreign.size()))
        .text_or_null("restorable_from", from)
        .text_or_null("restorable_to", to)
        .str();
}

std::string fetch_backup(const OperationContext& ctx, const std::string& name) {
    const Settings& s = ctx.settings;
    Dir dir = fetch_dir(ctx);
    Progress progress = progress_of(ctx, "fetch");
    FileLock lock = lock_backup_dir(dir, s.busy_timeout_ms, &progress);
    if (dir.exists(name))
        throw Error("a backup named '" + name +
                        "' is already in the backup directory; verify or restore it directly",
                    ErrorKind::cantopen);
    const offsite::OffsiteIndex index = offsite::read_index(dir, s);
    const std::vector<Link> links = chain_to_fetch(s, dir, name, index);
    std::vector<std::string> fetched;
    for (const Link& link : links) {
        const std::string outcome =
            fetched.empty()
                ? "nothing was fetched"
                : "'" + link.name + "' was not kept; the backups of its chain fetched before it stay (" +
                      join(fetched, ", ") + ": each complete and verified), and fetching '" + name +
                      "' again goes on from them";
        fetch_one(ctx, dir, index, link, progress, outcome);
        fetched.push_back(link.name);
    }
    return name;
}

} // namespace wb
