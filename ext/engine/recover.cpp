// Recovering a damaged or missing database file (see recover.hpp).
#include "engine/recover.hpp"

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <memory>
#include <sys/stat.h>

#include "engine/page_source.hpp"
#include "engine/page_writer.hpp"
#include "store/dir.hpp"
#include "store/temp_file.hpp"

namespace wb {

namespace {

// The database file opened through SQLite's default VFS and held with an
// EXCLUSIVE lock, so that SQLite in this and other processes sees it locked
// the way it understands. Unlocked and closed through the VFS as well: no raw
// descriptor of the file is ever closed here.
class ExclusiveDbLock {
  public:
    explicit ExclusiveDbLock(const std::string& path) {
        vfs_ = sqlite3_vfs_find(nullptr);
        if (!vfs_) throw Error("no default SQLite VFS");
        storage_ = std::make_unique<char[]>(static_cast<size_t>(vfs_->szOsFile));
        file_ = reinterpret_cast<sqlite3_file*>(storage_.get());
        int out = 0;
        const int rc =
            vfs_->xOpen(vfs_, path.c_str(), file_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_MAIN_DB, &out);
        if (rc != SQLITE_OK) {
            file_->pMethods = nullptr;
            throw Error("cannot open the database file '" + path + "' to lock it: " + sqlite3_errstr(rc),
                        ErrorKind::cantopen);
        }
        if (file_->pMethods->xLock(file_, SQLITE_LOCK_SHARED) != SQLITE_OK ||
            file_->pMethods->xLock(file_, SQLITE_LOCK_EXCLUSIVE) != SQLITE_OK)
            throw Error(
                "the database '" + path +
                    "' is in use (SQLite's locks show another connection, in this or another process); "
                    "close every connection to it and try again. Nothing was changed",
                ErrorKind::busy);
    }
    ~ExclusiveDbLock() {
        if (file_ && file_->pMethods) {
            file_->pMethods->xUnlock(file_, SQLITE_LOCK_NONE);
            file_->pMethods->xClose(file_);
        }
    }
    ExclusiveDbLock(const ExclusiveDbLock&) = delete;
    ExclusiveDbLock& operator=(const ExclusiveDbLock&) = delete;

  private:
    sqlite3_vfs* vfs_ = nullptr;
    std::unique_ptr<char[]> storage_;
    sqlite3_file* file_ = nullptr;
};

std::string utc_stamp() {
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&now, &tm);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H-%M-%SZ", &tm);
    return text;
}

} // namespace

RecoverResult recover_database(const RecoverRequest& req) {
    Observer& observer = *req.observer;
    const size_t slash = req.db_path.find_last_of('/');
    const std::string folder = slash == 0 ? "/" : req.db_path.substr(0, slash);
    const std::string base = req.db_path.substr(slash + 1);
    const Dir dir = Dir::open_existing(folder, "the database's folder");

    struct stat st {};
    const bool present = dir.stat(base, &st);
    if (present && !S_ISREG(st.st_mode))
        throw Error("'" + req.db_path + "' is not a regular file; move it away first", ErrorKind::cantopen);
    std::unique_ptr<ExclusiveDbLock> lock;
    if (present) lock = std::make_unique<ExclusiveDbLock>(req.db_path);

    // The new file first: nothing is moved until it is complete and on disk.
    observer.phase("recover");
    observer.page_size(req.image->page_size());
    TempFile temp(dir, base);
    PageWriter::Options options;
    options.journal_byte = req.wal ? 2 : 1;
    options.what = "the recovered database";
    PageWriter out(temp.fd(), req.image->page_size(), options);
    ImageSource source(*req.image);
    copy_pages(source, out, observer);
    const PageWriter::Result written = out.finish();
    // Check the written bytes: the same file as the backup, but for the two
    // header bytes that carry the journal mode.
    if (!req.wal && ((!req.expected_checksum.empty() && written.checksum != req.expected_checksum) ||
                     (req.expected_db_checksum && written.db_checksum != *req.expected_db_checksum)))
        throw Error("the written database does not match the backup's checksum; nothing was changed",
                    ErrorKind::io);

    RecoverResult result;
    result.pages = req.image->page_count();
    result.checksum = written.checksum;
    if (present || dir.exists(base + "-wal") || dir.exists(base + "-shm")) {
        const std::string aside = base + ".damaged-" + utc_stamp();
        if (present) result.damaged_as = dir.path_of(aside);
        for (const char* suffix : {"-wal", "-shm", ""}) {
            const std::string from = base + suffix;
            if (dir.exists(from)) dir.rename_noreplace(from, aside + suffix);
        }
    }
    temp.publish("cannot put the recovered database in place");
    return result;
}

} // namespace wb
