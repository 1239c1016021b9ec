// The write-gathering VFS of the restore (see batch_vfs.hpp for the rules).
#include "engine/batch_vfs.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstring>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/barrier.hpp"
#include "common/sqlite_api.hpp"

namespace wb {

struct RestoreWindow::State {
    uint32_t page_size = 0;
    PageCheck check;
    std::vector<uint32_t> frame_pages; // frame index (0-based) -> its page, from the frame's header
    std::string problem;
    sqlite3_file* main = nullptr; // the BatchFiles the window is open on
    sqlite3_file* log = nullptr;
};

namespace {

// The unix VFS writes at most 0x1ffff bytes a call (it masks the length with
// 0x1ffff and reports the rest as a full disk), so a gathered write stays under.
constexpr size_t kGatherBytes = 0x1ffff;
constexpr size_t kReadAheadBytes = 1 << 20;
constexpr uint64_t kWritebackBytes = 8 << 20;
constexpr uint64_t kWalHeaderBytes = 32;
constexpr uint64_t kWalFrameHeaderBytes = 24;

// Counts the lock, shared-memory and file-control calls made on any file of
// this VFS. In WAL mode SQLite makes those calls on the database file, never
// on the -wal, yet they are where another process's writes to the log become
// the connection's to read (a new read transaction, a checkpoint, a write
// lock). A -wal read ahead serves reads only while this count is what it was
// when the window was read. Process-wide, so another connection's calls only
// cost a re-read.
std::atomic<uint64_t> g_lock_calls{0};

struct State {
    std::string path;        // the file's full path
    bool gather = false;     // the database, its -wal or its journal
    bool read_ahead = false; // the -wal
    bool main_db = false;
    bool wal = false;
    int poisoned = SQLITE_OK;
    int fd = -1;               // the real descriptor, for writeback hints (-1: none)
    uint64_t written_from = 0; // gathered bytes written and not yet handed to writeback
    uint64_t written_to = 0;
    RestoreWindow::State* window = nullptr;
    std::vector<uint8_t> pending;
    uint64_t pending_offset = 0;
    std::vector<uint8_t> ahead;
    uint64_t ahead_offset = 0;
    size_t ahead_length = 0;
    uint64_t ahead_lock_calls = 0; // g_lock_calls when the window was read
};

struct BatchFile { // SQLite allocates it with 8-byte alignment
    sqlite3_file base;
    State* state;
    sqlite3_file* real() {
        return reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(this) + sizeof(BatchFile));
    }
};
static_assert(sizeof(BatchFile) % 8 == 0, "the real file must stay 8-byte aligned after BatchFile");

BatchFile* batch(sqlite3_file* f) {
    return reinterpret_cast<BatchFile*>(f);
}

sqlite3_vfs* real_vfs(sqlite3_vfs* vfs) {
    return static_cast<sqlite3_vfs*>(vfs->pAppData);
}

// Every open file, so that a delete flushes them all first.
struct OpenFiles {
    std::mutex mu;
    std::set<BatchFile*> files;
};
OpenFiles& open_files() {
    static auto* o = new OpenFiles;
    return *o;
}

void start_writeback(State& s) {
    if (s.written_to > s.written_from)
        ::sync_file_range(s.fd, static_cast<off_t>(s.written_from),
                          static_cast<off_t>(s.written_to - s.written_from), SYNC_FILE_RANGE_WRITE);
    s.written_from = s.written_to;
}

// Bytes [offset, offset+length) were written: hands every 8 MiB written in a
// row to the kernel's writeback (a hint: errors surface at the next xSync).
void note_written(State& s, uint64_t offset, uint64_t length) {
    if (s.fd < 0) return;
    if (offset != s.written_to) {
        start_writeback(s);
        s.written_from = s.written_to = offset;
    }
    s.written_to = offset + length;
    if (s.written_to - s.written_from >= kWritebackBytes) start_writeback(s);
}

int flush(BatchFile* f) {
    State& s = *f->state;
    if (s.poisoned != SQLITE_OK) return s.poisoned;
    if (s.pending.empty()) return SQLITE_OK;
    const int rc =
        f->real()->pMethods->xWrite(f->real(), s.pending.data(), static_cast<int>(s.pending.size()),
                                    static_cast<sqlite3_int64>(s.pending_offset));
    if (rc == SQLITE_OK) note_written(s, s.pending_offset, s.pending.size());
    s.pending.clear();
    if (rc != SQLITE_OK) s.poisoned = rc;
    return rc;
}

uint32_t big_endian32(const uint8_t* p) {
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// A write to the log while a restore window is open: the log's header, a
// frame's header (its page noted) or a frame's page (checked). "" = allowed.
std::string window_write_problem(RestoreWindow::State& w, const uint8_t* data, uint64_t length,
                                 uint64_t offset) {
    if (offset == 0 && length == kWalHeaderBytes) return "";
    const uint64_t frame_bytes = kWalFrameHeaderBytes + w.page_size;
    if (offset >= kWalHeaderBytes) {
        const uint64_t frame = (offset - kWalHeaderBytes) / frame_bytes;
        const uint64_t within = (offset - kWalHeaderBytes) % frame_bytes;
        if (frame < (uint64_t{1} << 32)) {
            const auto k = static_cast<size_t>(frame);
            if (within == 0 && length == kWalFrameHeaderBytes) {
                if (w.frame_pages.size() <= k) w.frame_pages.resize(k + 1, 0);
                w.frame_pages[k] = big_endian32(data);
                return "";
            }
            if (within == kWalFrameHeaderBytes && length == w.page_size) {
                const uint32_t page = k < w.frame_pages.size() ? w.frame_pages[k] : 0;
                if (page == 0) return "a page was written to the log before its frame header";
                if (page == 1 || w.check(page, data)) return "";
                return "page " + std::to_string(page) +
                       " as written to the log is not the backup's page (it was not copied faithfully)";
            }
        }
    }
    return "an unexpected write to the log (" + std::to_string(length) + " bytes at " +
           std::to_string(offset) + ")";
}

void forget_read_ahead(State& s, uint64_t offset, uint64_t length) {
    if (s.ahead_length && offset < s.ahead_offset + s.ahead_length && s.ahead_offset < offset + length)
        s.ahead_length = 0;
}

int batch_close(sqlite3_file* file) {
    BatchFile* f = batch(file);
    const int rc = flush(f);
    const int close_rc = f->real()->pMethods->xClose(f->real());
    {
        OpenFiles& o = open_files();
        std::lock_guard<std::mutex> lock(o.mu);
        o.files.erase(f);
    }
    delete f->state;
    f->state = nullptr;
    return rc != SQLITE_OK ? rc : close_rc;
}

int batch_read(sqlite3_file* file, void* buf, int amount, sqlite3_int64 offset) {
    BatchFile* f = batch(file);
    return code_barrier(SQLITE_IOERR_READ, [&] {
        const int rc = flush(f);
        if (rc != SQLITE_OK) return rc;
        State& s = *f->state;
        const auto at = static_cast<uint64_t>(offset);
        const auto length = static_cast<uint64_t>(amount);
        if (s.window && s.main_db) {
            // Read only to be overwritten whole (RestoreWindow): no bytes needed.
            if (at < s.window->page_size) {
                if (s.window->problem.empty())
                    s.window->problem = "the restore read page 1 of the database while copying";
                return SQLITE_IOERR_READ;
            }
            std::memset(buf, 0, length);
            return SQLITE_OK;
        }
        if (!s.read_ahead || length > kReadAheadBytes / 4)
            return f->real()->pMethods->xRead(f->real(), buf, amount, offset);
        if (!(s.ahead_length && s.ahead_lock_calls == g_lock_calls.load() && at >= s.ahead_offset &&
              at + length <= s.ahead_offset + s.ahead_length)) {
            sqlite3_int64 size = 0;
            const int size_rc = f->real()->pMethods->xFileSize(f->real(), &size);
            if (size_rc != SQLITE_OK) return size_rc;
            if (at + length > static_cast<uint64_t>(size))
                return f->real()->pMethods->xRead(f->real(), buf, amount, offset);
            const auto window =
                static_cast<size_t>(std::min<uint64_t>(kReadAheadBytes, static_cast<uint64_t>(size) - at));
            s.ahead.resize(kReadAheadBytes);
            const int read_rc =
                f->real()->pMethods->xRead(f->real(), s.ahead.data(), static_cast<int>(window), offset);
            if (read_rc != SQLITE_OK) {
                s.ahead_length = 0;
                return f->real()->pMethods->xRead(f->real(), buf, amount, offset);
            }
            s.ahead_offset = at;
            s.ahead_length = window;
            s.ahead_lock_calls = g_lock_calls.load();
        }
        std::memcpy(buf, s.ahead.data() + (at - s.ahead_offset), length);
        return SQLITE_OK;
    });
}

int batch_write(sqlite3_file* file, const void* buf, int amount, sqlite3_int64 offset) {
    BatchFile* f = batch(file);
    return code_barrier(SQLITE_IOERR_WRITE, [&] {
        State& s = *f->state;
        if (s.poisoned != SQLITE_OK) return s.poisoned;
        const auto at = static_cast<uint64_t>(offset);
        const auto length = static_cast<size_t>(amount);
        forget_read_ahead(s, at, length);
        if (s.window && s.wal) {
            std::string problem =
                window_write_problem(*s.window, static_cast<const uint8_t*>(buf), length, at);
            if (!problem.empty()) {
                if (s.window->problem.empty()) s.window->problem = std::move(problem);
                s.poisoned = SQLITE_IOERR_WRITE;
                return SQLITE_IOERR_WRITE;
            }
        }
        if (!s.gather) return f->real()->pMethods->xWrite(f->real(), buf, amount, offset);
        const bool follows = !s.pending.empty() && s.pending_offset + s.pending.size() == at;
        if (!follows || s.pending.size() + length > kGatherBytes) {
            const int rc = flush(f);
            if (rc != SQLITE_OK) return rc;
        }
        if (length >= kGatherBytes) {
            const int rc = f->real()->pMethods->xWrite(f->real(), buf, amount, offset);
            if (rc == SQLITE_OK) note_written(s, at, length);
            return rc;
        }
        if (s.pending.empty()) {
            s.pending.reserve(kGatherBytes);
            s.pending_offset = at;
        }
        const auto* bytes = static_cast<const uint8_t*>(buf);
        s.pending.insert(s.pending.end(), bytes, bytes + length);
        return SQLITE_OK;
    });
}

// The methods that only need everything written first. Each also ends every
// -wal read ahead (g_lock_calls): what a window holds was read before this
// call, and a lock, a shared-memory call or a file control is where another
// connection's writes to the log become ours to read (a writer that reset the
// log and wrote new frames over old ones; frames appended past the end we
// read). Only reads between two such calls (a checkpoint's copy loop, which
// reads frames its locks keep in place) are served from a window.
template <class Call> int flushed(sqlite3_file* file, int fallback, Call&& call) {
    BatchFile* f = batch(file);
    g_lock_calls.fetch_add(1);
    return code_barrier(fallback, [&] {
        const int rc = flush(f);
        return rc != SQLITE_OK ? rc : call(f->real());
    });
}

int batch_truncate(sqlite3_file* file, sqlite3_int64 size) {
    return flushed(file, SQLITE_IOERR_TRUNCATE,
                   [&](sqlite3_file* r) { return r->pMethods->xTruncate(r, size); });
}
int batch_sync(sqlite3_file* file, int flags) {
    return flushed(file, SQLITE_IOERR_FSYNC, [&](sqlite3_file* r) { return r->pMethods->xSync(r, flags); });
}
int batch_file_size(sqlite3_file* file, sqlite3_int64* size) {
    return flushed(file, SQLITE_IOERR_FSTAT,
                   [&](sqlite3_file* r) { return r->pMethods->xFileSize(r, size); });
}
int batch_lock(sqlite3_file* file, int level) {
    return flushed(file, SQLITE_IOERR_LOCK, [&](sqlite3_file* r) { return r->pMethods->xLock(r, level); });
}
int batch_unlock(sqlite3_file* file, int level) {
    return flushed(file, SQLITE_IOERR_UNLOCK,
                   [&](sqlite3_file* r) { return r->pMethods->xUnlock(r, level); });
}
int batch_check_reserved(sqlite3_file* file, int* out) {
    return flushed(file, SQLITE_IOERR_CHECKRESERVEDLOCK,
                   [&](sqlite3_file* r) { return r->pMethods->xCheckReservedLock(r, out); });
}
int batch_file_control(sqlite3_file* file, int op, void* arg) {
    return flushed(file, SQLITE_IOERR,
                   [&](sqlite3_file* r) { return r->pMethods->xFileControl(r, op, arg); });
}
int batch_sector_size(sqlite3_file* file) {
    return batch(file)->real()->pMethods->xSectorSize(batch(file)->real());
}
int batch_device_characteristics(sqlite3_file* file) {
    return batch(file)->real()->pMethods->xDeviceCharacteristics(batch(file)->real());
}
int batch_shm_map(sqlite3_file* file, int region, int size, int extend, void volatile** out) {
    return flushed(file, SQLITE_IOERR_SHMMAP,
                   [&](sqlite3_file* r) { return r->pMethods->xShmMap(r, region, size, extend, out); });
}
int batch_shm_lock(sqlite3_file* file, int offset, int n, int flags) {
    return flushed(file, SQLITE_IOERR_SHMLOCK,
                   [&](sqlite3_file* r) { return r->pMethods->xShmLock(r, offset, n, flags); });
}
void batch_shm_barrier(sqlite3_file* file) {
    // xShmBarrier cannot fail; a failed write poisons the file instead, so
    // every later call fails. (With synchronous=FULL an xSync came first.)
    BatchFile* f = batch(file);
    g_lock_calls.fetch_add(1); // as in flushed()
    code_barrier(SQLITE_IOERR, [&] { return flush(f); });
    f->real()->pMethods->xShmBarrier(f->real());
}
int batch_shm_unmap(sqlite3_file* file, int delete_flag) {
    return flushed(file, SQLITE_IOERR_SHMMAP,
                   [&](sqlite3_file* r) { return r->pMethods->xShmUnmap(r, delete_flag); });
}
int batch_fetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out) {
    *out = nullptr;
    return flushed(file, SQLITE_IOERR_MMAP,
                   [&](sqlite3_file* r) { return r->pMethods->xFetch(r, offset, amount, out); });
}
int batch_unfetch(sqlite3_file* file, sqlite3_int64 offset, void* page) {
    return batch(file)->real()->pMethods->xUnfetch(batch(file)->real(), offset, page);
}

const sqlite3_io_methods kBatchMethods = {
    3,                            /* iVersion */
    batch_close,                  /* xClose */
    batch_read,                   /* xRead */
    batch_write,                  /* xWrite */
    batch_truncate,               /* xTruncate */
    batch_sync,                   /* xSync */
    batch_file_size,              /* xFileSize */
    batch_lock,                   /* xLock */
    batch_unlock,                 /* xUnlock */
    batch_check_reserved,         /* xCheckReservedLock */
    batch_file_control,           /* xFileControl */
    batch_sector_size,            /* xSectorSize */
    batch_device_characteristics, /* xDeviceCharacteristics */
    batch_shm_map,                /* xShmMap */
    batch_shm_lock,               /* xShmLock */
    batch_shm_barrier,            /* xShmBarrier */
    batch_shm_unmap,              /* xShmUnmap */
    batch_fetch,                  /* xFetch */
    batch_unfetch,                /* xUnfetch */
};

// The descriptor of a file the unix VFS opened as `name`, or -1. unixFile
// starts with its methods, its VFS, its inode record and then the descriptor;
// the value is used only when fstat shows it is `name`'s file.
int descriptor_of(const sqlite3_vfs* real, const sqlite3_file* file, const char* name) {
    struct UnixFileStart {
        const sqlite3_io_methods* methods;
        sqlite3_vfs* vfs;
        void* inode;
        int fd;
    };
    if (!name || !real->zName || std::strcmp(real->zName, "unix") != 0 ||
        real->szOsFile < static_cast<int>(sizeof(UnixFileStart)))
        return -1;
    int fd = -1;
    std::memcpy(&fd, reinterpret_cast<const char*>(file) + offsetof(UnixFileStart, fd), sizeof fd);
    struct stat by_fd {};
    struct stat by_name {};
    if (fd < 0 || ::fstat(fd, &by_fd) != 0 || ::stat(name, &by_name) != 0) return -1;
    if (by_fd.st_dev != by_name.st_dev || by_fd.st_ino != by_name.st_ino || !S_ISREG(by_fd.st_mode))
        return -1;
    return fd;
}

int batch_open(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags, int* out_flags) {
    BatchFile* f = batch(file);
    f->base.pMethods = nullptr;
    f->state = nullptr;
    sqlite3_vfs* real = real_vfs(vfs);
    const int rc = real->xOpen(real, name, f->real(), flags, out_flags);
    if (rc != SQLITE_OK) return rc;
    f->state = new (std::nothrow) State;
    if (!f->state || f->real()->pMethods->iVersion < 3) {
        const int why = f->state ? SQLITE_CANTOPEN : SQLITE_NOMEM;
        if (f->real()->pMethods) f->real()->pMethods->xClose(f->real());
        delete f->state;
        f->state = nullptr;
        return why;
    }
    try {
        if (name) f->state->path = name;
    } catch (...) {
        f->real()->pMethods->xClose(f->real());
        delete f->state;
        f->state = nullptr;
        return SQLITE_NOMEM;
    }
    f->state->gather = (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_JOURNAL)) != 0;
    f->state->read_ahead = (flags & SQLITE_OPEN_WAL) != 0;
    f->state->main_db = (flags & SQLITE_OPEN_MAIN_DB) != 0;
    f->state->wal = (flags & SQLITE_OPEN_WAL) != 0;
    if (f->state->main_db || f->state->wal) f->state->fd = descriptor_of(real, f->real(), name);
    {
        OpenFiles& o = open_files();
        std::lock_guard<std::mutex> lock(o.mu);
        try {
            o.files.insert(f);
        } catch (...) {
            f->real()->pMethods->xClose(f->real());
            delete f->state;
            f->state = nullptr;
            return SQLITE_NOMEM;
        }
    }
    f->base.pMethods = &kBatchMethods;
    return SQLITE_OK;
}

int batch_delete(sqlite3_vfs* v, const char* n, int sync_dir) {
    // A journal is deleted to commit: every gathered write to the files of
    // its database (whose path starts the journal's) goes first.
    {
        OpenFiles& o = open_files();
        std::lock_guard<std::mutex> lock(o.mu);
        const std::string deleted = n ? n : "";
        for (BatchFile* f : o.files) {
            const std::string& path = f->state->path;
            if (path.empty() || deleted.compare(0, path.size(), path) != 0) continue;
            const int rc = flush(f);
            if (rc != SQLITE_OK) return rc;
        }
    }
    return real_vfs(v)->xDelete(real_vfs(v), n, sync_dir);
}
int batch_access(sqlite3_vfs* v, const char* n, int flags, int* out) {
    return real_vfs(v)->xAccess(real_vfs(v), n, flags, out);
}
int batch_full_pathname(sqlite3_vfs* v, const char* n, int size, char* out) {
    return real_vfs(v)->xFullPathname(real_vfs(v), n, size, out);
}
int batch_randomness(sqlite3_vfs* v, int n, char* out) {
    return real_vfs(v)->xRandomness(real_vfs(v), n, out);
}
int batch_sleep(sqlite3_vfs* v, int us) {
    return real_vfs(v)->xSleep(real_vfs(v), us);
}
int batch_current_time(sqlite3_vfs* v, double* t) {
    return real_vfs(v)->xCurrentTime(real_vfs(v), t);
}
int batch_last_error(sqlite3_vfs* v, int n, char* out) {
    return real_vfs(v)->xGetLastError(real_vfs(v), n, out);
}
int batch_current_time64(sqlite3_vfs* v, sqlite3_int64* t) {
    return real_vfs(v)->xCurrentTimeInt64(real_vfs(v), t);
}

} // namespace

std::unique_ptr<RestoreWindow> RestoreWindow::open(sqlite3* db, uint32_t page_size, PageCheck check) {
    sqlite3_file* main = nullptr;
    sqlite3_file* log = nullptr;
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &main) != SQLITE_OK ||
        sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &log) != SQLITE_OK || !main || !log ||
        main->pMethods != &kBatchMethods || log->pMethods != &kBatchMethods)
        return nullptr;
    BatchFile* m = batch(main);
    BatchFile* l = batch(log);
    if (!m->state->main_db || !l->state->wal || m->state->window || l->state->window) return nullptr;
    // Without powersafe overwrite SQLite pads the log to whole sectors with
    // extra copies of frames, and may touch neighbouring pages of a sector.
    const int characteristics = l->real()->pMethods->xDeviceCharacteristics(l->real()) &
                                m->real()->pMethods->xDeviceCharacteristics(m->real());
    if (!(characteristics & SQLITE_IOCAP_POWERSAFE_OVERWRITE)) return nullptr;
    auto state = std::make_unique<State>();
    state->page_size = page_size;
    state->check = std::move(check);
    state->main = main;
    state->log = log;
    m->state->window = state.get();
    l->state->window = state.get();
    return std::unique_ptr<RestoreWindow>(new RestoreWindow(std::move(state)));
}

RestoreWindow::RestoreWindow(std::unique_ptr<State> state) : state_(std::move(state)) {}

RestoreWindow::~RestoreWindow() {
    close();
}

void RestoreWindow::close() {
    for (sqlite3_file* file : {state_->main, state_->log})
        if (file && batch(file)->state) batch(file)->state->window = nullptr;
    state_->main = state_->log = nullptr;
}

std::string RestoreWindow::problem() const {
    return state_->problem;
}

int register_batch_vfs() {
    static std::mutex mu;
    static sqlite3_vfs* registered = nullptr;
    std::lock_guard<std::mutex> lock(mu);
    if (registered) return SQLITE_OK;
    sqlite3_vfs* real = sqlite3_vfs_find(nullptr);
    if (!real) return SQLITE_ERROR;
    auto vfs = std::make_unique<sqlite3_vfs>();
    vfs->iVersion = 2;
    vfs->szOsFile = static_cast<int>(sizeof(BatchFile)) + real->szOsFile;
    vfs->mxPathname = real->mxPathname;
    vfs->zName = kBatchVfsName;
    vfs->pAppData = real;
    vfs->xOpen = batch_open;
    vfs->xDelete = batch_delete;
    vfs->xAccess = batch_access;
    vfs->xFullPathname = batch_full_pathname;
    vfs->xRandomness = batch_randomness;
    vfs->xSleep = batch_sleep;
    vfs->xCurrentTime = batch_current_time;
    vfs->xGetLastError = batch_last_error;
    vfs->xCurrentTimeInt64 = batch_current_time64;
    const int rc = sqlite3_vfs_register(vfs.get(), 0);
    if (rc != SQLITE_OK) return rc;
    registered = vfs.release(); // lives as long as the process
    return SQLITE_OK;
}

} // namespace wb
