// Continuous capture and point-in-time restore (see continuous.hpp).
#include "command/continuous.hpp"

#include <chrono>
#include <random>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include "command/shared.hpp"
#include "common/clock.hpp"
#include "engine/capture.hpp"
#include "engine/chain.hpp"
#include "engine/live_snapshot.hpp"
#include "engine/recover.hpp"
#include "engine/restore.hpp"
#include "engine/timeline.hpp"
#include "offsite/segments.hpp"
#include "offsite/sync.hpp"
#include "policy/json.hpp"
#include "policy/naming.hpp"
#include "policy/record.hpp"
#include "policy/text.hpp"
#include "store/checksum.hpp"
#include "store/lock.hpp"
#include "store/temp_file.hpp"

namespace wb {

namespace {

constexpr int64_t kNs = 1000000000;
constexpr uint64_t kMaxSegmentBytes = uint64_t{64} << 20;
constexpr int64_t kDefaultRollSeconds = 60;
constexpr int64_t kMaintenanceEveryNs = 10 * kNs;
constexpr int64_t kMinGapBaseIntervalNs = 60 * kNs; // at most one base after a gap a minute

std::string lease_lock_name(const std::string& prefix) {
    return "." + prefix + ".capture.lock";
}
std::string lease_file_name(const std::string& prefix) {
    return "." + prefix + ".capture";
}
std::string marker_name(const std::string& prefix) {
    return "." + prefix + ".restoring";
}

uint64_t random_id() {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

uint64_t xor_of(const std::vector<uint64_t>& hashes) {
    uint64_t sum = 0;
    for (uint64_t h : hashes)
        sum ^= h;
    return sum;
}

// "key=value" lines after a first line `magic`.
std::optional<std::vector<std::pair<std::string, std::string>>>
read_lines(const Dir& dir, const std::string& name, const std::string& magic) {
    const auto text = dir.read_small_file(name, 4096);
    if (!text || text->rfind(magic + "\n", 0) != 0) return std::nullopt;
    std::vector<std::pair<std::string, std::string>> out;
    try {
        for_each_key_value(std::string_view(*text).substr(magic.size() + 1), name,
                           [&](std::string_view k, std::string_view v) { out.emplace_back(k, v); });
    } catch (const Error&) {
        return std::nullopt;
    }
    return out;
}

int64_t to_int(const std::string& text) {
    try {
        return std::stoll(text);
    } catch (...) {
        return 0;
    }
}

// Where a restore started in the log (see mark_restore), and, once capture
// has begun recording it, the generation that does (0 = none yet): a capturer
// killed between starting that generation and removing the marker must not
// record the same restore again.
struct RestoreMarker {
    uint32_t salt1 = 0;
    uint32_t salt2 = 0;
    uint32_t frame = 0;
    std::string what; // as written (escaped)
    uint64_t generation = 0;
    bool committed = false; // the restore committed (a marker without it: running, or killed)

    // The same place in the log (a later restore may have kept the place and
    // changed `what`).
    bool same_restore(const RestoreMarker& o) const {
        return salt1 == o.salt1 && salt2 == o.salt2 && frame == o.frame;
    }
};

std::optional<RestoreMarker> read_marker(const Dir& dir, const std::string& prefix) {
    const auto lines = read_lines(dir, marker_name(prefix), "wecare_backup_restoring 1");
    if (!lines) return std::nullopt;
    RestoreMarker m;
    for (const auto& [k, v] : *lines) {
        if (k == "salt1") m.salt1 = static_cast<uint32_t>(to_int(v));
        if (k == "salt2") m.salt2 = static_cast<uint32_t>(to_int(v));
        if (k == "frame") m.frame = static_cast<uint32_t>(to_int(v));
        if (k == "what") m.what = v;
        if (k == "committed") m.committed = v == "1";
        if (k == "generation") {
            try {
                m.generation = std::stoull(v);
            } catch (...) {
                m.generation = 0;
            }
        }
    }
    return m;
}

std::string marker_text(const RestoreMarker& m) {
    std::string text = "wecare_backup_restoring 1\nsalt1=" + std::to_string(m.salt1) +
                       "\nsalt2=" + std::to_string(m.salt2) + "\nframe=" + std::to_string(m.frame) +
                       "\nwhat=" + m.what + "\n";
    if (m.committed) text += "committed=1\n";
    if (m.generation != 0) text += "generation=" + std::to_string(m.generation) + "\n";
    return text;
}

// Whether no create, cleanup or restore holds the backup lock now.
bool backup_lock_free(const Dir& dir) {
    try {
        FileLock probe(dir, kBackupLockName, 0, nullptr, "busy");
        return true;
    } catch (const Error&) {
        return false;
    }
}

// Whether frames (after, commit] of `scan` hold every page of the database
// (a restore writes them all), but the lock-byte page.
bool writes_every_page(const WalScan& scan, uint32_t after, size_t commit_index) {
    const uint32_t commit = scan.commits[commit_index];
    const uint32_t size = scan.commit_size[commit_index];
    std::vector<bool> seen(static_cast<size_t>(size) + 1, false);
    uint32_t count = 0;
    for (uint32_t f = after + 1; f <= commit; ++f) {
        const uint32_t page = scan.pages[f - scan.from - 1];
        if (page <= size && !seen[page]) {
            seen[page] = true;
            ++count;
        }
    }
    return count + 1 >= size; // all, or all but the lock-byte page
}

// ---------------------------------------------------------------- a session

// What the shipper's syncs are handed: they stop when capture stops, and
// report no progress (a send every few seconds would take stats' progress
// from whatever else runs).
class StopObserver : public Observer {
  public:
    explicit StopObserver(const std::atomic<bool>& stop) : stop_(stop) {}
    void phase(const std::string&) override {}
    void progress(int64_t, int64_t) override {}
    bool stop_requested() override { return stop_.load(); }
    std::string stop_reason() const override { return "cancelled: capture is stopping"; }

  private:
    const std::atomic<bool>& stop_;
};

// Capture while this process holds the lease.
class Session {
  public:
    // `closed` is called (on this thread) each time a segment file is closed
    // while off-site copies are on: the shipper then sends it.
    Session(const OperationContext& ctx, const CaptureSettings& cs, const std::atomic<bool>& stopping,
            std::function<void()> closed)
        : ctx_(ctx), cs_(cs), progress_(ctx.settings.dir, "continuous", false, &stopping, nullptr),
          dir_(Dir::open_backup_dir(ctx.settings.dir, ctx.dir_is_default)),
          pin_(std::make_unique<WalPin>(ctx.db_path, ctx.settings.busy_timeout_ms)),
          closed_(std::move(closed)) {
        Statement mode(pin_->connection(), "PRAGMA journal_mode");
        if (!mode.step() || mode.column_text(0) != "wal")
            throw Error("continuous capture needs the database in WAL mode; switch it once with "
                        "PRAGMA journal_mode=WAL (it stays in WAL mode)",
                        ErrorKind::misuse);
        resume(Timeline::open(dir_, ctx.settings.prefix));
    }

    // One poll: capture what was committed since the last one.
    void tick() {
        progress_.check();
        // Made group- or world-writable while capture runs, the directory is
        // refused as every other function refuses it: no point lands there.
        require_private_directory(dir_.fd(), ctx_.settings.dir, "the backup directory");
        const auto now_index = pin_->index_now();
        if (!now_index) return;
        const bool idle = now_index->salt1 == cursor_.salt1 && now_index->salt2 == cursor_.salt2 &&
                          now_index->max_frame == cursor_.frame;
        if (!idle || read_marker(dir_, ctx_.settings.prefix)) capture_to_new_pin();
        if (!pending()) caught_up_ns_ = now_nanoseconds();
        close_if_due();
        maintain();
    }

    // The last capture before the session ends. With off-site copies on, the
    // file that holds points is closed too (a successor, empty, follows it),
    // so the next off-site sync, of any process, sends it; the next session
    // continues in the empty one (continue_generation).
    void finish() {
        capture_to_new_pin();
        if (shipping() && writer_ && file_points_ > 0) open_file("");
    }

    int64_t points() const { return points_; }
    int64_t checkpoints() const { return checkpoints_; }
    std::optional<int64_t> last_point_ns() const { return last_point_ns_; }
    int64_t caught_up_ns() const { return caught_up_ns_; }
    int64_t wal_bytes() const { return wal_bytes_; }

  private:
    const std::string& prefix() const { return ctx_.settings.prefix; }
    bool shipping() const { return !ctx_.settings.offsite.empty(); }

    // With off-site copies on, the open file is closed once it holds a point
    // and is offsite_interval old: a closed file never changes, so it can be
    // sent as it is, and what was captured is off-site within about
    // offsite_interval (plus the upload). An idle database closes nothing.
    void close_if_due() {
        if (!shipping() || !writer_ || file_points_ == 0 ||
            now_nanoseconds() - writer_->created_ns() < cs_.offsite_interval * kNs)
            return;
        open_file("");
        closed_();
    }

    bool pending() const {
        const auto h = pin_->index_now();
        return h &&
               !(h->salt1 == cursor_.salt1 && h->salt2 == cursor_.salt2 && h->max_frame == cursor_.frame);
    }

    // Where capture continues after `position` (a snapshot's place in the log).
    WalCursor cursor_at(const WalIndexHeader& position) const {
        WalCursor c{position.salt1, position.salt2, position.max_frame, {}};
        try {
            const WalFrames wal(ctx_.db_path);
            if (wal.header().salt1 != c.salt1 || wal.header().salt2 != c.salt2) {
                if (c.frame > 0) throw Error("the log changed; try again", ErrorKind::busy);
                return c; // nothing of this log counts yet: any log continues from here
            }
            const auto checksum = wal.checksum_at(c.frame);
            if (!checksum) throw Error("the log changed; try again", ErrorKind::busy);
            c.checksum = *checksum;
        } catch (const Error& e) {
            // With nothing of the log in the snapshot, whatever log there is continues it.
            if (c.frame > 0 || e.kind() == ErrorKind::interrupted) throw;
        }
        return c;
    }

    // Starts capture from the timeline on disk (see continuous.hpp).
    void resume(const Timeline& tl) {
        std::optional<RestoreMarker> marker = read_marker(dir_, prefix());
        if (marker && marker->generation != 0 && in_timeline(tl, marker->generation)) {
            forget_marker_of(marker->generation); // that restore is recorded already
            marker.reset();
        }
        const bool restored = marker.has_value();
        const RestoreMarker* answering = restored ? &*marker : nullptr;
        if (tl.empty()) return new_generation("", false);
        const size_t gi = tl.generations().size() - 1;
        const TimelineGeneration& g = tl.generations()[gi];
        if (!g.problems.empty() || g.files.empty())
            return new_generation(restored ? "restored" : "capture_off", false, answering);
        try {
            const Chain chain = Chain::open(dir_, prefix(), g.base);
            if (!of_this_timeline(g, chain)) throw Error(foreign_generation(g));
            if (!chain.check().empty()) throw Error("its base does not check out");
            hashes_ = tl.hashes_after(gi, g.points.size(), chain.page_hashes());
            page_size_ = chain.page_size();
        } catch (const Error& e) {
            if (e.kind() == ErrorKind::interrupted) throw;
            return new_generation(restored ? "restored" : "capture_off", false, answering);
        }
        const uint64_t expected = g.points.empty() ? g.base_checksum : g.points.back().after;
        if (hashes_.empty() || xor_of(hashes_) != expected)
            return new_generation(restored ? "restored" : "capture_off", false, answering);
        generation_ = g.id;
        base_ = g.base;
        base_checksum_ = g.base_checksum;
        base_created_ns_ = g.base_created_ns;
        generation_started_ns_ = g.started_ns;
        sequence_ = g.files.back().sequence + 1;
        points_in_generation_ = static_cast<int64_t>(g.points.size());
        const TimelineFile& last_file = g.files.back();
        WalCursor last{
            last_file.salt1, last_file.salt2, last_file.frame, {last_file.checksum1, last_file.checksum2}};
        if (!g.points.empty() && g.points.back().file + 1 == g.files.size()) {
            const TimelinePoint& p = g.points.back();
            last = {p.salt1, p.salt2, p.last_frame, {p.wal_checksum1, p.wal_checksum2}};
        }
        try {
            const WalFrames wal(ctx_.db_path);
            const WalIndexHeader& pinned = pin_->header();
            // Frame 0: nothing of that log was in the base; the same log (same
            // salts: no restart since) holds only what came after it.
            const bool same_log = wal.header().salt1 == last.salt1 && wal.header().salt2 == last.salt2;
            if ((last.frame == 0 ? same_log : wal.continues(last)) && pinned.salt1 == last.salt1 &&
                pinned.salt2 == last.salt2 && pinned.max_frame >= last.frame) {
                if (last.frame == 0) last.checksum = wal.header().checksum;
                cursor_ = last;
                return continue_generation(g); // the log still holds where capture stopped: no break
            }
        } catch (const Error& e) {
            if (e.kind() != ErrorKind::not_found && e.kind() != ErrorKind::busy) throw;
        }
        if (!restored && proves_unchanged()) return open_file_caught_up("capture_off");
        new_generation(restored ? "restored" : "capture_off", false, answering);
    }

    static bool in_timeline(const Timeline& tl, uint64_t generation) {
        for (const auto& g : tl.generations())
            if (g.id == generation) return true;
        return false;
    }

    // Whether the restore `marker` stands for is recorded already (by this
    // session or by a capturer killed before it removed the marker).
    bool answered(const RestoreMarker& marker) const {
        if (marker.generation == 0) return false;
        return marker.generation == generation_ ||
               in_timeline(Timeline::open(dir_, prefix()), marker.generation);
    }

    // Removes the marker if it still stands for the restore `generation`
    // records. Under the backup lock, so that a newer restore's marker (written
    // under it) is never removed; when the lock is busy the marker stays, and
    // is recognised as recorded later.
    void forget_marker_of(uint64_t generation) noexcept {
        try {
            FileLock probe(dir_, kBackupLockName, 0, nullptr, "busy");
            const auto now = read_marker(dir_, prefix());
            if (now && now->generation == generation) unmark_restore(ctx_, dir_);
        } catch (const std::exception&) {
            // Busy or unreadable: left for a later tick.
        }
    }

    // Capture goes on in the generation's last file when nothing was captured
    // into it yet (finish() left it empty after closing the one before it;
    // never sent, as it was never closed), else in a new file.
    void continue_generation(const TimelineGeneration& g) {
        const TimelineFile& last = g.files.back();
        if (last.first_point == g.points.size()) {
            writer_ = std::make_unique<SegmentWriter>(dir_, last.name);
            file_points_ = 0;
            return;
        }
        open_file("");
    }

    // Whether the database is exactly the timeline's last state (every page
    // hashed); on success capture continues from that snapshot.
    bool proves_unchanged() {
        LiveSnapshot::Options options;
        options.busy_timeout_ms = ctx_.settings.busy_timeout_ms;
        LiveSnapshot snap(ctx_.db_path, options);
        if (!snap.wal() || snap.page_size() != page_size_ || snap.page_count() != hashes_.size())
            return false;
        const uint32_t per_batch = std::max<uint32_t>(1, static_cast<uint32_t>((4u << 20) / page_size_));
        std::vector<uint8_t> buf(static_cast<size_t>(per_batch) * page_size_);
        for (uint32_t first = 1; first <= snap.page_count(); first += per_batch) {
            progress_.check();
            const uint32_t n = std::min(per_batch, snap.page_count() - first + 1);
            snap.read_pages(first, n, buf.data());
            if (first == 1) buf[18] = buf[19] = 1;
            for (uint32_t i = 0; i < n; ++i)
                if (page_hash(first + i, buf.data() + static_cast<size_t>(i) * page_size_, page_size_) !=
                    hashes_[first + i - 1])
                    return false;
        }
        cursor_ = cursor_at(snap.wal_position());
        return true;
    }

    // A base backup (an increment when a chain qualifies), then a new
    // generation from it. `continuous`: the current generation is first
    // captured up to the base, so the two meet exactly.
    // `answering`: the marker of the restore this generation records; the
    // marker is first rewritten (under the backup lock) to name the new
    // generation, and removed once the generation is on disk.
    void new_generation(const std::string& reason, bool continuous,
                        const RestoreMarker* answering = nullptr) {
        progress_.check();
        if (reason == "wal_reset") wait_for_gap_base_allowance();
        WalIndexHeader position;
        std::string name;
        const uint64_t id = random_id();
        bool answers = false;
        {
            // Its own progress, gone (from stats) when the base is made.
            Progress progress(ctx_.settings.dir, "create", false, ctx_.cancel, nullptr);
            FileLock lock = lock_backup_dir(dir_, ctx_.settings.busy_timeout_ms, &progress);
            if (answering) {
                auto now = read_marker(dir_, prefix());
                if (now && now->same_restore(*answering)) {
                    now->generation = id;
                    try {
                        write_file_atomic(dir_, marker_name(prefix()), marker_text(*now));
                        answers = true;
                    } catch (const Error& e) {
                        // Then the marker is removed only as before, after the generation.
                        sqlite3_log(SQLITE_WARNING,
                                    "wecare_backup_continuous: cannot update the restore marker: %s",
                                    e.what());
                    }
                }
            }
            name = create_locked(ctx_, dir_, "auto", std::string("continuous capture base"), progress,
                                 &position, true);
            record_success(ctx_.settings.dir, now_seconds());
            try {
                cleanup_locked(ctx_, dir_, name);
            } catch (const Error& e) {
                if (e.kind() == ErrorKind::interrupted) throw;
                sqlite3_log(SQLITE_WARNING, "wecare_backup_continuous: rotation failed: %s", e.what());
            }
        }
        if (continuous && writer_ && position.max_frame > 0) {
            const WalFrames wal(ctx_.db_path);
            if (wal.header().salt1 == position.salt1 && wal.header().salt2 == position.salt2) {
                const WalScan scan = wal.scan(cursor_, position.max_frame);
                if (!scan.empty()) append_point(wal, scan, 0);
            }
        }
        const Chain chain = Chain::open(dir_, prefix(), name);
        std::vector<uint64_t> base = chain.page_hashes();
        if (base.empty() || !chain.check().empty())
            throw Error("the base backup '" + name + "' cannot be read back; capture stops");
        const bool meets = continuous && writer_ && xor_of(base) == xor_of(hashes_);
        hashes_ = std::move(base);
        page_size_ = chain.page_size();
        base_ = name;
        base_checksum_ = xor_of(hashes_);
        base_created_ns_ = chain.last().record.created_ns;
        generation_ = id;
        generation_started_ns_ = now_nanoseconds();
        sequence_ = 0;
        points_in_generation_ = 0;
        cursor_ = cursor_at(position);
        const bool closes = writer_ != nullptr;
        writer_.reset();
        open_file_caught_up(continuous && !meets ? "wal_reset" : reason);
        if (answers) {
            forget_marker_of(id);
        } else if (answering) {
            unmark_restore(ctx_, dir_);
        }
        if (closes && shipping()) closed_(); // the last file of the generation before
        if (!reason.empty())
            sqlite3_log(
                SQLITE_WARNING,
                "wecare_backup_continuous: the timeline has a gap (%s); capture continues from the new "
                "base backup %s",
                reason.c_str(), name.c_str());
    }

    // Bases taken after the log was reset under capture are rate-limited
    // (Litestream's runaway snapshots: a log reset again and again must not
    // cost a backup each time): at most one a minute, whichever process took
    // the last (the timeline's newest generation says when). Until then
    // nothing is captured: the gap lasts. A restore, or a start after capture
    // was off, takes its base at once: each is one event, not a loop.
    void wait_for_gap_base_allowance() {
        const Timeline tl = Timeline::open(dir_, prefix());
        if (tl.empty()) return;
        const int64_t allowed = tl.generations().back().started_ns + kMinGapBaseIntervalNs;
        while (now_nanoseconds() < allowed) {
            progress_.check();
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }

    // A new segment file of the current generation, capture starting at the
    // cursor (created `created_ns`, now by default; `staged`: see SegmentWriter).
    void open_file(const std::string& reason, std::optional<int64_t> created_ns = std::nullopt,
                   bool staged = false) {
        SegmentHeader h;
        h.page_size = page_size_;
        h.generation = generation_;
        h.sequence = sequence_;
        h.created_ns = static_cast<uint64_t>(created_ns ? *created_ns : now_nanoseconds());
        h.base_checksum = base_checksum_;
        h.base_created_ns = base_created_ns_;
        h.salt1 = cursor_.salt1;
        h.salt2 = cursor_.salt2;
        h.frame = cursor_.frame;
        h.checksum1 = cursor_.checksum.s1;
        h.checksum2 = cursor_.checksum.s2;
        h.base = base_;
        h.reason = reason;
        const int64_t seconds = static_cast<int64_t>(h.created_ns) / kNs;
        std::string name;
        for (int n = 1; n < 100000; ++n) {
            name = segment_name(prefix(), seconds, n);
            if (!dir_.exists(name)) break;
        }
        writer_ = std::make_unique<SegmentWriter>(dir_, name, h, staged);
        ++sequence_;
        file_points_ = 0;
    }

    // A new file that starts a range (a new base, or capture after a gap)
    // holding everything committed before its start: what was committed
    // after the snapshot the cursor stands at (while a base was written, say)
    // is its first point, stamped with the file's creation time. That time is
    // read before the pin is taken, so the point holds every commit made
    // before it; the file gets its name only with the point in it, so no
    // reader ever sees the range's start without it. When the log restarted
    // since the snapshot, the next tick decides, as before.
    void open_file_caught_up(const std::string& reason) {
        const int64_t start_ns = now_nanoseconds();
        auto next = std::make_unique<WalPin>(ctx_.db_path, ctx_.settings.busy_timeout_ms);
        const WalIndexHeader& at = next->header();
        std::optional<WalFrames> wal;
        WalScan scan;
        if (at.salt1 == cursor_.salt1 && at.salt2 == cursor_.salt2 && at.max_frame > cursor_.frame) {
            try {
                wal.emplace(ctx_.db_path);
                if (wal->header().salt1 == at.salt1 && wal->header().salt2 == at.salt2)
                    scan = wal->scan(cursor_, at.max_frame);
            } catch (const Error& e) {
                if (e.kind() == ErrorKind::interrupted) throw;
                scan = WalScan{}; // the log is changing: the next tick captures it
            }
        }
        if (scan.empty()) return open_file(reason, start_ns);
        open_file(reason, start_ns, true);
        try {
            append_point(*wal, scan, 0, start_ns);
        } catch (const Error& e) {
            if (e.kind() != ErrorKind::io) throw;
            // The log lacks what its transactions wrote: the staged file goes,
            // and the next tick meets this as any tick does (a wal_reset, its
            // bases rate-limited), not a retry that takes a base each time.
            writer_.reset();
            --sequence_;
            return open_file(reason, start_ns);
        }
        writer_->publish();
        pin_ = std::move(next);
    }

    void append_point(const WalFrames& wal, const WalScan& scan, uint32_t cut,
                      std::optional<int64_t> captured_ns = std::nullopt) {
        const int64_t roll_ns = (shipping() ? cs_.offsite_interval : kDefaultRollSeconds) * kNs;
        if (file_points_ > 0 &&
            (now_nanoseconds() - writer_->created_ns() >= roll_ns || writer_->size() >= kMaxSegmentBytes)) {
            open_file("");
            if (shipping()) closed_();
        }
        const PointHeader h =
            writer_->append(wal, scan, cut, hashes_, captured_ns ? *captured_ns : now_nanoseconds());
        cursor_ = {h.salt1, h.salt2, h.last_frame, {h.wal_checksum1, h.wal_checksum2}};
        ++points_;
        ++file_points_;
        ++points_in_generation_;
        last_point_ns_ = static_cast<int64_t>(h.captured_ns);
    }

    // Takes a new pin, captures up to it, then lets the old one go.
    void capture_to_new_pin() {
        auto next = std::make_unique<WalPin>(ctx_.db_path, ctx_.settings.busy_timeout_ms);
        const WalIndexHeader& at = next->header();
        const bool same_log = at.salt1 == cursor_.salt1 && at.salt2 == cursor_.salt2;
        if (same_log && at.max_frame == cursor_.frame && !read_marker(dir_, prefix())) {
            pin_ = std::move(next);
            return;
        }
        if (!same_log) {
            // The log restarted since the cursor. That continues the history
            // only if the pin held meanwhile was at mark 0: no frame could be
            // copied into the database, so the log could restart only if
            // every frame had been copied before the pin, all captured. (A
            // pin above mark 0 stops every restart: then something else
            // rewrote the log.) The new salts may be anything: a connection's
            // first frame after another reset the log picks random ones.
            if (cursor_.frame != 0 && !pin_->at_mark_zero()) {
                pin_ = std::move(next);
                return new_generation("wal_reset", false);
            }
            if (at.max_frame == 0) {
                cursor_ = {at.salt1, at.salt2, 0, {}}; // an empty log: nothing of it yet
                pin_ = std::move(next);
                return;
            }
        }
        std::optional<WalFrames> wal;
        try {
            wal.emplace(ctx_.db_path);
        } catch (const Error& e) {
            if (e.kind() != ErrorKind::not_found) throw;
            pin_ = std::move(next); // no log: nothing was committed since it was removed
            return;
        }
        if (wal->header().salt1 != at.salt1 || wal->header().salt2 != at.salt2)
            return; // the log is being reset right now: next time
        const WalScan scan = wal->scan(cursor_, at.max_frame);
        const auto marker = read_marker(dir_, prefix());
        if (marker && handle_restore(*wal, scan, *marker, next)) return;
        if (!scan.empty()) {
            try {
                append_point(*wal, scan, 0);
            } catch (const Error& e) {
                if (e.kind() != ErrorKind::io) throw;
                pin_ = std::move(next);
                return new_generation("wal_reset", false);
            }
        }
        pin_ = std::move(next);
    }

    // A restore of this tool started at the marker's place in the log: the
    // transactions before it are captured, its own is not (a new base is
    // taken after it). Returns whether the tick is done.
    bool handle_restore(const WalFrames& wal, const WalScan& scan, const RestoreMarker& marker,
                        std::unique_ptr<WalPin>& next) {
        if (answered(marker)) {
            forget_marker_of(marker.generation);
            return false;
        }
        const bool marker_in_this_log =
            marker.salt1 == scan.header.salt1 && marker.salt2 == scan.header.salt2;
        const bool marker_in_old_log = marker.salt1 == cursor_.salt1 && marker.salt2 == cursor_.salt2 &&
                                       !marker_in_this_log && marker.frame == cursor_.frame;
        if (!marker_in_this_log && !marker_in_old_log) {
            // Not where this log is: left by a restore that ended long ago.
            if (backup_lock_free(dir_)) unmark_restore(ctx_, dir_);
            return false;
        }
        const uint32_t boundary = marker_in_this_log ? marker.frame : 0;
        size_t first_after = 0;
        while (first_after < scan.commits.size() && scan.commits[first_after] <= boundary) {
            ++first_after;
        }
        if (first_after > 0) append_point(wal, scan, scan.commits[first_after - 1]);
        if (first_after == scan.commits.size()) {
            // Not committed yet, or it failed: wait, unless nothing runs.
            if (backup_lock_free(dir_) && !read_marker(dir_, prefix())) return false;
            pin_ = std::move(next);
            return true;
        }
        const uint32_t after = first_after > 0 ? scan.commits[first_after - 1] : scan.from;
        if (!writes_every_page(scan, after, first_after)) {
            if (!backup_lock_free(dir_)) {
                pin_ = std::move(next); // maybe not the restore's: wait for it to end
                return true;
            }
            unmark_restore(ctx_, dir_); // left by a restore that failed
            return false;
        }
        pin_ = std::move(next);
        new_generation("restored", false, &marker);
        return true;
    }

    // The log's bound, the next base, old generations.
    void maintain() {
        struct stat st {};
        wal_bytes_ = ::stat((ctx_.db_path + "-wal").c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
        if (wal_bytes_ >= cs_.wal_max_bytes / 2) checkpoint_and_restart();
        const int64_t now = now_nanoseconds();
        if (now - last_maintenance_ns_ < kMaintenanceEveryNs) return;
        last_maintenance_ns_ = now;
        const int64_t fold_ns = cs_.pitr_hours * 3600 * kNs / 4;
        if (points_in_generation_ > 0 && now - generation_started_ns_ >= fold_ns) new_generation("", true);
        prune(now - cs_.pitr_hours * 3600 * kNs);
    }

    // Keeps the log below wal_max_bytes (see continuous.hpp).
    void checkpoint_and_restart() {
        if (!checkpointer_.get()) {
            checkpointer_ = Connection(ctx_.db_path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX);
            // A connection that has read nothing has not opened the log: its
            // checkpoint would do nothing.
            checkpointer_.query_int("SELECT count(*) FROM sqlite_schema");
            writer_lock_ = Connection(ctx_.db_path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX);
            sqlite3_busy_timeout(writer_lock_.get(),
                                 static_cast<int>(std::clamp<int64_t>(cs_.interval_ms, 50, 1000)));
        }
        sqlite3_wal_checkpoint_v2(checkpointer_.get(), "main", SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
        bool at_zero = false;
        {
            if (sqlite3_exec(writer_lock_.get(), "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK)
                return;
            struct Rollback {
                sqlite3* db;
                ~Rollback() { sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr); }
            } rollback{writer_lock_.get()};
            capture_to_new_pin(); // nothing can commit now
            sqlite3_wal_checkpoint_v2(checkpointer_.get(), "main", SQLITE_CHECKPOINT_PASSIVE, nullptr,
                                      nullptr);
            auto zero = std::make_unique<WalPin>(ctx_.db_path, ctx_.settings.busy_timeout_ms);
            if (zero->at_mark_zero() && zero->header().salt1 == cursor_.salt1 &&
                zero->header().salt2 == cursor_.salt2 && zero->header().max_frame == cursor_.frame) {
                pin_ = std::move(zero); // the next writer restarts the log
                at_zero = true;
            }
            ++checkpoints_;
        }
        // With the pin at mark 0 no frame can be copied into the database, so
        // a TRUNCATE checkpoint empties the log only if nothing was committed
        // since it was all captured; else it fails, harmlessly. It brings the
        // file back under the bound after a burst grew it.
        if (at_zero) {
            sqlite3_busy_timeout(checkpointer_.get(), 0);
            sqlite3_wal_checkpoint_v2(checkpointer_.get(), "main", SQLITE_CHECKPOINT_TRUNCATE, nullptr,
                                      nullptr);
        }
    }

    // Deletes the segments of generations whose every instant is older than `cutoff`.
    void prune(int64_t cutoff) {
        const Timeline tl = Timeline::open(dir_, prefix());
        const auto& gens = tl.generations();
        bool removed = false;
        for (size_t i : generations_to_prune(gens, generation_, cutoff))
            for (const auto& f : gens[i].files)
                removed = dir_.remove(f.name) || removed;
        if (removed) dir_.sync("cannot record the deletion of old segments");
    }

    OperationContext ctx_;
    CaptureSettings cs_;
    Progress progress_;
    Dir dir_;
    std::unique_ptr<WalPin> pin_;
    std::unique_ptr<SegmentWriter> writer_;
    WalCursor cursor_;
    std::vector<uint64_t> hashes_;
    uint32_t page_size_ = 0;
    uint64_t generation_ = 0;
    uint32_t sequence_ = 0;
    std::string base_;
    uint64_t base_checksum_ = 0;
    int64_t base_created_ns_ = 0;
    int64_t generation_started_ns_ = 0;
    int64_t points_in_generation_ = 0;
    int64_t file_points_ = 0;
    int64_t points_ = 0;
    int64_t checkpoints_ = 0;
    std::optional<int64_t> last_point_ns_;
    int64_t caught_up_ns_ = now_nanoseconds();
    int64_t wal_bytes_ = 0;
    int64_t last_maintenance_ns_ = now_nanoseconds();
    Connection checkpointer_;
    Connection writer_lock_;
    std::function<void()> closed_;
};

// SQLite before 3.51.3 (and before the backports 3.44.6 and 3.50.7) can
// corrupt the log when two connections checkpoint at once: say so, once.
void warn_about_wal_reset_bug() {
    static std::once_flag once;
    std::call_once(once, [] {
        const int v = sqlite3_libversion_number();
        const bool fixed = v >= 3051003 || (v >= 3050007 && v < 3051000) || (v >= 3044006 && v < 3045000);
        if (!fixed)
            sqlite3_log(SQLITE_WARNING,
                        "wecare_backup_continuous: SQLite %s has the WAL-reset bug fixed in 3.51.3: keep one "
                        "checkpointer (PRAGMA wal_autocheckpoint=0 on the application's other connections "
                        "while capture runs; capture checkpoints)",
                        sqlite3_libversion());
    });
}

// The settings the lease carries; a standby that takes over keeps them.
CaptureSettings lease_settings(const Dir& dir, const std::string& prefix, CaptureSettings own) {
    const auto lines = read_lines(dir, lease_file_name(prefix), "wecare_backup_capture 1");
    if (lines) {
        int64_t pid = 0;
        CaptureSettings theirs = own;
        for (const auto& [k, v] : *lines) {
            if (k == "pid") pid = to_int(v);
            if (k == "wal_max_bytes" && to_int(v) >= (1 << 20)) theirs.wal_max_bytes = to_int(v);
            if (k == "pitr_hours" && to_int(v) >= 1) theirs.pitr_hours = to_int(v);
            if (k == "offsite_interval" && to_int(v) >= 1) theirs.offsite_interval = to_int(v);
        }
        if (pid != 0 && pid != static_cast<int64_t>(::getpid())) own = theirs;
    }
    std::string text = "wecare_backup_capture 1\npid=" + std::to_string(::getpid()) +
                       "\ninterval_ms=" + std::to_string(own.interval_ms) +
                       "\nwal_max_bytes=" + std::to_string(own.wal_max_bytes) +
                       "\npitr_hours=" + std::to_string(own.pitr_hours) +
                       "\noffsite_interval=" + std::to_string(own.offsite_interval) + "\n";
    write_file_atomic(dir, lease_file_name(prefix), text);
    return own;
}

} // namespace

// ---------------------------------------------------------------- the capturer

int Capturer::start(int64_t interval_ms, ContextSource source) {
    std::unique_lock<std::mutex> lock(mu_);
    status_.interval_ms = interval_ms;
    source_ = std::move(source);
    if (thread_.joinable()) {
        wake_.notify_all();
        return status_.state == "capturing" ? 1 : 2;
    }
    stopping_ = false;
    started_ = false;
    status_.state = "standby";
    shipper_ = std::thread([this] {
        try {
            ship_loop();
        } catch (...) {
            sqlite3_log(SQLITE_ERROR, "wecare_backup_continuous: the off-site shipping of segments stopped: "
                                      "internal error");
        }
    });
    thread_ = std::thread([this] {
        try {
            loop();
        } catch (...) {
            sqlite3_log(SQLITE_ERROR, "wecare_backup_continuous: capture stopped: internal error");
        }
        std::lock_guard<std::mutex> guard(mu_);
        status_.state = "stopped";
        started_ = true;
        wake_.notify_all();
    });
    wake_.wait_for(lock, std::chrono::seconds(30), [&] { return started_; });
    return status_.state == "capturing" ? 1 : 2;
}

void Capturer::stop() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stopping_ = true;
        wake_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
    thread_ = std::thread();
    if (shipper_.joinable()) shipper_.join();
    shipper_ = std::thread();
    std::lock_guard<std::mutex> lock(mu_);
    status_.state = "stopped";
}

int Capturer::state_code() const {
    std::lock_guard<std::mutex> lock(mu_);
    if (status_.state == "capturing") return 1;
    if (status_.state == "standby") return 2;
    return 0;
}

CaptureStatus Capturer::status() const {
    std::lock_guard<std::mutex> lock(mu_);
    CaptureStatus out = status_;
    return out;
}

void Capturer::loop() {
    auto wait = [&](int64_t ms) {
        std::unique_lock<std::mutex> lock(mu_);
        wake_.wait_for(lock, std::chrono::milliseconds(ms), [&] { return stopping_.load(); });
    };
    auto set_state = [&](const std::string& state, const std::string& error = "") {
        std::lock_guard<std::mutex> lock(mu_);
        status_.state = state;
        if (!error.empty() || state == "capturing") status_.last_error = error;
        started_ = true;
        wake_.notify_all();
    };
    auto interval = [&] {
        std::lock_guard<std::mutex> lock(mu_);
        return status_.interval_ms;
    };
    while (!stopping_) {
        OperationContext ctx;
        {
            std::lock_guard<std::mutex> lock(mu_);
            ctx = source_();
        }
        ctx.cancel = &stopping_;
        ctx.interactive = false;
        try {
            Dir dir = Dir::open_backup_dir(ctx.settings.dir, ctx.dir_is_default);
            std::optional<FileLock> lease;
            try {
                lease.emplace(dir, lease_lock_name(ctx.settings.prefix).c_str(), 0, nullptr,
                              "another process captures");
            } catch (const Error& e) {
                if (e.kind() != ErrorKind::busy) throw;
                set_state("standby");
                wait(std::max<int64_t>(interval() / 2, 50));
                continue;
            }
            warn_about_wal_reset_bug();
            CaptureSettings own;
            own.interval_ms = interval();
            own.wal_max_bytes = ctx.settings.wal_max_bytes;
            own.pitr_hours = ctx.settings.pitr_hours;
            own.offsite_interval = ctx.settings.offsite_interval;
            const CaptureSettings cs = lease_settings(dir, ctx.settings.prefix, own);
            auto closed = [this] {
                std::lock_guard<std::mutex> lock(mu_);
                ship_wanted_ = true;
                wake_.notify_all();
            };
            // Whatever ends the session, the shipper stops shipping for it.
            struct SessionEnd {
                Capturer* self;
                ~SessionEnd() {
                    std::lock_guard<std::mutex> lock(self->mu_);
                    self->session_.reset();
                }
            } session_end{this};
            Session session(ctx, cs, stopping_, closed);
            {
                std::lock_guard<std::mutex> lock(mu_);
                session_ = cs;
                ++sessions_;
                ship_wanted_ = true; // what an earlier session closed and did not send
            }
            set_state("capturing");
            while (!stopping_) {
                session.tick();
                {
                    std::lock_guard<std::mutex> lock(mu_);
                    status_.points = session.points();
                    status_.checkpoints = session.checkpoints();
                    status_.last_captured_ns = session.last_point_ns();
                    status_.lag_ms = (now_nanoseconds() - session.caught_up_ns()) / 1000000;
                    status_.wal_bytes = session.wal_bytes();
                }
                wait(std::max<int64_t>(interval() / 2, 50));
            }
            session.finish();
        } catch (const Error& e) {
            if (stopping_) break;
            sqlite3_log(e.code(), "wecare_backup_continuous: capture failed, retrying: %s", e.what());
            set_state("standby", e.what());
            wait(std::max<int64_t>(interval(), 100));
        } catch (const std::exception& e) {
            if (stopping_) break;
            sqlite3_log(SQLITE_ERROR, "wecare_backup_continuous: capture failed, retrying: %s", e.what());
            set_state("standby", e.what());
            wait(std::max<int64_t>(interval(), 100));
        }
    }
}

void Capturer::ship_loop() {
    bool failed = false;
    uint64_t listed_in = 0; // the session whose first sync listed the target
    for (;;) {
        OperationContext ctx;
        CaptureSettings cs;
        bool list_target = false;
        {
            std::unique_lock<std::mutex> lock(mu_);
            auto wanted = [&] { return stopping_.load() || (ship_wanted_ && session_); };
            if (failed) {
                const int64_t retry_s = session_ ? session_->offsite_interval : 10;
                wake_.wait_for(lock, std::chrono::seconds(retry_s), wanted);
            } else {
                wake_.wait(lock, wanted);
            }
            if (stopping_) return;
            if (!session_) continue;
            ship_wanted_ = false;
            cs = *session_;
            ctx = source_();
            // The first sync of a session checks the target whole; later ones
            // trust the index (what this directory sent and checked).
            list_target = listed_in != sessions_;
            if (list_target) listed_in = sessions_;
        }
        ctx.cancel = &stopping_;
        ctx.interactive = false;
        ctx.settings.pitr_hours = cs.pitr_hours;
        ctx.settings.offsite_interval = cs.offsite_interval;
        if (ctx.settings.offsite.empty()) {
            failed = false;
            continue;
        }
        StopObserver observer(stopping_);
        failed = !ship_timeline(ctx, list_target, observer);
        if (failed && list_target) listed_in = 0; // list again next time
    }
}

// ---------------------------------------------------------------- the rest

bool ship_timeline(const OperationContext& ctx, bool list_target, Observer& observer) {
    const Settings& s = ctx.settings;
    offsite::LocalTimeline local;
    std::set<std::string> bases;
    bool base_missing = false;
    try {
        const Dir dir = Dir::open_backup_dir(s.dir, false);
        local = local_timeline(dir, s.prefix);
        const offsite::OffsiteIndex index = offsite::read_index(dir, s);
        for (const auto& segment : local.segments)
            if (segment.closed && !index.find(segment.base)) base_missing = true;
        if (base_missing) bases = offsite::kept_timeline_bases(s, dir, local, now_nanoseconds());
    } catch (const Error& e) {
        if (e.kind() == ErrorKind::interrupted) return false;
        sqlite3_log(e.code(), "wecare_backup_continuous: the timeline cannot be sent off-site: %s", e.what());
        return false;
    }
    bool ok = true;
    if (base_missing) {
        // A backup's sync running now sends the bases too (if it started
        // before the newest base was made, the retry sends that one).
        const auto r = offsite::sync_unless_running(s, observer, bases);
        ok = r && r->error.empty();
    }
    const offsite::SegmentSyncResult segments = offsite::sync_segments(s, local, list_target, observer);
    return ok && segments.error.empty();
}

offsite::LocalTimeline local_timeline(const Dir& dir, const std::string& prefix) {
    offsite::LocalTimeline out;
    const Timeline timeline = Timeline::open(dir, prefix);
    const auto& gens = timeline.generations();
    for (size_t gi = 0; gi < gens.size(); ++gi) {
        const TimelineGeneration& g = gens[gi];
        out.generations.push_back({g.base, g.started_ns, true});
        for (size_t fi = 0; fi < g.files.size(); ++fi) {
            offsite::LocalSegment segment;
            segment.name = g.files[fi].name;
            segment.base = g.base;
            segment.created_ns = g.files[fi].created_ns;
            for (const auto& p : g.points)
                if (p.file == fi) segment.last_point_ns = p.captured_ns;
            // The capturer appends only to the newest generation's last file.
            segment.closed = gi + 1 < gens.size() || fi + 1 < g.files.size();
            out.segments.push_back(std::move(segment));
        }
    }
    return out;
}

void sync_offsite(const OperationContext& ctx, Observer& observer) {
    const Settings& s = ctx.settings;
    if (s.offsite.empty()) return;
    offsite::LocalTimeline local;
    std::set<std::string> bases;
    bool timeline_offsite = false;
    try {
        const Dir dir = Dir::open_backup_dir(s.dir, false);
        local = local_timeline(dir, s.prefix);
        bases = offsite::kept_timeline_bases(s, dir, local, now_nanoseconds());
        timeline_offsite = !offsite::read_segment_index(dir, s).segments.empty();
    } catch (const Error& e) {
        if (e.kind() == ErrorKind::interrupted) return;
        // The backups' sync reports what is wrong with the directory.
    }
    offsite::sync(s, observer, bases);
    // Without continuous capture (no segment here, none off-site) nothing more is asked of the target.
    if ((!local.segments.empty() || timeline_offsite) && !observer.stop_requested())
        offsite::sync_segments(s, local, true, observer);
}

std::set<std::string> timeline_bases(const Dir& dir, const std::string& prefix) {
    std::set<std::string> bases;
    const Timeline timeline = Timeline::open(dir, prefix);
    for (const auto& g : timeline.generations())
        bases.insert(g.base);
    return bases;
}

TimelineOffsite timeline_offsite_status(const OperationContext& ctx) {
    TimelineOffsite out;
    if (ctx.settings.offsite.empty() || path_missing(ctx.settings.dir)) return out;
    const Dir dir = Dir::open_backup_dir(ctx.settings.dir, false);
    const offsite::SegmentIndex index = offsite::read_segment_index(dir, ctx.settings);
    out.segments = static_cast<int64_t>(index.segments.size());
    out.foreign = index.foreign;
    for (const auto& o : index.segments)
        if (o.last_point_ns && (!out.last_point_ns || o.last_point_ns > *out.last_point_ns))
            out.last_point_ns = o.last_point_ns;
    out.last_success_at = index.last_success_at;
    out.last_error = index.last_error;
    return out;
}

std::vector<TimelineRow> timeline_rows_of(const OperationContext& ctx) {
    if (ctx.db_path.empty() || path_missing(ctx.settings.dir)) return {};
    const Dir dir = Dir::open_backup_dir(ctx.settings.dir, false);
    const Timeline timeline = Timeline::open(dir, ctx.settings.prefix);
    return timeline_rows(timeline.generations());
}

void mark_restore(const OperationContext& ctx, const Dir& dir, const std::string& what) noexcept {
    try {
        const WalPin here(ctx.db_path, ctx.settings.busy_timeout_ms);
        const WalIndexHeader& h = here.header();
        RestoreMarker m;
        m.salt1 = h.salt1;
        m.salt2 = h.salt2;
        m.frame = h.max_frame;
        m.what = escape_value(what);
        const auto earlier = read_marker(dir, ctx.settings.prefix);
        if (earlier && earlier->committed && earlier->generation == 0 && earlier->salt1 == h.salt1 &&
            earlier->salt2 == h.salt2 && earlier->frame <= h.max_frame) {
            m.frame = earlier->frame; // an earlier restore capture has not recorded yet
            m.committed = true;
        }
        write_file_atomic(dir, marker_name(ctx.settings.prefix), marker_text(m));
    } catch (const std::exception& e) {
        sqlite3_log(SQLITE_WARNING, "wecare_backup: cannot mark the restore for continuous capture: %s",
                    e.what());
    }
}

void note_restore_committed(const OperationContext& ctx, const Dir& dir) noexcept {
    try {
        auto m = read_marker(dir, ctx.settings.prefix);
        if (!m || m->committed || m->generation != 0) return;
        m->committed = true;
        write_file_atomic(dir, marker_name(ctx.settings.prefix), marker_text(*m));
    } catch (const std::exception& e) {
        sqlite3_log(SQLITE_WARNING, "wecare_backup: cannot note the restore for continuous capture: %s",
                    e.what());
    }
}

void unmark_restore(const OperationContext& ctx, const Dir& dir) noexcept {
    dir.remove_quietly(marker_name(ctx.settings.prefix));
}

namespace {

struct TimelineTarget {
    Dir dir;
    Timeline timeline;
    RestoreTarget target;
    int64_t segments = 0;
    uint64_t expected_checksum = 0;

    const TimelineGeneration& generation() const { return timeline.generations()[target.generation]; }
    std::unique_ptr<Image> image(const OperationContext& ctx) const {
        return timeline.image(dir, ctx.settings.prefix, target);
    }
};

int64_t parse_or_throw(const std::string& time) {
    const auto at = parse_time_ns(time);
    if (!at)
        throw Error("'" + time +
                    "' is not a time; pass UTC as 'YYYY-MM-DDTHH:MM:SS[.ffffff]Z', SQLite's "
                    "'YYYY-MM-DD HH:MM:SS[.fff]' (datetime('now')), or 'latest'");
    return *at;
}

Error no_timeline() {
    return Error("there is no timeline of restore points; start continuous capture with "
                 "SELECT wecare_backup_continuous()",
                 ErrorKind::not_found);
}

Dir open_timeline_dir(const OperationContext& ctx) {
    require_configured_dir(ctx);
    if (path_missing(ctx.settings.dir)) throw no_timeline();
    return Dir::open_backup_dir(ctx.settings.dir, false);
}

// The timeline and where `time` restores to, verified before anything is
// restored from it: the base chain and its files' checksums (as a restore of
// that backup checks them), and every restore point up to the target (its
// payload checksum, and that it continues from the one before).
TimelineTarget open_target(const OperationContext& ctx, const std::string& time, Dir dir,
                           Observer& observer) {
    const int64_t at = parse_or_throw(time);
    TimelineTarget t{std::move(dir), {}, {}, 0, 0};
    t.timeline = Timeline::open(t.dir, ctx.settings.prefix);
    if (t.timeline.empty()) throw no_timeline();
    t.target = resolve_time(t.timeline.generations(), at);
    auto problems = t.timeline.check_target(t.dir, ctx.settings.prefix, t.target, observer);
    if (!problems.empty())
        throw Error("the restore point failed verification (" + join(problems, "; ") +
                    "); nothing was restored; choose a time before the damage, or a backup");
    const TimelineGeneration& g = t.timeline.generations()[t.target.generation];
    std::set<size_t> files;
    for (size_t i = 0; i < t.target.points; ++i)
        files.insert(g.points[i].file);
    t.segments = static_cast<int64_t>(files.size());
    t.expected_checksum = t.target.points ? g.points[t.target.points - 1].after : g.base_checksum;
    return t;
}

} // namespace

RestoreAtOutcome restore_at(const OperationContext& ctx, const std::string& time, bool caller_reading) {
    require_file_database(ctx);
    parse_or_throw(time);
    const DbMode live = db_mode_of(ctx.db_path, ctx.settings.busy_timeout_ms);
    if (caller_reading && live.journal_mode != "wal") throw caller_reading_error(ctx);
    Progress progress = progress_of(ctx, "restore");
    Dir dir = open_timeline_dir(ctx);
    FileLock lock = lock_backup_dir(dir, ctx.settings.busy_timeout_ms, &progress);
    TimelineTarget t = open_target(ctx, time, std::move(dir), progress);
    const TimelineGeneration& g = t.generation();
    const auto image = t.image(ctx);
    if (live.journal_mode == "wal" && live.page_count > 0 && live.page_size != image->page_size())
        throw Error(
            "the restore point has pages of " + std::to_string(image->page_size()) +
                " bytes and the database, in WAL mode, has pages of " + std::to_string(live.page_size) +
                "; the database is unchanged: switch it to PRAGMA journal_mode=DELETE for the restore",
            ErrorKind::misuse);
    const std::string reached = format_time_ns(t.target.reached_ns);
    RestoreOutcome r = restore_image_locked(ctx, t.dir, *image, reached, "wal", progress);
    RestoreAtOutcome out;
    out.restored_to = reached;
    out.base = g.base;
    out.segments = t.segments;
    out.safety_backup = r.safety_backup;
    out.pages = r.pages;
    return out;
}

RestoreAtOutcome recover_at(const OperationContext& ctx, const std::string& time) {
    require_file_database(ctx);
    parse_or_throw(time);
    Progress progress = progress_of(ctx, "recover");
    Dir dir = open_timeline_dir(ctx);
    FileLock lock = lock_backup_dir(dir, ctx.settings.busy_timeout_ms, &progress);
    TimelineTarget t = open_target(ctx, time, std::move(dir), progress);
    const TimelineGeneration& g = t.generation();
    const auto image = t.image(ctx);
    RecoverRequest req;
    req.db_path = ctx.db_path;
    req.image = image.get();
    req.wal = true;
    req.expected_db_checksum = t.expected_checksum;
    req.observer = &progress;
    const RecoverResult r = recover_database(req);
    RestoreAtOutcome out;
    out.restored_to = format_time_ns(t.target.reached_ns);
    out.base = g.base;
    out.segments = t.segments;
    out.safety_backup = r.damaged_as.value_or("");
    out.pages = r.pages;
    return out;
}

TimelineCheck verify_timeline(const OperationContext& ctx) {
    require_file_database(ctx);
    TimelineCheck out;
    Progress progress = progress_of(ctx, "verify");
    if (path_missing(ctx.settings.dir)) {
        out.ok = false;
        out.errors.push_back("there is no timeline: continuous capture has never run for this database");
        return out;
    }
    const Dir dir = Dir::open_backup_dir(ctx.settings.dir, false);
    const Timeline tl = Timeline::open(dir, ctx.settings.prefix);
    out.errors = tl.check(dir, ctx.settings.prefix, progress);
    for (const auto& row : timeline_rows(tl.generations()))
        (row.kind == "gap" ? out.gaps : out.ranges) += 1;
    for (const auto& g : tl.generations())
        out.points += static_cast<int64_t>(g.points.size());
    if (tl.empty())
        out.errors.push_back("there is no timeline: continuous capture has never captured anything");
    if (out.errors.empty()) {
        const RestoreTarget latest = resolve_time(tl.generations(), kLatest);
        const auto image = tl.image(dir, ctx.settings.prefix, latest);
        VerifyRequest req;
        req.image = image.get();
        req.critical_tables = ctx.settings.critical_tables;
        VerifyOutcome v = verify_image(req, progress);
        for (const auto& e : v.errors)
            out.errors.push_back("the latest restore point (" + format_time_ns(latest.reached_ns) +
                                 "): " + e);
        out.latest = std::move(v);
    }
    out.ok = out.errors.empty();
    return out;
}

std::string timeline_check_json(const TimelineCheck& c) {
    JsonObject json;
    json.boolean("ok", c.ok)
        .integer("ranges", c.ranges)
        .integer("gaps", c.gaps)
        .integer("points", c.points)
        .strings("errors", c.errors);
    if (c.latest) {
        json.text("integrity", c.latest->integrity).strings("unchecked", c.latest->unchecked);
    } else {
        json.text_or_null("integrity", std::nullopt);
    }
    return json.str();
}

} // namespace wb
