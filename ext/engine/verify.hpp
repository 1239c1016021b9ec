// Verification of one backup file: is it exactly what was made, and is it a
// sound database with the data it should hold?
//   * checksum   the file against the one recorded at creation ("match",
//                "mismatch", or "none" when nothing was recorded)
//   * integrity  PRAGMA integrity_check on a read-only, immutable connection
//                (no locks, no -wal/-shm files)
//   * tables     every table's row count against the counts recorded at creation
//   * critical   every critical table present and non-empty
// The checksum and the row counts run on a second thread while integrity_check
// runs, so verification costs about what integrity_check alone costs.
// A damaged backup is an outcome with ok = false, never an exception.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/observer.hpp"
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
};

// `fd` is an open descriptor on the file at `path` (the checksum reads the
// descriptor, so it checks the very file that was opened).
// `own_new_file`: the file is one this process just wrote and nobody else can
// name yet, so SQLite may read it through a memory map (about 15% faster).
// Never for other files: one truncated while mapped would kill the process
// with SIGBUS.
VerifyOutcome verify_file(int fd, const std::string& path, const BackupRecord* expected,
                          const std::vector<std::string>& critical_tables, Observer& observer,
                          bool own_new_file = false);

// The critical tables missing or empty in `tables`, as verification errors.
std::vector<std::string> critical_table_errors(const std::vector<TableCount>& tables,
                                               const std::vector<std::string>& critical_tables);

std::string verify_outcome_json(const std::string& name, const VerifyOutcome& outcome);

} // namespace wb
