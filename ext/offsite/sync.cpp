// Off-site sync, download and check (see sync.hpp for the steps and rules).
//
// How it works: `sync` lists the target once and checks the header of every
// object named like a backup (survey: one small read each), merges the objects
// that authenticate with the local catalog into one newest-first list of
// candidates with their bases (offsite_plan), applies the off-site keep rules
// to the list, then sends (send_missing, send_one) the kept candidates that
// exist only locally, each chain base first, and finally deletes (prune) the
// remote ones the rules drop. Each copy is read back (read_back) before the
// index records it. What did not authenticate is only counted and logged, and
// so is every broken chain.
#include "offsite/sync.hpp"

#include <algorithm>
#include <functional>
#include <memory>
#include <sys/stat.h>
#include <unordered_map>

#include "common/clock.hpp"
#include "common/sqlite_api.hpp"
#include "offsite/codec.hpp"
#include "offsite/target.hpp"
#include "offsite/transfer.hpp"
#include "policy/increment_format.hpp"
#include "policy/text.hpp"
#include "store/catalog.hpp"
#include "store/checksum.hpp"
#include "store/lock.hpp"
#include "store/temp_file.hpp"

namespace wb::offsite {

namespace {

constexpr size_t kMaxIndexBytes = 16 << 20;
constexpr size_t kForeignNamesLogged = 10;

// The creation time bound into a backup's object: its record's, else the
// start of the second its name gives (a backup placed by hand).
int64_t created_ns_of(const CatalogEntry& entry) {
    if (entry.record && entry.record->created_ns) return entry.record->created_ns;
    const int64_t seconds = entry.parsed.epoch_seconds;
    return seconds > 0 && seconds < INT64_MAX / 1000000000 ? seconds * 1000000000 : 0;
}

bool names_an_increment(const Settings& s, const std::string& name) {
    const auto parsed = parse_backup_name(s.prefix, name);
    return parsed && parsed->incremental;
}

// The base this directory knows for the backup `name`: none for a full backup
// (its name says so), else the first non-empty of `recorded` (its local
// record's, or what the caller knows), `indexed` (what the last sync
// authenticated); nullopt when nothing here knows it (a new machine).
std::optional<std::string> known_base(const Settings& s, const std::string& name, const std::string& recorded,
                                      const std::string& indexed) {
    if (!names_an_increment(s, name)) return std::string();
    if (!recorded.empty()) return recorded;
    if (!indexed.empty()) return indexed;
    return std::nullopt;
}

// What the codec cannot know: an incremental backup's object must name the
// backup it builds on, another backup of this database (the name is used to
// open files when it is fetched); a full backup's names none (the codec checks
// that one against the empty base it is given).
void check_base_claim(const Settings& s, const std::string& name, const Header& h) {
    if (!names_an_increment(s, name)) return;
    const auto parsed = parse_backup_name(s.prefix, h.base);
    if (h.base.empty() || h.base == name || !parsed || parsed->safety ||
        !name_problem(h.base.data(), h.base.size()).empty())
        throw Error("tampered: the off-site object '" + name +
                        "' is an incremental backup, but its header names no other backup of this "
                        "database that it builds on (" +
                        (h.base.empty() ? std::string("none") : "'" + printable_utf8(h.base) + "'") + ")",
                    ErrorKind::tampered);
}

void write_index(const Dir& dir, const Settings& s, const OffsiteIndex& index) {
    write_file_atomic(dir, offsite_index_file_name(s.prefix), serialize_offsite_index(index));
    dir.sync("cannot record the off-site index in the backup directory");
}

// Records the outcome of one copy in the backup's sidecar, unless the backup
// was deleted meanwhile or its sidecar cannot be read (never overwritten).
void record_result(const Settings& s, const Dir& dir, const std::string& name, bool ok,
                   const std::string& error, Observer& observer) {
    FileLock lock = lock_backup_dir(dir, s.busy_timeout_ms, &observer);
    if (!dir.exists(name)) return;
    bool damaged = false;
    const auto existing = read_record(dir, name, &damaged);
    if (damaged) return;
    BackupRecord record = existing.value_or(BackupRecord{});
    if (record.name.empty()) {
        record.name = name;
        record.kind = "manual";
    }
    record.offsite_at = now_seconds();
    record.offsite_ok = ok;
    record.offsite_error = ok ? "" : error;
    write_record(dir, record);
    dir.sync("cannot record the off-site copy");
}

// Sends one local backup and reads it back; returns what the index records.
OffsiteObject send_one(Target& target, const Settings& s, const Dir& dir, const CatalogEntry& entry,
                       const EncodeOptions& base, const std::optional<Key>& key, Observer& observer) {
    const std::string& name = entry.name;
    struct stat st {};
    Fd fd = dir.open_regular(name, &st);
    const auto size = static_cast<uint64_t>(st.st_size);
    std::string expected = entry.record ? entry.record->checksum : "";
    if (expected.empty()) expected = checksum_fd(fd.get(), size, &observer); // a backup placed by hand

    EncodeOptions options = base;
    options.original_checksum = expected;
    options.name = name;
    options.prefix = s.prefix;
    options.created_ns = created_ns_of(entry);
    options.base = entry.record ? entry.record->base : "";
    const uint64_t encoded_size = send_checked(
        target, s, fd.get(), size, options, key,
        "the local backup '" + name +
            "' does not match its recorded checksum, so it was not sent; check it with wecare_backup_verify",
        observer);
    OffsiteObject o;
    o.name = name;
    o.object_bytes = static_cast<int64_t>(encoded_size);
    o.original_bytes = static_cast<int64_t>(size);
    o.created_ns = options.created_ns;
    o.kind = entry.kind();
    o.checksum = expected;
    o.uploaded_at = now_seconds();
    o.base = options.base;
    return o;
}

// An object named like one of this database's backups that does not count.
struct Foreign {
    std::string name;
    std::string reason;
};

// What the target holds under this database's names.
struct Survey {
    std::vector<OffsiteObject> authenticated; // these count
    std::vector<OffsiteObject> legacy;        // 1.0.0 objects this directory sent (also foreign)
    std::vector<Foreign> foreign;
};

// Lists the target and sorts every object named like this database's backups
// into authenticated, legacy and foreign.
Survey survey(Target& target, const Settings& s, const OffsiteIndex& index,
              const std::vector<CatalogEntry>& local, const std::optional<Key>& key, Observer& observer) {
    std::vector<ObjectInfo> listed;
    try {
        listed = target.list(s.prefix + "_backup_");
    } catch (const Error& e) {
        throw Error("cannot list the off-site copies in " + describe_target(s) + ": " + e.what(),
                    ErrorKind::io);
    }
    std::unordered_map<std::string, const CatalogEntry*> local_by_name;
    for (const auto& entry : local)
        local_by_name.emplace(entry.name, &entry);
    Survey out;
    for (const auto& info : listed) {
        observer.check();
        const size_t suffix = std::string(kObjectSuffix).size();
        if (info.name.size() <= suffix ||
            info.name.compare(info.name.size() - suffix, suffix, kObjectSuffix) != 0)
            continue;
        const std::string name = info.name.substr(0, info.name.size() - suffix);
        const auto parsed = parse_backup_name(s.prefix, name);
        if (!parsed || parsed->safety) continue; // not named like ours: never touched
        // The creation time this directory knows: the local backup's (the object
        // must be its copy), else what the last sync authenticated.
        int64_t created_ns = 0;
        std::string recorded_base;
        const OffsiteObject* known = index.find(name);
        if (auto it = local_by_name.find(name); it != local_by_name.end() && it->second->record) {
            created_ns = it->second->record->created_ns;
            recorded_base = it->second->record->base;
        }
        if (!created_ns && known) created_ns = known->created_ns;
        Header header;
        try {
            header = probe(
                target, info.name, key,
                identity(s, name, created_ns, known_base(s, name, recorded_base, known ? known->base : "")));
            if (header.version != kLegacyFormatVersion) check_base_claim(s, name, header);
        } catch (const Error& e) {
            if (e.kind() == ErrorKind::not_found) continue; // deleted since the listing
            if (!is_data_problem(e.kind()))
                throw Error("cannot check the off-site copy '" + info.name + "' in " + describe_target(s) +
                                ": " + e.what(),
                            e.kind() == ErrorKind::interrupted ? ErrorKind::interrupted : ErrorKind::io);
            out.foreign.push_back({info.name, reason_of(e)});
            continue;
        }
        if (header.version == kLegacyFormatVersion) {
            const OffsiteObject* recorded = index.find_legacy(name);
            out.foreign.push_back({info.name, recorded
                                                  ? "written by wecare_backup 1.0.0 (it cannot prove its "
                                                    "name; verify and fetch check it against the checksum "
                                                    "recorded when it was sent)"
                                                  : "written by wecare_backup 1.0.0 (it cannot prove its "
                                                    "name, and this directory has no record of it)"});
            if (recorded) out.legacy.push_back(*recorded);
            continue;
        }
        OffsiteObject o;
        if (known) o = *known;
        o.name = name;
        o.object_bytes = static_cast<int64_t>(info.size);
        o.original_bytes = static_cast<int64_t>(header.original_size);
        o.created_ns = header.created_ns;
        o.checksum = printable_utf8(header.original_checksum); // anyone's text in plaintext mode
        o.base = header.base;
        out.authenticated.push_back(std::move(o));
    }
    return out;
}

// One line each (sqlite3_log keeps about 200 bytes of a message): the count,
// then each object's name and why, the name first.
void log_foreign(const std::vector<Foreign>& foreign) {
    if (foreign.empty()) return;
    sqlite3_log(SQLITE_WARNING,
                "wecare_backup: %d off-site object(s) named like this database's backups do not authenticate "
                "under the key; not counted, never deleted (offsite_foreign)",
                static_cast<int>(foreign.size()));
    for (size_t i = 0; i < foreign.size() && i < kForeignNamesLogged; ++i)
        sqlite3_log(SQLITE_WARNING, "wecare_backup: foreign off-site object '%s': %s",
                    foreign[i].name.c_str(), foreign[i].reason.c_str());
}

// The first backup of `i`'s chain that is not among the candidates ("" when
// the chain is broken another way: a loop, or too long).
std::string missing_link(const std::vector<OffsiteCandidate>& candidates, size_t i) {
    size_t at = i;
    for (size_t steps = 0; steps <= kMaxChainLinks; ++steps) {
        const OffsiteCandidate& c = candidates[at];
        if (!c.base_index) return c.base;
        at = *c.base_index;
    }
    return "";
}

// Each broken chain, named in sqlite3_log: nothing can restore it, so it is not
// sent, and not deleted either (see sync.hpp).
void log_broken(const std::vector<OffsiteCandidate>& candidates) {
    size_t logged = 0;
    for (size_t i = 0; i < candidates.size() && logged < kForeignNamesLogged; ++i) {
        const OffsiteCandidate& c = candidates[i];
        if (c.whole) continue;
        ++logged;
        const std::string missing = missing_link(candidates, i);
        const std::string why =
            missing.empty()
                ? std::string("its chain of bases loops or is too long")
                : "it builds on '" + missing + "', which is neither in the backup directory nor off-site";
        sqlite3_log(SQLITE_WARNING, "wecare_backup: off-site: '%s' cannot be restored (%s): %s",
                    c.name.c_str(), why.c_str(),
                    c.remote ? "its copy is not counted and never deleted" : "it is not sent");
    }
}

bool needs_sending(const OffsiteCandidate& c) {
    return !c.reason.empty() && c.whole && c.local && !c.remote;
}

// Sends every kept candidate that is only local, newest chain first and each
// base before the increments on it; returns the first error ("" = none).
std::string send_missing(Target& target, const Settings& s, const Dir& dir,
                         std::vector<OffsiteCandidate>& candidates, const std::optional<Key>& key,
                         Observer& observer, SyncResult& result) {
    const EncodeOptions base = encode_options(s, key);
    const std::string where = describe_target(s);
    std::string first_error;
    std::vector<bool> tried(candidates.size(), false);
    auto record_failure = [&](const std::string& name, const std::string& message) {
        if (first_error.empty()) first_error = message;
        try {
            record_result(s, dir, name, false, message, observer);
        } catch (const std::exception&) {
            // The sync's own error is the one to report.
        }
    };
    for (size_t i = 0; i < candidates.size(); ++i) {
        if (tried[i] || !needs_sending(candidates[i])) continue;
        // Its chain's backups that are not off-site yet, oldest first. (A whole
        // chain: each of them is local, and the rules keep it.)
        std::vector<size_t> links;
        for (std::optional<size_t> at = i; at && links.size() <= kMaxChainLinks;
             at = candidates[*at].base_index)
            if (!candidates[*at].remote) links.push_back(*at);
        std::reverse(links.begin(), links.end());
        std::string failed_base;
        for (const size_t k : links) {
            OffsiteCandidate& c = candidates[k];
            if (tried[k] && !c.remote) failed_base = c.name; // an earlier chain could not send it
            if (tried[k]) continue;
            tried[k] = true;
            if (!failed_base.empty()) {
                record_failure(c.name, "'" + c.name + "' was not sent to " + where + ": '" + failed_base +
                                           "', which it builds on, could not be sent");
                continue;
            }
            try {
                c.remote = send_one(target, s, dir, *c.local, base, key, observer);
                ++result.sent;
                record_result(s, dir, c.name, true, "", observer);
                sqlite3_log(SQLITE_NOTICE, "wecare_backup: sent %s to %s", c.name.c_str(), where.c_str());
            } catch (const std::exception& e) {
                record_failure(c.name, "sending '" + c.name + "' to " + where + " failed: " + message_of(e));
                if (target_problem(e) || observer.stop_requested()) return first_error;
                failed_base = c.name;
            }
        }
    }
    return first_error;
}

// Deletes the remote copies the rules do not keep; returns the error ("" = none).
std::string prune(Target& target, std::vector<OffsiteCandidate>& candidates, SyncResult& result) {
    for (auto& c : candidates) {
        if (!c.reason.empty() || !c.remote) continue;
        try {
            target.remove(object_name(c.name));
            c.remote.reset();
            ++result.deleted;
        } catch (const Error& e) {
            return "deleting the old off-site copy '" + object_name(c.name) + "' failed: " + e.what();
        }
    }
    return "";
}

SyncResult run_sync(const Settings& s, const Dir& dir, OffsiteIndex& index, Observer& observer,
                    const std::set<std::string>& timeline_bases) {
    const std::optional<Key> key = load_key(s);
    auto target = open_offsite_target(s);

    const auto local = scan_catalog(dir, s.prefix);
    Survey found = survey(*target, s, index, local, key, observer);
    std::vector<const CatalogEntry*> local_entries;
    local_entries.reserve(local.size());
    for (const auto& entry : local)
        local_entries.push_back(&entry);
    // The off-site policy over the union: what it would delete is never sent.
    std::vector<OffsiteCandidate> candidates =
        offsite_plan(s, local_entries, found.authenticated, timeline_bases);
    log_broken(candidates);

    SyncResult result;
    result.error = send_missing(*target, s, dir, candidates, key, observer, result);
    // Retention, only once everything the policy keeps is there.
    if (result.error.empty()) result.error = prune(*target, candidates, result);

    index.object_format = kFormatVersion;
    index.objects.clear();
    for (const auto& c : candidates)
        if (c.remote) index.objects.push_back(*c.remote);
    // A 1.0.0 object sent again in format 2 is no longer foreign.
    index.legacy.clear();
    for (auto& o : found.legacy)
        if (!index.find(o.name)) index.legacy.push_back(std::move(o));
    std::vector<Foreign> foreign;
    for (auto& f : found.foreign)
        if (!index.find(f.name.substr(0, f.name.size() - std::string(kObjectSuffix).size())))
            foreign.push_back(std::move(f));
    index.foreign = static_cast<int64_t>(foreign.size());
    log_foreign(foreign);
    result.objects = static_cast<int64_t>(index.objects.size());
    result.foreign = index.foreign;
    return result;
}

} // namespace

std::vector<OffsiteCandidate> offsite_plan(const Settings& s, const std::vector<const CatalogEntry*>& local,
                                           const std::vector<OffsiteObject>& remote,
                                           const std::set<std::string>& timeline_bases) {
    std::vector<OffsiteCandidate> candidates;
    std::unordered_map<std::string, size_t> position;
    for (const auto& o : remote) {
        const auto parsed = parse_backup_name(s.prefix, o.name);
        if (!parsed || parsed->safety || position.count(o.name)) continue;
        OffsiteCandidate c;
        c.name = o.name;
        c.parsed = *parsed;
        c.created_ns = o.created_ns;
        c.remote = o;
        c.base = o.base;
        position.emplace(o.name, candidates.size());
        candidates.push_back(std::move(c));
    }
    for (const CatalogEntry* entry : local) {
        if (entry->parsed.safety || !entry->record) continue; // only recorded regular backups are sent
        auto it = position.find(entry->name);
        if (it == position.end()) {
            if (entry->verify_ok() == std::optional<bool>(false)) continue; // a failed one is never sent
            OffsiteCandidate c;
            c.name = entry->name;
            c.parsed = entry->parsed;
            it = position.emplace(entry->name, candidates.size()).first;
            candidates.push_back(std::move(c));
        }
        OffsiteCandidate& c = candidates[it->second];
        c.local = entry;
        c.verify_ok = entry->verify_ok();
        if (entry->record->created_ns) c.created_ns = entry->record->created_ns;
        // Its record's base: what the object's header must say too (survey).
        if (!entry->record->base.empty() || !c.remote) c.base = entry->record->base;
    }
    std::sort(candidates.begin(), candidates.end(), [](const OffsiteCandidate& a, const OffsiteCandidate& b) {
        return newer_first(a.order(), b.order());
    });
    std::vector<RetentionItem> items;
    std::vector<std::string> bases;
    items.reserve(candidates.size());
    bases.reserve(candidates.size());
    for (const auto& c : candidates) {
        items.push_back({false,
                         c.parsed.epoch_seconds,
                         c.verify_ok,
                         true,
                         c.name,
                         {},
                         timeline_bases.count(c.name) ? "timeline base" : "",
                         true});
        bases.push_back(c.base);
    }
    link_chains(items, bases);
    const auto reasons = retention_reasons(items, retention_policy(s));
    for (size_t i = 0; i < candidates.size(); ++i) {
        candidates[i].base_index = items[i].base;
        candidates[i].whole = items[i].whole;
        candidates[i].reason = reasons[i];
    }
    return candidates;
}

bool is_data_problem(ErrorKind kind) {
    return kind == ErrorKind::format || kind == ErrorKind::wrong_key || kind == ErrorKind::tampered ||
           kind == ErrorKind::truncated || kind == ErrorKind::trailing_data;
}

std::string describe_target(const Settings& s) {
    if (is_s3(s) && !s.s3_endpoint.empty()) return s.offsite + " at " + s.s3_endpoint;
    return s.offsite;
}

RetentionPolicy retention_policy(const Settings& s) {
    return {s.offsite_keep_last, s.offsite_keep_daily, s.offsite_keep_weekly, s.offsite_keep_monthly, 0};
}

OffsiteIndex read_index(const Dir& dir, const Settings& s) {
    const auto text = dir.read_small_file(offsite_index_file_name(s.prefix), kMaxIndexBytes);
    if (!text) return {};
    try {
        OffsiteIndex index = parse_offsite_index(*text);
        // Written for another target: nothing in it describes this one.
        if (index.target != s.offsite) return {};
        if (index.object_format != kFormatVersion) {
            // Written by 1.0.0: its objects never authenticated; what it
            // recorded of them is kept to check them (legacy).
            for (auto& o : index.objects)
                if (!index.find_legacy(o.name)) index.legacy.push_back(std::move(o));
            index.objects.clear();
            index.object_format = kFormatVersion;
        }
        return index;
    } catch (const Error&) {
        return {}; // rewritten by the next sync
    }
}

void require_encryption(const Settings& s) {
    if (!s.encrypt_key_file.empty() || s.offsite_plaintext) return;
    throw Error("off-site copies of patient records must be encrypted: set encrypt_key_file to a key file "
                "(README: Off-site copies), or set offsite_plaintext to 1 to send and read them "
                "unencrypted and unauthenticated",
                ErrorKind::auth);
}

namespace {

// A sync under the directory's sync lock, waited for `lock_timeout_ms` (< 0:
// as long as it takes); nullopt when it was busy all that time.
std::optional<SyncResult> locked_sync(const Settings& s, Observer& observer,
                                      const std::set<std::string>& timeline_bases, int64_t lock_timeout_ms) {
    SyncResult result;
    if (s.offsite.empty()) return result;
    try {
        Dir dir = Dir::open_backup_dir(s.dir, false);
        std::optional<FileLock> lock;
        try {
            lock.emplace(dir, kOffsiteLockName, lock_timeout_ms, &observer,
                         "another off-site sync is running");
        } catch (const Error& e) {
            if (e.kind() == ErrorKind::busy && lock_timeout_ms >= 0) return std::nullopt;
            throw;
        }
        OffsiteIndex index = read_index(dir, s);
        index.target = s.offsite;
        index.object_format = kFormatVersion;
        try {
            result = run_sync(s, dir, index, observer, timeline_bases);
        } catch (const std::bad_alloc&) {
            result.error = "out of memory";
        } catch (const std::exception& e) {
            result.error = e.what();
        }
        if (result.error.empty()) {
            index.last_success_at = now_seconds();
            index.last_error.clear();
            index.last_error_at.reset();
        } else if (observer.stop_requested()) {
            return result; // the connection is closing: not a failure to report; the next run sends it
        } else {
            index.last_error = result.error;
            index.last_error_at = now_seconds();
        }
        write_index(dir, s, index);
    } catch (const std::exception& e) {
        if (result.error.empty()) result.error = e.what();
    } catch (...) {
        if (result.error.empty()) result.error = "internal error";
    }
    if (!result.error.empty())
        sqlite3_log(SQLITE_WARNING, "wecare_backup: the off-site copy failed (the local backup is fine): %s",
                    result.error.c_str());
    return result;
}

} // namespace

SyncResult sync(const Settings& s, Observer& observer, const std::set<std::string>& timeline_bases) noexcept {
    return *locked_sync(s, observer, timeline_bases, -1);
}

std::optional<SyncResult> sync_unless_running(const Settings& s, Observer& observer,
                                              const std::set<std::string>& timeline_bases) noexcept {
    return locked_sync(s, observer, timeline_bases, 0);
}

namespace {

// How to decode the object of `name`: the identity it must carry, and
// whether a 1.0.0 object is accepted (only on a checksum this directory
// recorded when it sent it, which the caller then compares).
struct Expectation {
    Expected expected;
    std::string recorded_checksum;
    int64_t recorded_created_ns = 0;
};

// `base`: what the caller knows the object builds on, if anything.
Expectation expectation_for(const Settings& s, const OffsiteIndex& index, const std::string& name,
                            const std::optional<std::string>& base = std::nullopt) {
    Expectation out;
    const OffsiteObject* known = index.find(name);
    const OffsiteObject* legacy = known ? nullptr : index.find_legacy(name);
    out.expected = identity(s, name, known ? known->created_ns : 0,
                            known_base(s, name, base.value_or(""), known ? known->base : ""));
    if (known) {
        out.recorded_checksum = known->checksum;
        out.recorded_created_ns = known->created_ns;
    } else if (legacy && !legacy->checksum.empty()) {
        out.expected.accept_version1 = true;
        out.recorded_checksum = legacy->checksum;
        out.recorded_created_ns = legacy->created_ns;
    }
    return out;
}

} // namespace

Download download(const Settings& s, const std::string& name, const OffsiteIndex& index, int out_fd,
                  Observer& observer, const std::optional<std::string>& base) {
    const std::optional<Key> key = load_key(s);
    auto target = open_offsite_target(s);
    const Expectation expectation = expectation_for(s, index, name, base);
    const Decoded got = decode_remote(*target, object_name(name), key, expectation.expected, observer,
                                      [&](const uint8_t* p, size_t n, uint64_t at) {
                                          write_all_at(out_fd, p, n, at, "writing the fetched backup failed");
                                          observer.progress(static_cast<int64_t>(at + n), 0);
                                      });
    check_base_claim(s, name, got.header);
    Download d;
    d.bytes = got.bytes;
    d.checksum = got.checksum;
    d.header_checksum = got.header.original_checksum;
    d.header_size = got.header.original_size;
    d.legacy = got.header.version == kLegacyFormatVersion;
    d.created_ns = d.legacy ? expectation.recorded_created_ns : got.header.created_ns;
    d.base = got.header.base;
    d.recorded_checksum = expectation.recorded_checksum;
    return d;
}

Header remote_header(const Settings& s, const std::string& name, const OffsiteIndex& index) {
    const std::optional<Key> key = load_key(s);
    auto target = open_offsite_target(s);
    const Expectation expectation = expectation_for(s, index, name);
    Expected expected = expectation.expected;
    const bool accept_version1 = expected.accept_version1;
    Header header = probe(*target, object_name(name), key, std::move(expected));
    if (header.version == kLegacyFormatVersion && !accept_version1)
        throw Error(
            "the off-site object was written by wecare_backup 1.0.0 (format 1), which does not record "
            "which backup it is: it cannot be told from an older copy put under this name, so it is "
            "not trusted",
            ErrorKind::format);
    check_base_claim(s, name, header);
    return header;
}

std::optional<RemoteCheck> check_copy(const Settings& s, const std::string& name, const OffsiteIndex& index,
                                      Observer& observer) {
    if (s.offsite.empty()) return std::nullopt;
    const std::optional<Key> key = load_key(s);
    auto target = open_offsite_target(s);
    const Expectation expectation = expectation_for(s, index, name);
    RemoteCheck out;
    try {
        const Decoded got = decode_remote(*target, object_name(name), key, expectation.expected, observer,
                                          [&](const uint8_t*, size_t n, uint64_t at) {
                                              observer.progress(static_cast<int64_t>(at + n), 0);
                                          });
        check_base_claim(s, name, got.header);
        out.size_bytes = static_cast<int64_t>(got.bytes);
        out.checksum = got.checksum;
        out.base = got.header.base;
        std::string expected = got.header.original_checksum;
        if (!expectation.recorded_checksum.empty()) {
            if (!expected.empty() && expected != expectation.recorded_checksum)
                out.errors.push_back(
                    "the checksum in the off-site copy's header is not the one recorded when it was sent");
            expected = expectation.recorded_checksum;
        }
        if (expected.empty()) {
            out.checksum_status = "none";
        } else if (expected == got.checksum && got.bytes == got.header.original_size) {
            out.checksum_status = "match";
        } else {
            out.checksum_status = "mismatch";
            out.errors.push_back("checksum mismatch: the off-site copy is not the backup that was sent");
        }
    } catch (const Error& e) {
        if (e.kind() == ErrorKind::not_found) return std::nullopt;
        if (!is_data_problem(e.kind()))
            throw Error("reading the off-site copy of '" + name + "' from " + describe_target(s) +
                            " failed: " + e.what(),
                        ErrorKind::io);
        out.checksum_status = "mismatch";
        out.errors.push_back(std::string("off-site copy: ") + e.what());
    }
    out.ok = out.errors.empty();
    return out;
}

} // namespace wb::offsite
