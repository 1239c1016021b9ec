// Verification of one backup: is it exactly what was made, and is it a sound
// database with the data it should hold?
//   * checksum   the file against the one recorded at creation ("match",
//                "mismatch", or "none" when nothing was recorded)
//   * pages      every page SQLite reads is checked against its recorded hash
//                on the way (engine/image.hpp), and the file may hold nothing
//                after its last page
//   * integrity  PRAGMA integrity_check on a private connection onto the
//                image: read-only, no locks, no -wal/-shm
//   * tables     every table's row count against the counts recorded at creation
//   * critical   every critical table present and non-empty
// The whole-file checksum and the row counts run on a second thread while
// integrity_check runs, so verification costs about what integrity_check
// alone costs. Both stop when the observer says so (sqlite3_interrupt).
//
// Schemas with the application's own collations or functions: the private
// connection lacks them, so it gets stand-ins (a byte-order collation, a
// function returning NULL) for what the schema names, and everything that
// depends on one (an index on a collated column or an expression, a CHECK,
// a partial index) is reported in `unchecked` with the reason, instead of as
// a failure. The b-tree structure, the free list and every other index and
// table are still checked. A damaged backup is an outcome with ok = false,
// never an exception.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/observer.hpp"
#include "engine/image.hpp"
#include "policy/record.hpp"

namespace wb {

struct VerifyOutcome {
    bool ok = false;
    std::string checksum_status = "none";
    std::string checksum; // as computed now
    std::string integrity;
    int64_t size_bytes = 0;
    int64_t page_count = 0;
    std::vector<TableCount> tables;
    std::vector<std::string> errors;
    std::vector<std::string> unchecked; // what could not be checked, and why
    bool recorded = true;               // false: there is no record to compare with
};

struct VerifyRequest {
    const Image* image = nullptr;           // the pages as SQLite reads them
    int file_fd = -1;                       // the whole file, for its checksum and size (-1: none)
    bool file_is_image = true;              // false: file_fd is an increment, not the image's pages
    const BackupRecord* expected = nullptr; // with its recorded tables filled in; null = no record
    std::vector<std::string> critical_tables;
};

VerifyOutcome verify_image(const VerifyRequest& request, Observer& observer);

// PRAGMA integrity_check on `db` (a private connection), with stand-ins for
// the application's collations and functions; returns "ok" or the first
// problem, and adds what it could not check to `unchecked`. `image` (when
// given) names a page that failed its hash check.
std::string integrity_of(sqlite3* db, Observer& observer, std::vector<std::string>& unchecked,
                         const Image* image = nullptr);

// The critical tables missing or empty in `tables`, as verification errors.
std::vector<std::string> critical_table_errors(const std::vector<TableCount>& tables,
                                               const std::vector<std::string>& critical_tables);

std::string verify_outcome_json(const std::string& name, const VerifyOutcome& outcome);

} // namespace wb
