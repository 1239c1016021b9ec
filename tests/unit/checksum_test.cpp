// The "xxh3t" checksum: XXH3-128 over the XXH3-128 digests of each 1 MiB
// block. The streamed BlockHasher must agree with a plain read of the final
// file whatever order the writes came in.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "common/error.hpp"
#include "common/observer.hpp"
#include "store/checksum.hpp"

using namespace wb;

namespace {

// An independent reading of the definition in README.md ("The backup directory").
std::string reference(const std::vector<uint8_t>& data) {
    std::vector<uint8_t> digests;
    for (size_t off = 0; off < data.size(); off += kHashBlock) {
        const size_t n = std::min<size_t>(kHashBlock, data.size() - off);
        XXH128_canonical_t c;
        XXH128_canonicalFromHash(&c, XXH3_128bits(data.data() + off, n));
        digests.insert(digests.end(), c.digest, c.digest + 16);
    }
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(digests.data(), digests.size()));
    static const char* hex = "0123456789abcdef";
    std::string out = "xxh3t:";
    for (uint8_t b : c.digest) {
        out += hex[b >> 4];
        out += hex[b & 15];
    }
    return out;
}

struct TempFile {
    std::string path;
    int fd = -1;
    TempFile() {
        char tmpl[] = "/tmp/wecare_unit_XXXXXX";
        fd = ::mkstemp(tmpl);
        path = tmpl;
    }
    ~TempFile() {
        ::close(fd);
        ::unlink(path.c_str());
    }
    void pwrite_all(const uint8_t* p, size_t n, uint64_t off) {
        ASSERT_EQ(::pwrite(fd, p, n, static_cast<off_t>(off)), static_cast<ssize_t>(n));
    }
};

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<uint8_t> v(n);
    for (auto& b : v)
        b = static_cast<uint8_t>(rng());
    return v;
}

} // namespace

TEST(Checksum, FormatAndEmptyFile) {
    TempFile f;
    const std::string sum = checksum_fd(f.fd, 0);
    EXPECT_EQ(sum.rfind("xxh3t:", 0), 0u);
    EXPECT_EQ(sum.size(), 6u + 32u);
    EXPECT_EQ(sum, reference({}));
}

TEST(Checksum, ChecksumFdMatchesTheDefinition) {
    for (size_t size : {size_t{1}, size_t{4096}, size_t{kHashBlock - 1}, size_t{kHashBlock},
                        size_t{kHashBlock + 1}, size_t{3 * kHashBlock + 12345}}) {
        TempFile f;
        const auto data = random_bytes(size, static_cast<uint32_t>(size));
        f.pwrite_all(data.data(), data.size(), 0);
        EXPECT_EQ(checksum_fd(f.fd, size), reference(data)) << size;
    }
}

TEST(Checksum, OneFlippedBitChangesIt) {
    TempFile f;
    auto data = random_bytes(2 * kHashBlock, 7);
    f.pwrite_all(data.data(), data.size(), 0);
    const std::string before = checksum_fd(f.fd, data.size());
    data[kHashBlock + 17] ^= 0x10;
    f.pwrite_all(data.data() + kHashBlock + 17, 1, kHashBlock + 17);
    EXPECT_NE(checksum_fd(f.fd, data.size()), before);
}

TEST(Checksum, ShortFileIsAnIoError) {
    TempFile f;
    const auto data = random_bytes(1000, 1);
    f.pwrite_all(data.data(), data.size(), 0);
    try {
        checksum_fd(f.fd, 2000);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::io);
    }
    BlockHasher h;
    EXPECT_THROW(h.finish(f.fd, 2000), Error);
}

TEST(Checksum, CancelStopsIt) {
    TempFile f;
    const auto data = random_bytes(2 * kHashBlock, 3);
    f.pwrite_all(data.data(), data.size(), 0);
    struct Stopped : QuietObserver {
        bool stop_requested() override { return true; }
    } stopped;
    try {
        checksum_fd(f.fd, data.size(), &stopped);
        ADD_FAILURE() << "a stopped checksum finished";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::interrupted);
    }
}

TEST(Checksum, ProgressReachesTheSize) {
    TempFile f;
    const auto data = random_bytes(kHashBlock + 5, 4);
    f.pwrite_all(data.data(), data.size(), 0);
    struct Recorder : QuietObserver {
        std::vector<uint64_t> seen;
        void progress(int64_t done, int64_t) override { seen.push_back(static_cast<uint64_t>(done)); }
    } recorder;
    checksum_fd(f.fd, data.size(), &recorder);
    const auto& seen = recorder.seen;
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen.back(), data.size());
}

TEST(Checksum, StreamedInOrderNeedsNoReread) {
    const auto data = random_bytes(3 * kHashBlock + 4096, 5);
    TempFile f;
    BlockHasher h;
    for (size_t off = 0; off < data.size(); off += 4096) {
        f.pwrite_all(data.data() + off, 4096, off);
        h.update(off, data.data() + off, 4096);
    }
    // A hasher that streamed every block in order combines its digests; the
    // descriptor is only read for blocks it did not see whole.
    const int fd2 = ::open(f.path.c_str(), O_RDONLY);
    EXPECT_EQ(h.finish(fd2, data.size()), reference(data));
    ::close(fd2);
}

TEST(Checksum, PageOneRewrittenAtTheEnd) {
    // The backup API writes page 1 again when it finishes.
    auto data = random_bytes(2 * kHashBlock + 8192, 6);
    TempFile f;
    BlockHasher h;
    for (size_t off = 0; off < data.size(); off += 4096) {
        f.pwrite_all(data.data() + off, 4096, off);
        h.update(off, data.data() + off, 4096);
    }
    for (size_t i = 0; i < 100; ++i)
        data[i] = static_cast<uint8_t>(i);
    f.pwrite_all(data.data(), 4096, 0);
    h.update(0, data.data(), 4096);
    EXPECT_EQ(h.finish(f.fd, data.size()), reference(data));
}

TEST(Checksum, RandomWriteOrdersAlwaysAgreeWithTheFile) {
    std::mt19937 rng(12345);
    for (int round = 0; round < 60; ++round) {
        const size_t size = 1 + rng() % (4 * kHashBlock);
        std::vector<uint8_t> data(size, 0);
        TempFile f;
        BlockHasher h;
        const int writes = 1 + static_cast<int>(rng() % 40);
        uint64_t cursor = 0;
        for (int w = 0; w < writes; ++w) {
            // Mostly sequential runs, sometimes a jump, sometimes a block start.
            uint64_t off;
            switch (rng() % 4) {
            case 0:
                off = rng() % size;
                break;
            case 1:
                off = (rng() % (size / kHashBlock + 1)) * kHashBlock;
                break;
            default:
                off = cursor;
                break;
            }
            if (off >= size) off = 0;
            const size_t len = std::min<size_t>(size - off, 1 + rng() % (kHashBlock + 7000));
            for (size_t i = 0; i < len; ++i)
                data[off + i] = static_cast<uint8_t>(rng());
            f.pwrite_all(data.data() + off, len, off);
            h.update(off, data.data() + off, len);
            cursor = (off + len) % size;
        }
        ASSERT_EQ(::ftruncate(f.fd, static_cast<off_t>(size)), 0);
        ASSERT_EQ(h.finish(f.fd, size), reference(data)) << "round " << round;
    }
}
