// dir_target.hpp - a Target in a mounted directory (NAS, USB disk, ...).
//
// Writes go to ".<name>.tmp-<pid>-<n>" in the same directory, are fsynced,
// renamed over the final name and the directory is fsynced, so a crash or a
// failed encoder never leaves a half object under the real name. The
// directory must already exist: creating it would write to the local disk
// when the share is not mounted. Hidden files (temp files) are never listed.
#pragma once

#include <string>

#include "target.hpp"

namespace wecare::offsite {

class DirTarget : public Target {
  public:
    // Throws OffsiteError(config) if `directory` is not an existing directory.
    explicit DirTarget(std::string directory);

    void put_stream(const std::string& name, const WriteFn& write) override;
    void get_stream(const std::string& name, const Sink& sink) override;
    std::vector<ObjectInfo> list(const std::string& name_prefix) override;
    void remove(const std::string& name) override;
    std::optional<uint64_t> size(const std::string& name) override;
    std::string describe() const override { return directory_; }

  private:
    std::string path_of(const std::string& name) const;
    std::string directory_;
};

} // namespace wecare::offsite
