// What every command is given: the resolved settings and the database file,
// copied at call time, so a scheduler thread never shares mutable state with
// the connection that started it; and where its progress goes and what stops it.
#pragma once
#include <atomic>
#include <functional>
#include <string>

#include "command/activity.hpp"
#include "policy/settings.hpp"

namespace wb {

struct OperationContext {
    Settings settings; // resolved: dir and prefix filled in
    std::string db_path;
    bool interactive = false; // draw progress on a terminal
    // Only the default directory (beside the database) is created when
    // missing: a configured one that is missing is often an unmounted disk,
    // and backups must not land on the disk underneath it.
    bool dir_is_default = true;
    // The calling connection holds a write transaction on the database
    // (sqlite3_txn_state, taken by the SQL layer); scheduled runs never do.
    bool caller_writes = false;
    // Another statement of the calling connection than the calling one is
    // still running (an unfinished cursor): its read, not the calling
    // statement's, is what keeps a rollback-journal database locked.
    bool other_statement_open = false;
    const std::atomic<bool>* cancel = nullptr; // set: stop (the connection is closing)
    // Whether the caller was interrupted (sqlite3_interrupt on its
    // connection); asked only on the calling thread, at most every 50 ms.
    std::function<bool()> interrupted;
};

// The observer of one operation `op` ("create", "verify", ...) on ctx's directory.
inline Progress progress_of(const OperationContext& ctx, const std::string& op) {
    return Progress(ctx.settings.dir, op, ctx.interactive, ctx.cancel, ctx.interrupted);
}

} // namespace wb
