// The registration table of the SQL functions and the eponymous tables.
#pragma once
#include <string>
#include <vector>

#include "common/sqlite_api.hpp"
#include "sql/connection_state.hpp"

namespace wb {

struct FunctionSpec {
    const char* name;
    int arg_count;
    int flags;
    void (*fn)(sqlite3_context*, int, sqlite3_value**);
};

const std::vector<FunctionSpec>& function_specs();
constexpr const char* kListTableName = "wecare_backup_list";
constexpr const char* kTimelineTableName = "wecare_backup_timeline";
// Registers the eponymous tables (list_vtab.cpp); `failed` names the one that failed.
int register_tables(sqlite3* db, const StateRef& state, std::string& failed);

// Registers every function and the list table on `db`; on failure sets *err
// (sqlite3_mprintf) and returns the SQLite result code.
int register_extension(sqlite3* db, char** err);

} // namespace wb
