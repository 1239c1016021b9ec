// TempFile (see temp_file.hpp).
#include "store/temp_file.hpp"

#include <unistd.h>

namespace wb {

std::string temp_name_for(const std::string& name) {
    return "." + name + ".tmp-" + std::to_string(::getpid());
}

bool is_temp_name(const std::string& entry, const std::string& prefix) {
    return entry.size() > prefix.size() + 2 && entry[0] == '.' &&
           entry.compare(1, prefix.size(), prefix) == 0 && entry[prefix.size() + 1] == '_' &&
           entry.find(".tmp-") != std::string::npos;
}

TempFile::TempFile(const Dir& dir, std::string final_name)
    : dir_(dir), final_name_(std::move(final_name)), temp_name_(temp_name_for(final_name_)) {
    dir_.remove_quietly(temp_name_);
    fd_ = dir_.create_exclusive(temp_name_);
}

TempFile::~TempFile() {
    if (!published_) {
        fd_.reset();
        dir_.remove_quietly(temp_name_);
    }
}

void TempFile::sync_and_close(const std::string& what) {
    if (!fd_) return;
    fsync_fd(fd_.get(), what);
    fd_.close_checked(what);
}

void TempFile::publish(const std::string& what, bool replace, bool sync_dir) {
    sync_and_close(what);
    if (replace) {
        dir_.rename_replace(temp_name_, final_name_);
    } else {
        dir_.rename_noreplace(temp_name_, final_name_);
    }
    published_ = true;
    if (sync_dir) dir_.sync(what);
}

void write_file_atomic(const Dir& dir, const std::string& name, const std::string& content) {
    TempFile temp(dir, name);
    write_all_at(temp.fd(), reinterpret_cast<const uint8_t*>(content.data()), content.size(), 0,
                 "cannot write '" + name + "'");
    temp.publish("cannot write '" + name + "' to disk", true, false);
}

} // namespace wb
