// The streamed block checksum: any sequence of writes (as the backup API and
// the sink VFS issue them) must hash the same as a plain read of the result.
// Input: 6 bytes per write: 3-byte offset (256-byte units), 2-byte length
// (64-byte units), 1 byte of fill.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <vector>

#include "store/checksum.hpp"

using namespace wb;

namespace {
void check(bool ok) {
    if (!ok) std::abort();
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const int fd = ::memfd_create("fuzz_checksum", 0);
    if (fd < 0) return 0;
    BlockHasher hasher;
    uint64_t file_size = 0;
    std::vector<uint8_t> buf;
    for (size_t off = 0; off + 6 <= size; off += 6) {
        const uint64_t at =
            ((uint64_t{data[off]} << 16 | uint64_t{data[off + 1]} << 8 | data[off + 2]) * 256) %
            (5 * kHashBlock);
        const size_t len = (size_t{data[off + 3]} << 8 | data[off + 4]) * 64 % (kHashBlock / 4 + 4096) + 1;
        buf.assign(len, data[off + 5]);
        for (size_t i = 0; i < len; i += 97)
            buf[i] = static_cast<uint8_t>(i ^ at);
        if (::pwrite(fd, buf.data(), len, static_cast<off_t>(at)) != static_cast<ssize_t>(len)) break;
        hasher.update(at, buf.data(), len);
        file_size = std::max<uint64_t>(file_size, at + len);
    }
    check(hasher.finish(fd, file_size) == checksum_fd(fd, file_size));
    ::close(fd);
    return 0;
}
