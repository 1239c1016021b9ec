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
** This file is only the entry point (the one translation unit with
** SQLITE_EXTENSION_INIT1); sql/registry.cpp registers everything. The layers
** of ext/, each depending only on those below it:
**   sql/       the SQL boundary: functions, the list table, the barrier
**   command/   one file per operation (create, verify, restore, ...)
**   engine/    the copy, the verification, the restore
**   offsite/   off-site copies: targets, codec, sync, index
**   store/     the file system: descriptors, directories, locks, catalog
**   policy/    pure rules: names, settings, retention, records, JSON
**   common/    the error type, the observer, the clock
** README.md "How it works" has the map.
*/
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT1

#include "sql/registry.hpp"

extern "C" __attribute__((visibility("default"))) int
sqlite3_wecarebackup_init(sqlite3* db, char** err, const sqlite3_api_routines* api) {
    SQLITE_EXTENSION_INIT2(api);
    return wb::register_extension(db, err);
}
