// The pure modules link against handles.cpp (errno_text, system_error), which
// reaches SQLite through the extension API pointer. The unit tests never call
// SQLite, so the pointer stays null; it only has to exist.
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT1
