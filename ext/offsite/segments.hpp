// The timeline of continuous capture off-site: its segment files shipped as
// they close, checked like backups, pruned with the pitr window, and brought
// back by wecare_backup_fetch('timeline'). The commands (command/continuous,
// command/create, command/fetch) describe the local timeline (LocalTimeline)
// and call these; nothing here reads a segment's points.
//
// What leaves the machine is `<segment name>.wcbk`: the segment file
// compressed and encrypted exactly as a backup is (codec.hpp, format 2). Its
// authenticated header binds the segment's name, the database's prefix, the
// segment's creation time (from its own header), its size, its xxh3t checksum
// (computed when it is sent: a closed segment never changes) and, as the
// "base", its generation's base backup. So the generations off-site, and the
// base backups they need, are known from the headers alone, and nobody
// without the key can move a segment to another name or generation. An object
// named like a segment of this database that does not authenticate as that
// segment is foreign: never counted, never fetched, never deleted; each sync
// names it in sqlite3_log.
//
// Which segments are sent: the closed ones. A segment is closed once the
// capturer has moved on from it (a later file of its generation, or a later
// generation, exists): nothing is ever appended to it again, so its object
// never has to change. The capturer closes its file every offsite_interval
// seconds while there is something in it, so what it captured is off-site
// within about offsite_interval seconds plus the upload (command/continuous).
//
//   sync_segments(settings, local, list_target, observer)
//     1. lists the target (list_target: a full check, as after each backup;
//        the capturer's own syncs trust the index), checks the header of
//        every segment object the index does not vouch for (the same name,
//        size and last-modified stamp as when it authenticated);
//     2. applies the pitr window (policy/timeline.hpp generations_past_window)
//        to the generations here and off-site together;
//     3. sends every closed local segment missing off-site, oldest first,
//        unless its generation is past the window, each read back whole
//        before it counts (a copy that does not check out is deleted);
//     4. when everything was sent, deletes the segments of the generations
//        past the window that are no longer here (each header checked again
//        just before: a foreign object is never deleted);
//     5. rewrites the segment index (index.hpp), which stats reads.
// It holds its own lock (kSegmentLockName), not the backups' sync lock, so a
// long upload of a backup never holds the timeline back.
//
// The base backups: while a generation is kept (here, or off-site and inside
// the window), its base backup is kept by the off-site rules as "timeline
// base" (kept_timeline_bases, given to offsite::sync), so it is sent if
// missing and never deleted.
#pragma once
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "common/observer.hpp"
#include "offsite/index.hpp"
#include "policy/settings.hpp"
#include "policy/timeline.hpp"
#include "store/dir.hpp"

namespace wb::offsite {

// Serialises the syncs of the timeline's segments of one backup directory.
constexpr const char* kSegmentLockName = ".wecare_offsite_segments.lock";

// A segment file of the backup directory, as its header and points say.
struct LocalSegment {
    std::string name;
    std::string base; // its generation's base backup
    int64_t created_ns = 0;
    int64_t last_point_ns = 0; // its newest restore point; 0 = none
    bool closed = false;       // nothing will be appended to it: it may be sent
};

// The timeline in the backup directory.
struct LocalTimeline {
    std::vector<LocalSegment> segments;      // oldest first (generation, then sequence)
    std::vector<GenerationSpan> generations; // local = true
};

struct SegmentSyncResult {
    int64_t sent = 0;
    int64_t deleted = 0;
    int64_t objects = 0; // segment objects off-site after the sync
    int64_t foreign = 0;
    std::string error; // "" = everything sent and checked
};

// Sends the closed segments missing off-site and prunes the old ones (see
// above). Does nothing when `offsite` is ''. Failures are returned (recorded in
// the segment index and sqlite3_log), never thrown: capture goes on.
SegmentSyncResult sync_segments(const Settings& settings, const LocalTimeline& local, bool list_target,
                                Observer& observer) noexcept;

// The segment index of `dir` for the current target; empty when it was written
// for another target or cannot be read.
SegmentIndex read_segment_index(const Dir& dir, const Settings& settings);

// The base backups the off-site rules must keep for the timeline: that of
// every local generation, and of every generation in the segment index that
// the pitr window (settings.pitr_hours before `now_ns`) keeps.
std::set<std::string> kept_timeline_bases(const Settings& settings, const Dir& dir,
                                          const LocalTimeline& local, int64_t now_ns);

struct ForeignObject {
    std::string name; // the object's name
    std::string reason;
};

// What the target holds of this database's timeline.
struct RemoteTimeline {
    std::vector<SegmentObject> segments; // authenticated, oldest first
    std::vector<ForeignObject> foreign;
};

// Lists the target and checks the header of every segment object the index
// does not vouch for, then records what authenticated in the segment index.
// For wecare_backup_fetch('timeline'), which then reads each object whole.
RemoteTimeline survey_timeline(const Settings& settings, const Dir& dir, Observer& observer);

// Streams the object of `segment` (as survey_timeline found it) through the
// decoder into `out_fd` from offset 0; it must authenticate as that segment.
// Throws as download() does (sync.hpp). The caller compares the checksums.
struct SegmentDownload {
    uint64_t bytes = 0;
    std::string checksum;        // xxh3t of the decoded bytes
    std::string header_checksum; // the checksum the authenticated header carries
    uint64_t header_size = 0;    // the size it announces
};
SegmentDownload download_segment(const Settings& settings, const SegmentObject& segment, int out_fd,
                                 Observer& observer);

} // namespace wb::offsite
