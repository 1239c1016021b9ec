// The registration table, looped over at load (the habit of sqlite-vec): one
// row per function with its argument count and flags. A failed registration
// reports the function's name and SQLite's message. Before registering, the
// load makes SQLite parse every schema of the connection again and refuses a
// shared cache (sql/schema_safety.cpp says why).
#include "sql/registry.hpp"

#include <memory>
#include <new>
#include <string>

#include "common/error.hpp"
#include "sql/connection_state.hpp"
#include "sql/functions.hpp"
#include "sql/schema_safety.hpp"

namespace wb {

namespace {

// Every function that reads or writes files, or reads or changes settings, is
// DIRECTONLY and DETERMINISTIC: SQLite refuses it in every schema stored in a
// database file (views, triggers, CHECK, DEFAULT, generated columns, index
// expressions, partial indexes). DIRECTONLY alone does not keep it out of a
// CHECK constraint (sql/schema_safety.cpp). The price of DETERMINISTIC: SQLite
// may evaluate a call with constant arguments once per statement.
constexpr int kDirectOnly = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY;
constexpr int kPure = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;

void release_state(void* p) {
    delete static_cast<StateRef*>(p);
}

int fail(char** err, const std::string& message, int rc) {
    if (err) *err = sqlite3_mprintf("wecare_backup: %s", message.c_str());
    return rc;
}

} // namespace

const std::vector<FunctionSpec>& function_specs() {
    static const std::vector<FunctionSpec> specs = {
        {"wecare_backup_version", 0, kPure, fn_version},
        {"wecare_backup_create", 0, kDirectOnly, fn_create},
        {"wecare_backup_create", 1, kDirectOnly, fn_create},
        {"wecare_backup_verify", 1, kDirectOnly, fn_verify},
        {"wecare_backup_stats", 0, kDirectOnly, fn_stats},
        {"wecare_backup_cleanup", 0, kDirectOnly, fn_cleanup},
        {"wecare_backup_restore", 2, kDirectOnly, fn_restore},
        {"wecare_backup_schedule", 1, kDirectOnly, fn_schedule},
        {"wecare_backup_export", 2, kDirectOnly, fn_export},
        {"wecare_backup_config", 1, kDirectOnly, fn_config},
        {"wecare_backup_config", 2, kDirectOnly, fn_config},
        {"wecare_backup_setting", 1, kDirectOnly, fn_setting},
        {"wecare_backup_path", 1, kDirectOnly, fn_path},
        {"wecare_backup_fetch", 1, kDirectOnly, fn_fetch},
        {"wecare_backup_recover", 3, kDirectOnly, fn_recover},
        {"wecare_backup_continuous", 0, kDirectOnly, fn_continuous},
        {"wecare_backup_continuous", 1, kDirectOnly, fn_continuous},
        {"wecare_backup_restore_at", 2, kDirectOnly, fn_restore_at},
    };
    return specs;
}

int register_extension(sqlite3* db, char** err) {
    if (const auto refusal = shared_cache_refusal(db)) return fail(err, *refusal, SQLITE_PERM);
    // First, so that a refused reset leaves nothing registered; the schemas are
    // parsed again only when a statement next needs them, after registration.
    std::string message;
    int rc = forget_parsed_schemas(db, &message);
    if (rc != SQLITE_OK)
        return fail(err,
                    "cannot make SQLite parse the schemas again (PRAGMA writable_schema=RESET): " + message +
                        "; load the extension before installing an authorizer that denies it",
                    sqlite_code_of(kind_of_sqlite_code(rc))); // never SQLITE_AUTH
    StateRef state;
    try {
        state = std::make_shared<ConnectionState>(db);
    } catch (...) {
        return SQLITE_NOMEM;
    }
    for (const auto& spec : function_specs()) {
        auto* ref = new (std::nothrow) StateRef(state);
        if (!ref) return SQLITE_NOMEM;
        // On failure sqlite3_create_function_v2 calls release_state itself.
        rc = sqlite3_create_function_v2(db, spec.name, spec.arg_count, spec.flags, ref, spec.fn, nullptr,
                                        nullptr, release_state);
        if (rc != SQLITE_OK)
            return fail(err, std::string("cannot register ") + spec.name + ": " + sqlite3_errmsg(db), rc);
    }
    std::string failed;
    rc = register_tables(db, state, failed);
    if (rc != SQLITE_OK) return fail(err, "cannot register " + failed + ": " + sqlite3_errmsg(db), rc);
    return SQLITE_OK;
}

} // namespace wb
