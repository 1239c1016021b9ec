// What the extension keeps per connection: its settings, its scheduler and its capturer.
// Owned by shared pointers held by each registered function and the module,
// so it lives exactly as long as the connection's registrations.
#pragma once
#include <memory>
#include <mutex>
#include <string>

#include "command/context.hpp"
#include "command/continuous.hpp"
#include "command/schedule.hpp"
#include "common/sqlite_api.hpp"
#include "policy/settings.hpp"

namespace wb {

struct ConnectionState {
    explicit ConnectionState(sqlite3* connection) : db(connection) {}

    sqlite3* db;
    std::mutex mu; // guards settings against the scheduler thread
    Settings settings;
    Capturer capturer;   // continuous capture (command/continuous.hpp)
    Scheduler scheduler; // declared last: stopped and joined first

    // The main database file of the connection, or "" for memory/temp.
    std::string db_path() const;
    // The resolved settings and database path for one operation.
    OperationContext context(bool interactive);
    OperationContext context_for(const std::string& path, bool interactive);
    // context_for another database file, called from SQL on this connection:
    // with the caller's interrupt poller.
    OperationContext context_for_caller(const std::string& path, bool interactive);
};

using StateRef = std::shared_ptr<ConnectionState>;

} // namespace wb
