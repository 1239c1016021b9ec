// The per-connection state (see connection_state.hpp).
#include "sql/connection_state.hpp"

namespace wb {

std::string ConnectionState::db_path() const {
    const char* path = sqlite3_db_filename(db, "main");
    return path ? std::string(path) : std::string();
}

OperationContext ConnectionState::context(bool interactive) {
    return context_for(db_path(), interactive);
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
