// The WAL format parser and the backup manifest: round trips, and refusal of
// damaged or hostile bytes.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "policy/manifest.hpp"
#include "policy/wal_format.hpp"

using namespace wb;

namespace {

void put_be32(uint8_t* p, uint32_t v) {
    p[0] = static_cast<uint8_t>(v >> 24);
    p[1] = static_cast<uint8_t>(v >> 16);
    p[2] = static_cast<uint8_t>(v >> 8);
    p[3] = static_cast<uint8_t>(v);
}

// A WAL of `frames` frames of `page_size`, each commit, checksums little-endian.
std::vector<uint8_t> make_wal(uint32_t page_size, uint32_t frames) {
    std::vector<uint8_t> wal(kWalHeaderBytes + frames * (kWalFrameHeaderBytes + page_size));
    put_be32(&wal[0], 0x377f0682);
    put_be32(&wal[4], 3007000);
    put_be32(&wal[8], page_size);
    put_be32(&wal[16], 0x11111111);
    put_be32(&wal[20], 0x22222222);
    WalChecksum sum = wal_checksum(false, wal.data(), 24, {});
    put_be32(&wal[24], sum.s1);
    put_be32(&wal[28], sum.s2);
    for (uint32_t i = 1; i <= frames; ++i) {
        uint8_t* f = &wal[wal_frame_offset(i, page_size)];
        put_be32(f, i);
        put_be32(f + 4, i);
        put_be32(f + 8, 0x11111111);
        put_be32(f + 12, 0x22222222);
        std::memset(f + kWalFrameHeaderBytes, static_cast<int>(i), page_size);
        sum = wal_checksum(false, f, 8, sum);
        sum = wal_checksum(false, f + kWalFrameHeaderBytes, page_size, sum);
        put_be32(f + 16, sum.s1);
        put_be32(f + 20, sum.s2);
    }
    return wal;
}

} // namespace

TEST(WalFormat, ValidFramesChainAndAChangedByteBreaksTheChain) {
    auto wal = make_wal(4096, 3);
    const auto header = parse_wal_header(wal.data(), wal.size());
    ASSERT_TRUE(header);
    EXPECT_EQ(header->page_size, 4096u);
    WalChecksum running = header->checksum;
    for (uint32_t i = 1; i <= 3; ++i)
        EXPECT_TRUE(wal_frame_valid(*header, &wal[wal_frame_offset(i, 4096)], 4096, running)) << i;
    wal[wal_frame_offset(2, 4096) + 100] ^= 1;
    running = header->checksum;
    EXPECT_TRUE(wal_frame_valid(*header, &wal[wal_frame_offset(1, 4096)], 4096, running));
    EXPECT_FALSE(wal_frame_valid(*header, &wal[wal_frame_offset(2, 4096)], 4096, running));
}

TEST(WalFormat, ABadHeaderIsRefused) {
    auto wal = make_wal(1024, 1);
    wal[10] ^= 1; // page size
    EXPECT_FALSE(parse_wal_header(wal.data(), wal.size()));
    EXPECT_FALSE(parse_wal_header(wal.data(), 10));
}

TEST(WalFormat, AFrameWithOtherSaltsIsNotPartOfTheLog) {
    auto wal = make_wal(512, 2);
    const auto header = parse_wal_header(wal.data(), wal.size());
    ASSERT_TRUE(header);
    put_be32(&wal[wal_frame_offset(2, 512) + 8], 0x99999999);
    WalChecksum running = header->checksum;
    EXPECT_TRUE(wal_frame_valid(*header, &wal[wal_frame_offset(1, 512)], 512, running));
    EXPECT_FALSE(wal_frame_valid(*header, &wal[wal_frame_offset(2, 512)], 512, running));
}

TEST(WalFormat, TheIndexHeaderNeedsTwoEqualCopies) {
    uint8_t shm[kWalIndexHeaderBytes] = {};
    shm[12] = 1;    // isInit
    shm[14] = 0x00; // szPage 4096 = 0x1000 (native little-endian u16)
    shm[15] = 0x10;
    uint32_t frames = 7;
    std::memcpy(shm + 16, &frames, 4);
    std::memcpy(shm + 48, shm, 48);
    auto h = parse_wal_index_header(shm, sizeof shm);
    ASSERT_TRUE(h);
    EXPECT_EQ(h->page_size, 4096u);
    EXPECT_EQ(h->max_frame, 7u);
    shm[48 + 16] = 8; // the second copy says otherwise: a writer is mid-update
    EXPECT_FALSE(parse_wal_index_header(shm, sizeof shm));
}

TEST(Manifest, RoundTripsTablesAndPageHashes) {
    Manifest m;
    m.page_size = 4096;
    m.page_count = 3;
    m.db_checksum = 0x1234;
    m.tables = {{"patients", 200}, {std::string(120, 'x'), 7}, {"odd \"name\"\n", 0}};
    m.page_hashes = {1, 2, 3};
    const std::string bytes = serialize_manifest(m);
    const Manifest back = parse_manifest(bytes);
    EXPECT_EQ(back.page_size, 4096u);
    EXPECT_EQ(back.page_count, 3u);
    EXPECT_EQ(back.db_checksum, 0x1234u);
    EXPECT_EQ(back.tables, m.tables);
    EXPECT_EQ(back.page_hashes, m.page_hashes);
    EXPECT_EQ(manifest_id(bytes).size(), 32u);
}

TEST(Manifest, EveryChangedByteAndEveryTruncationIsRefused) {
    Manifest m;
    m.page_size = 1024;
    m.page_count = 2;
    m.tables = {{"t", 1}};
    m.page_hashes = {9, 8};
    const std::string bytes = serialize_manifest(m);
    for (size_t i = 0; i < bytes.size(); ++i) {
        std::string bad = bytes;
        bad[i] = static_cast<char>(bad[i] ^ 0x20);
        EXPECT_THROW(parse_manifest(bad), Error) << i;
    }
    for (size_t n = 0; n < bytes.size(); ++n)
        EXPECT_THROW(parse_manifest(bytes.substr(0, n)), Error) << n;
}

TEST(Manifest, TwentyThousandLongTableNamesFit) {
    Manifest m;
    m.page_size = 4096;
    m.page_count = 1;
    for (int i = 0; i < 20000; ++i)
        m.tables.push_back({std::string(114, 'a') + std::to_string(100000 + i), i});
    const Manifest back = parse_manifest(serialize_manifest(m));
    EXPECT_EQ(back.tables.size(), 20000u);
    EXPECT_EQ(back.tables.back(), m.tables.back());
}

TEST(Manifest, ItsHeadBoundsTheSizeOfTheWholeFile) {
    Manifest m;
    m.page_size = 4096;
    m.page_count = 40;
    for (int i = 0; i < 30; ++i)
        m.tables.push_back({"table_" + std::to_string(i), i});
    m.page_hashes.assign(40, 7);
    const std::string bytes = serialize_manifest(m);
    const ManifestHead h = parse_manifest_head(bytes.substr(0, kManifestHeadBytes));
    EXPECT_EQ(h.page_size, 4096u);
    EXPECT_EQ(h.page_count, 40u);
    EXPECT_LE(h.min_bytes, bytes.size());
    EXPECT_GE(h.max_bytes, bytes.size());
    // The names live in the database's pages: never more than its bytes.
    EXPECT_LE(h.max_bytes, h.min_bytes + 40u * 4096u);
    EXPECT_THROW(parse_manifest_head(bytes.substr(0, kManifestHeadBytes - 1)), Error);
    EXPECT_THROW(parse_manifest_head(std::string(kManifestHeadBytes, '\0')), Error);
}
