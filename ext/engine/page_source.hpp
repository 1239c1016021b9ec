// Where pages come from when a new database file is written: a live
// database's snapshot (live_snapshot.hpp), the database file under a lock the
// caller holds (DbFileSource), or a backup image (image.hpp, through
// ImageSource). copy_pages writes any of them with a PageWriter.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

#include "common/observer.hpp"
#include "common/sqlite_api.hpp"

namespace wb {

class PageWriter;

class PageSource {
  public:
    virtual ~PageSource() = default;
    virtual uint32_t page_size() const = 0;
    virtual uint32_t page_count() const = 0;
    // Reads pages first..first+count-1 (1-based) into `out`.
    virtual void read_pages(uint32_t first, uint32_t count, uint8_t* out) = 0;
};

// Copies every page of `source` into `out` in order, reporting progress and
// stopping when the observer says so or (when set) the deadline passes.
void copy_pages(PageSource& source, PageWriter& out, Observer& observer,
                std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max(),
                const std::string& deadline_message = "");

// The database file of a connection that holds an exclusive lock on it (a
// rollback-journal database being restored): read through the connection's
// own file handle, so no second descriptor is ever opened on it.
class DbFileSource : public PageSource {
  public:
    explicit DbFileSource(sqlite3* db);
    uint32_t page_size() const override { return page_size_; }
    uint32_t page_count() const override { return page_count_; }
    void read_pages(uint32_t first, uint32_t count, uint8_t* out) override;

  private:
    sqlite3_file* file_ = nullptr;
    uint32_t page_size_ = 0;
    uint32_t page_count_ = 0;
};

} // namespace wb
