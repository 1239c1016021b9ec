// The extension's eponymous, read-only virtual tables, one row per item:
//
//   SELECT name, kind, created_at, verify_ok, retain_reason FROM wecare_backup_list;
//   SELECT kind, from_at, to_at, base, gap_reason FROM wecare_backup_timeline;
//
//   wecare_backup_list      one row per backup of this database, newest first
//                           (command/list.cpp: the directory and the small
//                           sidecar records; no backup is opened)
//   wecare_backup_timeline  one row per restorable range and per gap of
//                           continuous capture, oldest first (policy/timeline.hpp)
//
// How it works: one generic module. xFilter takes every row at once (the
// table's loader turns them into cells), so a scan sees one consistent
// listing. There are no constraints to use: xBestIndex always plans a full
// scan (idxNum 0). Both read the file system, so neither is reachable from a
// view or trigger (SQLITE_VTAB_DIRECTONLY).
#include <string>
#include <variant>
#include <vector>

#include "command/commands.hpp"
#include "command/continuous.hpp"
#include "sql/args.hpp"
#include "sql/connection_state.hpp"
#include "sql/guard.hpp"
#include "sql/registry.hpp"
#include "sql/schema_safety.hpp"

namespace wb {

namespace {

using Cell = std::variant<std::monostate, int64_t, std::string>;
using Row = std::vector<Cell>;

struct TableDef {
    const char* name;
    const char* schema;
    std::vector<Row> (*load)(ConnectionState& state);
};

template <class T> Cell optional_cell(bool present, T value) {
    return present ? Cell(std::move(value)) : Cell();
}

std::vector<Row> load_list(ConnectionState& state) {
    std::vector<Row> rows;
    for (const ListedBackup& row : list_backups(state.context(false))) {
        const CatalogEntry& e = row.entry;
        const BackupRecord* r = e.record ? &*e.record : nullptr;
        int64_t pages = 0;
        if (r && r->page_count > 0) {
            pages = r->page_count;
        } else if (r && r->page_size > 0) {
            pages = e.size_bytes / r->page_size;
        }
        rows.push_back({
            e.name,
            optional_cell(!row.path.empty(), row.path), // NULL: only off-site
            e.kind(),
            optional_cell(r && r->label, r && r->label ? *r->label : std::string()),
            iso_utc(e.parsed.epoch_seconds),
            e.size_bytes,
            optional_cell(r && !r->checksum.empty(), r ? r->checksum : std::string()),
            optional_cell(pages > 0, pages),
            optional_cell(r && r->verified_at,
                          r && r->verified_at ? iso_utc(*r->verified_at) : std::string()),
            optional_cell(r && r->verify_ok, int64_t{r && r->verify_ok && *r->verify_ok ? 1 : 0}),
            optional_cell(!row.retain_reason.empty(), row.retain_reason),
            optional_cell(r && r->created_ns, r ? r->created_ns : 0),
            optional_cell(r && r->offsite_at, r && r->offsite_at ? iso_utc(*r->offsite_at) : std::string()),
            optional_cell(r && r->offsite_ok, int64_t{r && r->offsite_ok && *r->offsite_ok ? 1 : 0}),
            row.location,
            r ? r->type : std::string(e.parsed.incremental ? "incremental" : "full"),
            optional_cell(r && !r->base.empty(), r ? r->base : std::string()),
            optional_cell(r && r->page_count > 0 && r->page_size > 0, r ? r->page_count * r->page_size : 0),
        });
    }
    return rows;
}

std::vector<Row> load_timeline(ConnectionState& state) {
    std::vector<Row> rows;
    for (const TimelineRow& t : timeline_rows_of(state.context(false))) {
        const bool range = t.kind == "range";
        rows.push_back({
            t.kind,
            format_time_ns(t.from_ns),
            format_time_ns(t.to_ns),
            optional_cell(range, t.base),
            optional_cell(range, t.segments),
            optional_cell(range, static_cast<int64_t>(t.bytes)),
            optional_cell(!range, t.gap_reason),
        });
    }
    return rows;
}

const TableDef kTables[] = {
    {kListTableName,
     "CREATE TABLE x(name TEXT, path TEXT, kind TEXT, label TEXT, created_at TEXT, size_bytes INTEGER, "
     "checksum TEXT, page_count INTEGER, verified_at TEXT, verify_ok INTEGER, retain_reason TEXT, "
     "created_ns INTEGER, offsite_at TEXT, offsite_ok INTEGER, location TEXT, type TEXT, base TEXT, "
     "restore_bytes INTEGER)",
     load_list},
    {kTimelineTableName,
     "CREATE TABLE x(kind TEXT, from_at TEXT, to_at TEXT, base TEXT, segments INTEGER, bytes INTEGER, "
     "gap_reason TEXT)",
     load_timeline},
};

struct RowTable {
    sqlite3_vtab base; // must come first
    StateRef state;
    const TableDef* def = nullptr;
};

struct RowCursor {
    sqlite3_vtab_cursor base; // must come first
    std::vector<Row> rows;
    size_t index = 0;
};

// client_data: a TableState (the state and which table).
struct TableState {
    StateRef state;
    const TableDef* def;
};

int table_connect(sqlite3* db, void* client_data, int, const char* const*, sqlite3_vtab** out, char**) {
    const auto* ts = static_cast<const TableState*>(client_data);
    const int rc = sqlite3_declare_vtab(db, ts->def->schema);
    if (rc != SQLITE_OK) return rc;
    sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
    auto* table = new (std::nothrow) RowTable();
    if (!table) return SQLITE_NOMEM;
    table->state = ts->state;
    table->def = ts->def;
    *out = &table->base;
    return SQLITE_OK;
}

int table_disconnect(sqlite3_vtab* vtab) {
    delete reinterpret_cast<RowTable*>(vtab);
    return SQLITE_OK;
}

int table_best_index(sqlite3_vtab*, sqlite3_index_info* info) {
    info->idxNum = 0; // always a full scan; rows are already in order
    info->estimatedCost = 1000;
    info->estimatedRows = 100;
    return SQLITE_OK;
}

int table_open(sqlite3_vtab*, sqlite3_vtab_cursor** out) {
    auto* cursor = new (std::nothrow) RowCursor();
    if (!cursor) return SQLITE_NOMEM;
    *out = &cursor->base;
    return SQLITE_OK;
}

int table_close(sqlite3_vtab_cursor* cur) {
    delete reinterpret_cast<RowCursor*>(cur);
    return SQLITE_OK;
}

int table_filter(sqlite3_vtab_cursor* cur, int, const char*, int, sqlite3_value**) {
    auto* cursor = reinterpret_cast<RowCursor*>(cur);
    auto* table = reinterpret_cast<RowTable*>(cur->pVtab);
    return guard_vtab(cur->pVtab, table->def->name, [&] {
        cursor->rows.clear();
        cursor->index = 0;
        refuse_shared_cache(table->state->db);
        cursor->rows = table->def->load(*table->state);
        return SQLITE_OK;
    });
}

int table_next(sqlite3_vtab_cursor* cur) {
    reinterpret_cast<RowCursor*>(cur)->index++;
    return SQLITE_OK;
}

int table_eof(sqlite3_vtab_cursor* cur) {
    auto* cursor = reinterpret_cast<RowCursor*>(cur);
    return cursor->index >= cursor->rows.size();
}

int table_column(sqlite3_vtab_cursor* cur, sqlite3_context* ctx, int column) {
    const auto* cursor = reinterpret_cast<RowCursor*>(cur);
    return guard_vtab(cur->pVtab, reinterpret_cast<RowTable*>(cur->pVtab)->def->name, [&] {
        const Row& row = cursor->rows[cursor->index];
        if (column < 0 || static_cast<size_t>(column) >= row.size()) return SQLITE_OK;
        const Cell& cell = row[static_cast<size_t>(column)];
        if (const auto* i = std::get_if<int64_t>(&cell)) sqlite3_result_int64(ctx, *i);
        if (const auto* t = std::get_if<std::string>(&cell)) result_text(ctx, *t);
        return SQLITE_OK;
    });
}

int table_rowid(sqlite3_vtab_cursor* cur, sqlite3_int64* rowid) {
    *rowid = static_cast<sqlite3_int64>(reinterpret_cast<RowCursor*>(cur)->index) + 1;
    return SQLITE_OK;
}

const sqlite3_module kRowModule = {
    0,                /* iVersion */
    nullptr,          /* xCreate: eponymous only, no CREATE VIRTUAL TABLE */
    table_connect,    /* xConnect */
    table_best_index, /* xBestIndex */
    table_disconnect, /* xDisconnect */
    nullptr,          /* xDestroy */
    table_open,       /* xOpen */
    table_close,      /* xClose */
    table_filter,     /* xFilter */
    table_next,       /* xNext */
    table_eof,        /* xEof */
    table_column,     /* xColumn */
    table_rowid,      /* xRowid */
    nullptr,          /* xUpdate */
    nullptr,          /* xBegin */
    nullptr,          /* xSync */
    nullptr,          /* xCommit */
    nullptr,          /* xRollback */
    nullptr,          /* xFindFunction */
    nullptr,          /* xRename */
    nullptr,          /* xSavepoint */
    nullptr,          /* xRelease */
    nullptr,          /* xRollbackTo */
    nullptr,          /* xShadowName */
};

void release_table_state(void* p) {
    delete static_cast<TableState*>(p);
}

} // namespace

int register_tables(sqlite3* db, const StateRef& state, std::string& failed) {
    for (const TableDef& def : kTables) {
        auto* ts = new (std::nothrow) TableState{state, &def};
        if (!ts) return SQLITE_NOMEM;
        // On failure sqlite3_create_module_v2 calls release_table_state itself.
        const int rc = sqlite3_create_module_v2(db, def.name, &kRowModule, ts, release_table_state);
        if (rc != SQLITE_OK) {
            failed = def.name;
            return rc;
        }
    }
    return SQLITE_OK;
}

} // namespace wb
