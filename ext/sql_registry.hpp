// The registration table of the SQL functions and the list module, looped
// over by the entry point.
#pragma once
#include <vector>

#include "sqlite_api.hpp"

namespace wb {

constexpr const char* kVersion = "1.0.0";

struct FunctionSpec {
    const char* name;
    int arg_count;
    int flags;
    void (*fn)(sqlite3_context*, int, sqlite3_value**);
};

const std::vector<FunctionSpec>& function_specs();
const sqlite3_module& list_module();
constexpr const char* kListTableName = "wecare_backup_list";

} // namespace wb
