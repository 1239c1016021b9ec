// Continuous capture and point-in-time restore: wecare_backup_continuous,
// wecare_backup_restore_at, wecare_backup_timeline, wecare_backup_verify('timeline').
//
// The capturer belongs to the connection that started it (like the
// scheduler) and runs on its own thread with its own private connections.
// One process captures a database at a time: the lease is a lock on
// `.<prefix>.capture.lock` in the backup directory; the others stand by and
// take over within two intervals when its holder dies. The capture's settings
// travel with the lease (`.<prefix>.capture`), so a standby that takes over
// keeps them.
//
// A capture session (holding the lease):
//   * start: the timeline's last point is continued when the write-ahead log
//     still holds it (same salts, same checksum at that frame); else, when
//     the database is proven unchanged since (every page hashed and compared),
//     it continues after a gap "capture_off"; else a new base backup starts a
//     new generation (an increment when a chain qualifies, so restarts never
//     cost a full copy).
//   * each tick (every interval/2): when the log has new commits, a new pin
//     (engine/capture.hpp) is taken, the frames up to it become one restore
//     point, durable, and then the old pin ends. An idle database writes
//     nothing.
//   * the log is kept below wal_max_bytes: a passive checkpoint, then, under
//     a short write lock, capture of the last frames, a second checkpoint and
//     a pin at mark 0, so the next writer restarts the log.
//   * a restore (of this tool, in any process) leaves a marker
//     (`.<prefix>.restoring`, with where the log was); its transaction is not
//     captured: the timeline restarts with a base taken after it (gap
//     "restored").
//   * every pitr_hours/4 a new base folds the points into a backup; segments
//     of generations entirely older than pitr_hours are deleted.
//   * with `offsite` set, the open segment file is closed every
//     offsite_interval seconds while it holds points (a new file follows
//     it), and the shipper sends what was closed (offsite/segments.hpp).
//
// The shipper is a second thread of the capturer, so an upload never holds
// capture back (nor the log's bound): woken when a file closes (and when a
// session starts, to send what an earlier one left), it sends the closed
// segments missing off-site and, first, the base backups they need when the
// off-site index lacks one (unless a backup's sync is running: that one
// sends them); a failed run is tried again every offsite_interval. Only the
// process that holds the lease ships; every regular backup's off-site sync
// sends the closed segments too (sync_offsite, command/shared.hpp).
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "command/commands.hpp"
#include "command/context.hpp"
#include "policy/timeline.hpp"

namespace wb {

struct CaptureStatus {
    std::string state = "stopped"; // stopped, capturing, standby
    int64_t interval_ms = 0;
    int64_t lag_ms = 0;                      // since the log was last seen fully captured
    std::optional<int64_t> last_captured_ns; // the newest restore point
    int64_t segments = 0;                    // segment files of the timeline
    int64_t wal_bytes = 0;                   // the write-ahead log's size
    int64_t checkpoints = 0;                 // run by this capturer
    int64_t gaps = 0;                        // in the timeline
    int64_t points = 0;                      // captured by this capturer
    std::string last_error;                  // "" = none
};

// The capture settings that travel with the lease.
struct CaptureSettings {
    int64_t interval_ms = 1000;
    int64_t wal_max_bytes = int64_t{64} << 20;
    int64_t pitr_hours = 24;
    int64_t offsite_interval = 10;
};

class Capturer {
  public:
    using ContextSource = std::function<OperationContext()>;
    Capturer() = default;
    ~Capturer() { stop(); }
    Capturer(const Capturer&) = delete;
    Capturer& operator=(const Capturer&) = delete;

    // Starts (or re-times) capture; returns the state code (1 capturing,
    // 2 standing by) once the first attempt to take the lease was made.
    int start(int64_t interval_ms, ContextSource source);
    // Stops: a last capture, then the pins and the lease are released.
    void stop();
    // 0 stopped, 1 capturing, 2 standing by.
    int state_code() const;
    CaptureStatus status() const;

  private:
    void loop();
    void ship_loop();

    mutable std::mutex mu_;
    std::condition_variable wake_;
    std::thread thread_;
    std::thread shipper_;
    // Under mu_: the settings of the session capturing now (none: nothing to
    // ship), a count of sessions, and whether a file was closed since the
    // shipper last ran.
    std::optional<CaptureSettings> session_;
    uint64_t sessions_ = 0;
    bool ship_wanted_ = false;
    std::atomic<bool> stopping_{false};
    bool started_ = false; // the first attempt at the lease was made
    ContextSource source_;
    CaptureStatus status_;
};

// The timeline off-site, as the last sync of its segments left the segment
// index (never the network): for stats.continuous.
struct TimelineOffsite {
    int64_t segments = 0;                 // segment objects that authenticated
    int64_t foreign = 0;                  // objects named like segments that did not
    std::optional<int64_t> last_point_ns; // the newest restore point off-site
    std::optional<int64_t> last_success_at;
    std::string last_error; // "" = none
};
TimelineOffsite timeline_offsite_status(const OperationContext& ctx);

// The timeline's rows (policy/timeline.hpp), for wecare_backup_timeline.
std::vector<TimelineRow> timeline_rows_of(const OperationContext& ctx);

struct RestoreAtOutcome {
    std::string restored_to; // the instant reached
    std::string base;
    int64_t segments = 0; // segment files read
    std::string safety_backup;
    int64_t pages = 0;
};
// Restores the database to `time` (see policy/timeline.hpp parse_time_ns).
RestoreAtOutcome restore_at(const OperationContext& ctx, const std::string& time, bool caller_reading);
// The same for a damaged or missing database file (wecare_backup_recover with a time).
RestoreAtOutcome recover_at(const OperationContext& ctx, const std::string& time);

struct TimelineCheck {
    bool ok = true;
    int64_t ranges = 0;
    int64_t gaps = 0;
    int64_t points = 0;
    std::vector<std::string> errors;
    std::optional<VerifyOutcome> latest; // the full verification of the latest point
};
TimelineCheck verify_timeline(const OperationContext& ctx);
std::string timeline_check_json(const TimelineCheck& check);

// Restores of this tool call it under the database's write lock, before they
// write: where the log is now, so a capturer (in any process) does not
// capture the restore's transaction as a restore point. A marker of an
// earlier restore that committed and that capture has not recorded yet, in
// the same log, keeps its place: capture then records both restores as one
// gap, and captures neither transaction. Never throws.
void mark_restore(const OperationContext& ctx, const Dir& dir, const std::string& what) noexcept;
// After the restore committed (still under the backup lock). Never throws.
void note_restore_committed(const OperationContext& ctx, const Dir& dir) noexcept;
// After a restore that failed and was rolled back.
void unmark_restore(const OperationContext& ctx, const Dir& dir) noexcept;

} // namespace wb
