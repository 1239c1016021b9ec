// The process-wide activity registry and the Progress observer (see activity.hpp).
#include "command/activity.hpp"

#include <cstdio>
#include <map>
#include <mutex>
#include <unistd.h>

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

Progress::Progress(std::string dir, std::string op, bool draw, const std::atomic<bool>* stop)
    : dir_(std::move(dir)), op_(std::move(op)), draw_(draw && ::isatty(2) == 1), stop_(stop) {
    Progress::phase(op_); // no virtual dispatch in a constructor: say which one runs
}

bool Progress::stop_requested() {
    return stop_ && stop_->load();
}

std::string Progress::stop_reason() const {
    return "cancelled: the connection is closing";
}

void Progress::phase(const std::string& op) {
    op_ = op;
    last_percent_ = -1;
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mu);
    auto& a = r.dirs[dir_];
    a.op = op_;
    a.done = 0;
    a.total = 0;
}

void Progress::progress(int64_t done, int64_t total) {
    {
        Registry& r = registry();
        std::lock_guard<std::mutex> lock(r.mu);
        auto& a = r.dirs[dir_];
        a.done = done;
        a.total = total;
    }
    if (!draw_ || total <= 0) return;
    const int percent = static_cast<int>(done * 100 / total);
    if (percent == last_percent_) return;
    last_percent_ = percent;
    char bar[31];
    const int filled = percent * 30 / 100;
    for (int i = 0; i < 30; ++i)
        bar[i] = i < filled ? '#' : '.';
    bar[30] = '\0';
    std::fprintf(stderr, "\rwecare_backup %-8s [%s] %3d%% %lld/%lld", op_.c_str(), bar, percent,
                 static_cast<long long>(done), static_cast<long long>(total));
    std::fflush(stderr);
}

Progress::~Progress() {
    if (draw_ && last_percent_ >= 0) {
        std::fprintf(stderr, "\r%-80s\r", "");
        std::fflush(stderr);
    }
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mu);
    auto& a = r.dirs[dir_];
    a.op.clear();
    a.done = a.total = 0;
}

} // namespace wb
