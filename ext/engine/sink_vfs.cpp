// The wecare_sink VFS shim (see sink_vfs.hpp).
#include "engine/sink_vfs.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <mutex>
#include <unistd.h>
#include <vector>

#include "common/barrier.hpp"
#include "common/sqlite_api.hpp"

namespace wb {

namespace {

struct Contexts {
    std::mutex mu;
    uint64_t next_id = 1;
    std::map<uint64_t, SinkContext*> by_id;
};

Contexts& contexts() {
    static auto* c = new Contexts;
    return *c;
}

SinkContext* find_context(const char* uri_name) {
    const char* id_text = sqlite3_uri_parameter(uri_name, "wecare_sink");
    if (!id_text) return nullptr;
    const uint64_t id = std::strtoull(id_text, nullptr, 10);
    Contexts& c = contexts();
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.by_id.find(id);
    return it == c.by_id.end() ? nullptr : it->second;
}

sqlite3_vfs* real_vfs(sqlite3_vfs* vfs) {
    return static_cast<sqlite3_vfs*>(vfs->pAppData);
}

struct SinkFile { // SQLite allocates it with 8-byte alignment
    sqlite3_file base;
    SinkContext* context; // null for a file that only passes through
    uint8_t* batch;       // the batch being filled (from the writer), or null
    size_t batch_length;
    uint64_t batch_offset;
    sqlite3_file* real() {
        return reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(this) + sizeof(SinkFile));
    }
};

static_assert(sizeof(SinkFile) % 8 == 0, "the real file must stay 8-byte aligned after SinkFile");

SinkFile* sink(sqlite3_file* f) {
    return reinterpret_cast<SinkFile*>(f);
}

void submit_batch(SinkFile* f) {
    if (!f->batch) return;
    f->context->writer->submit(f->batch, f->batch_length, f->batch_offset);
    f->batch = nullptr;
    f->batch_length = 0;
}

// Everything written so far is on its way or on disk; reports a failed write.
int drain(SinkFile* f) {
    if (!f->context) return SQLITE_OK;
    submit_batch(f);
    const int err = f->context->writer->drain();
    if (err == 0) return SQLITE_OK;
    f->context->write_errno = err;
    return (err == ENOSPC || err == EDQUOT || err == EFBIG) ? SQLITE_FULL : SQLITE_IOERR_WRITE;
}

int sink_close(sqlite3_file* file) {
    return code_barrier(SQLITE_IOERR_CLOSE, [&] {
        SinkFile* f = sink(file);
        const int rc = drain(f);
        const int close_rc = f->real()->pMethods ? f->real()->pMethods->xClose(f->real()) : SQLITE_OK;
        return rc != SQLITE_OK ? rc : close_rc;
    });
}

int sink_read(sqlite3_file* file, void* buf, int amount, sqlite3_int64 offset) {
    return code_barrier(SQLITE_IOERR_READ, [&] {
        SinkFile* f = sink(file);
        const int rc = drain(f);
        if (rc != SQLITE_OK) return rc;
        return f->real()->pMethods->xRead(f->real(), buf, amount, offset);
    });
}

int write_batched(SinkFile* f, const void* buf, int amount, sqlite3_int64 offset) {
    const auto* data = static_cast<const uint8_t*>(buf);
    auto length = static_cast<size_t>(amount);
    auto at = static_cast<uint64_t>(offset);
    const bool header = at == 0 && length >= 100;
    const bool contiguous = f->batch && f->batch_offset + f->batch_length == at;
    if (!contiguous || f->batch_length + length > kBatchBytes) submit_batch(f);
    while (length > 0) {
        if (!f->batch) {
            f->batch = f->context->writer->acquire();
            f->batch_offset = at;
            f->batch_length = 0;
        }
        const size_t take = std::min(length, kBatchBytes - f->batch_length);
        uint8_t* dest = f->batch + f->batch_length;
        std::memcpy(dest, data, take);
        if (header && at == 0) {
            // Bytes 18 and 19 are the file format read/write versions: 2 = WAL.
            dest[18] = dest[19] = 1;
        }
        f->batch_length += take;
        data += take;
        at += take;
        length -= take;
        if (f->batch_length == kBatchBytes) submit_batch(f);
    }
    return SQLITE_OK;
}

int sink_write(sqlite3_file* file, const void* buf, int amount, sqlite3_int64 offset) {
    return code_barrier(SQLITE_IOERR_WRITE, [&] {
        SinkFile* f = sink(file);
        if (!f->context) return f->real()->pMethods->xWrite(f->real(), buf, amount, offset);
        return write_batched(f, buf, amount, offset);
    });
}

int sink_truncate(sqlite3_file* file, sqlite3_int64 size) {
    return code_barrier(SQLITE_IOERR_TRUNCATE, [&] {
        SinkFile* f = sink(file);
        const int rc = drain(f);
        return rc != SQLITE_OK ? rc : f->real()->pMethods->xTruncate(f->real(), size);
    });
}

int sink_sync(sqlite3_file* file, int flags) {
    return code_barrier(SQLITE_IOERR_FSYNC, [&] {
        SinkFile* f = sink(file);
        const int rc = drain(f);
        return rc != SQLITE_OK ? rc : f->real()->pMethods->xSync(f->real(), flags);
    });
}

int sink_file_size(sqlite3_file* file, sqlite3_int64* size) {
    return code_barrier(SQLITE_IOERR_FSTAT, [&] {
        SinkFile* f = sink(file);
        const int rc = drain(f);
        return rc != SQLITE_OK ? rc : f->real()->pMethods->xFileSize(f->real(), size);
    });
}

int sink_lock(sqlite3_file* file, int level) {
    return sink(file)->real()->pMethods->xLock(sink(file)->real(), level);
}
int sink_unlock(sqlite3_file* file, int level) {
    return sink(file)->real()->pMethods->xUnlock(sink(file)->real(), level);
}
int sink_check_reserved(sqlite3_file* file, int* out) {
    return sink(file)->real()->pMethods->xCheckReservedLock(sink(file)->real(), out);
}

int sink_file_control(sqlite3_file* file, int op, void* arg) {
    return code_barrier(SQLITE_IOERR, [&] {
        SinkFile* f = sink(file);
        if (op == kSinkFlushOpcode) return drain(f);
        const int rc = drain(f);
        if (rc != SQLITE_OK) return rc;
        return f->real()->pMethods->xFileControl(f->real(), op, arg);
    });
}

int sink_sector_size(sqlite3_file* file) {
    return sink(file)->real()->pMethods->xSectorSize(sink(file)->real());
}
int sink_device_characteristics(sqlite3_file* file) {
    return sink(file)->real()->pMethods->xDeviceCharacteristics(sink(file)->real());
}

// Version 1: no shared memory and no memory mapping, so every byte SQLite
// reads or writes passes through the batch above.
const sqlite3_io_methods kSinkMethods = {
    1,                           /* iVersion */
    sink_close,                  /* xClose */
    sink_read,                   /* xRead */
    sink_write,                  /* xWrite */
    sink_truncate,               /* xTruncate */
    sink_sync,                   /* xSync */
    sink_file_size,              /* xFileSize */
    sink_lock,                   /* xLock */
    sink_unlock,                 /* xUnlock */
    sink_check_reserved,         /* xCheckReservedLock */
    sink_file_control,           /* xFileControl */
    sink_sector_size,            /* xSectorSize */
    sink_device_characteristics, /* xDeviceCharacteristics */
    nullptr,                     /* xShmMap */
    nullptr,                     /* xShmLock */
    nullptr,                     /* xShmBarrier */
    nullptr,                     /* xShmUnmap */
    nullptr,                     /* xFetch */
    nullptr,                     /* xUnfetch */
};

int sink_open(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags, int* out_flags) {
    SinkFile* f = sink(file);
    f->base.pMethods = nullptr;
    f->context = nullptr;
    f->batch = nullptr;
    f->batch_length = 0;
    f->batch_offset = 0;
    sqlite3_vfs* real = real_vfs(vfs);
    const int rc = real->xOpen(real, name, f->real(), flags, out_flags);
    if (rc != SQLITE_OK) return rc;
    const int found = code_barrier(SQLITE_CANTOPEN, [&] {
        if ((flags & SQLITE_OPEN_MAIN_DB) && name) f->context = find_context(name);
        if (f->context && !f->context->writer) f->context = nullptr;
        return SQLITE_OK;
    });
    if (found != SQLITE_OK) {
        f->real()->pMethods->xClose(f->real());
        return found;
    }
    f->base.pMethods = &kSinkMethods;
    return SQLITE_OK;
}

int sink_delete(sqlite3_vfs* v, const char* n, int s) {
    return real_vfs(v)->xDelete(real_vfs(v), n, s);
}
int sink_access(sqlite3_vfs* v, const char* n, int f, int* o) {
    return real_vfs(v)->xAccess(real_vfs(v), n, f, o);
}
int sink_full_pathname(sqlite3_vfs* v, const char* n, int size, char* out) {
    return real_vfs(v)->xFullPathname(real_vfs(v), n, size, out);
}
int sink_randomness(sqlite3_vfs* v, int n, char* out) {
    return real_vfs(v)->xRandomness(real_vfs(v), n, out);
}
int sink_sleep(sqlite3_vfs* v, int us) {
    return real_vfs(v)->xSleep(real_vfs(v), us);
}
int sink_current_time(sqlite3_vfs* v, double* t) {
    return real_vfs(v)->xCurrentTime(real_vfs(v), t);
}
int sink_last_error(sqlite3_vfs* v, int n, char* out) {
    return real_vfs(v)->xGetLastError(real_vfs(v), n, out);
}
int sink_current_time64(sqlite3_vfs* v, sqlite3_int64* t) {
    return real_vfs(v)->xCurrentTimeInt64(real_vfs(v), t);
}

} // namespace

int register_sink_vfs() {
    static std::mutex mu;
    static sqlite3_vfs* registered = nullptr;
    std::lock_guard<std::mutex> lock(mu);
    if (registered) return SQLITE_OK;
    sqlite3_vfs* real = sqlite3_vfs_find(nullptr);
    if (!real) return SQLITE_ERROR;
    auto* vfs = new sqlite3_vfs();
    vfs->iVersion = 2;
    vfs->szOsFile = static_cast<int>(sizeof(SinkFile)) + real->szOsFile;
    vfs->mxPathname = real->mxPathname;
    vfs->zName = kSinkVfsName;
    vfs->pAppData = real;
    vfs->xOpen = sink_open;
    vfs->xDelete = sink_delete;
    vfs->xAccess = sink_access;
    vfs->xFullPathname = sink_full_pathname;
    vfs->xRandomness = sink_randomness;
    vfs->xSleep = sink_sleep;
    vfs->xCurrentTime = sink_current_time;
    vfs->xGetLastError = sink_last_error;
    vfs->xCurrentTimeInt64 = sink_current_time64;
    const int rc = sqlite3_vfs_register(vfs, 0);
    if (rc != SQLITE_OK) {
        delete vfs;
        return rc;
    }
    registered = vfs; // lives as long as the process: connections may outlive this library's users
    return SQLITE_OK;
}

SinkRegistration::SinkRegistration(SinkContext* context) {
    Contexts& c = contexts();
    std::lock_guard<std::mutex> lock(c.mu);
    id_ = c.next_id++;
    c.by_id[id_] = context;
}

SinkRegistration::~SinkRegistration() {
    Contexts& c = contexts();
    std::lock_guard<std::mutex> lock(c.mu);
    c.by_id.erase(id_);
}

std::string SinkRegistration::uri_parameter() const {
    return "wecare_sink=" + std::to_string(id_);
}

} // namespace wb
