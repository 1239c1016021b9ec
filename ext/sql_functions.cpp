// The SQL functions: argument checking and result shaping only. The work is
// in operations.cpp; the exception barrier is sql_guard.hpp.
#include <cctype>
#include <cmath>
#include <string>

#include "connection_state.hpp"
#include "json.hpp"
#include "offsite_sync.hpp"
#include "sql_guard.hpp"
#include "sql_registry.hpp"

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

namespace {

// SQLITE_DIRECTONLY keeps these functions out of views and triggers, but
// SQLite 3.40 still lets a CHECK constraint in the database's own schema call
// them. A function that reads or writes files must be named by the SQL that
// the application is running; when no running statement names it, it was
// called by schema code in the database, and it refuses.
// (Statements prepared with the legacy sqlite3_prepare keep no SQL text; when
// every running statement is such, there is nothing to check against.)
// Whether the SQL text calls `function`: its name, not part of a longer
// identifier, followed by '(' (an optional closing quote and spaces between).
bool calls_function(const std::string& sql, const std::string& function) {
    std::string lower(sql);
    for (char& c : lower)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto ident = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$'; };
    for (size_t at = lower.find(function); at != std::string::npos; at = lower.find(function, at + 1)) {
        if (at > 0 && ident(lower[at - 1])) continue;
        size_t next = at + function.size();
        if (next < lower.size() && (lower[next] == '"' || lower[next] == '`' || lower[next] == ']')) ++next;
        while (next < lower.size() && std::isspace(static_cast<unsigned char>(lower[next])))
            ++next;
        if (next < lower.size() && lower[next] == '(') return true;
    }
    return false;
}

void require_direct_call(sqlite3_context* ctx, const char* function) {
    sqlite3* db = sqlite3_context_db_handle(ctx);
    bool any_text = false;
    for (sqlite3_stmt* stmt = sqlite3_next_stmt(db, nullptr); stmt; stmt = sqlite3_next_stmt(db, stmt)) {
        if (!sqlite3_stmt_busy(stmt)) continue;
        const char* sql = sqlite3_sql(stmt);
        if (!sql) continue;
        any_text = true;
        if (calls_function(sql, function)) return;
    }
    if (any_text)
        throw Error(
            "refused: it was called by code stored in the database's schema (a CHECK constraint), not by "
            "the SQL being run; call it directly",
            kErrAuth);
}

template <class Body>
void guard_direct(sqlite3_context* ctx, const char* function, Body&& body) { // guard() is the barrier
    guard(ctx, function, [&] {
        require_direct_call(ctx, function);
        body();
    });
}

ConnectionState& state_of(sqlite3_context* ctx) {
    return **static_cast<StateRef*>(sqlite3_user_data(ctx));
}

const char* type_name(int type) {
    switch (type) {
    case SQLITE_INTEGER:
        return "an integer";
    case SQLITE_FLOAT:
        return "a real number";
    case SQLITE_BLOB:
        return "a blob";
    case SQLITE_NULL:
        return "NULL";
    default:
        return "text";
    }
}

// A TEXT argument, checked for what a name or setting may never hold.
std::string text_arg(sqlite3_value* v, const std::string& what, size_t max_bytes = 1 << 16) {
    const int type = sqlite3_value_type(v);
    if (type != SQLITE_TEXT) throw Error(what + " must be text, not " + type_name(type));
    const auto* text = reinterpret_cast<const char*>(sqlite3_value_text(v));
    const auto length = static_cast<size_t>(sqlite3_value_bytes(v));
    if (!text) throw std::bad_alloc();
    if (length > max_bytes) throw Error(what + " is too long (" + std::to_string(length) + " bytes)");
    return std::string(text, length);
}

// A backup name argument: text, and the name checks run on the raw bytes.
std::string name_arg(sqlite3_value* v) {
    const int type = sqlite3_value_type(v);
    if (type != SQLITE_TEXT) throw Error("the backup name must be text, not " + std::string(type_name(type)));
    return text_arg(v, "the backup name", 4096);
}

// Calls made by the user draw a progress bar when standard error is a
// terminal (Progress checks); scheduled runs never draw.
constexpr bool kInteractive = true;

void fn_version(sqlite3_context* ctx, int, sqlite3_value**) {
    sqlite3_result_text(ctx, kVersion, -1, SQLITE_STATIC);
}

void fn_create(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
    guard_direct(ctx, "wecare_backup_create", [&] {
        std::optional<std::string> label;
        if (argc == 1 && sqlite3_value_type(argv[0]) != SQLITE_NULL) {
            label = text_arg(argv[0], "the label", 1000);
            if (label->find('\0') != std::string::npos || !is_valid_utf8(*label))
                throw Error("the label must be UTF-8 text without NUL bytes");
        }
        const auto name = create_backup(state_of(ctx).context(kInteractive), "manual", label);
        sqlite3_result_text(ctx, name->c_str(), -1, SQLITE_TRANSIENT);
    });
}

void fn_cleanup(sqlite3_context* ctx, int, sqlite3_value**) {
    guard_direct(ctx, "wecare_backup_cleanup",
                 [&] { sqlite3_result_int64(ctx, cleanup_backups(state_of(ctx).context(false))); });
}

void fn_verify(sqlite3_context* ctx, int, sqlite3_value** argv) {
    guard_direct(ctx, "wecare_backup_verify", [&] {
        const std::string arg = name_arg(argv[0]);
        const auto [name, outcome] = verify_backup(state_of(ctx).context(kInteractive), arg);
        const std::string json = verify_outcome_json(name, outcome);
        sqlite3_result_text(ctx, json.c_str(), -1, SQLITE_TRANSIENT);
    });
}

void fn_restore(sqlite3_context* ctx, int, sqlite3_value** argv) {
    guard_direct(ctx, "wecare_backup_restore", [&] {
        const std::string name = name_arg(argv[0]);
        ConnectionState& state = state_of(ctx);
        const OperationContext op = state.context(kInteractive);
        check_backup_name(op, name);
        if (sqlite3_value_type(argv[1]) != SQLITE_TEXT ||
            std::string(reinterpret_cast<const char*>(sqlite3_value_text(argv[1])),
                        static_cast<size_t>(sqlite3_value_bytes(argv[1]))) != kRestorePhrase)
            throw Error(std::string("the confirmation phrase does not match; pass exactly '") +
                        kRestorePhrase + "' as the second argument");
        if (sqlite3_db_readonly(state.db, "main") == 1)
            throw Error("this connection opened the database read-only; restore from a read-write connection",
                        kErrMisuse);
        if (!sqlite3_get_autocommit(state.db))
            throw Error("refusing to restore inside an open transaction; COMMIT or ROLLBACK first",
                        kErrMisuse);
        const bool caller_reading = sqlite3_txn_state(state.db, "main") != SQLITE_TXN_NONE;
        const RestoreOutcome r = restore_backup(op, name, caller_reading);
        sqlite3_log(SQLITE_NOTICE, "wecare_backup_restore: restored %s (safety backup %s)",
                    r.restored.c_str(), r.safety_backup.c_str());
        const std::string json = JsonObject()
                                     .text("restored", r.restored)
                                     .text("safety_backup", r.safety_backup)
                                     .integer("pages", r.pages)
                                     .str();
        sqlite3_result_text(ctx, json.c_str(), -1, SQLITE_TRANSIENT);
    });
}

void fn_export(sqlite3_context* ctx, int, sqlite3_value** argv) {
    guard_direct(ctx, "wecare_backup_export", [&] {
        const std::string name = name_arg(argv[0]);
        const std::string destination = text_arg(argv[1], "the destination", 4096);
        const std::string path = export_backup(state_of(ctx).context(kInteractive), name, destination);
        sqlite3_result_text(ctx, path.c_str(), -1, SQLITE_TRANSIENT);
    });
}

void fn_fetch(sqlite3_context* ctx, int, sqlite3_value** argv) {
    guard_direct(ctx, "wecare_backup_fetch", [&] {
        const std::string name = name_arg(argv[0]);
        const OperationContext op = state_of(ctx).context(kInteractive);
        check_backup_name(op, name);
        const std::string fetched = fetch_backup(op, name);
        sqlite3_log(SQLITE_NOTICE, "wecare_backup_fetch: fetched %s", fetched.c_str());
        sqlite3_result_text(ctx, fetched.c_str(), -1, SQLITE_TRANSIENT);
    });
}

void fn_path(sqlite3_context* ctx, int, sqlite3_value** argv) {
    guard_direct(ctx, "wecare_backup_path", [&] {
        const std::string name = name_arg(argv[0]);
        const std::string path = existing_backup_path(state_of(ctx).context(false), name);
        sqlite3_result_text(ctx, path.c_str(), -1, SQLITE_TRANSIENT);
    });
}

void fn_schedule(sqlite3_context* ctx, int, sqlite3_value** argv) {
    guard_direct(ctx, "wecare_backup_schedule", [&] {
        const int type = sqlite3_value_type(argv[0]);
        const double real = sqlite3_value_double(argv[0]);
        if (type != SQLITE_INTEGER && !(type == SQLITE_FLOAT && std::floor(real) == real))
            throw Error(std::string("the interval must be a whole number of seconds, not ") +
                        type_name(type));
        const int64_t seconds = sqlite3_value_int64(argv[0]);
        if (seconds < 0 || seconds > 366LL * 86400)
            throw Error("the interval must be from 1 to 31622400 seconds, or 0 to stop");
        ConnectionState& state = state_of(ctx);
        if (seconds == 0) {
            state.scheduler.stop();
            sqlite3_result_int(ctx, 0);
            return;
        }
        const std::string path = state.db_path();
        if (path.empty())
            throw Error("the main database is in memory or temporary; open a database file to back it up",
                        kErrMisuse);
        if (!sqlite3_threadsafe())
            throw Error("this SQLite is built without thread support; run backups from cron");
        // The thread gets the path now: it must not call into the user's connection.
        ConnectionState* raw = &state;
        state.scheduler.start(seconds, [raw, path] { return raw->context_for(path, false); });
        sqlite3_result_int(ctx, 1);
    });
}

void fn_config(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
    guard_direct(ctx, "wecare_backup_config", [&] {
        const std::string key = text_arg(argv[0], "the setting name", 256);
        ConnectionState& state = state_of(ctx);
        if (argc == 2) {
            std::string value;
            const int type = sqlite3_value_type(argv[1]);
            if (type == SQLITE_INTEGER) {
                value = std::to_string(sqlite3_value_int64(argv[1]));
            } else if (type == SQLITE_TEXT) {
                value = text_arg(argv[1], "the value of " + key, 1 << 16);
            } else {
                throw Error("the value of " + key + " must be text or an integer, not " + type_name(type));
            }
            std::lock_guard<std::mutex> lock(state.mu);
            set_setting(state.settings, key, value);
        }
        const OperationContext op = state.context(false);
        const std::string value = get_setting(op.settings, key);
        sqlite3_result_text(ctx, value.c_str(), -1, SQLITE_TRANSIENT);
    });
}

void fn_stats(sqlite3_context* ctx, int, sqlite3_value**) {
    guard_direct(ctx, "wecare_backup_stats", [&] {
        ConnectionState& state = state_of(ctx);
        const OperationContext op = state.context(false);
        int64_t total = 0;
        std::optional<std::string> oldest, newest;
        std::optional<int64_t> newest_regular;
        std::vector<ListedBackup> local;
        for (const auto& b : list_backups(op))
            if (b.location != "offsite") local.push_back(b);
        const auto& backups = local;
        const OffsiteStatus offsite = offsite_status(op);
        for (const auto& b : backups) {
            total += b.entry.size_bytes;
            if (!b.entry.parsed.safety && !newest_regular) newest_regular = b.entry.parsed.epoch_seconds;
        }
        if (!backups.empty()) {
            newest = iso_utc(backups.front().entry.parsed.epoch_seconds);
            oldest = iso_utc(backups.back().entry.parsed.epoch_seconds);
        }
        const ActivitySnapshot activity = activity_of(op.settings.dir);
        std::optional<int64_t> last_success = activity.last_success_at;
        if (!last_success || (newest_regular && *newest_regular > *last_success))
            last_success = newest_regular;
        auto iso = [](const std::optional<int64_t>& t) {
            return t ? std::optional<std::string>(iso_utc(*t)) : std::nullopt;
        };
        std::string progress = "null";
        if (!activity.op.empty())
            progress = JsonObject()
                           .text("op", activity.op)
                           .integer("pages_done", activity.done)
                           .integer("pages_total", activity.total)
                           .str();
        const std::string json =
            JsonObject()
                .integer("count", static_cast<int64_t>(backups.size()))
                .integer("total_bytes", total)
                .text_or_null("oldest", oldest)
                .text_or_null("newest", newest)
                .text("dir", op.settings.dir)
                .text("prefix", op.settings.prefix)
                .integer("keep_last", op.settings.keep_last)
                .integer("keep_daily", op.settings.keep_daily)
                .integer("keep_weekly", op.settings.keep_weekly)
                .integer("keep_monthly", op.settings.keep_monthly)
                .integer("keep_safety", op.settings.keep_safety)
                .boolean("verify_on_create", op.settings.verify_on_create)
                .text_or_null("last_success_at", iso(last_success))
                .text_or_null("last_error", activity.last_error.empty()
                                                ? std::nullopt
                                                : std::optional<std::string>(activity.last_error))
                .text_or_null("last_error_at", iso(activity.last_error_at))
                .integer("schedule_seconds", state.scheduler.interval())
                .text_or_null("next_run_at", iso(state.scheduler.next_run_at()))
                .raw("progress", progress)
                .text_or_null("offsite", offsite.target.empty() ? std::nullopt
                                                                : std::optional<std::string>(offsite.target))
                .integer("offsite_count", offsite.objects)
                .text_or_null("offsite_last_success_at", iso(offsite.last_success_at))
                .text_or_null("offsite_last_error", offsite.last_error.empty()
                                                        ? std::nullopt
                                                        : std::optional<std::string>(offsite.last_error))
                .text_or_null("offsite_last_error_at", iso(offsite.last_error_at))
                .text("compress", op.settings.compress)
                .boolean("encrypted", !op.settings.encrypt_key_file.empty())
                .text("checksum_algorithm", "xxh3t (XXH3-128 over 1 MiB block digests)")
                .text("version", kVersion)
                .str();
        sqlite3_result_text(ctx, json.c_str(), -1, SQLITE_TRANSIENT);
    });
}

} // namespace

// Every function that reads or writes files, or changes what later calls do,
// is DIRECTONLY: a view or trigger in an untrusted database can never call it.
constexpr int kDirectOnly = SQLITE_UTF8 | SQLITE_DIRECTONLY;
constexpr int kPure = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;

const std::vector<FunctionSpec>& function_specs() {
    static const std::vector<FunctionSpec> specs = {
        {"wecare_backup_version", 0, kPure, fn_version},
        {"wecare_backup_create", 0, kDirectOnly, fn_create},
        {"wecare_backup_create", 1, kDirectOnly, fn_create},
        {"wecare_backup_verify", 1, kDirectOnly, fn_verify},
        {"wecare_backup_stats", 0, kDirectOnly, fn_stats},
        {"wecare_backup_cleanup", 0, kDirectOnly, fn_cleanup},
        {"wecare_backup_restore", 2, kDirectOnly, fn_restore},
        {"wecare_backup_schedule", 1, kDirectOnly, fn_schedule},
        {"wecare_backup_export", 2, kDirectOnly, fn_export},
        {"wecare_backup_config", 1, kDirectOnly, fn_config},
        {"wecare_backup_config", 2, kDirectOnly, fn_config},
        {"wecare_backup_path", 1, kDirectOnly, fn_path},
        {"wecare_backup_fetch", 1, kDirectOnly, fn_fetch},
    };
    return specs;
}

} // namespace wb
