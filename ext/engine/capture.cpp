// Capturing the write-ahead log (see capture.hpp).
#include "engine/capture.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/timeline.hpp"
#include "engine/wal_index.hpp"
#include "store/checksum.hpp"
#include "store/temp_file.hpp"

namespace wb {

namespace {

constexpr uint64_t kLockByteOffset = 0x40000000; // SQLite's PENDING_BYTE: its page is never written
constexpr size_t kChunkBytes = 4u << 20;

uint32_t lock_byte_page(uint32_t page_size) {
    return static_cast<uint32_t>(kLockByteOffset / page_size + 1);
}

} // namespace

// ---------------------------------------------------------------- WalPin

WalPin::WalPin(const std::string& db_path, int64_t busy_timeout_ms) {
    try {
        db_ = Connection(db_path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX);
    } catch (const Error&) {
        db_ = Connection(db_path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
    }
    sqlite3_busy_timeout(db_.get(), static_cast<int>(busy_timeout_ms));
    // A first read opens the log and maps its index.
    db_.query_int("SELECT count(*) FROM sqlite_schema");
    file_ = main_file_of(db_.get());
    header_ = begin_read_at_known_frame(db_, file_, busy_timeout_ms);
}

std::optional<WalIndexHeader> WalPin::index_now() const {
    return read_wal_index_header(file_);
}

// ---------------------------------------------------------------- WalFrames

WalFrames::WalFrames(const std::string& db_path) {
    const std::string path = db_path + "-wal";
    const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        throw Error("cannot read the write-ahead log '" + path + "': " + std::strerror(errno),
                    errno == ENOENT ? ErrorKind::not_found : ErrorKind::io);
    fd_ = Fd(fd);
    uint8_t head[kWalHeaderBytes];
    const size_t got = read_at(fd, head, sizeof head, 0, "cannot read the write-ahead log");
    if (got < sizeof head) throw Error("the write-ahead log is empty", ErrorKind::not_found);
    const auto header = parse_wal_header(head, got);
    if (!header) throw Error("the write-ahead log has no valid header yet; try again", ErrorKind::busy);
    header_ = *header;
}

std::optional<WalChecksum> WalFrames::checksum_at(uint32_t frame) const {
    if (frame == 0) return header_.checksum;
    uint8_t f[kWalFrameHeaderBytes];
    if (read_at(fd_.get(), f, sizeof f, wal_frame_offset(frame, header_.page_size), "cannot read the log") !=
        sizeof f)
        return std::nullopt;
    const WalFrameHeader h = parse_wal_frame_header(f);
    if (h.salt1 != header_.salt1 || h.salt2 != header_.salt2) return std::nullopt;
    return h.checksum;
}

bool WalFrames::continues(const WalCursor& c) const {
    if (c.salt1 != header_.salt1 || c.salt2 != header_.salt2) return false;
    const auto at = checksum_at(c.frame);
    return at && *at == c.checksum;
}

WalScan WalFrames::scan(const WalCursor& cursor, uint32_t to) const {
    WalScan out;
    out.header = header_;
    const bool same_log = cursor.salt1 == header_.salt1 && cursor.salt2 == header_.salt2;
    out.from = same_log ? cursor.frame : 0;
    WalChecksum running = same_log && cursor.frame > 0 ? cursor.checksum : header_.checksum;
    out.to = out.from;
    if (to <= out.from) return out;
    const uint32_t page_size = header_.page_size;
    const uint32_t frame_bytes = static_cast<uint32_t>(kWalFrameHeaderBytes) + page_size;
    const uint32_t per_chunk = std::max<uint32_t>(1, static_cast<uint32_t>(kChunkBytes / frame_bytes));
    std::vector<uint8_t> chunk(static_cast<size_t>(per_chunk) * frame_bytes);
    out.pages.reserve(to - out.from);
    for (uint32_t frame = out.from + 1; frame <= to; frame += per_chunk) {
        const uint32_t n = std::min(per_chunk, to - frame + 1);
        const size_t want = static_cast<size_t>(n) * frame_bytes;
        if (read_at(fd_.get(), chunk.data(), want, wal_frame_offset(frame, page_size),
                    "cannot read the log") != want)
            throw Error("the write-ahead log is shorter than its index says; try again", ErrorKind::busy);
        for (uint32_t i = 0; i < n; ++i) {
            const uint8_t* f = chunk.data() + static_cast<size_t>(i) * frame_bytes;
            if (!wal_frame_valid(header_, f, page_size, running))
                throw Error(
                    "frame " + std::to_string(frame + i) +
                        " of the write-ahead log does not continue its checksum chain; the log changed "
                        "while it was read",
                    ErrorKind::busy);
            const WalFrameHeader h = parse_wal_frame_header(f);
            out.pages.push_back(h.page);
            if (h.db_pages != 0) {
                out.commits.push_back(frame + i);
                out.commit_size.push_back(h.db_pages);
                out.commit_checksum.push_back(running);
            }
        }
    }
    // Frames after the last commit belong to no transaction (yet).
    out.to = out.commits.empty() ? out.from : out.commits.back();
    out.pages.resize(out.to - out.from);
    return out;
}

// ---------------------------------------------------------------- SegmentWriter

SegmentWriter::SegmentWriter(const Dir& dir, const std::string& name, const SegmentHeader& header,
                             bool staged)
    : dir_(dir), name_(name), staged_name_(staged ? temp_name_for(name) : ""), header_(header) {
    const std::string& created = staged ? staged_name_ : name_;
    if (staged) dir.remove_quietly(created); // a stale one of this pid
    fd_ = dir.create_exclusive(created);
    try {
        const std::string head = serialize_segment_header(header);
        write_all_at(fd_.get(), reinterpret_cast<const uint8_t*>(head.data()), head.size(), 0,
                     "writing a segment of continuous capture failed");
        fsync_fd(fd_.get(), "writing a segment of continuous capture to disk failed");
        if (!staged) dir.sync("cannot record a new segment of continuous capture");
    } catch (...) {
        dir.remove_quietly(created);
        throw;
    }
    end_ = kSegmentHeaderBytes;
}

SegmentWriter::~SegmentWriter() {
    if (!staged_name_.empty()) dir_.remove_quietly(staged_name_);
}

void SegmentWriter::publish() {
    if (staged_name_.empty()) return;
    dir_.rename_noreplace(staged_name_, name_);
    staged_name_.clear();
    dir_.sync("cannot record a new segment of continuous capture");
}

SegmentWriter::SegmentWriter(const Dir& dir, const std::string& name)
    : dir_(dir), name_(name), fd_(dir.open_regular_rw(name, &st_)) {
    const struct stat& st = st_;
    std::string head(kSegmentHeaderBytes, '\0');
    if (read_at(fd_.get(), reinterpret_cast<uint8_t*>(head.data()), head.size(), 0,
                "reading a segment failed") != head.size())
        throw Error("'" + name + "' is shorter than a segment's header", ErrorKind::io);
    header_ = parse_segment_header(head);
    std::vector<TimelinePoint> ignored;
    end_ = read_points(fd_.get(), static_cast<uint64_t>(st.st_size), header_, 0, ignored);
    if (end_ < static_cast<uint64_t>(st.st_size)) {
        if (::ftruncate(fd_.get(), static_cast<off_t>(end_)) != 0)
            throw system_error("cannot cut the torn end off '" + name + "'", errno);
        fsync_fd(fd_.get(), "writing a segment of continuous capture to disk failed");
    }
}

PointHeader SegmentWriter::append(const WalFrames& wal, const WalScan& scan, uint32_t cut,
                                  std::vector<uint64_t>& hashes, int64_t captured_ns) {
    const uint32_t end = cut ? cut : scan.to;
    const auto last = std::find(scan.commits.begin(), scan.commits.end(), end);
    if (last == scan.commits.end()) throw Error("internal error: a point must end at a commit");
    const size_t commit = static_cast<size_t>(last - scan.commits.begin());
    const uint32_t page_count = scan.commit_size[commit];
    const uint32_t page_size = header_.page_size;
    if (scan.header.page_size != page_size)
        throw Error("the database's page size is not the timeline's", ErrorKind::misuse);

    // The newest frame of each page, up to the cut, within the new size.
    std::vector<std::pair<uint32_t, uint32_t>> latest; // (page, frame)
    latest.reserve(end - scan.from);
    for (uint32_t frame = end; frame > scan.from; --frame)
        latest.emplace_back(scan.pages[frame - scan.from - 1], frame);
    std::stable_sort(latest.begin(), latest.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    latest.erase(std::unique(latest.begin(), latest.end(),
                             [](const auto& a, const auto& b) { return a.first == b.first; }),
                 latest.end());
    while (!latest.empty() && latest.back().first > page_count)
        latest.pop_back();
    // Growth: every new page is in the log, but for the lock-byte page, which
    // SQLite never writes (it reads as zeros).
    const uint32_t lock_page = lock_byte_page(page_size);
    const bool add_lock_page =
        lock_page > hashes.size() && lock_page <= page_count &&
        !std::binary_search(latest.begin(), latest.end(), std::make_pair(lock_page, 0u),
                            [](const auto& a, const auto& b) { return a.first < b.first; });
    if (add_lock_page) {
        latest.emplace_back(lock_page, 0);
        std::sort(latest.begin(), latest.end());
    }
    const auto entries = static_cast<uint32_t>(latest.size());

    PointHeader h;
    h.captured_ns = static_cast<uint64_t>(captured_ns);
    h.page_count = page_count;
    h.entries = entries;
    for (uint64_t x : hashes)
        h.before ^= x;
    h.salt1 = scan.header.salt1;
    h.salt2 = scan.header.salt2;
    h.first_frame = scan.from + 1;
    h.last_frame = end;
    h.wal_checksum1 = scan.commit_checksum[commit].s1;
    h.wal_checksum2 = scan.commit_checksum[commit].s2;
    h.transactions = static_cast<uint32_t>(commit + 1);

    // Pages, then the map, then the trailer; the header last.
    const uint64_t start = end_;
    Xxh3Stream payload;
    std::vector<IncrementEntry> map;
    map.reserve(entries);
    std::vector<uint8_t> buf;
    buf.reserve(kChunkBytes + page_size);
    uint64_t offset = start + point_pages_offset();
    auto flush = [&] {
        if (buf.empty()) return;
        payload.update(buf.data(), buf.size());
        write_all_at(fd_.get(), buf.data(), buf.size(), offset,
                     "writing a segment of continuous capture failed");
        offset += buf.size();
        buf.clear();
    };
    std::vector<uint8_t> page(page_size);
    for (const auto& [number, frame] : latest) {
        if (frame == 0) {
            std::fill(page.begin(), page.end(), 0);
        } else if (read_at(wal.fd(), page.data(), page_size,
                           wal_frame_offset(frame, page_size) + kWalFrameHeaderBytes,
                           "cannot read the write-ahead log") != page_size) {
            throw Error("the write-ahead log is shorter than its index says; try again", ErrorKind::busy);
        }
        if (number == 1) page[18] = page[19] = 1; // as every backup stores page 1
        map.push_back({number, page_hash(number, page.data(), page_size)});
        buf.insert(buf.end(), page.begin(), page.end());
        if (buf.size() >= kChunkBytes) flush();
    }
    flush();
    if (!carries_growth(hashes.size(), page_count, map))
        throw Error(
            "the write-ahead log lacks a page its transactions added; the timeline restarts with a new base",
            ErrorKind::io);
    const std::string map_bytes = serialize_increment_map(map);
    payload.update(reinterpret_cast<const uint8_t*>(map_bytes.data()), map_bytes.size());
    std::string tail = map_bytes;
    const uint64_t sum = payload.digest();
    for (int i = 0; i < 8; ++i)
        tail += static_cast<char>(sum >> (8 * i));
    write_all_at(fd_.get(), reinterpret_cast<const uint8_t*>(tail.data()), tail.size(), offset,
                 "writing a segment of continuous capture failed");
    h.after = checksum_after(h.before, hashes, page_count, map);
    const std::string head = serialize_point_header(h);
    write_all_at(fd_.get(), reinterpret_cast<const uint8_t*>(head.data()), head.size(), start,
                 "writing a segment of continuous capture failed");
    if (::fdatasync(fd_.get()) != 0)
        throw system_error("writing a segment of continuous capture to disk failed", errno);
    end_ = start + point_bytes(entries, page_size);
    hashes = apply_increment_hashes(std::move(hashes), page_count, map);
    return h;
}

} // namespace wb
