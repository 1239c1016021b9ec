// The timeline's segments off-site (see segments.hpp).
//
// How it works: `survey` lists the target's `<prefix>_segment_` objects and
// checks the header of each one the index does not vouch for (probe, one
// small read); the generations here and off-site go through the pitr window
// together; `send_segment` sends a closed local segment as a backup is sent
// (encode while hashing, read back whole); `prune` deletes the segments of
// generations past the window, each header checked again first.
#include "offsite/segments.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <sys/stat.h>

#include "common/clock.hpp"
#include "common/sqlite_api.hpp"
#include "offsite/sync.hpp"
#include "offsite/transfer.hpp"
#include "policy/naming.hpp"
#include "policy/text.hpp"
#include "store/checksum.hpp"
#include "store/lock.hpp"
#include "store/temp_file.hpp"

namespace wb::offsite {

namespace {

constexpr int64_t kNs = 1000000000;
constexpr size_t kMaxIndexBytes = 64 << 20;
constexpr size_t kForeignNamesLogged = 10;

void write_segment_index(const Dir& dir, const Settings& s, const SegmentIndex& index) {
    write_file_atomic(dir, segment_index_file_name(s.prefix), serialize_segment_index(index));
    dir.sync("cannot record the off-site segment index in the backup directory");
}

// The segment a listed object holds, or "" when its name is not one of this
// database's segments (never touched).
std::string segment_of(const Settings& s, const std::string& object) {
    const std::string suffix = kObjectSuffix;
    if (object.size() <= suffix.size() ||
        object.compare(object.size() - suffix.size(), suffix.size(), suffix))
        return "";
    std::string name = object.substr(0, object.size() - suffix.size());
    return parse_segment_name(s.prefix, name) ? name : "";
}

// What the codec cannot know: the base a segment's header names must be one
// of this database's backups (fetch('timeline') opens it by that name).
void check_segment_base(const Settings& s, const std::string& name, const Header& h) {
    const auto parsed = parse_backup_name(s.prefix, h.base);
    if (h.base.empty() || !parsed || parsed->safety || !name_problem(h.base.data(), h.base.size()).empty())
        throw Error("tampered: the off-site object of the segment '" + name +
                        "' names no backup of this database as its base (" +
                        (h.base.empty() ? std::string("none") : "'" + printable_utf8(h.base) + "'") + ")",
                    ErrorKind::tampered);
}

// The header of the object of segment `name`, checked: format 2 (1.0.0 never
// wrote segments), the identity this directory knows, a base of this database.
Header checked_header(Target& target, const Settings& s, const std::string& name, int64_t created_ns,
                      const std::optional<std::string>& base, const std::optional<Key>& key) {
    Header h = probe(target, object_name(name), key, identity(s, name, created_ns, base));
    if (h.version != kFormatVersion)
        throw Error("written in the format of wecare_backup 1.0.0, which never wrote segments",
                    ErrorKind::format);
    check_segment_base(s, name, h);
    return h;
}

struct Survey {
    std::vector<SegmentObject> authenticated;
    std::vector<ForeignObject> foreign;
};

// Lists the target; an object the index vouches for (same name, size and
// last-modified stamp as when it authenticated) is taken from it with
// `trust_index`, every other one is checked (one small read).
Survey survey(Target& target, const Settings& s, const SegmentIndex& index,
              const std::map<std::string, const LocalSegment*>& local, const std::optional<Key>& key,
              bool trust_index, Observer& observer) {
    std::vector<ObjectInfo> listed;
    try {
        listed = target.list(s.prefix + "_segment_");
    } catch (const Error& e) {
        throw Error("cannot list the off-site segments in " + describe_target(s) + ": " + e.what(),
                    e.kind() == ErrorKind::interrupted ? ErrorKind::interrupted : ErrorKind::io);
    }
    Survey out;
    for (const auto& info : listed) {
        observer.check();
        const std::string name = segment_of(s, info.name);
        if (name.empty()) continue;
        const SegmentObject* known = index.find(name);
        if (trust_index && known && !known->modified.empty() && known->modified == info.last_modified &&
            known->object_bytes == static_cast<int64_t>(info.size)) {
            out.authenticated.push_back(*known);
            continue;
        }
        // What this directory knows of it: the local file's, else what authenticated before.
        int64_t created_ns = known ? known->created_ns : 0;
        std::optional<std::string> base;
        if (known) base = known->base;
        if (auto it = local.find(name); it != local.end()) {
            created_ns = it->second->created_ns;
            base = it->second->base;
        }
        Header h;
        try {
            h = checked_header(target, s, name, created_ns, base, key);
        } catch (const Error& e) {
            if (e.kind() == ErrorKind::not_found) continue; // deleted since the listing
            if (!is_data_problem(e.kind()))
                throw Error("cannot check the off-site segment '" + info.name + "' in " + describe_target(s) +
                                ": " + e.what(),
                            e.kind() == ErrorKind::interrupted ? ErrorKind::interrupted : ErrorKind::io);
            out.foreign.push_back({info.name, reason_of(e)});
            continue;
        }
        SegmentObject o;
        if (known) o = *known;
        o.name = name;
        o.object_bytes = static_cast<int64_t>(info.size);
        o.original_bytes = static_cast<int64_t>(h.original_size);
        o.created_ns = h.created_ns;
        o.base = h.base;
        o.checksum = printable_utf8(h.original_checksum); // anyone's text in plaintext mode
        o.modified = info.last_modified;
        out.authenticated.push_back(std::move(o));
    }
    std::stable_sort(
        out.authenticated.begin(), out.authenticated.end(),
        [](const SegmentObject& a, const SegmentObject& b) { return a.created_ns < b.created_ns; });
    return out;
}

void log_foreign(const std::vector<ForeignObject>& foreign) {
    if (foreign.empty()) return;
    sqlite3_log(SQLITE_WARNING,
                "wecare_backup: %d off-site object(s) named like this database's timeline segments do not "
                "authenticate under the key; not counted, never fetched, never deleted",
                static_cast<int>(foreign.size()));
    for (size_t i = 0; i < foreign.size() && i < kForeignNamesLogged; ++i)
        sqlite3_log(SQLITE_WARNING, "wecare_backup: foreign off-site segment '%s': %s",
                    foreign[i].name.c_str(), foreign[i].reason.c_str());
}

// Sends one closed segment and reads it back; returns what the index records.
SegmentObject send_segment(Target& target, const Settings& s, const Dir& dir, const LocalSegment& segment,
                           const EncodeOptions& base_options, const std::optional<Key>& key,
                           Observer& observer) {
    const std::string& name = segment.name;
    struct stat st {};
    const Fd fd = dir.open_regular(name, &st);
    const auto size = static_cast<uint64_t>(st.st_size);
    // Closed, so it never changes: its checksum now is the one for good (and
    // the hash taken while it is sent must give it again).
    const std::string checksum = checksum_fd(fd.get(), size, &observer);
    EncodeOptions options = base_options;
    options.original_checksum = checksum;
    options.name = name;
    options.prefix = s.prefix;
    options.created_ns = segment.created_ns;
    options.base = segment.base;
    const uint64_t encoded_size = send_checked(
        target, s, fd.get(), size, options, key,
        "the segment '" + name + "' changed while it was sent, so it was not kept off-site", observer);
    SegmentObject o;
    o.name = name;
    o.object_bytes = static_cast<int64_t>(encoded_size);
    o.original_bytes = static_cast<int64_t>(size);
    o.created_ns = segment.created_ns;
    o.base = segment.base;
    o.checksum = checksum;
    o.last_point_ns = segment.last_point_ns;
    o.uploaded_at = now_seconds();
    return o;
}

std::vector<GenerationSpan> spans_of(const LocalTimeline& local, const SegmentIndex& index) {
    std::vector<GenerationSpan> spans = local.generations;
    for (const auto& o : index.segments)
        spans.push_back({o.base, o.created_ns, false});
    return spans;
}

SegmentSyncResult run_segment_sync(const Settings& s, const Dir& dir, const LocalTimeline& local,
                                   bool list_target, SegmentIndex& index, Observer& observer) {
    const std::optional<Key> key = load_key(s);
    auto target = open_offsite_target(s);
    std::map<std::string, const LocalSegment*> by_name;
    for (const auto& segment : local.segments)
        by_name.emplace(segment.name, &segment);
    SegmentSyncResult result;
    std::vector<ForeignObject> foreign;
    if (list_target) {
        Survey found = survey(*target, s, index, by_name, key, true, observer);
        index.segments = std::move(found.authenticated);
        foreign = std::move(found.foreign);
        index.foreign = static_cast<int64_t>(foreign.size());
    }
    // Past the window, wherever they are: never sent (the capturer deletes
    // them here soon). Deleted off-site: those of them no longer here.
    const int64_t cutoff = now_nanoseconds() - s.pitr_hours * 3600 * kNs;
    std::vector<GenerationSpan> spans = spans_of(local, index);
    std::set<std::string> past = generations_past_window(spans, cutoff);
    for (auto& span : spans)
        span.local = false;
    const std::set<std::string> past_anywhere = generations_past_window(spans, cutoff);

    // Sends, oldest first: a generation's points are usable up to its first missing file.
    const EncodeOptions options = encode_options(s, key);
    const std::string where = describe_target(s);
    for (const auto& segment : local.segments) {
        if (!segment.closed || past_anywhere.count(segment.base) || index.find(segment.name)) continue;
        try {
            index.segments.push_back(send_segment(*target, s, dir, segment, options, key, observer));
            ++result.sent;
        } catch (const std::exception& e) {
            if (result.error.empty())
                result.error =
                    "sending the segment '" + segment.name + "' to " + where + " failed: " + message_of(e);
            if (target_problem(e) || observer.stop_requested()) break;
            // A segment after one that failed is still sent: the next sync fills the hole.
        }
    }
    // The old generations, once everything kept is there.
    if (result.error.empty() && !past.empty()) {
        std::vector<SegmentObject> kept;
        for (auto& o : index.segments) {
            if (!past.count(o.base)) {
                kept.push_back(std::move(o));
                continue;
            }
            try {
                checked_header(*target, s, o.name, o.created_ns, o.base, key);
                target->remove(object_name(o.name));
                ++result.deleted;
            } catch (const Error& e) {
                if (e.kind() == ErrorKind::not_found) continue; // gone already
                if (is_data_problem(e.kind())) {
                    foreign.push_back({object_name(o.name), reason_of(e)}); // not ours any more: left alone
                    continue;
                }
                result.error =
                    "deleting the old off-site segment '" + object_name(o.name) + "' failed: " + e.what();
                kept.push_back(std::move(o));
            }
        }
        index.segments = std::move(kept);
    }
    std::stable_sort(
        index.segments.begin(), index.segments.end(),
        [](const SegmentObject& a, const SegmentObject& b) { return a.created_ns < b.created_ns; });
    log_foreign(foreign);
    result.objects = static_cast<int64_t>(index.segments.size());
    result.foreign = index.foreign;
    return result;
}

} // namespace

SegmentIndex read_segment_index(const Dir& dir, const Settings& s) {
    const auto text = dir.read_small_file(segment_index_file_name(s.prefix), kMaxIndexBytes);
    if (!text) return {};
    try {
        SegmentIndex index = parse_segment_index(*text);
        if (index.target != s.offsite) return {}; // written for another target
        return index;
    } catch (const Error&) {
        return {}; // rewritten by the next sync
    }
}

SegmentSyncResult sync_segments(const Settings& s, const LocalTimeline& local, bool list_target,
                                Observer& observer) noexcept {
    SegmentSyncResult result;
    if (s.offsite.empty()) return result;
    try {
        Dir dir = Dir::open_backup_dir(s.dir, false);
        FileLock lock(dir, kSegmentLockName, -1, &observer,
                      "another off-site sync of the timeline is running");
        SegmentIndex index = read_segment_index(dir, s);
        index.target = s.offsite;
        try {
            result = run_segment_sync(s, dir, local, list_target, index, observer);
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
            return result; // capture is stopping: the next sync sends it
        } else {
            index.last_error = result.error;
            index.last_error_at = now_seconds();
        }
        write_segment_index(dir, s, index);
    } catch (const std::exception& e) {
        if (result.error.empty()) result.error = e.what();
    } catch (...) {
        if (result.error.empty()) result.error = "internal error";
    }
    if (!result.error.empty() && !observer.stop_requested())
        sqlite3_log(
            SQLITE_WARNING,
            "wecare_backup: the off-site copy of the timeline failed (the segments here are fine): %s",
            result.error.c_str());
    return result;
}

std::set<std::string> kept_timeline_bases(const Settings& s, const Dir& dir, const LocalTimeline& local,
                                          int64_t now_ns) {
    std::set<std::string> bases;
    for (const auto& g : local.generations)
        bases.insert(g.base);
    if (s.offsite.empty()) return bases;
    const SegmentIndex index = read_segment_index(dir, s);
    const std::set<std::string> past =
        generations_past_window(spans_of(local, index), now_ns - s.pitr_hours * 3600 * kNs);
    for (const auto& o : index.segments)
        if (!past.count(o.base)) bases.insert(o.base);
    return bases;
}

RemoteTimeline survey_timeline(const Settings& s, const Dir& dir, Observer& observer) {
    const std::optional<Key> key = load_key(s);
    auto target = open_offsite_target(s);
    FileLock lock(dir, kSegmentLockName, -1, &observer, "another off-site sync of the timeline is running");
    SegmentIndex index = read_segment_index(dir, s);
    index.target = s.offsite;
    Survey found = survey(*target, s, index, {}, key, true, observer);
    log_foreign(found.foreign);
    index.segments = found.authenticated;
    index.foreign = static_cast<int64_t>(found.foreign.size());
    write_segment_index(dir, s, index);
    return {std::move(found.authenticated), std::move(found.foreign)};
}

SegmentDownload download_segment(const Settings& s, const SegmentObject& segment, int out_fd,
                                 Observer& observer) {
    const std::optional<Key> key = load_key(s);
    auto target = open_offsite_target(s);
    const Decoded got = decode_remote(
        *target, object_name(segment.name), key, identity(s, segment.name, segment.created_ns, segment.base),
        observer, [&](const uint8_t* p, size_t n, uint64_t at) {
            write_all_at(out_fd, p, n, at, "writing the fetched segment failed");
            observer.progress(static_cast<int64_t>(at + n), 0);
        });
    check_segment_base(s, segment.name, got.header);
    SegmentDownload d;
    d.bytes = got.bytes;
    d.checksum = got.checksum;
    d.header_checksum = got.header.original_checksum;
    d.header_size = got.header.original_size;
    return d;
}

} // namespace wb::offsite
