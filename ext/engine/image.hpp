// A database image: the pages of a backup as SQLite should see them, read
// only through descriptors this process opened and checked, every page
// checked against its recorded hash before anyone sees it.
//
//   auto image = Image::of_file(file, name, page_size, page_count, hashes);
//   ImageConnection db(*image);              // an SQLite connection onto it
//   Statement check(db.get(), "PRAGMA integrity_check");
//
// How it works: the "wecare_image" VFS (registered once per process) serves
// the main database file of a connection from an Image registered under a
// number, which the connection's URI names (`wecare_image=<n>`). The file is
// opened immutable: no locks, no journal, no -wal/-shm, and nothing is ever
// written. A read of any part of a page reads the whole page from its layer
// (a full backup, or the newest increment that holds it), checks its hash,
// and copies the part asked for. A page that does not match is never
// returned: the read fails, and the image remembers the first such page for
// the error message. Temporary files SQLite needs (sorting) go to the
// default VFS.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/observer.hpp"
#include "engine/page_source.hpp"
#include "engine/sqlite_handles.hpp"
#include "store/fd.hpp"

namespace wb {

class Image {
  public:
    // One layer: a file and where each of its pages is. A full backup holds
    // page p at (p-1)*page_size; an increment holds the pages listed, in
    // order, from `data_offset`.
    struct Layer {
        std::shared_ptr<Fd> file;
        std::string name; // for messages
        bool full = true;
        uint64_t data_offset = 0;     // an increment's first page
        std::vector<uint32_t> pages;  // an increment's pages, ascending
        std::vector<uint64_t> hashes; // full: one per page (or empty: not checked); increment: one per entry
    };

    Image(uint32_t page_size, uint32_t page_count, std::vector<Layer> layers);
    // A full backup file alone; `hashes` empty means its pages are not checked.
    static std::unique_ptr<Image> of_file(std::shared_ptr<Fd> file, const std::string& name,
                                          uint32_t page_size, uint32_t page_count,
                                          std::vector<uint64_t> hashes);
    Image(const Image&) = delete;
    Image& operator=(const Image&) = delete;

    uint32_t page_size() const { return page_size_; }
    uint32_t page_count() const { return page_count_; }
    uint64_t size_bytes() const { return static_cast<uint64_t>(page_count_) * page_size_; }
    // Whether every page is checked against a recorded hash.
    bool checked() const;
    // For a single full file recorded without page hashes (a 1.0.0 backup, a
    // file placed by hand): reads the whole file once, in order, keeps the
    // hash of each page so every later read is checked against what was read
    // now, and returns the file's xxh3t checksum (of all its bytes).
    std::string hash_pages(Observer& observer);
    // The hash of each page of a single full file (index 0 = page 1): what
    // hash_pages kept, or was given; empty when there is none.
    const std::vector<uint64_t>& page_hashes() const;

    // Reads page `page` (1-based) into `out`; throws Error when it cannot be
    // read or does not match its hash.
    void read_page(uint32_t page, uint8_t* out) const;
    // Reads pages first..first+count-1 into `out` as read_page does, with one
    // read when they lie in a row in one file (a full backup's pages do).
    void read_pages(uint32_t first, uint32_t count, uint8_t* out) const;
    // Whether `data` (page_size bytes) is page `page` as recorded when the
    // backup was made: false for a page without a recorded hash. Page 1 is
    // compared as stored (read_page hands it out marked as not WAL).
    bool holds(uint32_t page, const uint8_t* data) const;
    // The first problem a read through the VFS met ("" = none).
    std::string problem() const;
    void note_problem(const std::string& problem) const;

  private:
    struct Where {
        const Layer* layer = nullptr;
        uint64_t offset = 0;   // of the page in the layer's file
        uint64_t expected = 0; // its recorded hash, when `check`
        bool check = false;
    };
    Where locate(uint32_t page) const;
    // Checks page `page` (just read into `data`) against its hash once.
    void check_page(uint32_t page, const Where& where, uint8_t* data) const;

    uint32_t page_size_;
    uint32_t page_count_;
    std::vector<Layer> layers_;      // oldest (the full backup) first
    std::vector<uint32_t> layer_of_; // page -> the layer that holds it (empty: all in layer 0)
    // One bit a page: its hash was checked by an earlier read of this image
    // (integrity_check reads each page about 8 times; one check is enough,
    // the file being a handle of a private directory).
    std::unique_ptr<std::atomic<uint64_t>[]> checked_;
    mutable std::mutex mu_;
    mutable std::string problem_;
};

// An image as a page source, for the page writer (engine/page_source.hpp):
// every page checked against its hash as it is read.
class ImageSource : public PageSource {
  public:
    explicit ImageSource(const Image& image) : image_(image) {}
    uint32_t page_size() const override { return image_.page_size(); }
    uint32_t page_count() const override { return image_.page_count(); }
    void read_pages(uint32_t first, uint32_t count, uint8_t* out) override;

  private:
    const Image& image_;
};

// Registers the "wecare_image" VFS once per process; an SQLite result code.
int register_image_vfs();

// A private read-only connection onto an image. The image must outlive it.
class ImageConnection {
  public:
    explicit ImageConnection(const Image& image);
    ~ImageConnection();
    ImageConnection(const ImageConnection&) = delete;
    ImageConnection& operator=(const ImageConnection&) = delete;
    sqlite3* get() const { return db_.get(); }
    Connection& connection() { return db_; }

  private:
    uint64_t id_;
    Connection db_;
};

} // namespace wb
