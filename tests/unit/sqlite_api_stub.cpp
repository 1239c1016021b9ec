// The pure modules link against handles.cpp (errno_text, system_error), which
// reaches SQLite through the extension API pointer. Most unit tests never call
// SQLite, so the pointer stays null; the few that run SQL point it at the real
// library first (real_sqlite.cpp).
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT1
