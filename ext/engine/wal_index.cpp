// The wal-index, read through SQLite's own handle (see wal_index.hpp).
#include "engine/wal_index.hpp"

#include <atomic>
#include <chrono>
#include <thread>

namespace wb {

namespace {

constexpr int kWalIndexRegionBytes = 32768; // the size SQLite maps the wal-index in
constexpr int kHeaderAttempts = 200;

Error busy_error() {
    return Error("the database is busy (a writer holds it locked); try again, or raise busy_timeout_ms",
                 ErrorKind::busy);
}

} // namespace

sqlite3_file* main_file_of(sqlite3* db) {
    sqlite3_file* file = nullptr;
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &file) != SQLITE_OK || !file ||
        !file->pMethods)
        throw Error("cannot reach the database file through SQLite");
    return file;
}

std::optional<WalIndexHeader> read_wal_index_header(sqlite3_file* file) {
    void volatile* region = nullptr;
    if (file->pMethods->iVersion < 2 || !file->pMethods->xShmMap ||
        file->pMethods->xShmMap(file, 0, kWalIndexRegionBytes, 0, &region) != SQLITE_OK || !region)
        return std::nullopt;
    // Copy the first header, then (after a barrier) the second, as SQLite's
    // readers do: a writer updates the second copy first.
    uint8_t bytes[kWalIndexHeaderBytes];
    const auto* mapped = static_cast<const volatile uint8_t*>(region);
    for (size_t i = 0; i < 48; ++i)
        bytes[i] = mapped[i];
    std::atomic_thread_fence(std::memory_order_acquire);
    for (size_t i = 48; i < kWalIndexHeaderBytes; ++i)
        bytes[i] = mapped[i];
    return parse_wal_index_header(bytes, sizeof bytes);
}

WalIndexHeader begin_read_at_known_frame(Connection& db, sqlite3_file* file, int64_t busy_timeout_ms,
                                         bool writer_lock_held) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(busy_timeout_ms);
    for (int attempt = 0;; ++attempt) {
        const auto before = read_wal_index_header(file);
        try {
            db.exec("BEGIN");
            db.query_int("SELECT count(*) FROM sqlite_schema");
        } catch (const Error& e) {
            if (e.kind() == ErrorKind::busy) throw busy_error();
            throw Error(std::string("cannot read the database: ") + e.what(), e.kind());
        }
        const auto after = read_wal_index_header(file);
        const bool steady = before && after && before->change == after->change &&
                            before->max_frame == after->max_frame && before->salt1 == after->salt1 &&
                            before->salt2 == after->salt2;
        if (after && (steady || writer_lock_held)) return *after;
        db.exec("COMMIT");
        if (attempt >= kHeaderAttempts && std::chrono::steady_clock::now() > deadline) throw busy_error();
        std::this_thread::sleep_for(std::chrono::microseconds(attempt < 10 ? 50 : 1000));
    }
}

} // namespace wb
