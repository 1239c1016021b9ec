// The one reader of an SQLite database header (the first 100 bytes of a
// database file). Pure parsing in parse_db_header; read_db_header reads it
// through a held descriptor.
#pragma once
#include <cstddef>
#include <cstdint>

namespace wb {

struct DbHeader {
    bool valid = false;      // "SQLite format 3\0" and a possible page size
    uint32_t page_size = 0;  // 512..65536
    bool wal = false;        // byte 18 or 19 is 2 (write-ahead log)
    uint32_t page_count = 0; // the in-header database size (bytes 28-31)
    uint32_t change_counter = 0;
    bool page_count_valid = false; // the change counter matches version-valid-for (bytes 92-95)
};

constexpr size_t kDbHeaderBytes = 100;

DbHeader parse_db_header(const uint8_t* bytes, size_t length);
// The header of the file open at `fd`; not valid when it is shorter or is not a database.
DbHeader read_db_header(int fd);

} // namespace wb
