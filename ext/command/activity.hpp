// What this process knows about each backup directory beyond its files: the
// operation running now (with its progress) and the last success and error.
// Shared by every connection and the scheduler threads of the process;
// wecare_backup_stats() reads it.
//
// Progress is the Observer (common/observer.hpp) that every command hands to
// the engine: it publishes progress here, draws a one-line progress bar on
// standard error when asked and that is a terminal, and says to stop when the
// operation's stop flag is set (the scheduler's, when its connection closes).
#pragma once
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

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
    // (optional) ends the operation when set.
    Progress(std::string dir, std::string op, bool draw, const std::atomic<bool>* stop = nullptr);
    ~Progress() override;
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;

    void phase(const std::string& op) override;
    void progress(int64_t done, int64_t total) override;
    bool stop_requested() override;
    std::string stop_reason() const override;

  private:
    std::string dir_;
    std::string op_;
    bool draw_;
    const std::atomic<bool>* stop_;
    int last_percent_ = -1;
};

} // namespace wb
