// Database images and the "wecare_image" VFS that serves them (see image.hpp).
#include "engine/image.hpp"

#include <algorithm>
#include <cstring>
#include <map>

#include "common/barrier.hpp"
#include "store/checksum.hpp"

#include <sys/stat.h>
#include <unistd.h>

namespace wb {

namespace {

constexpr const char* kImageVfsName = "wecare_image";

// The images open now, by number; a connection's URI names one.
struct Registry {
    std::mutex mu;
    uint64_t next_id = 1;
    std::map<uint64_t, const Image*> by_id;
};

Registry& registry() {
    static auto* r = new Registry; // never destroyed: connections may outlive static destruction
    return *r;
}

const Image* find_image(const char* uri_name) {
    const char* id_text = sqlite3_uri_parameter(uri_name, "wecare_image");
    if (!id_text) return nullptr;
    const uint64_t id = std::strtoull(id_text, nullptr, 10);
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mu);
    auto it = r.by_id.find(id);
    return it == r.by_id.end() ? nullptr : it->second;
}

sqlite3_vfs* real_vfs(sqlite3_vfs* vfs) {
    return static_cast<sqlite3_vfs*>(vfs->pAppData);
}

// The image's main file. A temporary file is opened by the default VFS in the
// same space instead (szOsFile is the larger of the two), with its own methods.
// The pages after a run of reads in page order (the backup API and the
// restore read every page in turn): read 1 MiB at a time, checked as read_page
// checks them, and handed out from here.
struct ReadAhead {
    std::vector<uint8_t> bytes; // pages first..first+count-1
    uint32_t first = 0;
    uint32_t count = 0;
    uint32_t next = 0; // the page after the last one asked for
};
constexpr size_t kReadAheadBytes = 1 << 20;

struct ImageFile {
    sqlite3_file base;
    const Image* image;
    ReadAhead* ahead; // null: every page read on its own
};

ImageFile* image_file(sqlite3_file* f) {
    return reinterpret_cast<ImageFile*>(f);
}

int image_close(sqlite3_file* file) {
    delete image_file(file)->ahead;
    image_file(file)->ahead = nullptr;
    return SQLITE_OK;
}

// Page `number` into `out`, through the read-ahead when the reads go in page order.
void read_whole_page(ImageFile& f, uint32_t number, uint8_t* out) {
    const Image& image = *f.image;
    const uint32_t size = image.page_size();
    if (!f.ahead) {
        image.read_page(number, out);
        return;
    }
    ReadAhead& a = *f.ahead;
    if (!(number >= a.first && number - a.first < a.count)) {
        if (number != a.next || number < 2) {
            a.next = number + 1;
            image.read_page(number, out);
            return;
        }
        const auto n = static_cast<uint32_t>(std::min<uint64_t>(std::max<uint64_t>(1, kReadAheadBytes / size),
                                                                image.page_count() - number + 1));
        a.count = 0;
        a.bytes.resize(static_cast<size_t>(n) * size);
        image.read_pages(number, n, a.bytes.data());
        a.first = number;
        a.count = n;
    }
    std::memcpy(out, a.bytes.data() + static_cast<size_t>(number - a.first) * size, size);
    a.next = number + 1;
}

// Reads [offset, offset+amount) of the image, page by page.
int image_read(sqlite3_file* file, void* buf, int amount, sqlite3_int64 offset) {
    const Image& image = *image_file(file)->image;
    return code_barrier(SQLITE_IOERR_READ, [&] {
        auto* out = static_cast<uint8_t*>(buf);
        const uint32_t size = image.page_size();
        uint64_t at = static_cast<uint64_t>(offset);
        auto left = static_cast<uint64_t>(amount);
        thread_local std::vector<uint8_t> page;
        while (left > 0) {
            if (at >= image.size_bytes()) {
                std::memset(out, 0, left);
                return SQLITE_IOERR_SHORT_READ;
            }
            const auto number = static_cast<uint32_t>(at / size + 1);
            const uint64_t within = at % size;
            const uint64_t take = std::min<uint64_t>(left, size - within);
            try {
                if (within == 0 && take == size) {
                    read_whole_page(*image_file(file), number, out);
                } else {
                    page.resize(size);
                    image.read_page(number, page.data());
                    std::memcpy(out, page.data() + within, take);
                }
            } catch (const Error& e) {
                image.note_problem(e.what());
                throw;
            }
            out += take;
            at += take;
            left -= take;
        }
        return SQLITE_OK;
    });
}

int image_write(sqlite3_file*, const void*, int, sqlite3_int64) {
    return SQLITE_READONLY;
}
int image_truncate(sqlite3_file*, sqlite3_int64) {
    return SQLITE_READONLY;
}
int image_sync(sqlite3_file*, int) {
    return SQLITE_OK;
}
int image_file_size(sqlite3_file* file, sqlite3_int64* size) {
    *size = static_cast<sqlite3_int64>(image_file(file)->image->size_bytes());
    return SQLITE_OK;
}
int image_lock(sqlite3_file*, int) {
    return SQLITE_OK;
}
int image_check_reserved(sqlite3_file*, int* out) {
    *out = 0;
    return SQLITE_OK;
}
int image_file_control(sqlite3_file*, int, void*) {
    return SQLITE_NOTFOUND;
}
int image_sector_size(sqlite3_file*) {
    return 4096;
}
int image_device_characteristics(sqlite3_file*) {
    return SQLITE_IOCAP_IMMUTABLE;
}

// Version 1: no shared memory and no memory mapping, so every byte SQLite
// reads passes through image_read and its checks.
const sqlite3_io_methods kImageMethods = {
    1,                            /* iVersion */
    image_close,                  /* xClose */
    image_read,                   /* xRead */
    image_write,                  /* xWrite */
    image_truncate,               /* xTruncate */
    image_sync,                   /* xSync */
    image_file_size,              /* xFileSize */
    image_lock,                   /* xLock */
    image_lock,                   /* xUnlock */
    image_check_reserved,         /* xCheckReservedLock */
    image_file_control,           /* xFileControl */
    image_sector_size,            /* xSectorSize */
    image_device_characteristics, /* xDeviceCharacteristics */
    nullptr,                      /* xShmMap */
    nullptr,                      /* xShmLock */
    nullptr,                      /* xShmBarrier */
    nullptr,                      /* xShmUnmap */
    nullptr,                      /* xFetch */
    nullptr,                      /* xUnfetch */
};

int image_open(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags, int* out_flags) {
    ImageFile* f = image_file(file);
    f->base.pMethods = nullptr;
    f->image = nullptr;
    f->ahead = nullptr;
    if (flags & SQLITE_OPEN_MAIN_DB) {
        f->image = name ? find_image(name) : nullptr;
        if (!f->image) return SQLITE_CANTOPEN;   // this VFS serves registered images only
        f->ahead = new (std::nothrow) ReadAhead; // without it, pages are read one by one
        if (out_flags) *out_flags = SQLITE_OPEN_READONLY;
        f->base.pMethods = &kImageMethods;
        return SQLITE_OK;
    }
    if (flags & (SQLITE_OPEN_MAIN_JOURNAL | SQLITE_OPEN_WAL | SQLITE_OPEN_SUPER_JOURNAL))
        return SQLITE_CANTOPEN; // nothing is ever written beside an image
    // Temporary files (sorting, temp tables) come from the default VFS.
    sqlite3_vfs* real = real_vfs(vfs);
    return real->xOpen(real, name, file, flags, out_flags);
}

int image_delete(sqlite3_vfs* v, const char* n, int s) {
    return real_vfs(v)->xDelete(real_vfs(v), n, s);
}
int image_access(sqlite3_vfs*, const char*, int, int* out) {
    *out = 0; // no journal, -wal or -shm ever exists beside an image
    return SQLITE_OK;
}
int image_full_pathname(sqlite3_vfs*, const char* n, int size, char* out) {
    sqlite3_snprintf(size, out, "%s", n);
    return SQLITE_OK;
}
int image_randomness(sqlite3_vfs* v, int n, char* out) {
    return real_vfs(v)->xRandomness(real_vfs(v), n, out);
}
int image_sleep(sqlite3_vfs* v, int us) {
    return real_vfs(v)->xSleep(real_vfs(v), us);
}
int image_current_time(sqlite3_vfs* v, double* t) {
    return real_vfs(v)->xCurrentTime(real_vfs(v), t);
}
int image_last_error(sqlite3_vfs* v, int n, char* out) {
    return real_vfs(v)->xGetLastError(real_vfs(v), n, out);
}
int image_current_time64(sqlite3_vfs* v, sqlite3_int64* t) {
    return real_vfs(v)->xCurrentTimeInt64(real_vfs(v), t);
}

} // namespace

Image::Image(uint32_t page_size, uint32_t page_count, std::vector<Layer> layers)
    : page_size_(page_size), page_count_(page_count), layers_(std::move(layers)) {
    if (layers_.empty() || !layers_.front().full)
        throw Error("internal error: an image starts with a full backup");
    const size_t words = static_cast<size_t>(page_count_) / 64 + 1;
    checked_ = std::make_unique<std::atomic<uint64_t>[]>(words);
    for (size_t i = 0; i < words; ++i)
        checked_[i].store(0, std::memory_order_relaxed);
    if (layers_.size() > 1) {
        layer_of_.assign(static_cast<size_t>(page_count_) + 1, 0);
        for (size_t i = 1; i < layers_.size(); ++i)
            for (uint32_t p : layers_[i].pages)
                if (p <= page_count_) layer_of_[p] = static_cast<uint32_t>(i);
    }
}

std::unique_ptr<Image> Image::of_file(std::shared_ptr<Fd> file, const std::string& name, uint32_t page_size,
                                      uint32_t page_count, std::vector<uint64_t> hashes) {
    Layer layer;
    layer.file = std::move(file);
    layer.name = name;
    layer.hashes = std::move(hashes);
    std::vector<Layer> layers;
    layers.push_back(std::move(layer));
    return std::make_unique<Image>(page_size, page_count, std::move(layers));
}

bool Image::checked() const {
    return std::all_of(layers_.begin(), layers_.end(),
                       [](const Layer& l) { return l.full ? !l.hashes.empty() : true; });
}

std::string Image::hash_pages(Observer& observer) {
    if (layers_.size() != 1) throw Error("internal error: only a single file is hashed");
    Layer& layer = layers_.front();
    struct stat st {};
    if (::fstat(layer.file->get(), &st) != 0)
        throw system_error("cannot examine '" + layer.name + "'", errno);
    const auto size = static_cast<uint64_t>(st.st_size);
    BlockHasher file_hash;
    std::vector<uint64_t> hashes;
    hashes.reserve(page_count_);
    std::vector<uint8_t> buf(kHashBlock);
    for (uint64_t offset = 0; offset < size;) {
        observer.check();
        const auto want = static_cast<size_t>(std::min<uint64_t>(kHashBlock, size - offset));
        if (read_at(layer.file->get(), buf.data(), want, offset, "reading '" + layer.name + "' failed") !=
            want)
            throw Error("'" + layer.name + "' changed size while it was read", ErrorKind::io);
        file_hash.update(offset, buf.data(), want);
        for (size_t at = 0; at + page_size_ <= want; at += page_size_) {
            const auto number = static_cast<uint32_t>((offset + at) / page_size_ + 1);
            if (number <= page_count_) hashes.push_back(page_hash(number, buf.data() + at, page_size_));
        }
        offset += want;
        observer.progress(static_cast<int64_t>(offset), static_cast<int64_t>(size));
    }
    if (hashes.size() == page_count_) layer.hashes = std::move(hashes);
    return file_hash.finish(layer.file->get(), size);
}

const std::vector<uint64_t>& Image::page_hashes() const {
    static const std::vector<uint64_t> kNone;
    if (layers_.size() != 1 || !layers_.front().full) return kNone;
    return layers_.front().hashes;
}

Image::Where Image::locate(uint32_t page) const {
    if (page == 0 || page > page_count_)
        throw Error("page " + std::to_string(page) + " is outside the backup");
    Where w;
    w.layer = &layers_[layer_of_.empty() ? 0 : layer_of_[page]];
    if (w.layer->full) {
        w.offset = static_cast<uint64_t>(page - 1) * page_size_;
        if (!w.layer->hashes.empty()) {
            w.expected = w.layer->hashes[page - 1];
            w.check = true;
        }
    } else {
        const auto it = std::lower_bound(w.layer->pages.begin(), w.layer->pages.end(), page);
        const auto k = static_cast<size_t>(it - w.layer->pages.begin());
        w.offset = w.layer->data_offset + static_cast<uint64_t>(k) * page_size_;
        w.expected = w.layer->hashes[k];
        w.check = true;
    }
    return w;
}

bool Image::holds(uint32_t page, const uint8_t* data) const {
    if (page == 0 || page > page_count_) return false;
    const Where w = locate(page);
    return w.check && page_hash(page, data, page_size_) == w.expected;
}

void Image::check_page(uint32_t page, const Where& where, uint8_t* data) const {
    const uint64_t bit = uint64_t{1} << (page % 64);
    std::atomic<uint64_t>& word = checked_[page / 64];
    if (where.check && !(word.load(std::memory_order_relaxed) & bit)) {
        if (page_hash(page, data, page_size_) != where.expected)
            throw Error("page " + std::to_string(page) + " of '" + where.layer->name +
                            "' does not match the hash recorded when the backup was made",
                        ErrorKind::io);
        word.fetch_or(bit, std::memory_order_relaxed);
    }
    // A view never asks SQLite for a write-ahead log.
    if (page == 1) data[18] = data[19] = 1;
}

void Image::read_page(uint32_t page, uint8_t* out) const {
    const Where w = locate(page);
    // The common case in one call, without building the error message
    // (integrity_check reads each page several times: millions of reads).
    const ssize_t n = ::pread(w.layer->file->get(), out, page_size_, static_cast<off_t>(w.offset));
    const size_t got = n == static_cast<ssize_t>(page_size_)
                           ? page_size_
                           : read_at(w.layer->file->get(), out, page_size_, w.offset,
                                     "reading '" + w.layer->name + "' failed");
    if (got != page_size_)
        throw Error("'" + w.layer->name + "' is shorter than its record says (page " + std::to_string(page) +
                        ")",
                    ErrorKind::io);
    check_page(page, w, out);
}

void Image::read_pages(uint32_t first, uint32_t count, uint8_t* out) const {
    if (count == 0) return;
    if (!layer_of_.empty() || first == 0 || first > page_count_ || count > page_count_ - first + 1) {
        for (uint32_t i = 0; i < count; ++i)
            read_page(first + i, out + static_cast<size_t>(i) * page_size_);
        return;
    }
    // A single full file: the pages lie in a row.
    const Layer& layer = layers_.front();
    const size_t want = static_cast<size_t>(count) * page_size_;
    const size_t got = read_at(layer.file->get(), out, want, static_cast<uint64_t>(first - 1) * page_size_,
                               "reading '" + layer.name + "' failed");
    if (got != want)
        throw Error("'" + layer.name + "' is shorter than its record says (page " +
                        std::to_string(first + got / page_size_) + ")",
                    ErrorKind::io);
    for (uint32_t i = 0; i < count; ++i)
        check_page(first + i, locate(first + i), out + static_cast<size_t>(i) * page_size_);
}

std::string Image::problem() const {
    std::lock_guard<std::mutex> lock(mu_);
    return problem_;
}

void Image::note_problem(const std::string& problem) const {
    std::lock_guard<std::mutex> lock(mu_);
    if (problem_.empty()) problem_ = problem;
}

int register_image_vfs() {
    static std::mutex mu;
    static sqlite3_vfs* registered = nullptr;
    std::lock_guard<std::mutex> lock(mu);
    if (registered) return SQLITE_OK;
    sqlite3_vfs* real = sqlite3_vfs_find(nullptr);
    if (!real) return SQLITE_ERROR;
    auto vfs = std::make_unique<sqlite3_vfs>();
    vfs->iVersion = 2;
    vfs->szOsFile = std::max(static_cast<int>(sizeof(ImageFile)), real->szOsFile);
    vfs->mxPathname = real->mxPathname;
    vfs->zName = kImageVfsName;
    vfs->pAppData = real;
    vfs->xOpen = image_open;
    vfs->xDelete = image_delete;
    vfs->xAccess = image_access;
    vfs->xFullPathname = image_full_pathname;
    vfs->xRandomness = image_randomness;
    vfs->xSleep = image_sleep;
    vfs->xCurrentTime = image_current_time;
    vfs->xGetLastError = image_last_error;
    vfs->xCurrentTimeInt64 = image_current_time64;
    const int rc = sqlite3_vfs_register(vfs.get(), 0);
    if (rc != SQLITE_OK) return rc;
    registered = vfs.release(); // lives as long as the process
    return SQLITE_OK;
}

ImageConnection::ImageConnection(const Image& image) {
    const int rc = register_image_vfs();
    if (rc != SQLITE_OK) throw Error("cannot register the wecare_image VFS");
    Registry& r = registry();
    {
        std::lock_guard<std::mutex> lock(r.mu);
        id_ = r.next_id++;
        r.by_id[id_] = &image;
    }
    try {
        const std::string uri =
            "file:/wecare-image-" + std::to_string(id_) + "?immutable=1&wecare_image=" + std::to_string(id_);
        db_ = Connection(uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, kImageVfsName);
    } catch (...) {
        std::lock_guard<std::mutex> lock(r.mu);
        r.by_id.erase(id_);
        throw;
    }
}

ImageConnection::~ImageConnection() {
    db_.close();
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mu);
    r.by_id.erase(id_);
}

void ImageSource::read_pages(uint32_t first, uint32_t count, uint8_t* out) {
    image_.read_pages(first, count, out);
}

} // namespace wb
