// The page writer (see page_writer.hpp).
#include "engine/page_writer.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.hpp"

namespace wb {

PageWriter::PageWriter(int fd, uint32_t page_size, const Options& options)
    : fd_(fd), page_size_(page_size), options_(options) {
    // A second descriptor of the same open file for O_DIRECT writes: reopened
    // through /proc/self/fd, so it is this very file whatever its name now
    // points to. File systems without O_DIRECT (tmpfs) refuse it: buffered then.
    const std::string self = "/proc/self/fd/" + std::to_string(fd);
    direct_ = Fd(::open(self.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC));
    writer_ = std::make_unique<AsyncWriter>(fd_, direct_.get(), hasher_);
}

uint8_t* PageWriter::begin(uint32_t first, uint32_t pages) {
    if (first != next_page_ || pages == 0 || pages > batch_pages())
        throw Error("internal error: pages written out of order");
    batch_ = writer_->acquire();
    batch_first_ = first;
    batch_pages_ = pages;
    return batch_;
}

void PageWriter::commit() {
    if (!batch_) return;
    if (batch_first_ == 1) batch_[18] = batch_[19] = options_.journal_byte;
    for (uint32_t i = 0; i < batch_pages_; ++i) {
        const uint64_t h =
            page_hash(batch_first_ + i, batch_ + static_cast<size_t>(i) * page_size_, page_size_);
        hashes_.push_back(h);
        db_checksum_ ^= h;
    }
    const size_t length = static_cast<size_t>(batch_pages_) * page_size_;
    const uint64_t offset = static_cast<uint64_t>(batch_first_ - 1) * page_size_;
    uint8_t* batch = batch_;
    batch_ = nullptr;
    next_page_ = batch_first_ + batch_pages_;
    writer_->submit(batch, length, offset);
}

PageWriter::Result PageWriter::finish() {
    if (const int err = writer_->drain())
        throw system_error(std::string("writing ") + options_.what + " failed", err);
    writer_.reset();
    direct_.reset();
    if (::fdatasync(fd_) != 0)
        throw system_error(std::string("writing ") + options_.what + " to disk failed", errno);
    struct stat st {};
    if (::fstat(fd_, &st) != 0) throw system_error(std::string("cannot examine ") + options_.what, errno);
    Result r;
    r.size_bytes = st.st_size;
    r.checksum = hasher_.finish(fd_, static_cast<uint64_t>(st.st_size));
    r.page_hashes = std::move(hashes_);
    r.db_checksum = db_checksum_;
    return r;
}

} // namespace wb
