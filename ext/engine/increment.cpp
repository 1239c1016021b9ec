// Writing an incremental backup (see increment.hpp).
#include "engine/increment.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/async_writer.hpp"
#include "engine/live_snapshot.hpp"
#include "engine/verify.hpp"
#include "store/checksum.hpp"
#include "store/fd.hpp"

namespace wb {

namespace {

// Appends the changed pages, then the map and header, through the background
// writer; feeds every byte to the file checksum.
class IncrementWriter {
  public:
    IncrementWriter(int fd, uint32_t page_size) : fd_(fd), page_size_(page_size) {
        const std::string self = "/proc/self/fd/" + std::to_string(fd);
        direct_ = Fd(::open(self.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC));
        writer_ = std::make_unique<AsyncWriter>(fd_, direct_.get(), hasher_);
        offset_ = kIncrementHeaderBytes;
    }

    void add_page(uint32_t page, const uint8_t* data, uint64_t hash) {
        append(data, page_size_);
        entries_.push_back({page, hash});
    }

    // Writes `bytes` at the current end.
    void append(const uint8_t* data, size_t length) {
        while (length > 0) {
            if (!batch_) {
                batch_ = writer_->acquire();
                batch_offset_ = offset_;
                batch_length_ = 0;
            }
            const size_t take = std::min(length, kBatchBytes - batch_length_);
            std::memcpy(batch_ + batch_length_, data, take);
            batch_length_ += take;
            offset_ += take;
            data += take;
            length -= take;
            if (batch_length_ == kBatchBytes) submit();
        }
    }

    // The map after the pages, then the header at the start; waits for all.
    void finish(IncrementHeader& header) {
        header.entries = static_cast<uint32_t>(entries_.size());
        header.map_offset = offset_;
        const std::string map = serialize_increment_map(entries_);
        header.map_checksum = increment_map_checksum(map);
        append(reinterpret_cast<const uint8_t*>(map.data()), map.size());
        submit();
        const std::string head = serialize_increment_header(header);
        uint8_t* b = writer_->acquire();
        std::copy(head.begin(), head.end(), b); // bytes, not a string
        writer_->submit(b, head.size(), 0);
        if (const int err = writer_->drain())
            throw system_error("writing the incremental backup failed", err);
        writer_.reset();
        direct_.reset();
        if (::fdatasync(fd_) != 0) throw system_error("writing the incremental backup to disk failed", errno);
    }

    std::string checksum(int64_t& size) {
        struct stat st {};
        if (::fstat(fd_, &st) != 0) throw system_error("cannot examine the incremental backup", errno);
        size = st.st_size;
        return hasher_.finish(fd_, static_cast<uint64_t>(st.st_size));
    }

    const std::vector<IncrementEntry>& entries() const { return entries_; }

  private:
    void submit() {
        if (!batch_) return;
        writer_->submit(batch_, batch_length_, batch_offset_);
        batch_ = nullptr;
    }

    int fd_;
    uint32_t page_size_;
    Fd direct_;
    BlockHasher hasher_;
    std::unique_ptr<AsyncWriter> writer_;
    uint8_t* batch_ = nullptr;
    uint64_t batch_offset_ = 0;
    size_t batch_length_ = 0;
    uint64_t offset_ = 0;
    std::vector<IncrementEntry> entries_;
};

} // namespace

std::optional<IncrementResult> snapshot_increment(const IncrementRequest& req) {
    Observer& observer = *req.observer;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(req.max_snapshot_seconds);
    LiveSnapshot::Options options;
    options.busy_timeout_ms = req.busy_timeout_ms;
    LiveSnapshot source(req.db_path, options);
    if (source.page_size() != req.parent_page_size) return std::nullopt;

    const uint32_t size = source.page_size();
    const uint32_t count = source.page_count();
    observer.page_size(size);
    IncrementWriter out(req.out_fd, size);
    std::vector<uint8_t> scratch(kBatchBytes);
    const uint32_t per_batch = static_cast<uint32_t>(kBatchBytes / size);
    uint64_t after = 0;
    for (uint32_t first = 1; first <= count;) {
        const uint32_t n = std::min(per_batch, count - first + 1);
        source.read_pages(first, n, scratch.data());
        if (first == 1) scratch[18] = scratch[19] = 1; // as every backup stores page 1
        for (uint32_t i = 0; i < n; ++i) {
            const uint32_t page = first + i;
            const uint8_t* data = scratch.data() + static_cast<size_t>(i) * size;
            const uint64_t h = page_hash(page, data, size);
            after ^= h;
            if (page > req.parent_hashes.size() || req.parent_hashes[page - 1] != h)
                out.add_page(page, data, h);
        }
        first += n;
        observer.progress(first - 1, count);
        observer.check();
        if (std::chrono::steady_clock::now() > deadline)
            throw Error("the copy took longer than max_snapshot_seconds (" +
                        std::to_string(req.max_snapshot_seconds) +
                        " s) and was abandoned; raise max_snapshot_seconds for a database this large");
    }

    IncrementResult result;
    result.journal_mode = source.journal_mode();
    result.wal_position = source.wal_position();
    result.tables = source.count_rows();
    if (req.check_integrity) {
        observer.phase("verify");
        result.integrity = integrity_of(source.connection(), observer, result.unchecked);
    }
    source.end();

    IncrementHeader& h = result.header;
    h.page_size = size;
    h.page_count = count;
    h.before = req.parent_checksum;
    h.after = after;
    h.created_ns = req.created_ns;
    h.name = req.name;
    h.base = req.base;
    out.finish(h);
    // The chain must reproduce exactly the pages that were read.
    if (checksum_after(req.parent_checksum, req.parent_hashes, count, out.entries()) != after)
        throw Error("internal error: the increment does not reproduce the pages it was made of");
    result.checksum = out.checksum(result.size_bytes);
    return result;
}

} // namespace wb
