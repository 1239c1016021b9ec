// wecare_backup_list: an eponymous, read-only virtual table with one row per
// backup of this database, newest first.
//
//   SELECT name, kind, created_at, verify_ok, retain_reason FROM wecare_backup_list;
//
// How it works: xFilter takes the whole listing at once (command/list.cpp reads
// the directory and the small sidecar records; no backup is opened), so a scan
// sees one consistent listing. There are no constraints to use: xBestIndex
// always plans a full scan (idxNum 0).
#include <string>
#include <vector>

#include "command/commands.hpp"
#include "sql/args.hpp"
#include "sql/connection_state.hpp"
#include "sql/guard.hpp"
#include "sql/registry.hpp"
#include "sql/schema_safety.hpp"

namespace wb {

namespace {

enum Column {
    kName,
    kPath,
    kKind,
    kLabel,
    kCreatedAt,
    kSizeBytes,
    kChecksum,
    kPageCount,
    kVerifiedAt,
    kVerifyOk,
    kRetainReason,
    kCreatedNs,
    kOffsiteAt,
    kOffsiteOk,
    kLocation,
    kType,
    kBase,
    kRestoreBytes,
};

constexpr const char* kSchema =
    "CREATE TABLE x(name TEXT, path TEXT, kind TEXT, label TEXT, created_at TEXT, size_bytes INTEGER, "
    "checksum TEXT, page_count INTEGER, verified_at TEXT, verify_ok INTEGER, retain_reason TEXT, "
    "created_ns INTEGER, offsite_at TEXT, offsite_ok INTEGER, location TEXT, type TEXT, base TEXT, "
    "restore_bytes INTEGER)";

struct ListTable {
    sqlite3_vtab base; // must come first
    StateRef state;
};

struct ListCursor {
    sqlite3_vtab_cursor base; // must come first
    std::vector<ListedBackup> rows;
    size_t index = 0;
};

int list_connect(sqlite3* db, void* client_data, int, const char* const*, sqlite3_vtab** out, char** err) {
    const int rc = sqlite3_declare_vtab(db, kSchema);
    if (rc != SQLITE_OK) return rc;
    // The listing reads the file system: never from a view or trigger.
    sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
    auto* table = new (std::nothrow) ListTable();
    if (!table) return SQLITE_NOMEM;
    table->state = *static_cast<StateRef*>(client_data);
    *out = &table->base;
    (void)err;
    return SQLITE_OK;
}

int list_disconnect(sqlite3_vtab* vtab) {
    delete reinterpret_cast<ListTable*>(vtab);
    return SQLITE_OK;
}

int list_best_index(sqlite3_vtab*, sqlite3_index_info* info) {
    info->idxNum = 0; // always a full scan; rows are already in order
    info->estimatedCost = 1000;
    info->estimatedRows = 100;
    return SQLITE_OK;
}

int list_open(sqlite3_vtab*, sqlite3_vtab_cursor** out) {
    auto* cursor = new (std::nothrow) ListCursor();
    if (!cursor) return SQLITE_NOMEM;
    *out = &cursor->base;
    return SQLITE_OK;
}

int list_close(sqlite3_vtab_cursor* cur) {
    delete reinterpret_cast<ListCursor*>(cur);
    return SQLITE_OK;
}

int list_filter(sqlite3_vtab_cursor* cur, int, const char*, int, sqlite3_value**) {
    auto* cursor = reinterpret_cast<ListCursor*>(cur);
    auto* table = reinterpret_cast<ListTable*>(cur->pVtab);
    return guard_vtab(cur->pVtab, "wecare_backup_list", [&] {
        cursor->rows.clear();
        cursor->index = 0;
        refuse_shared_cache(table->state->db);
        cursor->rows = list_backups(table->state->context(false));
        return SQLITE_OK;
    });
}

int list_next(sqlite3_vtab_cursor* cur) {
    reinterpret_cast<ListCursor*>(cur)->index++;
    return SQLITE_OK;
}

int list_eof(sqlite3_vtab_cursor* cur) {
    auto* cursor = reinterpret_cast<ListCursor*>(cur);
    return cursor->index >= cursor->rows.size();
}

void column_value(const ListCursor* cursor, sqlite3_context* ctx, int column);

int list_column(sqlite3_vtab_cursor* cur, sqlite3_context* ctx, int column) {
    return guard_vtab(cur->pVtab, "wecare_backup_list", [&] {
        column_value(reinterpret_cast<ListCursor*>(cur), ctx, column);
        return SQLITE_OK;
    });
}

void column_value(const ListCursor* cursor, sqlite3_context* ctx, int column) {
    const ListedBackup& row = cursor->rows[cursor->index];
    const CatalogEntry& e = row.entry;
    const BackupRecord* r = e.record ? &*e.record : nullptr;
    switch (column) {
    case kName:
        result_text(ctx, e.name);
        break;
    case kPath:
        if (!row.path.empty()) result_text(ctx, row.path); // NULL: only off-site
        break;
    case kKind:
        result_text(ctx, e.kind());
        break;
    case kLabel:
        if (r && r->label) result_text(ctx, *r->label);
        break;
    case kCreatedAt:
        result_text(ctx, iso_utc(e.parsed.epoch_seconds));
        break;
    case kSizeBytes:
        sqlite3_result_int64(ctx, e.size_bytes);
        break;
    case kChecksum:
        if (r && !r->checksum.empty()) result_text(ctx, r->checksum);
        break;
    case kPageCount:
        if (r && r->page_count > 0)
            sqlite3_result_int64(ctx, r->page_count);
        else if (r && r->page_size > 0)
            sqlite3_result_int64(ctx, e.size_bytes / r->page_size);
        break;
    case kVerifiedAt:
        if (r && r->verified_at) result_text(ctx, iso_utc(*r->verified_at));
        break;
    case kVerifyOk:
        if (r && r->verify_ok) sqlite3_result_int(ctx, *r->verify_ok ? 1 : 0);
        break;
    case kRetainReason:
        if (!row.retain_reason.empty()) result_text(ctx, row.retain_reason);
        break;
    case kCreatedNs:
        if (r && r->created_ns) sqlite3_result_int64(ctx, r->created_ns);
        break;
    case kOffsiteAt:
        if (r && r->offsite_at) result_text(ctx, iso_utc(*r->offsite_at));
        break;
    case kOffsiteOk:
        if (r && r->offsite_ok) sqlite3_result_int(ctx, *r->offsite_ok ? 1 : 0);
        break;
    case kLocation:
        result_text(ctx, row.location);
        break;
    case kType:
        result_text(ctx, r ? r->type : (e.parsed.incremental ? "incremental" : "full"));
        break;
    case kBase:
        if (r && !r->base.empty()) result_text(ctx, r->base);
        break;
    case kRestoreBytes:
        if (r && r->page_count > 0 && r->page_size > 0)
            sqlite3_result_int64(ctx, r->page_count * r->page_size);
        break;
    default:
        break;
    }
}

int list_rowid(sqlite3_vtab_cursor* cur, sqlite3_int64* rowid) {
    *rowid = static_cast<sqlite3_int64>(reinterpret_cast<ListCursor*>(cur)->index) + 1;
    return SQLITE_OK;
}

const sqlite3_module kListModule = {
    0,               /* iVersion */
    nullptr,         /* xCreate: eponymous only, no CREATE VIRTUAL TABLE */
    list_connect,    /* xConnect */
    list_best_index, /* xBestIndex */
    list_disconnect, /* xDisconnect */
    nullptr,         /* xDestroy */
    list_open,       /* xOpen */
    list_close,      /* xClose */
    list_filter,     /* xFilter */
    list_next,       /* xNext */
    list_eof,        /* xEof */
    list_column,     /* xColumn */
    list_rowid,      /* xRowid */
    nullptr,         /* xUpdate */
    nullptr,         /* xBegin */
    nullptr,         /* xSync */
    nullptr,         /* xCommit */
    nullptr,         /* xRollback */
    nullptr,         /* xFindFunction */
    nullptr,         /* xRename */
    nullptr,         /* xSavepoint */
    nullptr,         /* xRelease */
    nullptr,         /* xRollbackTo */
    nullptr,         /* xShadowName */
};

} // namespace

const sqlite3_module& list_module() {
    return kListModule;
}

} // namespace wb
