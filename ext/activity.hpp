// What this process knows about each backup directory beyond its files: the
// operation running now (with its progress) and the last success and error.
// Shared by every connection and the scheduler threads of the process.
// wecare_backup_stats() reads it.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

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

// Marks an operation as running on `dir` for its lifetime, publishes its
// progress and, when asked and standard error is a terminal, draws a one-line
// progress bar there.
class Progress {
  public:
    Progress(std::string dir, std::string op, bool draw);
    ~Progress();
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;
    void update(int64_t done, int64_t total);
    // Switches to the next phase of the same operation ("verify", "restore").
    void phase(const std::string& op);

  private:
    std::string dir_;
    std::string op_;
    bool draw_;
    int last_percent_ = -1;
};

int64_t now_seconds();
int64_t now_nanoseconds();

} // namespace wb
