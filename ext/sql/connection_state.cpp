// The per-connection state (see connection_state.hpp).
#include "sql/connection_state.hpp"

namespace wb {

std::string ConnectionState::db_path() const {
    const char* path = sqlite3_db_filename(db, "main");
    return path ? std::string(path) : std::string();
}

OperationContext ConnectionState::context(bool interactive) {
    return context_for_caller(db_path(), interactive);
}

OperationContext ConnectionState::context_for_caller(const std::string& path, bool interactive) {
    OperationContext ctx = context_for(path, interactive);
    // On SQLite 3.40 a function cannot ask whether its statement was
    // interrupted, but a statement prepared on the same connection while the
    // interrupt is pending fails with SQLITE_INTERRUPT. Only ever called on the
    // calling thread (Progress polls on the thread that made it).
    sqlite3* caller = db;
    ctx.interrupted = [caller] {
        sqlite3_stmt* probe = nullptr;
        const int rc = sqlite3_prepare_v2(caller, "SELECT 1", -1, &probe, nullptr);
        sqlite3_finalize(probe);
        return rc == SQLITE_INTERRUPT;
    };
    return ctx;
}

OperationContext ConnectionState::context_for(const std::string& path, bool interactive) {
    OperationContext ctx;
    ctx.db_path = path;
    {
        std::lock_guard<std::mutex> lock(mu);
        ctx.settings = resolve_settings(settings, ctx.db_path.empty() ? "./memory" : ctx.db_path);
        ctx.dir_is_default = settings.dir.empty();
    }
    ctx.interactive = interactive;
    return ctx;
}

} // namespace wb
