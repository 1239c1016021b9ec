// Writes the pages of a new database file (a backup, a safety backup, an
// exported or recovered database) in page order, fast and checked:
//   * the caller fills batches of up to 1 MiB in place (no copy), which a
//     background writer (async_writer.hpp) writes with O_DIRECT where the
//     file system allows it, so no dirty page cache is left behind;
//   * the file's xxh3t checksum and every page's hash (store/checksum.hpp)
//     are computed in the same pass, while the batch is in the CPU cache;
//   * page 1's bytes 18-19 (the journal mode) are set as asked: 1 (rollback
//     journal) for a backup, so opening it read-only never leaves -wal/-shm
//     files; 2 to give a recovered database back its WAL mode.
//
//   PageWriter out(temp.fd(), page_size, {});
//   for (first = 1; first <= count; first += n) {
//       n = std::min(out.batch_pages(), count - first + 1);
//       source.read_pages(first, n, out.begin(first, n));
//       out.commit();
//   }
//   PageWriter::Result r = out.finish();   // drained, fdatasync'ed
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/async_writer.hpp"
#include "store/checksum.hpp"
#include "store/fd.hpp"

namespace wb {

class PageWriter {
  public:
    struct Options {
        uint8_t journal_byte = 1;        // page 1 bytes 18-19: 1 rollback journal, 2 WAL
        const char* what = "the backup"; // names the file in errors
    };
    struct Result {
        std::string checksum; // xxh3t of the file
        int64_t size_bytes = 0;
        std::vector<uint64_t> page_hashes; // [i] = hash of page i+1, as written
        uint64_t db_checksum = 0;          // XOR of the page hashes
    };

    // `fd` is the new file, open for writing (it stays the caller's).
    PageWriter(int fd, uint32_t page_size, const Options& options);
    PageWriter(const PageWriter&) = delete;
    PageWriter& operator=(const PageWriter&) = delete;

    uint32_t batch_pages() const { return static_cast<uint32_t>(kBatchBytes / page_size_); }
    // Room for `pages` pages (at most batch_pages()) starting at page `first`;
    // pages must come in order, each once.
    uint8_t* begin(uint32_t first, uint32_t pages);
    // Hands the batch from begin() to the writer.
    void commit();
    // Waits for every write, fsyncs the data, and returns what was written.
    Result finish();

  private:
    int fd_;
    Fd direct_;
    uint32_t page_size_;
    Options options_;
    BlockHasher hasher_;
    std::unique_ptr<AsyncWriter> writer_;
    uint8_t* batch_ = nullptr;
    uint32_t batch_first_ = 0;
    uint32_t batch_pages_ = 0;
    uint32_t next_page_ = 1;
    std::vector<uint64_t> hashes_;
    uint64_t db_checksum_ = 0;
};

} // namespace wb
