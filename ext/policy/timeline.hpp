// The timeline of continuous capture: which instants can be restored, from
// which base backup and restore points, and where the gaps are. Pure: the
// headers of the segment files in, ranges, gaps and decisions out.
//
// A generation is a base backup and the restore points captured after it
// (policy/segment_format.hpp), over segment files numbered from 0. Its first
// file says why the previous generation ended; a later file may say why
// capture did not continue without a break (the capturer was off, and the
// database was then proven unchanged: same base, a gap all the same).
//
// Ranges and gaps, oldest first:
//   range  from_at = when the generation (or the part after a gap) started,
//          to_at = its last point's capture time; every instant in it can be
//          restored, to the last point captured at or before it.
//   gap    between two ranges whose boundary has a reason; no instant in it
//          can be restored. Between two ranges without one (a new base taken
//          while capture ran) the state is the earlier range's last point.
// Gap reasons (the README lists them):
//   capture_off  capture was not running (stopped, or its process died and no
//                standby took over before the log was reset): what was
//                committed meanwhile is not known
//   wal_reset    the write-ahead log was reset or rewritten by someone else
//                while capture ran, so frames may have been lost
//   restored     the database was restored from a backup; the timeline
//                starts again at the base taken after it
#pragma once
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace wb {

struct TimelinePoint {
    int64_t captured_ns = 0;
    uint64_t before = 0;
    uint64_t after = 0;
    uint32_t page_count = 0;
    uint32_t entries = 0;
    size_t file = 0;     // index into TimelineGeneration::files
    uint64_t offset = 0; // of the point in its file
    // Where it ends in the write-ahead log (capture continues from there).
    uint32_t salt1 = 0;
    uint32_t salt2 = 0;
    uint32_t last_frame = 0;
    uint32_t wal_checksum1 = 0;
    uint32_t wal_checksum2 = 0;
};

struct TimelineFile {
    std::string name;
    uint32_t sequence = 0;
    int64_t created_ns = 0;
    std::string reason; // why capture did not continue into it without a break ("" = it did)
    uint64_t bytes = 0;
    size_t first_point = 0; // index of its first point in the generation
    // Where capture started in it (policy/segment_format.hpp SegmentHeader).
    uint32_t salt1 = 0;
    uint32_t salt2 = 0;
    uint32_t frame = 0;
    uint32_t checksum1 = 0;
    uint32_t checksum2 = 0;
};

struct TimelineGeneration {
    uint64_t id = 0;
    std::string base; // the base backup's name
    uint64_t base_checksum = 0;
    int64_t base_created_ns = 0; // its base's record's created_ns (policy/segment_format.hpp)
    uint32_t page_size = 0;
    int64_t started_ns = 0;
    std::vector<TimelineFile> files; // by sequence
    std::vector<TimelinePoint> points;
    std::vector<std::string> problems; // files missing from the sequence, damaged headers
};

struct TimelineRow {
    std::string kind; // "range" or "gap"
    int64_t from_ns = 0;
    int64_t to_ns = 0;
    std::string base;     // ranges: the base backup
    int64_t segments = 0; // ranges: segment files
    uint64_t bytes = 0;   // ranges: the segments' bytes
    std::string gap_reason;
    // ranges: the generation, and the points [first, last] (last < first: base only)
    size_t generation = 0;
    size_t first_point = 0;
    size_t end_point = 0; // one past the last point
};

// `generations` ordered by start, oldest first.
std::vector<TimelineRow> timeline_rows(const std::vector<TimelineGeneration>& generations);

struct RestoreTarget {
    size_t generation = 0;
    size_t points = 0;      // how many of its points to apply (0 = the base alone)
    int64_t reached_ns = 0; // the instant restored: the last point's capture time (or the range's start)
};

constexpr int64_t kLatest = INT64_MAX;

// Where `at_ns` (or kLatest) restores to. Throws Error naming the nearest
// restorable instants when it is before the oldest, after the newest, or in
// a gap. Compared at the microsecond, the precision times are listed and
// taken in: a time names the state at the end of its microsecond, so every
// time the timeline lists restores to itself (a point stamped 12.3456789 s is
// listed as 12.345678 and reached from that time on).
RestoreTarget resolve_time(const std::vector<TimelineGeneration>& generations, int64_t at_ns);

// The generations whose every instant is older than `cutoff_ns` (now minus
// pitr_hours): each one followed by a generation that started at or before
// the cutoff, so any instant from the cutoff on restores from a later one.
// `current` (the one capture writes to) is never among them.
std::vector<size_t> generations_to_prune(const std::vector<TimelineGeneration>& generations, uint64_t current,
                                         int64_t cutoff_ns);

// A generation as the pitr window sees it, wherever its segments are (the
// backup directory, off-site, or both). It is named by its base backup: every
// generation starts from a backup of its own (a new base is always a new
// backup, and a name is never reused), and the off-site header of a segment
// names that base, so the generations off-site are known without a download.
struct GenerationSpan {
    std::string base;
    int64_t started_ns = 0;
    bool local = false; // some of its segments are in the backup directory
};

// The generations the pitr window no longer needs, by base: those after
// which a later generation started at or before `cutoff_ns` (now minus
// pitr_hours), so every instant they restore is older than the window. This
// is the rule the capturer deletes local segments by; off-site, a generation
// still local is never in the result (the capturer prunes it first, and a
// base kept here must find its segments off-site). Spans of one base are one
// generation (the earliest start counts; local if any is).
std::set<std::string> generations_past_window(const std::vector<GenerationSpan>& spans, int64_t cutoff_ns);

// UTC, as `'YYYY-MM-DDTHH:MM:SS[.f...]Z'` (0 to 9 fractional digits), SQLite's
// `'YYYY-MM-DD HH:MM:SS[.fff]'`, or `'latest'` (kLatest); nullopt when it is
// none of them.
std::optional<int64_t> parse_time_ns(std::string_view text);
// `'YYYY-MM-DDTHH:MM:SS.ffffffZ'` (microseconds).
std::string format_time_ns(int64_t ns);

} // namespace wb
