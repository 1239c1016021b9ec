// The registration table of the SQL functions and the list module.
#pragma once
#include <vector>

#include "common/sqlite_api.hpp"

namespace wb {

struct FunctionSpec {
    const char* name;
    int arg_count;
    int flags;
    void (*fn)(sqlite3_context*, int, sqlite3_value**);
};

const std::vector<FunctionSpec>& function_specs();
const sqlite3_module& list_module();
constexpr const char* kListTableName = "wecare_backup_list";

// Registers every function and the list table on `db`; on failure sets *err
// (sqlite3_mprintf) and returns the SQLite result code.
int register_extension(sqlite3* db, char** err);

} // namespace wb
