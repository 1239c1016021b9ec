// wecare_backup_config, wecare_backup_setting and wecare_backup_stats: the
// settings of this connection (policy/settings.hpp) and what the backup
// directory, this process and the off-site index know; and that only `main`
// is backed up, naming the attached databases that are not.
//
//   SELECT wecare_backup_setting('keep_last');          -- reads one setting
//   SELECT wecare_backup_config('keep_last', 14);       -- changes it (and still reads, with one argument)
#include <cstring>
#include <sys/stat.h>

#include "command/commands.hpp"
#include "command/continuous.hpp"
#include "policy/json.hpp"
#include "policy/naming.hpp"
#include "policy/timeline.hpp"
#include "sql/args.hpp"
#include "sql/functions.hpp"
#include "sql/guard.hpp"

namespace wb {

namespace {

std::optional<std::string> iso_or_null(const std::optional<int64_t>& t) {
    return t ? std::optional<std::string>(iso_utc(*t)) : std::nullopt;
}

std::optional<std::string> text_or_null(const std::string& text) {
    return text.empty() ? std::nullopt : std::optional<std::string>(text);
}

// The settings marked for stats in the settings table, as typed JSON values.
void add_settings(JsonObject& json, const Settings& settings) {
    for (const auto& spec : setting_specs()) {
        if (!spec.in_stats) continue;
        const std::string value = spec.get(settings);
        switch (spec.kind) {
        case SettingKind::INTEGER:
            json.integer(spec.key, std::stoll(value));
            break;
        case SettingKind::FLAG:
            json.boolean(spec.key, value == "1");
            break;
        default:
            json.text(spec.key, value);
        }
    }
}

// sqlite3_db_name, which names a connection's schemas, came with SQLite 3.39.
constexpr int kDbNameVersion = 3039000;

// The schemas of the connection that a backup does not hold: every attached
// database (main is backed up; temp is the connection's own scratch space).
// nullopt when this SQLite cannot name them: the API table of an older one
// has no sqlite3_db_name, and listing them through PRAGMA database_list on
// the caller's connection would go through its authorizer.
std::optional<std::vector<std::string>> attached_schemas(sqlite3* db) {
    if (sqlite3_libversion_number() < kDbNameVersion) return std::nullopt;
    std::vector<std::string> names;
    for (int i = 0;; ++i) {
        const char* name = sqlite3_db_name(db, i);
        if (!name) break;
        if (std::strcmp(name, "main") != 0 && std::strcmp(name, "temp") != 0) names.emplace_back(name);
    }
    return names;
}

} // namespace

void fn_config(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
    guard(ctx, "wecare_backup_config", [&] {
        const std::string key = text_arg(argv[0], "the setting name", 256);
        ConnectionState& state = state_of(ctx);
        if (argc == 2) {
            const std::string value = setting_value_arg(argv[1], key);
            std::lock_guard<std::mutex> lock(state.mu);
            set_setting(state.settings, key, value);
        }
        const OperationContext op = state.context(false);
        result_text(ctx, get_setting(op.settings, key));
    });
}

// Reads only, so that an authorizer can let a role read settings without
// letting it change them (wecare_backup_config does both).
void fn_setting(sqlite3_context* ctx, int, sqlite3_value** argv) {
    guard(ctx, "wecare_backup_setting", [&] {
        const std::string key = text_arg(argv[0], "the setting name", 256);
        const OperationContext op = state_of(ctx).context(false);
        result_text(ctx, get_setting(op.settings, key));
    });
}

// stats.continuous: this connection's capturer, and the timeline on disk.
std::string continuous_json(const ConnectionState& state, const OperationContext& op, bool dir_missing) {
    const CaptureStatus c = state.capturer.status();
    std::vector<TimelineRow> rows;
    if (!dir_missing) rows = timeline_rows_of(op);
    int64_t gaps = 0;
    int64_t segments = 0;
    std::optional<int64_t> from;
    std::optional<int64_t> to;
    for (const auto& row : rows) {
        if (row.kind == "gap") {
            ++gaps;
            continue;
        }
        segments += row.segments;
        if (!from) from = row.from_ns;
        to = row.to_ns;
    }
    struct stat st {};
    const int64_t wal_bytes = op.db_path.empty() || ::stat((op.db_path + "-wal").c_str(), &st) != 0
                                  ? 0
                                  : static_cast<int64_t>(st.st_size);
    auto when = [](std::optional<int64_t> ns) {
        return ns ? std::optional<std::string>(format_time_ns(*ns)) : std::nullopt;
    };
    const bool capturing = c.state == "capturing";
    const TimelineOffsite offsite = dir_missing ? TimelineOffsite{} : timeline_offsite_status(op);
    return JsonObject()
        .text("state", c.state)
        .integer("interval_ms", c.state == "stopped" ? 0 : c.interval_ms)
        .integer("lag_ms", capturing ? c.lag_ms : 0)
        .text_or_null(
            "last_captured_at",
            when(c.last_captured_ns && (!to || *c.last_captured_ns > *to) ? c.last_captured_ns : to))
        .integer("segments", segments)
        .integer("wal_bytes", wal_bytes)
        .integer("checkpoints", c.checkpoints)
        .integer("gaps", gaps)
        .text_or_null("restorable_from", when(from))
        .text_or_null("restorable_to", when(to))
        .text_or_null("last_error",
                      c.last_error.empty() ? std::nullopt : std::optional<std::string>(c.last_error))
        .integer("offsite_segments", offsite.segments)
        .integer("offsite_foreign", offsite.foreign)
        .text_or_null("offsite_last_point_at", when(offsite.last_point_ns))
        .text_or_null("offsite_last_success_at", iso_or_null(offsite.last_success_at))
        .text_or_null("offsite_last_error", offsite.last_error.empty()
                                                ? std::nullopt
                                                : std::optional<std::string>(offsite.last_error))
        .str();
}

void fn_stats(sqlite3_context* ctx, int, sqlite3_value**) {
    guard(ctx, "wecare_backup_stats", [&] {
        ConnectionState& state = state_of(ctx);
        const OperationContext op = state.context(false);
        int64_t total = 0;
        std::optional<std::string> oldest, newest;
        std::optional<int64_t> newest_regular;
        std::vector<ListedBackup> backups;
        // A configured directory that is missing (an unmounted disk) is said
        // so, rather than reported as a directory without backups.
        const bool dir_missing = backup_dir_missing(op);
        if (!dir_missing)
            for (auto& b : list_backups(op))
                if (b.location != "offsite") backups.push_back(std::move(b));
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
        std::string progress = "null";
        if (!activity.op.empty())
            progress = JsonObject()
                           .text("op", activity.op)
                           .integer("pages_done", activity.done)
                           .integer("pages_total", activity.total)
                           .str();
        const auto attached = attached_schemas(state.db);
        const std::string continuous = continuous_json(state, op, dir_missing);
        JsonObject json;
        json.integer("count", static_cast<int64_t>(backups.size()))
            .integer("total_bytes", total)
            .text_or_null("oldest", oldest)
            .text_or_null("newest", newest);
        add_settings(json, op.settings);
        json.boolean("dir_missing", dir_missing);
        json.text_or_null("last_success_at", iso_or_null(last_success))
            .text_or_null("last_error", text_or_null(activity.last_error))
            .text_or_null("last_error_at", iso_or_null(activity.last_error_at))
            .integer("schedule_seconds", state.scheduler.interval())
            .text_or_null("next_run_at", iso_or_null(state.scheduler.next_run_at()))
            .raw("progress", progress)
            .raw("continuous", continuous)
            .text("schema", "main") // the one schema a backup holds
            .strings("attached_not_backed_up", attached.value_or(std::vector<std::string>{}))
            .text_or_null("attached_note",
                          attached ? std::nullopt
                                   : std::optional<std::string>(
                                         "this SQLite (before 3.39) cannot name the attached databases; "
                                         "see PRAGMA database_list: none of them is backed up"))
            .text_or_null("offsite", text_or_null(offsite.target))
            .integer("offsite_count", offsite.objects)
            .integer("offsite_foreign", offsite.foreign)
            .text_or_null("offsite_last_success_at", iso_or_null(offsite.last_success_at))
            .text_or_null("offsite_last_error", text_or_null(offsite.last_error))
            .text_or_null("offsite_last_error_at", iso_or_null(offsite.last_error_at))
            .boolean("encrypted", !op.settings.encrypt_key_file.empty())
            .text("checksum_algorithm", "xxh3t (XXH3-128 over 1 MiB block digests)")
            .text("version", kVersion);
        result_text(ctx, json.str());
    });
}

} // namespace wb
