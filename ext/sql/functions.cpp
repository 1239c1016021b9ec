// The backup SQL functions: argument checking and result shaping only. The
// work is in command/; the exception barrier is guard.hpp.
//
//   SELECT wecare_backup_create('before upgrade');
//   SELECT wecare_backup_verify(name) FROM wecare_backup_list LIMIT 1;
//   SELECT wecare_backup_restore(:name, 'I understand this will replace the current database');
#include "sql/functions.hpp"

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <sys/stat.h>
#include <unistd.h>

#include "command/commands.hpp"
#include "command/continuous.hpp"
#include "engine/restore.hpp"
#include "policy/json.hpp"
#include "policy/text.hpp"
#include "policy/timeline.hpp"
#include "sql/args.hpp"
#include "sql/guard.hpp"
#include "sql/schema_safety.hpp"

namespace wb {

namespace {

// Calls made by the user draw a progress bar when standard error is a
// terminal (Progress checks); scheduled runs never draw.
constexpr bool kInteractive = true;
// A label is kept in the backup's record; this is plenty for a sentence.
constexpr size_t kMaxLabelBytes = 1000;

// The statements of `db` that have been stepped and not yet reset or
// finalized; while a function runs, the statement calling it is one of them.
int running_statements(sqlite3* db) {
    int running = 0;
    for (sqlite3_stmt* stmt = sqlite3_next_stmt(db, nullptr); stmt; stmt = sqlite3_next_stmt(db, stmt))
        if (sqlite3_stmt_busy(stmt)) ++running;
    return running;
}

constexpr int64_t kMaxScheduleSeconds = 366LL * 86400;

// An interval: an integer, a whole real number, or the digits of one as text
// (as wecare_backup_config takes integers), from 0 to `max` `unit`.
int64_t interval_arg(sqlite3_value* v, const char* unit, int64_t max, int64_t min = 1) {
    const int type = sqlite3_value_type(v);
    int64_t seconds = 0;
    const bool whole_number =
        type == SQLITE_INTEGER ||
        (type == SQLITE_FLOAT && std::floor(sqlite3_value_double(v)) == sqlite3_value_double(v));
    if (whole_number) {
        seconds = sqlite3_value_int64(v);
    } else if (type == SQLITE_TEXT) {
        const std::string text = text_arg(v, "the interval", 64);
        const bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
        if (!digits)
            throw Error(std::string("the interval must be a whole number of ") + unit + ", not '" + text +
                        "'");
        // More digits than any interval has is simply out of range.
        seconds = text.size() <= 18 ? parse_decimal(text, 0, INT64_MAX).value_or(INT64_MAX) : INT64_MAX;
    } else {
        throw Error(std::string("the interval must be a whole number of ") + unit + ", not " +
                    type_name(type));
    }
    if (seconds < 0 || seconds > max)
        throw Error("the interval must be from " + std::to_string(min) + " to " + std::to_string(max) + " " +
                    unit + ", or 0 to stop");
    return seconds;
}

} // namespace

ConnectionState& state_of(sqlite3_context* ctx) {
    ConnectionState& state = **static_cast<StateRef*>(sqlite3_user_data(ctx));
    // A database attached with cache=shared after the load (schema_safety.cpp).
    refuse_shared_cache(state.db);
    return state;
}

void fn_version(sqlite3_context* ctx, int, sqlite3_value**) {
    sqlite3_result_text(ctx, kVersion, -1, SQLITE_STATIC);
}

void fn_create(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
    guard(ctx, "wecare_backup_create", [&] {
        std::optional<std::string> label;
        if (argc == 1 && sqlite3_value_type(argv[0]) != SQLITE_NULL) {
            label = text_arg(argv[0], "the label", kMaxLabelBytes);
            if (label->find('\0') != std::string::npos || !is_valid_utf8(*label))
                throw Error("the label must be UTF-8 text without NUL bytes");
        }
        ConnectionState& state = state_of(ctx);
        OperationContext op = state.context(kInteractive);
        op.caller_writes = sqlite3_txn_state(state.db, "main") == SQLITE_TXN_WRITE;
        const auto name = create_backup(op, "manual", label);
        result_text(ctx, *name);
    });
}

void fn_cleanup(sqlite3_context* ctx, int, sqlite3_value**) {
    guard(ctx, "wecare_backup_cleanup",
          [&] { sqlite3_result_int64(ctx, cleanup_backups(state_of(ctx).context(false))); });
}

void fn_verify(sqlite3_context* ctx, int, sqlite3_value** argv) {
    guard(ctx, "wecare_backup_verify", [&] {
        const std::string arg = name_arg(argv[0]);
        if (arg == "timeline") {
            result_text(ctx, timeline_check_json(verify_timeline(state_of(ctx).context(kInteractive))));
            return;
        }
        const auto [name, outcome] = verify_backup(state_of(ctx).context(kInteractive), arg);
        result_text(ctx, verify_outcome_json(name, outcome));
    });
}

// The confirmation phrase a restore or recovery needs, exactly.
void require_phrase(sqlite3_value* v, const char* position) {
    if (sqlite3_value_type(v) != SQLITE_TEXT ||
        std::string(reinterpret_cast<const char*>(sqlite3_value_text(v)),
                    static_cast<size_t>(sqlite3_value_bytes(v))) != kRestorePhrase)
        throw Error(std::string("the confirmation phrase does not match; pass exactly '") + kRestorePhrase +
                    "' as the " + position + " argument");
}

// `path` made absolute (from the working directory) and normalised.
std::string absolute_path(const std::string& path) {
    if (!path.empty() && path[0] == '/') return normalize_path(path);
    char cwd[4096];
    if (!::getcwd(cwd, sizeof cwd)) throw system_error("cannot read the working directory", errno);
    return normalize_path(std::string(cwd) + "/" + path);
}

bool same_file(const std::string& a, const std::string& b) {
    if (a == b) return true;
    struct stat sa {
    }, sb{};
    return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

// A restore replaces the database of the calling connection: it must be
// writable and outside a transaction. Returns whether the calling statement
// itself holds a read transaction on it.
bool check_restorable(sqlite3* db) {
    if (sqlite3_db_readonly(db, "main") == 1)
        throw Error("this connection opened the database read-only; restore from a read-write connection",
                    ErrorKind::misuse);
    if (!sqlite3_get_autocommit(db))
        throw Error("refusing to restore inside an open transaction; COMMIT or ROLLBACK first",
                    ErrorKind::misuse);
    return sqlite3_txn_state(db, "main") != SQLITE_TXN_NONE;
}

void fn_restore(sqlite3_context* ctx, int, sqlite3_value** argv) {
    guard(ctx, "wecare_backup_restore", [&] {
        const std::string name = name_arg(argv[0]);
        ConnectionState& state = state_of(ctx);
        OperationContext op = state.context(kInteractive);
        op.other_statement_open = running_statements(state.db) > 1; // the calling one runs too
        check_backup_name(op, name);
        require_phrase(argv[1], "second");
        const bool caller_reading = check_restorable(state.db);
        const RestoreOutcome r = restore_backup(op, name, caller_reading);
        sqlite3_log(SQLITE_NOTICE, "wecare_backup_restore: restored %s (safety backup %s)",
                    r.restored.c_str(), r.safety_backup.c_str());
        result_text(ctx, JsonObject()
                             .text("restored", r.restored)
                             .text_or_null("safety_backup", r.safety_backup.empty()
                                                                ? std::nullopt
                                                                : std::optional<std::string>(r.safety_backup))
                             .integer("pages", r.pages)
                             .str());
    });
}

void fn_recover(sqlite3_context* ctx, int, sqlite3_value** argv) {
    guard(ctx, "wecare_backup_recover", [&] {
        const std::string raw = text_arg(argv[0], "the database path", 4096);
        if (raw.empty() || raw.find('\0') != std::string::npos)
            throw Error("the database path must be the path of a database file");
        const std::string db_path = absolute_path(raw);
        const std::string name = name_arg(argv[1]);
        require_phrase(argv[2], "third");
        ConnectionState& state = state_of(ctx);
        if (!state.db_path().empty() && same_file(db_path, state.db_path()))
            throw Error("'" + db_path +
                        "' is this connection's own database, which is open; recover it from another "
                        "connection (e.g. sqlite3 :memory:), or use wecare_backup_restore");
        const OperationContext op = state.context_for_caller(db_path, kInteractive);
        if (parse_time_ns(name)) {
            const RestoreAtOutcome r = recover_at(op, name);
            sqlite3_log(SQLITE_NOTICE, "wecare_backup_recover: recovered %s to %s", db_path.c_str(),
                        r.restored_to.c_str());
            result_text(ctx,
                        JsonObject()
                            .text("recovered", r.restored_to)
                            .text("restored_to", r.restored_to)
                            .text("base", r.base)
                            .integer("segments", r.segments)
                            .text_or_null("damaged_as", r.safety_backup.empty()
                                                            ? std::nullopt
                                                            : std::optional<std::string>(r.safety_backup))
                            .integer("pages", r.pages)
                            .text("journal_mode", "wal")
                            .str());
            return;
        }
        check_backup_name(op, name);
        const RecoverOutcome r = recover_backup(op, name);
        sqlite3_log(SQLITE_NOTICE, "wecare_backup_recover: recovered %s from %s", db_path.c_str(),
                    r.recovered.c_str());
        result_text(ctx, JsonObject()
                             .text("recovered", r.recovered)
                             .text_or_null("damaged_as", r.damaged_as)
                             .integer("pages", r.pages)
                             .text("journal_mode", r.journal_mode)
                             .str());
    });
}

void fn_export(sqlite3_context* ctx, int, sqlite3_value** argv) {
    guard(ctx, "wecare_backup_export", [&] {
        const std::string name = name_arg(argv[0]);
        const std::string destination = text_arg(argv[1], "the destination", 4096);
        result_text(ctx, export_backup(state_of(ctx).context(kInteractive), name, destination));
    });
}

void fn_fetch(sqlite3_context* ctx, int, sqlite3_value** argv) {
    guard(ctx, "wecare_backup_fetch", [&] {
        const std::string name = name_arg(argv[0]);
        const OperationContext op = state_of(ctx).context(kInteractive);
        if (name == "timeline") {
            result_text(ctx, fetch_timeline(op));
            return;
        }
        check_backup_name(op, name);
        const std::string fetched = fetch_backup(op, name);
        sqlite3_log(SQLITE_NOTICE, "wecare_backup_fetch: fetched %s", fetched.c_str());
        result_text(ctx, fetched);
    });
}

void fn_path(sqlite3_context* ctx, int, sqlite3_value** argv) {
    guard(ctx, "wecare_backup_path", [&] {
        const std::string name = name_arg(argv[0]);
        result_text(ctx, existing_backup_path(state_of(ctx).context(false), name));
    });
}

void fn_schedule(sqlite3_context* ctx, int, sqlite3_value** argv) {
    guard(ctx, "wecare_backup_schedule", [&] {
        const int64_t seconds = interval_arg(argv[0], "seconds", kMaxScheduleSeconds);
        ConnectionState& state = state_of(ctx);
        if (seconds == 0) {
            state.scheduler.stop();
            sqlite3_result_int(ctx, 0);
            return;
        }
        const std::string path = state.db_path();
        if (path.empty())
            throw Error("the main database is in memory or temporary; open a database file to back it up",
                        ErrorKind::misuse);
        if (!sqlite3_threadsafe())
            throw Error("this SQLite is built without thread support; run backups from cron");
        // The thread gets the path now: it must not call into the user's connection.
        ConnectionState* raw = &state;
        state.scheduler.start(seconds, [raw, path] { return raw->context_for(path, false); });
        sqlite3_result_int(ctx, 1);
    });
}

constexpr int64_t kMinCaptureMs = 100;
constexpr int64_t kMaxCaptureMs = int64_t{3600} * 1000;

void fn_continuous(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
    guard(ctx, "wecare_backup_continuous", [&] {
        const int64_t ms =
            argc == 0 ? 1000 : interval_arg(argv[0], "milliseconds", kMaxCaptureMs, kMinCaptureMs);
        ConnectionState& state = state_of(ctx);
        if (ms == 0) {
            state.capturer.stop();
            sqlite3_wal_autocheckpoint(state.db, 1000); // SQLite's default again
            sqlite3_result_int(ctx, 0);
            return;
        }
        if (ms < kMinCaptureMs)
            throw Error("the interval must be at least " + std::to_string(kMinCaptureMs) +
                        " milliseconds, or 0 to stop");
        const std::string path = state.db_path();
        if (path.empty())
            throw Error("the main database is in memory or temporary; open a database file to capture it",
                        ErrorKind::misuse);
        if (!sqlite3_threadsafe())
            throw Error("this SQLite is built without thread support; continuous capture needs a thread");
        const OperationContext op = state.context(false);
        if (db_mode_of(path, op.settings.busy_timeout_ms).journal_mode != "wal")
            throw Error("continuous capture needs the database in WAL mode; switch it once with "
                        "PRAGMA journal_mode=WAL (it stays in WAL mode), then call it again",
                        ErrorKind::misuse);
        // The capturer checkpoints; this connection's automatic checkpoints would only compete.
        sqlite3_wal_autocheckpoint(state.db, 0);
        ConnectionState* raw = &state;
        sqlite3_result_int(ctx,
                           state.capturer.start(ms, [raw, path] { return raw->context_for(path, false); }));
    });
}

void fn_restore_at(sqlite3_context* ctx, int, sqlite3_value** argv) {
    guard(ctx, "wecare_backup_restore_at", [&] {
        const std::string time = text_arg(argv[0], "the time", 64);
        require_phrase(argv[1], "second");
        ConnectionState& state = state_of(ctx);
        OperationContext op = state.context(kInteractive);
        op.other_statement_open = running_statements(state.db) > 1;
        const bool caller_reading = check_restorable(state.db);
        const RestoreAtOutcome r = restore_at(op, time, caller_reading);
        sqlite3_log(SQLITE_NOTICE, "wecare_backup_restore_at: restored to %s (safety backup %s)",
                    r.restored_to.c_str(), r.safety_backup.c_str());
        result_text(ctx, JsonObject()
                             .text("restored_to", r.restored_to)
                             .text("base", r.base)
                             .integer("segments", r.segments)
                             .text_or_null("safety_backup", r.safety_backup.empty()
                                                                ? std::nullopt
                                                                : std::optional<std::string>(r.safety_backup))
                             .integer("pages", r.pages)
                             .str());
    });
}

} // namespace wb
