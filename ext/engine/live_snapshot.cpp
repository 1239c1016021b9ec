// The live snapshot reader (see live_snapshot.hpp for how it pins an instant).
#include "engine/live_snapshot.hpp"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <thread>

#include "engine/stand_ins.hpp"
#include "engine/wal_index.hpp"
#include "policy/wal_format.hpp"

namespace wb {

namespace {

constexpr uint64_t kLockByteOffset = 0x40000000; // SQLite's PENDING_BYTE

Error busy_error() {
    return Error("the database is busy (a writer holds it locked); try again, or raise busy_timeout_ms",
                 ErrorKind::busy);
}

} // namespace

std::vector<TableCount> count_rows(sqlite3* db) {
    std::vector<TableCount> out;
    {
        Statement tables(db, "SELECT name FROM sqlite_schema WHERE type = 'table' AND rootpage > 0 "
                             "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name");
        while (tables.step())
            out.push_back({tables.column_text(0), 0});
    }
    for (auto& t : out) {
        Statement count(db, "SELECT count(*) FROM main." + quote_identifier(t.name));
        t.rows = count.step() ? count.column_int(0) : 0;
    }
    return out;
}

LiveSnapshot::LiveSnapshot(const std::string& db_path, const Options& options) : db_path_(db_path) {
    // Read-write, though it only reads: a WAL database whose log was just
    // reset (the last connection closed) has an uninitialised log index, which
    // only a connection that may write sets up. A file this process cannot
    // write is read read-only.
    try {
        db_ = Connection(db_path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX);
    } catch (const Error&) {
        db_ = Connection(db_path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
    }
    sqlite3_busy_timeout(db_.get(), static_cast<int>(options.busy_timeout_ms));
    // Page reads of the database file go through SQLite's own handle, memory-mapped.
    db_.exec("PRAGMA mmap_size = 2147418112");
    // Counting rows may open an index on a collation only the application has.
    install_collation_stand_ins(db_.get());
    try {
        // A first read opens the log and maps its index in WAL mode.
        db_.query_int("SELECT count(*) FROM sqlite_schema");
        Statement mode(db_.get(), "PRAGMA journal_mode");
        journal_mode_ = mode.step() ? mode.column_text(0) : "";
    } catch (const Error& e) {
        if (e.kind() == ErrorKind::busy) throw busy_error();
        throw Error(std::string("cannot read the database: ") + e.what(), e.kind());
    }
    wal_ = journal_mode_ == "wal";
    file_ = main_file_of(db_.get());
    if (wal_) {
        begin_wal(options);
    } else {
        begin_rollback();
    }
    page_size_ = static_cast<uint32_t>(db_.query_int("PRAGMA page_size"));
    page_count_ = static_cast<uint32_t>(db_.query_int("PRAGMA page_count"));
    lock_byte_page_ = static_cast<uint32_t>(kLockByteOffset / page_size_ + 1);
    if (wal_ && last_frame_ > 0) load_wal_frames();
}

void LiveSnapshot::begin_rollback() {
    try {
        db_.exec("BEGIN");
        db_.query_int("SELECT count(*) FROM sqlite_schema");
    } catch (const Error& e) {
        if (e.kind() == ErrorKind::busy) throw busy_error();
        throw Error(std::string("cannot read the database: ") + e.what(), e.kind());
    }
}

// Starts the read transaction at a known place in the log (engine/wal_index.hpp).
void LiveSnapshot::begin_wal(const Options& options) {
    const WalIndexHeader h =
        begin_read_at_known_frame(db_, file_, options.busy_timeout_ms, options.writer_lock_held);
    // Frames the database file already holds need not be read from the log.
    last_frame_ = h.backfilled >= h.max_frame ? 0 : h.max_frame;
    wal_salt1_ = h.salt1;
    wal_salt2_ = h.salt2;
    position_ = h;
}

void LiveSnapshot::load_wal_frames() {
    const std::string path = db_path_ + "-wal";
    const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) throw system_error("cannot read the write-ahead log '" + path + "'", errno);
    wal_file_ = Fd(fd);
    uint8_t head[kWalHeaderBytes];
    if (read_at(fd, head, sizeof head, 0, "cannot read the write-ahead log") != sizeof head)
        throw Error("the write-ahead log is shorter than its header", ErrorKind::io);
    const auto header = parse_wal_header(head, sizeof head);
    if (!header || header->salt1 != wal_salt1_ || header->salt2 != wal_salt2_ ||
        header->page_size != page_size_)
        throw Error("the write-ahead log does not match its index; try again", ErrorKind::busy);

    frame_of_.assign(static_cast<size_t>(page_count_) + 1, 0);
    const uint32_t frame_bytes = static_cast<uint32_t>(kWalFrameHeaderBytes) + page_size_;
    const uint32_t per_chunk = std::max<uint32_t>(1, (4u << 20) / frame_bytes);
    std::vector<uint8_t> chunk(static_cast<size_t>(per_chunk) * frame_bytes);
    WalChecksum running = header->checksum;
    for (uint32_t frame = 1; frame <= last_frame_; frame += per_chunk) {
        const uint32_t n = std::min(per_chunk, last_frame_ - frame + 1);
        const size_t want = static_cast<size_t>(n) * frame_bytes;
        if (read_at(fd, chunk.data(), want, wal_frame_offset(frame, page_size_),
                    "cannot read the write-ahead log") != want)
            throw Error("the write-ahead log is shorter than its index says; try again", ErrorKind::busy);
        for (uint32_t i = 0; i < n; ++i) {
            const uint8_t* f = chunk.data() + static_cast<size_t>(i) * frame_bytes;
            if (!wal_frame_valid(*header, f, page_size_, running))
                throw Error(
                    "frame " + std::to_string(frame + i) +
                        " of the write-ahead log fails its checksum; the log changed while it was read, "
                        "or it is damaged",
                    ErrorKind::busy);
            const uint32_t page = parse_wal_frame_header(f).page;
            if (page <= page_count_) frame_of_[page] = frame + i;
        }
    }
}

void LiveSnapshot::read_from_db(uint32_t first, uint32_t count, uint8_t* out) {
    const auto amount = static_cast<int>(static_cast<uint64_t>(count) * page_size_);
    const int rc =
        file_->pMethods->xRead(file_, out, amount, static_cast<sqlite3_int64>(first - 1) * page_size_);
    // A short read leaves zeros, as SQLite's pager reads past the end of a file.
    if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ)
        throw Error("reading the database failed (" + std::string(sqlite3_errstr(rc)) + ")", ErrorKind::io);
}

void LiveSnapshot::read_pages(uint32_t first, uint32_t count, uint8_t* out) {
    const uint32_t end = first + count;
    uint32_t page = first;
    while (page < end) {
        uint8_t* dest = out + static_cast<size_t>(page - first) * page_size_;
        if (page == lock_byte_page_) {
            std::memset(dest, 0, page_size_);
            ++page;
            continue;
        }
        const uint32_t frame = frame_of_.empty() ? 0 : frame_of_[page];
        if (frame) {
            if (read_at(wal_file_.get(), dest, page_size_,
                        wal_frame_offset(frame, page_size_) + kWalFrameHeaderBytes,
                        "cannot read the write-ahead log") != page_size_)
                throw Error("the write-ahead log is shorter than its index says", ErrorKind::io);
            ++page;
            continue;
        }
        // The longest run of pages that come from the database file.
        uint32_t run = 1;
        while (page + run < end && page + run != lock_byte_page_ &&
               (frame_of_.empty() || !frame_of_[page + run]))
            ++run;
        read_from_db(page, run, dest);
        page += run;
    }
}

std::vector<TableCount> LiveSnapshot::count_rows() {
    return wb::count_rows(db_.get());
}

void LiveSnapshot::end() {
    if (db_.get() && !sqlite3_get_autocommit(db_.get())) db_.exec("COMMIT");
    wal_file_.reset();
    db_.close();
}

} // namespace wb
