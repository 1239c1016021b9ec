// The process-wide activity registry and the Progress observer (see activity.hpp).
#include "command/activity.hpp"

#include <cerrno>
#include <map>
#include <mutex>
#include <sys/ioctl.h>
#include <unistd.h>

#include "policy/progress_line.hpp"

namespace wb {

namespace {

struct Registry {
    std::mutex mu;
    std::map<std::string, ActivitySnapshot> dirs;
};

// Never destroyed: scheduler threads may still use it while the process exits.
Registry& registry() {
    static auto* r = new Registry;
    return *r;
}

constexpr auto kRedrawInterval = std::chrono::milliseconds(100);
// The rate (and so the time left) is shown once the phase has run this long.
constexpr auto kRateAfter = std::chrono::milliseconds(300);

// What the bar calls each phase (the op names are those of stats' progress).
std::string phase_label(const std::string& op) {
    if (op == "create") return "copy";
    if (op == "safety") return "safety backup";
    if (op == "offsite") return "offsite upload";
    if (op == "offsite-check") return "offsite check";
    return op; // verify, restore, export, fetch
}

int terminal_columns() {
    struct winsize size {};
    if (::ioctl(2, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
    return 80;
}

// Writes all of `text` to standard error; a terminal that fails is not our problem.
void write_stderr(const std::string& text) {
    size_t at = 0;
    while (at < text.size()) {
        const ssize_t n = ::write(2, text.data() + at, text.size() - at);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        at += static_cast<size_t>(n);
    }
}

} // namespace

ActivitySnapshot activity_of(const std::string& dir) {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mu);
    auto it = r.dirs.find(dir);
    return it == r.dirs.end() ? ActivitySnapshot{} : it->second;
}

void record_success(const std::string& dir, int64_t when) {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mu);
    r.dirs[dir].last_success_at = when;
}

void record_error(const std::string& dir, const std::string& message, int64_t when) {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mu);
    auto& a = r.dirs[dir];
    a.last_error = message;
    a.last_error_at = when;
}

Progress::Progress(std::string dir, std::string op, bool draw, const std::atomic<bool>* stop,
                   std::function<bool()> interrupted)
    : dir_(std::move(dir)), op_(std::move(op)), draw_(draw && ::isatty(2) == 1), stop_(stop),
      interrupted_(std::move(interrupted)), owner_(std::this_thread::get_id()) {
    Progress::phase(op_); // no virtual dispatch in a constructor: say which one runs
}

bool Progress::stop_requested() {
    if (stop_ && stop_->load()) return true;
    if (was_interrupted_.load()) return true;
    if (interrupted_ && std::this_thread::get_id() == owner_) {
        const auto now = std::chrono::steady_clock::now();
        if (now - last_poll_ >= std::chrono::milliseconds(50)) {
            last_poll_ = now;
            if (interrupted_()) was_interrupted_ = true;
        }
    }
    return was_interrupted_.load();
}

std::string Progress::stop_reason() const {
    if (was_interrupted_.load())
        return "interrupted (sqlite3_interrupt); nothing was changed and nothing partial was left";
    return "cancelled: the connection is closing";
}

void Progress::phase(const std::string& op) {
    {
        std::lock_guard<std::mutex> lock(draw_mu_);
        op_ = op;
        unit_bytes_ = 1;
        phase_drawn_ = false;
        phase_started_ = false;
    }
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mu);
    auto& a = r.dirs[dir_];
    a.op = op;
    a.done = 0;
    a.total = 0;
}

void Progress::page_size(int64_t bytes) {
    std::lock_guard<std::mutex> lock(draw_mu_);
    unit_bytes_ = bytes > 0 ? bytes : 1;
}

void Progress::progress(int64_t done, int64_t total) {
    {
        Registry& r = registry();
        std::lock_guard<std::mutex> lock(r.mu);
        auto& a = r.dirs[dir_];
        a.done = done;
        a.total = total;
    }
    if (draw_) draw(done, total);
}

void Progress::draw(int64_t done, int64_t total) {
    std::lock_guard<std::mutex> lock(draw_mu_);
    const auto now = Clock::now();
    if (!phase_started_) {
        phase_started_ = true;
        phase_start_ = now;
        phase_start_done_ = done;
    }
    if (phase_drawn_ && now - last_draw_ < kRedrawInterval) return;
    ProgressState state;
    state.phase = phase_label(op_);
    state.done_bytes = static_cast<double>(done) * static_cast<double>(unit_bytes_);
    state.total_bytes = static_cast<double>(std::max<int64_t>(total, 0)) * static_cast<double>(unit_bytes_);
    const auto elapsed = now - phase_start_;
    if (elapsed >= kRateAfter && done > phase_start_done_)
        state.bytes_per_second = static_cast<double>(done - phase_start_done_) *
                                 static_cast<double>(unit_bytes_) /
                                 std::chrono::duration<double>(elapsed).count();
    const int columns = terminal_columns();
    const std::string line = progress_line(state, columns);
    // Back to the line's start, the new text, then blanks over whatever a
    // longer line left, short of the last column.
    write_stderr(
        "\r" + line +
        std::string(static_cast<size_t>(std::max(0, columns - 1) - static_cast<int>(line.size())), ' '));
    phase_drawn_ = true;
    line_shown_ = true;
    last_draw_ = now;
}

void Progress::erase() {
    std::lock_guard<std::mutex> lock(draw_mu_);
    if (!line_shown_) return;
    write_stderr("\r" + std::string(static_cast<size_t>(std::max(0, terminal_columns() - 1)), ' ') + "\r");
    line_shown_ = false;
}

Progress::~Progress() {
    erase();
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mu);
    auto& a = r.dirs[dir_];
    a.op.clear();
    a.done = a.total = 0;
}

} // namespace wb
