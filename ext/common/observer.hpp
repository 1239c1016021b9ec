// What a long step (a copy, a checksum, a verification, a transfer) is handed
// by the command that runs it: where to report progress, and how to learn that
// it must stop. Only sql/ and command/ know where these come from (a terminal,
// the stats registry, sqlite3_interrupt on the caller's connection, a closing
// connection's scheduler), so engine/ and offsite/ stay free of them.
//
//   void copy_all(Observer& obs) {
//       obs.phase("copy");
//       for (...) { obs.check(); ...; obs.progress(done, total); }
//   }
#pragma once
#include <cstdint>
#include <string>

namespace wb {

class Observer {
  public:
    virtual ~Observer() = default;
    // Starts a named phase of the operation ("copy", "verify", "restore").
    virtual void phase(const std::string& name) = 0;
    // The current phase counts its progress in pages of `bytes` bytes (a
    // phase starts counting bytes). For showing sizes; the counts stay as given.
    virtual void page_size(int64_t bytes) { (void)bytes; }
    // Progress of the current phase; `total` 0 = not known. Any thread.
    virtual void progress(int64_t done, int64_t total) = 0;
    // Whether the operation must stop. Any thread; cheap enough for a loop.
    virtual bool stop_requested() = 0;
    // Why it must stop, for the error message.
    virtual std::string stop_reason() const { return "interrupted"; }
    // Throws Error(ErrorKind::interrupted) once the operation must stop.
    void check();
};

// Reports nowhere and never asks to stop: for internal steps and tests.
class QuietObserver : public Observer {
  public:
    void phase(const std::string&) override {}
    void progress(int64_t, int64_t) override {}
    bool stop_requested() override { return false; }
};

} // namespace wb
