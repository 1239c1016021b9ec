// The timeline on disk (see timeline.hpp).
#include "engine/timeline.hpp"

#include <algorithm>
#include <map>
#include <sys/stat.h>

#include "engine/chain.hpp"
#include "policy/naming.hpp"
#include "store/checksum.hpp"

namespace wb {

namespace {

struct OpenedSegment {
    std::string name;
    std::shared_ptr<Fd> file;
    uint64_t size = 0;
    SegmentHeader header;
};

std::string read_bytes(int fd, uint64_t offset, size_t length, const std::string& what) {
    std::string bytes(length, '\0');
    if (read_at(fd, reinterpret_cast<uint8_t*>(bytes.data()), length, offset,
                "reading " + what + " failed") != length)
        throw Error(what + " is shorter than it says", ErrorKind::io);
    return bytes;
}

// Whether the point at `offset` has the payload its trailer records.
bool payload_intact(int fd, uint64_t offset, uint32_t entries, uint32_t page_size, Observer* observer) {
    const uint64_t payload = point_bytes(entries, page_size) - kPointHeaderBytes - kPointTrailerBytes;
    const std::string trailer =
        read_bytes(fd, offset + kPointHeaderBytes + payload, kPointTrailerBytes, "a segment");
    uint64_t recorded = 0;
    for (int b = 7; b >= 0; --b)
        recorded = recorded << 8 | static_cast<uint8_t>(trailer[static_cast<size_t>(b)]);
    return xxh3_64_of_range(fd, offset + kPointHeaderBytes, payload, observer) == recorded;
}

} // namespace

bool of_this_timeline(const TimelineGeneration& g, const Chain& base) {
    return base.last().record.created_ns == g.base_created_ns;
}

std::string foreign_generation(const TimelineGeneration& g) {
    return "'" + (g.files.empty() ? g.base : g.files.front().name) +
           "' is not of this timeline: it names the base backup '" + g.base +
           "' but was captured from another backup of that name (another database's); it is never restored "
           "from: move it out of the backup directory";
}

uint64_t read_points(int fd, uint64_t size, const SegmentHeader& header, size_t file_index,
                     std::vector<TimelinePoint>& points) {
    uint64_t offset = kSegmentHeaderBytes;
    while (offset + kPointHeaderBytes <= size) {
        PointHeader h;
        try {
            h = parse_point_header(read_bytes(fd, offset, kPointHeaderBytes, "a segment"));
        } catch (const Error& e) {
            if (e.kind() == ErrorKind::io) throw;
            break; // a torn point: the end of what was captured
        }
        const uint64_t length = point_bytes(h.entries, header.page_size);
        if (offset + length > size) break;
        TimelinePoint p;
        p.captured_ns = static_cast<int64_t>(h.captured_ns);
        p.before = h.before;
        p.after = h.after;
        p.page_count = h.page_count;
        p.entries = h.entries;
        p.file = file_index;
        p.offset = offset;
        p.salt1 = h.salt1;
        p.salt2 = h.salt2;
        p.last_frame = h.last_frame;
        p.wal_checksum1 = h.wal_checksum1;
        p.wal_checksum2 = h.wal_checksum2;
        points.push_back(p);
        offset += length;
    }
    // Each point is made durable before the next is written: only the last
    // one of a file can be torn by a crash, so its payload is checked here.
    const size_t mine = static_cast<size_t>(std::count_if(
        points.begin(), points.end(), [&](const TimelinePoint& p) { return p.file == file_index; }));
    if (mine > 0 &&
        !payload_intact(fd, points.back().offset, points.back().entries, header.page_size, nullptr)) {
        offset = points.back().offset;
        points.pop_back();
    }
    return offset;
}

SegmentHeader check_segment_file(int fd, uint64_t size, const std::string& name, Observer& observer) {
    const std::string what = "'" + name + "'";
    if (size < kSegmentHeaderBytes)
        throw Error(what + " is shorter than a segment's header", ErrorKind::format);
    SegmentHeader header;
    try {
        header = parse_segment_header(read_bytes(fd, 0, kSegmentHeaderBytes, what));
    } catch (const Error& e) {
        if (e.kind() == ErrorKind::io) throw;
        throw Error(what + " is not a segment of continuous capture: " + e.what(), ErrorKind::format);
    }
    std::vector<TimelinePoint> points;
    read_points(fd, size, header, 0, points);
    for (const auto& p : points) {
        observer.check();
        const std::string where = what + ", the point captured at " + format_time_ns(p.captured_ns);
        if (!payload_intact(fd, p.offset, p.entries, header.page_size, &observer))
            throw Error(where + ": its pages are damaged (checksum mismatch)", ErrorKind::format);
        PointHeader h;
        h.entries = p.entries;
        h.page_count = p.page_count;
        try {
            parse_point_map(read_bytes(fd, p.offset + point_map_offset(p.entries, header.page_size),
                                       static_cast<size_t>(p.entries) * kIncrementEntryBytes, what),
                            h);
        } catch (const Error& e) {
            if (e.kind() == ErrorKind::io) throw;
            throw Error(where + ": " + e.what(), ErrorKind::format);
        }
    }
    return header;
}

Timeline Timeline::open(const Dir& dir, const std::string& prefix) {
    Timeline t;
    std::map<uint64_t, std::vector<OpenedSegment>> by_generation;
    for (const auto& name : dir.list()) {
        if (!parse_segment_name(prefix, name)) continue;
        OpenedSegment s;
        s.name = name;
        try {
            struct stat st {};
            s.file = std::make_shared<Fd>(dir.open_regular(name, &st));
            s.size = static_cast<uint64_t>(st.st_size);
            s.header =
                parse_segment_header(read_bytes(s.file->get(), 0, kSegmentHeaderBytes, "'" + name + "'"));
        } catch (const Error& e) {
            if (e.kind() == ErrorKind::not_found) continue; // removed meanwhile
            t.problems_.push_back("'" + name + "' cannot be read: " + e.what());
            continue;
        }
        by_generation[s.header.generation].push_back(std::move(s));
    }
    std::vector<std::pair<TimelineGeneration, std::vector<std::shared_ptr<Fd>>>> found;
    for (auto& [id, segments] : by_generation) {
        std::sort(segments.begin(), segments.end(), [](const OpenedSegment& a, const OpenedSegment& b) {
            return a.header.sequence < b.header.sequence;
        });
        TimelineGeneration g;
        g.id = id;
        std::vector<std::shared_ptr<Fd>> files;
        if (segments.front().header.sequence != 0) {
            t.problems_.push_back("the first segment of the timeline part that '" + segments.front().name +
                                  "' belongs to is missing; its restore points cannot be used");
            continue;
        }
        const SegmentHeader& first = segments.front().header;
        g.base = first.base;
        g.base_checksum = first.base_checksum;
        g.base_created_ns = first.base_created_ns;
        g.page_size = first.page_size;
        g.started_ns = static_cast<int64_t>(first.created_ns);
        for (size_t i = 0; i < segments.size(); ++i) {
            const OpenedSegment& s = segments[i];
            if (s.header.sequence != i) {
                g.problems.push_back("a segment before '" + s.name +
                                     "' is missing; the restore points from it on cannot be used");
                break;
            }
            if (s.header.base != g.base || s.header.base_created_ns != g.base_created_ns ||
                s.header.base_checksum != g.base_checksum || s.header.page_size != g.page_size) {
                g.problems.push_back("'" + s.name +
                                     "' names another base or page size than its first segment");
                break;
            }
            TimelineFile f;
            f.name = s.name;
            f.sequence = s.header.sequence;
            f.created_ns = static_cast<int64_t>(s.header.created_ns);
            f.reason = s.header.reason;
            f.bytes = s.size;
            f.first_point = g.points.size();
            f.salt1 = s.header.salt1;
            f.salt2 = s.header.salt2;
            f.frame = s.header.frame;
            f.checksum1 = s.header.checksum1;
            f.checksum2 = s.header.checksum2;
            read_points(s.file->get(), s.size, s.header, files.size(), g.points);
            g.files.push_back(std::move(f));
            files.push_back(s.file);
        }
        for (const auto& p : g.problems)
            t.problems_.push_back(p);
        found.emplace_back(std::move(g), std::move(files));
    }
    std::sort(found.begin(), found.end(),
              [](const auto& a, const auto& b) { return a.first.started_ns < b.first.started_ns; });
    for (auto& [g, files] : found) {
        t.generations_.push_back(std::move(g));
        t.files_.push_back(std::move(files));
    }
    return t;
}

std::vector<IncrementEntry> Timeline::point_map(size_t generation, size_t point) const {
    const TimelineGeneration& g = generations_.at(generation);
    const TimelinePoint& p = g.points.at(point);
    const std::string bytes =
        read_bytes(files_[generation][p.file]->get(), p.offset + point_map_offset(p.entries, g.page_size),
                   static_cast<size_t>(p.entries) * kIncrementEntryBytes, "'" + g.files[p.file].name + "'");
    PointHeader h;
    h.entries = p.entries;
    h.page_count = p.page_count;
    return parse_point_map(bytes, h);
}

std::vector<uint64_t> Timeline::hashes_after(size_t generation, size_t points,
                                             std::vector<uint64_t> base) const {
    const TimelineGeneration& g = generations_.at(generation);
    for (size_t i = 0; i < points; ++i) {
        const TimelinePoint& p = g.points[i];
        const auto map = point_map(generation, i);
        // A point that grows the database by more pages than it carries is
        // not one capture wrote (its page count is forged or damaged): the
        // generation ends before it, and nothing is sized by what it claims.
        if (!carries_growth(base.size(), p.page_count, map))
            throw Error("'" + g.files[p.file].name + "', the point captured at " +
                            format_time_ns(p.captured_ns) + ", claims " + std::to_string(p.page_count) +
                            " pages but does not carry the pages it adds (damaged)",
                        ErrorKind::format);
        base = apply_increment_hashes(std::move(base), p.page_count, map);
    }
    return base;
}

std::unique_ptr<Image> Timeline::image(const Dir& dir, const std::string& prefix,
                                       const RestoreTarget& target) const {
    const TimelineGeneration& g = generations_.at(target.generation);
    const Chain chain = Chain::open(dir, prefix, g.base);
    auto problems = chain.check();
    if (!problems.empty())
        throw Error("the base backup '" + g.base + "' cannot be used: " + problems.front());
    std::vector<Image::Layer> layers = chain.layers();
    uint32_t page_count = chain.page_count();
    for (size_t i = 0; i < target.points; ++i) {
        const TimelinePoint& p = g.points[i];
        const auto map = point_map(target.generation, i);
        Image::Layer layer;
        layer.file = files_[target.generation][p.file];
        layer.name = g.files[p.file].name;
        layer.full = false;
        layer.data_offset = p.offset + point_pages_offset();
        layer.pages.reserve(map.size());
        layer.hashes.reserve(map.size());
        for (const auto& e : map) {
            layer.pages.push_back(e.page);
            layer.hashes.push_back(e.hash);
        }
        layers.push_back(std::move(layer));
        page_count = p.page_count;
    }
    return std::make_unique<Image>(g.page_size, page_count, std::move(layers));
}

std::vector<std::string> Timeline::check(const Dir& dir, const std::string& prefix,
                                         Observer& observer) const {
    std::vector<std::string> problems = problems_;
    for (size_t gi = 0; gi < generations_.size(); ++gi)
        check_generation(dir, prefix, gi, generations_[gi].points.size(), false, observer, problems);
    return problems;
}

std::vector<std::string> Timeline::check_target(const Dir& dir, const std::string& prefix,
                                                const RestoreTarget& target, Observer& observer) const {
    std::vector<std::string> problems;
    check_generation(dir, prefix, target.generation, target.points, true, observer, problems);
    return problems;
}

void Timeline::check_generation(const Dir& dir, const std::string& prefix, size_t gi, size_t points,
                                bool base_files, Observer& observer,
                                std::vector<std::string>& problems) const {
    const TimelineGeneration& g = generations_[gi];
    std::vector<uint64_t> hashes;
    try {
        const Chain chain = Chain::open(dir, prefix, g.base);
        if (!of_this_timeline(g, chain)) {
            problems.push_back(foreign_generation(g));
            return;
        }
        for (auto& p : chain.check())
            problems.push_back("the base backup '" + g.base + "': " + p);
        hashes = chain.page_hashes();
        if (chain.page_size() != g.page_size)
            problems.push_back("the base backup '" + g.base + "' has another page size than its segments");
        if (base_files)
            for (const auto& link : chain.links())
                if (!link.record.checksum.empty() &&
                    checksum_fd(link.file->get(), static_cast<uint64_t>(link.size_bytes), &observer) !=
                        link.record.checksum)
                    problems.push_back("'" + link.name + "' is not the file recorded when it was made");
    } catch (const Error& e) {
        if (e.kind() == ErrorKind::interrupted) throw;
        problems.push_back("the base backup '" + g.base + "' cannot be read: " + e.what());
        return;
    }
    uint64_t sum = 0;
    for (uint64_t h : hashes)
        sum ^= h;
    if (sum != g.base_checksum) {
        problems.push_back("the segments of base '" + g.base + "' do not start from that backup's database");
        return;
    }
    for (size_t i = 0; i < points; ++i) {
        observer.check();
        const TimelinePoint& p = g.points[i];
        const std::string where =
            "'" + g.files[p.file].name + "', the point captured at " + format_time_ns(p.captured_ns);
        try {
            if (!payload_intact(files_[gi][p.file]->get(), p.offset, p.entries, g.page_size, &observer)) {
                problems.push_back(where + ": its pages are damaged (checksum mismatch)");
                return;
            }
            const auto map = point_map(gi, i);
            if (p.before != sum) {
                problems.push_back(where + ": it does not continue from the point before it");
                return;
            }
            if (!carries_growth(hashes.size(), p.page_count, map) ||
                checksum_after(sum, hashes, p.page_count, map) != p.after) {
                problems.push_back(where + ": its pages do not give its recorded database checksum");
                return;
            }
            hashes = apply_increment_hashes(std::move(hashes), p.page_count, map);
            sum = p.after;
        } catch (const Error& e) {
            if (e.kind() == ErrorKind::interrupted) throw;
            problems.push_back(where + ": " + e.what());
            return;
        }
    }
}

} // namespace wb
