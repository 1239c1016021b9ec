/*
** wecare_backup: a complete backup strategy for any SQLite database, driven
** from SQL.
**
**   .load dist/wecare_backup
**   SELECT wecare_backup_create();                 -- consistent, verified, atomic
**   SELECT name, kind, verify_ok FROM wecare_backup_list;
**   SELECT wecare_backup_verify('app_backup_2026-11-26_09-00-00.db');
**   SELECT wecare_backup_schedule(86400);          -- every 24 h in this process
**   SELECT wecare_backup_restore('app_backup_2026-11-26_09-00-00.db',
**          'I understand this will replace the current database');
**
** This file is only the entry point: it creates the per-connection state and
** registers the functions and the list table from the table in
** sql_registry.hpp. The layout of ext/:
**   naming, settings, retention, metadata,  pure policy (no files, no SQLite)
**   offsite_settings, offsite_index
**   checksum, fsutil, catalog, activity     file-system edges
**   sink_vfs, async_writer, snapshot,       the copy, the checks, the restore
**   verify, restore
**   offsite_sync, offsite/                  off-site copies (S3 or a mounted directory)
**   operations, scheduler                   what each SQL function does
**   sql_functions, list_vtab, sql_guard     the SQL boundary
*/
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT1

#include <memory>
#include <string>

#include "connection_state.hpp"
#include "sink_vfs.hpp"
#include "sql_registry.hpp"

namespace {

void release_state(void* p) {
    delete static_cast<wb::StateRef*>(p);
}

int fail(char** err, const std::string& message, int rc) {
    if (err) *err = sqlite3_mprintf("wecare_backup: %s", message.c_str());
    return rc;
}

int register_all(sqlite3* db, char** err) {
    int rc = wb::register_sink_vfs();
    if (rc != SQLITE_OK) return fail(err, "cannot register the wecare_sink VFS", rc);
    wb::StateRef state;
    try {
        state = std::make_shared<wb::ConnectionState>(db);
    } catch (...) {
        return SQLITE_NOMEM;
    }
    for (const auto& spec : wb::function_specs()) {
        auto* ref = new (std::nothrow) wb::StateRef(state);
        if (!ref) return SQLITE_NOMEM;
        // On failure sqlite3_create_function_v2 calls release_state itself.
        rc = sqlite3_create_function_v2(db, spec.name, spec.arg_count, spec.flags, ref, spec.fn, nullptr,
                                        nullptr, release_state);
        if (rc != SQLITE_OK)
            return fail(err, std::string("cannot register ") + spec.name + ": " + sqlite3_errmsg(db), rc);
    }
    auto* ref = new (std::nothrow) wb::StateRef(state);
    if (!ref) return SQLITE_NOMEM;
    rc = sqlite3_create_module_v2(db, wb::kListTableName, &wb::list_module(), ref, release_state);
    if (rc != SQLITE_OK)
        return fail(err, std::string("cannot register ") + wb::kListTableName + ": " + sqlite3_errmsg(db),
                    rc);
    return SQLITE_OK;
}

} // namespace

extern "C" __attribute__((visibility("default"))) int
sqlite3_wecarebackup_init(sqlite3* db, char** err, const sqlite3_api_routines* api) {
    SQLITE_EXTENSION_INIT2(api);
    return register_all(db, err);
}
