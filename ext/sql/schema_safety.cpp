// Keeping the extension's functions out of every schema stored in a database
// file (see schema_safety.hpp). Facts checked on SQLite 3.40.1:
//
// * Every function that touches files or changes settings is registered
//   SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY (sql/registry.cpp). SQLite then
//   refuses it ("unsafe use of wecare_backup_restore()") in a view, trigger,
//   CHECK constraint, DEFAULT, generated column, index expression or partial
//   index of the main or an attached database; for the expressions it
//   resolves while parsing the schema (CHECK, generated columns, indexes) the
//   refusal comes at the parse: "malformed database schema (t) - unsafe use of
//   ...", and every statement of the connection fails with that message
//   (PRAGMA integrity_check and quick_check included) until the database is
//   detached; ATTACH of such a file fails at once.
//   Without SQLITE_DETERMINISTIC, SQLite lets a DIRECTONLY function run from
//   a CHECK constraint: it marks only deterministic calls as coming from the
//   schema.
// * The mark is made when the schema is parsed. A schema parsed before the
//   functions existed (a database attached, or a table read, before the
//   extension was loaded) holds unmarked calls that run. So at load,
//   forget_parsed_schemas() runs `PRAGMA writable_schema=RESET`, which clears
//   every parsed schema of the connection (it is parsed again at its next use)
//   and switches writable_schema off. It runs BEFORE the functions are
//   registered: the new parse happens only when a statement next needs the
//   schema, after registration, and when the reset is refused (say, by an
//   authorizer) nothing has been registered. Checked with the extension
//   loaded by `SELECT load_extension(...)` while another statement is being
//   stepped, inside an open transaction (uncommitted changes stay), and with
//   databases attached before the load.
// * A schema in shared-cache mode is parsed once for every connection sharing
//   it, by whichever connection needs it first: one that never loaded the
//   extension parses it without the mark, and the calls then run on this
//   connection. shared_cache_refusal() finds databases opened with
//   `cache=shared` in their URI; the load and every call refuse them. Shared
//   cache switched on for the whole process (sqlite3_enable_shared_cache,
//   SQLITE_OPEN_SHAREDCACHE) leaves no trace a connection can see: README
//   "Limits" says not to use it.
// * SQLite trusts the TEMP schema (only this connection's own SQL writes it):
//   DIRECTONLY does not apply there, and an authorizer never sees a TEMP
//   table's DEFAULT, nor a CHECK added by ALTER TABLE or via writable_schema.
//   README "Roles with the authorizer" denies those to restricted roles.
#include "sql/schema_safety.hpp"

#include <cstring>

#include "common/error.hpp"

namespace wb {

int forget_parsed_schemas(sqlite3* db, std::string* message) {
    int writable = 0;
    int defensive = 0;
    sqlite3_db_config(db, SQLITE_DBCONFIG_WRITABLE_SCHEMA, -1, &writable);
    sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, -1, &defensive);
    char* err = nullptr;
    const int rc = sqlite3_exec(db, "PRAGMA writable_schema=RESET", nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
        if (message) *message = err ? err : sqlite3_errstr(rc);
        sqlite3_free(err);
        return rc;
    }
    // RESET also switched it off; give the application back what it had.
    if (writable && !defensive) sqlite3_db_config(db, SQLITE_DBCONFIG_WRITABLE_SCHEMA, 1, nullptr);
    return SQLITE_OK;
}

std::optional<std::string> shared_cache_refusal(sqlite3* db) {
    // sqlite3_db_name (3.39) lists the attached databases; before it, only main is checked.
    const bool can_list = sqlite3_libversion_number() >= 3039000;
    for (int i = 0;; ++i) {
        const char* name = can_list ? sqlite3_db_name(db, i) : (i == 0 ? "main" : nullptr);
        if (!name) break;
        const char* file = sqlite3_db_filename(db, name);
        if (!file || !*file) continue; // temp, or in memory
        const char* cache = sqlite3_uri_parameter(file, "cache");
        if (cache && std::strcmp(cache, "shared") == 0)
            return "database '" + std::string(name) +
                   "' is opened with cache=shared: a schema shared with a connection that has not loaded the "
                   "extension could call its functions; open it without cache=shared";
    }
    return std::nullopt;
}

void refuse_shared_cache(sqlite3* db) {
    if (const auto refusal = shared_cache_refusal(db)) throw Error("refused: " + *refusal, ErrorKind::auth);
}

} // namespace wb
