// Points the extension's API table at the real SQLite library, for the unit
// tests of engine code that runs SQL (restore_window_test.cpp). The table is
// what SQLite hands an extension's entry point: an auto-extension receives it
// when a connection opens. This file includes <sqlite3.h> alone, so its calls
// go to the library itself, not through the (still empty) table.
#include <sqlite3.h>

#include "real_sqlite.hpp"

extern const sqlite3_api_routines* sqlite3_api; // sqlite_api_stub.cpp

namespace {

int grab_api(sqlite3*, const char**, const sqlite3_api_routines* api) {
    sqlite3_api = api;
    return SQLITE_OK;
}

} // namespace

bool use_real_sqlite() {
    if (sqlite3_api) return true;
    auto entry = reinterpret_cast<void (*)()>(&grab_api);
    sqlite3_auto_extension(entry);
    sqlite3* db = nullptr;
    sqlite3_open(":memory:", &db);
    sqlite3_close(db);
    sqlite3_cancel_auto_extension(entry);
    return sqlite3_api != nullptr;
}
