// Automatic backups in this process: one at once, then every `interval`
// seconds, on a background thread with its own connections. A run is skipped
// when a regular backup younger than the interval already exists, so several
// processes scheduling the same database do not multiply backups.
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

    // Starts, or re-times (a run happens at once, subject to the skip rule).
    void start(int64_t interval_seconds, ContextSource source);
    void stop();
    int64_t interval() const;
    std::optional<int64_t> next_run_at() const;

  private:
    void loop();
    void run_once() noexcept;

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
