// Automatic backups in this process, every `interval` seconds counted from the
// newest regular backup (manual or auto, made by any process), on a background
// thread with its own connections. A schedule that starts (or restarts with
// the application) runs when the newest backup is `interval` old, at once if
// it is older or there is none: restarts never push the schedule back. After a
// run that made no backup (it failed), the next is an interval later. A run is
// skipped when a regular backup younger than the interval already exists, so
// several processes scheduling the same database do not multiply backups.
// The scheduler belongs to the connection that started it: destroying it (the
// connection closing) cancels a backup in progress and joins the thread.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "command/context.hpp"

namespace wb {

class Scheduler {
  public:
    using ContextSource = std::function<OperationContext()>;
    Scheduler() = default;
    ~Scheduler() { stop(); }
    Scheduler(const Scheduler&) = delete;
    Scheduler& operator=(const Scheduler&) = delete;

    // Starts, or re-times: the next run is due `interval_seconds` after the
    // newest regular backup (at once when that is past). Reads the backup
    // directory on the calling thread.
    void start(int64_t interval_seconds, ContextSource source);
    void stop();
    int64_t interval() const;
    std::optional<int64_t> next_run_at() const;

    // When the next run is due: `interval` after the newest regular backup if
    // that is still ahead of `now`, else now (`after_run` false: a start) or
    // an interval from now (`after_run` true: the run made no backup).
    static int64_t due_time(std::optional<int64_t> newest, int64_t interval, int64_t now, bool after_run);

  private:
    void loop();
    // One scheduled backup; returns the newest regular backup's time after it.
    std::optional<int64_t> run_once() noexcept;

    mutable std::mutex mu_;
    std::condition_variable wake_;
    std::thread thread_;
    std::atomic<bool> stopping_{false};
    bool retimed_ = false;
    int64_t interval_ = 0;
    std::optional<int64_t> next_run_at_;
    ContextSource source_;
};

} // namespace wb
