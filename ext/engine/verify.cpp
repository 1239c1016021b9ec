// Verification of one backup image (see verify.hpp).
//
// How it works: the checks that need the whole file (its size, its checksum)
// run on a second thread with the row counts, on a second connection onto
// the same image, while integrity_check runs on the calling thread. Both
// connections have stand-ins for the application's collations and functions
// (stand_ins.hpp), and a progress handler that interrupts them when the
// observer asks to stop.
#include "engine/verify.hpp"

#include <algorithm>
#include <exception>
#include <map>
#include <sys/stat.h>
#include <thread>

#include "engine/live_snapshot.hpp"
#include "engine/stand_ins.hpp"
#include "policy/json.hpp"
#include "store/checksum.hpp"

namespace wb {

namespace {

// Interrupts a private connection's statement when the observer says to stop.
int stop_when_asked(void* observer) {
    return static_cast<Observer*>(observer)->stop_requested() ? 1 : 0;
}

struct SideWork {
    std::string checksum;
    std::vector<TableCount> tables;
    std::string checksum_error;
    std::string count_error;
};

void run_side_work(SideWork& out, const VerifyRequest& req, uint64_t file_size, Observer& observer) {
    if (req.file_fd >= 0 && req.expected && !req.expected->checksum.empty()) {
        try {
            out.checksum = checksum_fd(req.file_fd, file_size, &observer);
        } catch (const Error& e) {
            if (e.kind() == ErrorKind::interrupted) throw;
            out.checksum_error = e.what();
        }
    }
    try {
        ImageConnection db(*req.image);
        install_collation_stand_ins(db.get());
        set_progress_handler(db.get(), 1000, stop_when_asked, &observer);
        out.tables = count_rows(db.get());
    } catch (const std::exception& e) {
        out.count_error = e.what();
    }
}

// integrity_check on the calling thread, onto the image.
std::string run_integrity_check(const Image& image, Observer& observer, std::vector<std::string>& unchecked,
                                int64_t& page_count) {
    ImageConnection db(image);
    // integrity_check reads each page about 8 times with SQLite's default
    // 2 MB cache, each read a system call and a trip through the image VFS;
    // 32 MiB (allocated only as pages are read) roughly halves those reads.
    db.connection().exec("PRAGMA cache_size = -32768");
    page_count = db.connection().query_int("PRAGMA page_count");
    return integrity_of(db.get(), observer, unchecked, &image);
}

void compare_tables(VerifyOutcome& out, const std::vector<TableCount>& recorded_list) {
    std::map<std::string, int64_t> actual;
    for (const auto& t : out.tables)
        actual[t.name] = t.rows;
    std::map<std::string, int64_t> recorded;
    for (const auto& t : recorded_list)
        recorded[t.name] = t.rows;
    for (const auto& [name, rows] : recorded) {
        auto it = actual.find(name);
        if (it == actual.end()) {
            out.errors.push_back("table '" + name + "' is missing (recorded with " + std::to_string(rows) +
                                 " rows)");
        } else if (it->second != rows) {
            out.errors.push_back("table '" + name + "' has " + std::to_string(it->second) + " rows, " +
                                 std::to_string(rows) + " were recorded");
        }
    }
    for (const auto& [name, rows] : actual)
        if (!recorded.count(name)) out.errors.push_back("table '" + name + "' was not recorded at creation");
}

} // namespace

std::string integrity_of(sqlite3* db, Observer& observer, std::vector<std::string>& unchecked,
                         const Image* image) {
    set_progress_handler(db, 1000, stop_when_asked, &observer);
    StandIns stand_ins(db);
    sqlite3_stmt* raw = stand_ins.prepare("PRAGMA integrity_check(100)");
    std::vector<std::string> lines;
    for (;;) {
        const int rc = sqlite3_step(raw);
        if (rc == SQLITE_ROW) {
            const auto* text = sqlite3_column_text(raw, 0);
            lines.emplace_back(text ? reinterpret_cast<const char*>(text) : "");
            continue;
        }
        sqlite3_finalize(raw);
        if (rc == SQLITE_DONE) break;
        if (rc == SQLITE_INTERRUPT) observer.check();
        std::string why = sqlite3_errmsg(db);
        if (image && !image->problem().empty()) why += " (" + image->problem() + ")";
        set_progress_handler(db, 0, nullptr, nullptr);
        return why;
    }
    set_progress_handler(db, 0, nullptr, nullptr);
    std::vector<std::string> kept;
    const auto affected = stand_ins.affected_objects();
    for (const auto& a : affected)
        unchecked.push_back(a.reason);
    for (const auto& line : lines) {
        const bool depends = std::any_of(affected.begin(), affected.end(), [&](const StandIns::Affected& a) {
            return line.find(" " + a.name) != std::string::npos ||
                   line.find(a.name + ".") != std::string::npos;
        });
        if (!depends) kept.push_back(line);
    }
    if (kept.empty()) return "ok";
    if (kept.size() > 1 && kept.front() == "ok") kept.erase(kept.begin());
    return kept.front();
}

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

VerifyOutcome verify_image(const VerifyRequest& req, Observer& observer) {
    VerifyOutcome out;
    out.recorded = req.expected != nullptr;
    const Image& image = *req.image;
    uint64_t file_size = image.size_bytes();
    if (req.file_fd >= 0) {
        struct stat st {};
        if (::fstat(req.file_fd, &st) != 0) throw system_error("cannot examine the backup", errno);
        file_size = static_cast<uint64_t>(st.st_size);
    }
    out.size_bytes = static_cast<int64_t>(file_size);
    // Nothing may follow the last page: bytes there were not part of the database.
    if (req.file_fd >= 0 && req.file_is_image && file_size != image.size_bytes()) {
        out.integrity = "not checked";
        out.errors.push_back(
            "the file has " + std::to_string(file_size) + " bytes, but its " +
            std::to_string(image.page_count()) + " pages of " + std::to_string(image.page_size()) +
            " bytes take " + std::to_string(image.size_bytes()) +
            (file_size > image.size_bytes() ? "; the bytes after the last page are not part of it"
                                            : "; it is truncated"));
        out.page_count = image.page_count();
        // A file of another size than the one recorded cannot have its checksum.
        if (req.expected && !req.expected->checksum.empty()) {
            out.checksum_status = "mismatch";
            out.errors.push_back(
                "checksum mismatch: the file is not the one recorded when the backup was made");
        }
        return out;
    }

    SideWork side;
    std::exception_ptr side_failure;
    auto side_task = [&] {
        try {
            run_side_work(side, req, file_size, observer);
        } catch (...) {
            side_failure = std::current_exception();
        }
    };
    const bool threads = sqlite3_threadsafe() != 0;
    std::thread worker;
    if (threads) worker = std::thread(side_task);
    try {
        out.integrity = run_integrity_check(image, observer, out.unchecked, out.page_count);
    } catch (const Error& e) {
        if (e.kind() == ErrorKind::interrupted) {
            if (threads) worker.join();
            throw;
        }
        out.integrity = e.what();
    } catch (const std::exception& e) {
        out.integrity = e.what();
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
    if (req.expected && !req.expected->checksum.empty()) {
        out.checksum_status =
            (!side.checksum.empty() && side.checksum == req.expected->checksum) ? "match" : "mismatch";
        if (out.checksum_status == "mismatch")
            out.errors.push_back(
                "checksum mismatch: the file is not the one recorded when the backup was made");
        if (req.expected->size_bytes != 0 && req.expected->size_bytes != out.size_bytes)
            out.errors.push_back("size is " + std::to_string(out.size_bytes) + " bytes, " +
                                 std::to_string(req.expected->size_bytes) + " were recorded");
    }
    if (out.integrity == "ok") {
        if (!side.count_error.empty()) out.errors.push_back("counting rows failed: " + side.count_error);
        out.tables = side.tables;
        if (req.expected && !req.expected->tables.empty()) compare_tables(out, req.expected->tables);
    }
    for (auto& error : critical_table_errors(out.tables, req.critical_tables))
        out.errors.push_back(std::move(error));
    out.ok = out.errors.empty();
    return out;
}

std::string verify_outcome_json(const std::string& name, const VerifyOutcome& o) {
    std::string rows = "{";
    for (size_t i = 0; i < o.tables.size(); ++i)
        rows += (i ? "," : "") + json_string(o.tables[i].name) + ":" + std::to_string(o.tables[i].rows);
    rows += "}";
    JsonObject json;
    json.boolean("ok", o.ok)
        .text("name", name)
        .text("checksum", o.recorded ? o.checksum_status : "no record")
        .boolean("record", o.recorded) // false: ok covers the file alone, nothing recorded compared
        .text("integrity", o.integrity)
        .integer("tables", static_cast<int64_t>(o.tables.size()))
        .strings("errors", o.errors)
        .strings("unchecked", o.unchecked)
        .raw("rows", rows)
        .integer("size_bytes", o.size_bytes)
        .integer("page_count", o.page_count)
        .text_or_null("checksum_value",
                      o.checksum.empty() ? std::nullopt : std::optional<std::string>(o.checksum));
    return json.str();
}

} // namespace wb
