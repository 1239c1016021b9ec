// A Target in a mounted directory (NAS, USB disk, ...).
//
// The directory is held open for the target's life, and every object is named
// relative to it (store/dir.hpp): a symbolic link planted there is never
// followed, and a FIFO or a directory is refused rather than read. Writes go
// to a hidden temporary file that is fsynced and renamed over the final name,
// and the directory is fsynced, so a crash or a failed encoder never leaves a
// half object under the real name. The directory must already exist:
// creating it would write to the local disk when the share is not mounted.
// Hidden files (temporary files) are never listed.
#pragma once

#include <string>

#include "offsite/target.hpp"
#include "store/dir.hpp"

namespace wb::offsite {

class DirTarget : public Target {
  public:
    // Throws Error(config) if `directory` is not an existing directory.
    explicit DirTarget(std::string directory);

    void put_stream(const std::string& name, const WriteFn& write) override;
    void get_stream(const std::string& name, const Sink& sink) override;
    std::vector<uint8_t> read_head(const std::string& name, size_t max_bytes) override;
    std::vector<ObjectInfo> list(const std::string& name_prefix) override;
    void remove(const std::string& name) override;
    std::optional<uint64_t> size(const std::string& name) override;
    std::string describe() const override { return dir_.path(); }

  private:
    // Opens an object (a regular file, without blocking); not_found if absent.
    Fd open_object(const std::string& name) const;
    Dir dir_;
};

} // namespace wb::offsite
