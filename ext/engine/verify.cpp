// Verification of one backup file (see verify.hpp).
#include "engine/verify.hpp"

#include <algorithm>
#include <exception>
#include <map>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include "engine/live_snapshot.hpp"
#include "engine/sqlite_handles.hpp"
#include "policy/json.hpp"
#include "store/checksum.hpp"
#include "store/db_header.hpp"

namespace wb {

namespace {

// The checksum and row counts: the work that runs beside integrity_check.
struct SideWork {
    std::string checksum;
    std::vector<TableCount> tables;
    std::string checksum_error;
    std::string count_error;
};

void run_side_work(SideWork& out, int fd, uint64_t size, const std::string& uri, Observer& observer) {
    try {
        out.checksum = checksum_fd(fd, size, &observer);
    } catch (const std::exception& e) {
        out.checksum_error = e.what();
    }
    try {
        Connection db(uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX);
        out.tables = count_rows(db.get());
    } catch (const std::exception& e) {
        out.count_error = e.what();
    }
}

} // namespace

std::vector<std::string> critical_table_errors(const std::vector<TableCount>& tables,
                                               const std::vector<std::string>& critical_tables) {
    std::vector<std::string> errors;
    for (const auto& name : critical_tables) {
        auto it =
            std::find_if(tables.begin(), tables.end(), [&](const TableCount& t) { return t.name == name; });
        if (it == tables.end()) {
            errors.push_back("critical table '" + name + "' is missing");
        } else if (it->rows == 0) {
            errors.push_back("critical table '" + name + "' is empty");
        }
    }
    return errors;
}

VerifyOutcome verify_file(int fd, const std::string& path, const BackupRecord* expected,
                          const std::vector<std::string>& critical_tables, Observer& observer,
                          bool own_new_file) {
    VerifyOutcome out;
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw system_error("cannot examine the backup", errno);
    out.size_bytes = st.st_size;
    const std::string uri = readonly_uri(path);

    SideWork side;
    std::exception_ptr side_failure;
    std::thread worker;
    const bool threads = sqlite3_threadsafe() != 0;
    auto side_task = [&] {
        try {
            run_side_work(side, fd, static_cast<uint64_t>(st.st_size), uri, observer);
        } catch (...) {
            side_failure = std::current_exception();
        }
    };
    if (threads) worker = std::thread(side_task);

    // Integrity on this thread, meanwhile.
    if (!read_db_header(fd).valid) {
        out.integrity = "not an SQLite database (bad header)";
    } else {
        try {
            Connection db(uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX);
            if (own_new_file) db.exec("PRAGMA mmap_size = 2147418112");
            out.page_count = db.query_int("PRAGMA page_count");
            Statement check(db.get(), "PRAGMA integrity_check(20)");
            std::string first;
            while (check.step()) {
                if (first.empty()) first = check.column_text(0);
            }
            out.integrity = first.empty() ? "no result from integrity_check" : first;
        } catch (const std::exception& e) {
            out.integrity = e.what();
        }
    }
    if (threads) {
        worker.join();
    } else {
        side_task();
    }
    if (side_failure) std::rethrow_exception(side_failure);
    observer.check();

    if (out.integrity != "ok") out.errors.push_back("integrity: " + out.integrity);
    if (!side.checksum_error.empty()) out.errors.push_back("reading the file failed: " + side.checksum_error);
    out.checksum = side.checksum;
    if (expected && !expected->checksum.empty()) {
        out.checksum_status =
            (!side.checksum.empty() && side.checksum == expected->checksum) ? "match" : "mismatch";
        if (out.checksum_status == "mismatch")
            out.errors.push_back(
                "checksum mismatch: the file is not the one recorded when the backup was made");
        if (expected->size_bytes != 0 && expected->size_bytes != out.size_bytes)
            out.errors.push_back("size is " + std::to_string(out.size_bytes) + " bytes, " +
                                 std::to_string(expected->size_bytes) + " were recorded");
    }
    if (out.integrity == "ok") {
        if (!side.count_error.empty()) out.errors.push_back("counting rows failed: " + side.count_error);
        out.tables = side.tables;
    }
    std::map<std::string, int64_t> actual;
    for (const auto& t : out.tables)
        actual[t.name] = t.rows;
    if (expected && !expected->tables.empty() && out.integrity == "ok") {
        std::map<std::string, int64_t> recorded;
        for (const auto& t : expected->tables)
            recorded[t.name] = t.rows;
        for (const auto& [name, rows] : recorded) {
            auto it = actual.find(name);
            if (it == actual.end()) {
                out.errors.push_back("table '" + name + "' is missing (recorded with " +
                                     std::to_string(rows) + " rows)");
            } else if (it->second != rows) {
                out.errors.push_back("table '" + name + "' has " + std::to_string(it->second) + " rows, " +
                                     std::to_string(rows) + " were recorded");
            }
        }
        for (const auto& [name, rows] : actual)
            if (!recorded.count(name))
                out.errors.push_back("table '" + name + "' was not recorded at creation");
    }
    for (auto& error : critical_table_errors(out.tables, critical_tables))
        out.errors.push_back(std::move(error));
    out.ok = out.errors.empty();
    return out;
}

std::string verify_outcome_json(const std::string& name, const VerifyOutcome& o) {
    std::string rows = "{";
    for (size_t i = 0; i < o.tables.size(); ++i)
        rows += (i ? "," : "") + json_string(o.tables[i].name) + ":" + std::to_string(o.tables[i].rows);
    rows += "}";
    return JsonObject()
        .boolean("ok", o.ok)
        .text("name", name)
        .text("checksum", o.checksum_status)
        .text("integrity", o.integrity)
        .integer("tables", static_cast<int64_t>(o.tables.size()))
        .strings("errors", o.errors)
        .raw("rows", rows)
        .integer("size_bytes", o.size_bytes)
        .integer("page_count", o.page_count)
        .text_or_null("checksum_value",
                      o.checksum.empty() ? std::nullopt : std::optional<std::string>(o.checksum))
        .str();
}

} // namespace wb
