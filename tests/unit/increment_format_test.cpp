// The incremental backup format: header and page map round trips, refusal of
// damaged or hostile bytes, and the database checksum arithmetic a chain is
// checked with.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "policy/increment_format.hpp"

using namespace wb;

namespace {

IncrementHeader sample_header() {
    IncrementHeader h;
    h.page_size = 4096;
    h.page_count = 10;
    h.entries = 3;
    h.before = 0x1111;
    h.after = 0x2222;
    h.created_ns = 1234567890123456789ULL;
    h.map_offset = kIncrementHeaderBytes + 3 * 4096;
    h.name = "app_backup_2026-11-27_02-15-00.incr";
    h.base = "app_backup_2026-11-26_02-15-00.db";
    return h;
}

std::vector<IncrementEntry> sample_entries() {
    return {{1, 0xaaaa}, {4, 0xbbbb}, {10, 0xcccc}};
}

} // namespace

TEST(IncrementFormat, HeaderRoundTrips) {
    IncrementHeader h = sample_header();
    h.map_checksum = increment_map_checksum(serialize_increment_map(sample_entries()));
    const std::string bytes = serialize_increment_header(h);
    ASSERT_EQ(bytes.size(), kIncrementHeaderBytes);
    EXPECT_TRUE(looks_like_increment(bytes));
    const IncrementHeader back = parse_increment_header(bytes);
    EXPECT_EQ(back.page_size, h.page_size);
    EXPECT_EQ(back.page_count, h.page_count);
    EXPECT_EQ(back.entries, h.entries);
    EXPECT_EQ(back.before, h.before);
    EXPECT_EQ(back.after, h.after);
    EXPECT_EQ(back.created_ns, h.created_ns);
    EXPECT_EQ(back.map_offset, h.map_offset);
    EXPECT_EQ(back.map_checksum, h.map_checksum);
    EXPECT_EQ(back.name, h.name);
    EXPECT_EQ(back.base, h.base);
}

TEST(IncrementFormat, EveryDamagedHeaderByteIsRefused) {
    const std::string bytes = serialize_increment_header(sample_header());
    for (size_t i = 0; i < bytes.size(); i += 7) {
        std::string bad = bytes;
        bad[i] = static_cast<char>(bad[i] ^ 0x40);
        EXPECT_THROW(parse_increment_header(bad), Error) << "byte " << i;
    }
    EXPECT_THROW(parse_increment_header(bytes.substr(0, 100)), Error);
    EXPECT_FALSE(looks_like_increment(std::string("SQLite format 3\0", 16)));
}

TEST(IncrementFormat, ImpossibleHeadersAreRefusedEvenWithAValidChecksum) {
    IncrementHeader h = sample_header();
    h.page_size = 3000;
    EXPECT_THROW(parse_increment_header(serialize_increment_header(h)), Error);
    h = sample_header();
    h.entries = 11; // more than the pages
    h.map_offset = kIncrementHeaderBytes + 11ULL * 4096;
    EXPECT_THROW(parse_increment_header(serialize_increment_header(h)), Error);
    h = sample_header();
    h.map_offset += 1; // the map must follow the pages exactly
    EXPECT_THROW(parse_increment_header(serialize_increment_header(h)), Error);
    h = sample_header();
    h.name = std::string(2000, 'x');
    EXPECT_THROW(serialize_increment_header(h), Error);
}

TEST(IncrementFormat, TheMapRoundTripsAndIsChecked) {
    IncrementHeader h = sample_header();
    const std::string map = serialize_increment_map(sample_entries());
    h.map_checksum = increment_map_checksum(map);
    const auto back = parse_increment_map(map, h);
    ASSERT_EQ(back.size(), 3u);
    EXPECT_EQ(back[1].page, 4u);
    EXPECT_EQ(back[1].hash, 0xbbbbu);

    std::string damaged = map;
    damaged[9] = static_cast<char>(damaged[9] ^ 1);
    EXPECT_THROW(parse_increment_map(damaged, h), Error);
    EXPECT_THROW(parse_increment_map(map.substr(0, 20), h), Error);

    // Out of order, repeated, zero and beyond the page count: refused even when
    // the checksum says the map is as written.
    for (const auto& entries : std::vector<std::vector<IncrementEntry>>{{{4, 1}, {1, 2}, {10, 3}},
                                                                        {{1, 1}, {1, 2}, {10, 3}},
                                                                        {{0, 1}, {4, 2}, {10, 3}},
                                                                        {{1, 1}, {4, 2}, {11, 3}}}) {
        const std::string m = serialize_increment_map(entries);
        IncrementHeader hh = h;
        hh.map_checksum = increment_map_checksum(m);
        EXPECT_THROW(parse_increment_map(m, hh), Error);
    }
}

TEST(IncrementFormat, ChecksumAfterMatchesTheHashesItApplies) {
    std::mt19937_64 rng(7);
    for (int round = 0; round < 200; ++round) {
        std::vector<uint64_t> parent(rng() % 50);
        uint64_t before = 0;
        for (auto& h : parent) {
            h = rng();
            before ^= h;
        }
        const auto count = static_cast<uint32_t>(rng() % 60);
        std::vector<IncrementEntry> entries;
        for (uint32_t p = 1; p <= count; ++p)
            if (p > parent.size() || rng() % 3 == 0) entries.push_back({p, rng()});
        const auto after = apply_increment_hashes(parent, count, entries);
        uint64_t expected = 0;
        for (uint64_t h : after)
            expected ^= h;
        EXPECT_EQ(after.size(), count);
        EXPECT_EQ(checksum_after(before, parent, count, entries), expected) << "round " << round;
    }
}
