// The SQLite database header (see db_header.hpp and sqlite.org/fileformat.html §1.3).
#include "store/db_header.hpp"

#include <cstring>

#include "store/fd.hpp"

namespace wb {

namespace {

uint32_t be32(const uint8_t* p) {
    return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
           static_cast<uint32_t>(p[2]) << 8 | p[3];
}

} // namespace

DbHeader parse_db_header(const uint8_t* b, size_t length) {
    DbHeader h;
    if (length < kDbHeaderBytes || std::memcmp(b, "SQLite format 3\0", 16) != 0) return h;
    uint32_t size = static_cast<uint32_t>(b[16]) << 8 | b[17];
    if (size == 1) size = 65536;
    if (size < 512 || size > 65536 || (size & (size - 1)) != 0) return h;
    h.valid = true;
    h.page_size = size;
    h.wal = b[18] == 2 || b[19] == 2;
    h.change_counter = be32(b + 24);
    h.page_count = be32(b + 28);
    h.page_count_valid = h.page_count > 0 && h.change_counter == be32(b + 92);
    return h;
}

DbHeader read_db_header(int fd) {
    uint8_t bytes[kDbHeaderBytes] = {};
    size_t got = 0;
    try {
        got = read_at(fd, bytes, sizeof bytes, 0, "reading the database header failed");
    } catch (...) {
        return DbHeader{};
    }
    return parse_db_header(bytes, got);
}

} // namespace wb
