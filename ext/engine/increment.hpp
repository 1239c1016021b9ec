// An incremental backup: one pass over a consistent snapshot of the live
// database (live_snapshot.hpp) hashes every page, and only the pages whose
// hash differs from the parent's (or that the parent lacks) are written, in
// the increment format (policy/increment_format.hpp).
//
// How it works: the pages are read in order into a scratch buffer, page 1
// with its journal-mode bytes set as every backup stores it; each page's hash
// goes into the new database checksum (XOR) and, when it differs from the
// parent's, the page is appended to the file through the background writer
// (async_writer.hpp, O_DIRECT where possible) from offset 4096. The page map
// and then the header are written last. The row counts and (when asked) an
// integrity_check run inside the copy's own read transaction, so they check
// exactly the pages that were read; the new database checksum is checked
// against what the page map gives from the parent's, which proves the chain
// reproduces those pages. That is an increment's verification on creation
// (with the chain's checks in command/create.cpp), at the cost of one
// integrity_check of the live database instead of one of a materialised copy.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/observer.hpp"
#include "policy/increment_format.hpp"
#include "policy/record.hpp"
#include "policy/wal_format.hpp"

namespace wb {

struct IncrementRequest {
    std::string db_path;
    int out_fd = -1; // the new file, empty, open for reading and writing
    std::string name;
    std::string base;
    uint64_t created_ns = 0;
    uint32_t parent_page_size = 0;
    std::vector<uint64_t> parent_hashes; // the parent chain's page hashes
    uint64_t parent_checksum = 0;
    int64_t busy_timeout_ms = 10000;
    int64_t max_snapshot_seconds = 3600;
    bool check_integrity = false; // PRAGMA integrity_check inside the snapshot
    Observer* observer = nullptr;
};

struct IncrementResult {
    WalIndexHeader wal_position; // WAL mode: where in the log the snapshot is
    IncrementHeader header;
    std::string checksum; // xxh3t of the file
    int64_t size_bytes = 0;
    std::string journal_mode;
    std::vector<TableCount> tables;
    std::string integrity = "not checked"; // "ok" or the first problem, when asked
    std::vector<std::string> unchecked;    // what integrity_check could not check, and why
};

// nullopt when the database's page size is not the parent's: the caller
// takes a full backup instead.
std::optional<IncrementResult> snapshot_increment(const IncrementRequest& request);

} // namespace wb
