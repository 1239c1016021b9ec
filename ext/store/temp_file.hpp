// The one "temp file, then publish" step of the project. A TempFile is a new
// file in a held directory under a hidden temporary name
// (`.<final name>.tmp-<pid>`); it is removed when the object dies, unless it
// was published under its final name first. So no error path, and no
// exception, can leave a partial file under a real name.
//
//   TempFile temp(dir, "app_backup_2026-11-26_02-15-00.db");
//   write_all_at(temp.fd(), ...);
//   temp.publish("cannot publish the backup");  // fsync, close, rename, fsync dir
#pragma once
#include <string>

#include "store/dir.hpp"

namespace wb {

class TempFile {
  public:
    // Creates the temporary file exclusively (a stale one of this process,
    // left by an earlier crash with the same pid, is removed first).
    TempFile(const Dir& dir, std::string final_name);
    ~TempFile();
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;

    int fd() const { return fd_.get(); }
    const std::string& name() const { return temp_name_; }
    const std::string& final_name() const { return final_name_; }
    // fsync, then close (reporting a failed close).
    void sync_and_close(const std::string& what);
    // sync_and_close if still open, rename to the final name (never replacing
    // a file, or replacing it when `replace`), and fsync the directory unless
    // `sync_dir` is false (the caller then does it once for several files).
    void publish(const std::string& what, bool replace = false, bool sync_dir = true);

  private:
    const Dir& dir_;
    std::string final_name_;
    std::string temp_name_;
    Fd fd_;
    bool published_ = false;
};

// The temporary name of `name` for this process.
std::string temp_name_for(const std::string& name);
// Whether `entry` is a temporary file of a backup of `prefix` (any process).
bool is_temp_name(const std::string& entry, const std::string& prefix);

// Writes `content` to `name` atomically (temp file, fsync, rename over).
// The caller fsyncs the directory.
void write_file_atomic(const Dir& dir, const std::string& name, const std::string& content);

} // namespace wb
