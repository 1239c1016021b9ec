// What this process knows about each backup directory beyond its files: the
// operation running now (with its progress) and the last success and error.
// Shared by every connection and the scheduler threads of the process;
// wecare_backup_stats() reads it.
//
// Progress is the Observer (common/observer.hpp) that every command hands to
// the engine: it publishes progress here, draws a one-line progress bar on
// standard error when asked and that is a terminal, and says to stop when the
// operation's stop flag is set (the scheduler's, when its connection closes).
// The bar (text: policy/progress_line.hpp) fits the terminal's width, is
// redrawn at most about ten times a second (and when a phase starts), and is
// erased when the operation ends.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/observer.hpp"

namespace wb {

struct ActivitySnapshot {
    std::string op; // "" = idle
    int64_t done = 0;
    int64_t total = 0;
    std::optional<int64_t> last_success_at; // UTC seconds
    std::string last_error;
    std::optional<int64_t> last_error_at;
};

ActivitySnapshot activity_of(const std::string& dir);
void record_success(const std::string& dir, int64_t when);
void record_error(const std::string& dir, const std::string& message, int64_t when);

class Progress : public Observer {
  public:
    // Marks `op` as running on `dir` for the object's lifetime. `stop`
    // (optional) ends the operation when set. `interrupted` (optional) is
    // asked on the thread that made this object, at most every 50 ms; other
    // threads see its last answer.
    Progress(std::string dir, std::string op, bool draw, const std::atomic<bool>* stop = nullptr,
             std::function<bool()> interrupted = {});
    ~Progress() override;
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;

    void phase(const std::string& op) override;
    void page_size(int64_t bytes) override;
    void progress(int64_t done, int64_t total) override;
    bool stop_requested() override;
    std::string stop_reason() const override;

  private:
    using Clock = std::chrono::steady_clock;
    void draw(int64_t done, int64_t total);
    void erase();

    std::string dir_;
    std::string op_;
    bool draw_;
    const std::atomic<bool>* stop_;
    std::function<bool()> interrupted_;
    std::thread::id owner_;
    std::atomic<bool> was_interrupted_{false};
    std::chrono::steady_clock::time_point last_poll_{};
    // The bar's state: progress may come from another thread (verify's checksum).
    std::mutex draw_mu_;
    int64_t unit_bytes_ = 1;   // what one unit of progress is in this phase
    bool phase_drawn_ = false; // the current phase has been drawn at least once
    bool line_shown_ = false;  // the terminal shows a line to erase
    bool phase_started_ = false;
    Clock::time_point phase_start_{}; // first progress of the phase
    int64_t phase_start_done_ = 0;
    Clock::time_point last_draw_{};
};

} // namespace wb
