// Every translation unit except the entry point reaches SQLite through the
// extension API table that sqlite3_wecarebackup_init receives.
#pragma once
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT3
