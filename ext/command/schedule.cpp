// The scheduler (see schedule.hpp).
#include "command/schedule.hpp"

#include <chrono>

#include "command/commands.hpp"
#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/sqlite_api.hpp"

namespace wb {

namespace {

// The newest regular backup of `ctx`'s directory; nullopt when there is none
// or it cannot be read (the run then reports why).
std::optional<int64_t> newest_backup(const OperationContext& ctx) noexcept {
    try {
        return newest_regular_backup_at(ctx, now_seconds());
    } catch (...) {
        return std::nullopt;
    }
}

} // namespace

int64_t Scheduler::due_time(std::optional<int64_t> newest, int64_t interval, int64_t now, bool after_run) {
    if (newest && *newest + interval > now) return *newest + interval;
    return after_run ? now + interval : now;
}

void Scheduler::start(int64_t interval_seconds, ContextSource source) {
    const std::optional<int64_t> newest = newest_backup(source());
    std::unique_lock<std::mutex> lock(mu_);
    interval_ = interval_seconds;
    source_ = std::move(source);
    next_run_at_ = due_time(newest, interval_seconds, now_seconds(), false);
    if (thread_.joinable()) {
        retimed_ = true;
        wake_.notify_all();
        return;
    }
    stopping_ = false;
    thread_ = std::thread([this] {
        try {
            loop();
        } catch (...) {
            // Never let an exception end the process from this thread.
            sqlite3_log(SQLITE_ERROR, "wecare_backup_schedule: the scheduler stopped: internal error");
        }
    });
}

void Scheduler::stop() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stopping_ = true; // also cancels a backup in progress
        interval_ = 0;
        next_run_at_.reset();
        wake_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
    thread_ = std::thread();
}

int64_t Scheduler::interval() const {
    std::lock_guard<std::mutex> lock(mu_);
    return interval_;
}

std::optional<int64_t> Scheduler::next_run_at() const {
    std::lock_guard<std::mutex> lock(mu_);
    return next_run_at_;
}

std::optional<int64_t> Scheduler::run_once() noexcept {
    int64_t interval = 0;
    OperationContext ctx;
    try {
        {
            std::lock_guard<std::mutex> lock(mu_);
            ctx = source_();
            interval = interval_;
        }
        ctx.cancel = &stopping_;
        ctx.interactive = false;
        const auto name = create_backup(ctx, "auto", std::nullopt, interval);
        if (name) {
            sqlite3_log(SQLITE_NOTICE, "wecare_backup_schedule: created %s", name->c_str());
        } else {
            sqlite3_log(SQLITE_NOTICE, "wecare_backup_schedule: skipped, a backup younger than %lld s exists",
                        static_cast<long long>(interval));
        }
    } catch (const Error& e) {
        if (!stopping_)
            sqlite3_log(e.code(), "wecare_backup_schedule: scheduled backup failed: %s", e.what());
    } catch (const std::exception& e) {
        sqlite3_log(SQLITE_ERROR, "wecare_backup_schedule: scheduled backup failed: %s", e.what());
    } catch (...) {
        // The thread's body must never let an exception end the process.
        sqlite3_log(SQLITE_ERROR, "wecare_backup_schedule: scheduled backup failed: internal error");
    }
    return newest_backup(ctx);
}

void Scheduler::loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
        const int64_t due = next_run_at_.value_or(0);
        if (now_seconds() < due) {
            wake_.wait_until(lock, std::chrono::system_clock::time_point(std::chrono::seconds(due)),
                             [&] { return stopping_.load() || retimed_; });
            retimed_ = false;
            continue; // stopped, re-timed, or due: look again
        }
        retimed_ = false;
        lock.unlock();
        const std::optional<int64_t> newest = run_once();
        lock.lock();
        if (stopping_) break;
        if (retimed_) continue; // re-timed while running: start() set the next run
        next_run_at_ = due_time(newest, interval_, now_seconds(), true);
    }
}

} // namespace wb
