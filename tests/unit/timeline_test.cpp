// The timeline of continuous capture: ranges and gaps, where a time restores
// to, the time formats, which generations pitr_hours lets go, and the segment
// format's round trips and refusals.
#include <gtest/gtest.h>

#include "common/error.hpp"
#include "policy/segment_format.hpp"
#include "policy/timeline.hpp"

using namespace wb;

namespace {

constexpr int64_t kS = 1000000000;

TimelineGeneration generation(uint64_t id, int64_t start_s, std::vector<int64_t> point_s,
                              const std::string& reason = "") {
    TimelineGeneration g;
    g.id = id;
    g.base = "b" + std::to_string(id);
    g.started_ns = start_s * kS;
    TimelineFile f;
    f.name = "s" + std::to_string(id);
    f.reason = reason;
    f.created_ns = start_s * kS;
    g.files.push_back(f);
    for (int64_t t : point_s) {
        TimelinePoint p;
        p.captured_ns = t * kS;
        g.points.push_back(p);
    }
    return g;
}

} // namespace

TEST(Timeline, RangesAndGaps) {
    const std::vector<TimelineGeneration> gens = {
        generation(1, 100, {110, 120}), generation(2, 200, {210}, "capture_off"), generation(3, 300, {}, "")};
    const auto rows = timeline_rows(gens);
    ASSERT_EQ(rows.size(), 4u);
    EXPECT_EQ(rows[0].kind, "range");
    EXPECT_EQ(rows[0].from_ns, 100 * kS);
    EXPECT_EQ(rows[0].to_ns, 120 * kS);
    EXPECT_EQ(rows[1].kind, "gap");
    EXPECT_EQ(rows[1].gap_reason, "capture_off");
    EXPECT_EQ(rows[1].from_ns, 120 * kS);
    EXPECT_EQ(rows[1].to_ns, 200 * kS);
    EXPECT_EQ(rows[2].kind, "range");
    EXPECT_EQ(rows[3].kind, "range"); // a new base while capture ran: no gap
}

TEST(Timeline, ResolveTime) {
    const std::vector<TimelineGeneration> gens = {generation(1, 100, {110, 120}),
                                                  generation(2, 200, {210}, "capture_off"),
                                                  generation(3, 300, {310}, "")};
    auto t = resolve_time(gens, 115 * kS);
    EXPECT_EQ(t.generation, 0u);
    EXPECT_EQ(t.points, 1u);
    EXPECT_EQ(t.reached_ns, 110 * kS);
    t = resolve_time(gens, 105 * kS); // the base alone
    EXPECT_EQ(t.points, 0u);
    EXPECT_EQ(t.reached_ns, 100 * kS);
    t = resolve_time(gens, 250 * kS); // after 210, before the next base (no gap): unchanged since 210
    EXPECT_EQ(t.generation, 1u);
    EXPECT_EQ(t.points, 1u);
    t = resolve_time(gens, kLatest);
    EXPECT_EQ(t.generation, 2u);
    EXPECT_EQ(t.reached_ns, 310 * kS);
    EXPECT_THROW(resolve_time(gens, 150 * kS), Error); // in the gap
    EXPECT_THROW(resolve_time(gens, 50 * kS), Error);  // before the oldest
    EXPECT_THROW(resolve_time(gens, 400 * kS), Error); // after the newest
    try {
        resolve_time(gens, 150 * kS);
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("capture_off"), std::string::npos);
        EXPECT_NE(std::string(e.what()).find(format_time_ns(120 * kS)), std::string::npos);
    }
}

TEST(Timeline, ListedTimesRestoreToThemselves) {
    // Stamps are nanoseconds, times are listed in microseconds (truncated).
    TimelineGeneration g = generation(1, 100, {});
    g.started_ns = 100 * kS + 123456789;
    g.files[0].created_ns = g.started_ns;
    for (int64_t ns : {110 * kS + 999, 120 * kS + 5555}) {
        TimelinePoint p;
        p.captured_ns = ns;
        g.points.push_back(p);
    }
    const std::vector<TimelineGeneration> gens = {g};
    const auto rows = timeline_rows(gens);
    ASSERT_EQ(rows.size(), 1u);
    const int64_t from = *parse_time_ns(format_time_ns(rows[0].from_ns));
    const int64_t to = *parse_time_ns(format_time_ns(rows[0].to_ns));
    auto t = resolve_time(gens, from); // not "before the oldest restore point"
    EXPECT_EQ(t.points, 0u);
    EXPECT_EQ(format_time_ns(t.reached_ns), format_time_ns(rows[0].from_ns));
    t = resolve_time(gens, to); // the last point, not the one before it
    EXPECT_EQ(t.points, 2u);
    EXPECT_EQ(format_time_ns(t.reached_ns), format_time_ns(rows[0].to_ns));
    t = resolve_time(gens, 110 * kS); // the point stamped within that microsecond
    EXPECT_EQ(t.points, 1u);
    t = resolve_time(gens, 110 * kS - 1000); // the microsecond before: the base alone
    EXPECT_EQ(t.points, 0u);
    EXPECT_THROW(resolve_time(gens, from - 1000), Error);
    EXPECT_THROW(resolve_time(gens, to + 1000), Error);
}

TEST(Timeline, TimeFormats) {
    EXPECT_EQ(parse_time_ns("latest"), kLatest);
    EXPECT_EQ(parse_time_ns("1970-01-01T00:00:01Z"), kS);
    EXPECT_EQ(parse_time_ns("1970-01-01T00:00:01.5Z"), kS + 500000000);
    EXPECT_EQ(parse_time_ns("1970-01-01 00:00:01.250"), kS + 250000000);
    EXPECT_EQ(parse_time_ns("1970-01-01T00:00:01.123456Z"), kS + 123456000);
    for (const char* bad :
         {"1970-01-01T00:00:01.1234567Z", "1970-01-01T00:00:01", "1970-01-01 00:00:01Z",
          "1970-02-30T00:00:00Z", "1969-12-31T23:59:59Z", "2300-01-01T00:00:00Z", "now", ""})
        EXPECT_FALSE(parse_time_ns(bad).has_value()) << bad;
    EXPECT_EQ(format_time_ns(kS + 123456000), "1970-01-01T00:00:01.123456Z");
    EXPECT_EQ(parse_time_ns(format_time_ns(1796140565275436000)), 1796140565275436000);
}

TEST(Timeline, PitrPrunesOnlyGenerationsWhollyBeforeTheWindow) {
    const std::vector<TimelineGeneration> gens = {generation(1, 100, {110}), generation(2, 200, {210}),
                                                  generation(3, 300, {310})};
    EXPECT_TRUE(generations_to_prune(gens, 3, 150 * kS).empty()); // 150 still restores from generation 1
    EXPECT_EQ(generations_to_prune(gens, 3, 250 * kS), std::vector<size_t>{0});
    EXPECT_EQ(generations_to_prune(gens, 3, 1000 * kS), (std::vector<size_t>{0, 1}));
    EXPECT_EQ(generations_to_prune(gens, 2, 1000 * kS), std::vector<size_t>{0}); // never the current one
}

TEST(SegmentFormat, RoundTripsAndRefusals) {
    SegmentHeader h;
    h.page_size = 4096;
    h.generation = 42;
    h.sequence = 3;
    h.created_ns = 123;
    h.base_checksum = 77;
    h.salt1 = 1;
    h.salt2 = 2;
    h.frame = 9;
    h.checksum1 = 5;
    h.checksum2 = 6;
    h.base_created_ns = 1796140565275436123;
    h.base = "app_backup_2026-12-01_00-00-00.incr";
    h.reason = "capture_off";
    const std::string bytes = serialize_segment_header(h);
    ASSERT_EQ(bytes.size(), kSegmentHeaderBytes);
    const SegmentHeader back = parse_segment_header(bytes);
    EXPECT_EQ(back.generation, 42u);
    EXPECT_EQ(back.frame, 9u);
    EXPECT_EQ(back.base, h.base);
    EXPECT_EQ(back.reason, h.reason);
    EXPECT_EQ(back.base_created_ns, h.base_created_ns); // what binds it to its base (not name, not checksum)
    SegmentHeader unbound = h;
    unbound.base_created_ns = 0;
    EXPECT_THROW(parse_segment_header(serialize_segment_header(unbound)), Error);
    for (size_t i = 0; i < bytes.size(); i += 13) {
        std::string bad = bytes;
        bad[i] = static_cast<char>(bad[i] ^ 0x10);
        EXPECT_THROW(parse_segment_header(bad), Error) << i;
    }
    PointHeader p;
    p.captured_ns = 5;
    p.page_count = 10;
    p.entries = 2;
    p.first_frame = 1;
    p.last_frame = 4;
    p.transactions = 2;
    const std::string ph = serialize_point_header(p);
    EXPECT_EQ(parse_point_header(ph).last_frame, 4u);
    p.entries = 11; // more pages than the database
    EXPECT_THROW(parse_point_header(serialize_point_header(p)), Error);
    EXPECT_EQ(point_bytes(2, 4096),
              kPointHeaderBytes + 2 * 4096 + 2 * kIncrementEntryBytes + kPointTrailerBytes);
}
