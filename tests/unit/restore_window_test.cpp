// The restore window of the write-gathering VFS (engine/batch_vfs.hpp): while
// it is open, the database's page reads are answered with zeros and every
// page written to the log must be the backup's; one that is not fails the
// write, and the restore's transaction cannot commit. Runs on the real SQLite.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <set>
#include <string>

#include "engine/batch_vfs.hpp"
#include "engine/sqlite_handles.hpp"
#include "real_sqlite.hpp"

namespace wb {
namespace {

class RestoreWindowTest : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_TRUE(use_real_sqlite());
        ASSERT_EQ(register_batch_vfs(), SQLITE_OK);
        char dir_template[] = "/tmp/wecare_window_XXXXXX";
        ASSERT_NE(::mkdtemp(dir_template), nullptr);
        dir_ = dir_template;
        source_ = dir_ + "/source.db";
        target_ = dir_ + "/target.db";
        make_db(source_, "wal", 300, 'S');
        make_db(target_, "wal", 200, 'T');
    }
    void TearDown() override {
        const std::string command = "rm -rf '" + dir_ + "'";
        ASSERT_EQ(std::system(command.c_str()), 0);
    }

    static void make_db(const std::string& path, const std::string& mode, int rows, char fill) {
        Connection db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
        db.exec("PRAGMA journal_mode = " + mode);
        db.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body TEXT)");
        db.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " +
                std::to_string(rows) + ") INSERT INTO t SELECT i, printf('%.*c', 1500, '" +
                std::string(1, fill) + "') FROM n");
    }
    static int64_t rows_of(const std::string& path) {
        Connection db(path, SQLITE_OPEN_READONLY);
        return db.query_int("SELECT count(*) FROM t");
    }

    std::string dir_, source_, target_;
};

TEST_F(RestoreWindowTest, TheBackupsOwnPagesCommit) {
    Connection source(source_, SQLITE_OPEN_READONLY);
    Connection dest(target_, SQLITE_OPEN_READWRITE, kBatchVfsName);
    const auto page_size = static_cast<uint32_t>(dest.query_int("PRAGMA page_size"));
    std::set<uint32_t> checked;
    {
        Backup backup(dest.get(), source.get());
        ASSERT_EQ(sqlite3_backup_step(backup.get(), 0), SQLITE_OK);
        auto window = RestoreWindow::open(dest.get(), page_size, [&](uint32_t page, const uint8_t*) {
            checked.insert(page);
            return true;
        });
        ASSERT_NE(window, nullptr);
        EXPECT_EQ(sqlite3_backup_step(backup.get(), -1), SQLITE_DONE);
        EXPECT_EQ(window->problem(), "");
        window->close();
        EXPECT_EQ(backup.finish(), SQLITE_OK);
    }
    dest.close();
    EXPECT_EQ(rows_of(target_), 300);
    // Every page but the first went through the check.
    const auto pages =
        static_cast<uint32_t>(Connection(source_, SQLITE_OPEN_READONLY).query_int("PRAGMA page_count"));
    EXPECT_EQ(checked.size(), pages - 1);
    EXPECT_EQ(checked.count(1), 0U);
}

TEST_F(RestoreWindowTest, APageThatIsNotTheBackupsFailsTheCommitAndChangesNothing) {
    Connection source(source_, SQLITE_OPEN_READONLY);
    Connection dest(target_, SQLITE_OPEN_READWRITE, kBatchVfsName);
    const auto page_size = static_cast<uint32_t>(dest.query_int("PRAGMA page_size"));
    {
        Backup backup(dest.get(), source.get());
        ASSERT_EQ(sqlite3_backup_step(backup.get(), 0), SQLITE_OK);
        auto window = RestoreWindow::open(dest.get(), page_size,
                                          [](uint32_t page, const uint8_t*) { return page != 7; });
        ASSERT_NE(window, nullptr);
        const int rc = sqlite3_backup_step(backup.get(), -1);
        EXPECT_NE(rc, SQLITE_DONE);
        EXPECT_NE(window->problem().find("page 7 "), std::string::npos) << window->problem();
        window->close();
        backup.finish();
    }
    dest.close();
    EXPECT_EQ(rows_of(target_), 200);
    Connection check(target_, SQLITE_OPEN_READONLY);
    Statement integrity(check.get(), "PRAGMA integrity_check");
    ASSERT_TRUE(integrity.step());
    EXPECT_EQ(integrity.column_text(0), "ok");
}

TEST_F(RestoreWindowTest, IsNotOpenedOnARollbackJournalDatabase) {
    const std::string rollback = dir_ + "/rollback.db";
    make_db(rollback, "delete", 10, 'R');
    Connection source(source_, SQLITE_OPEN_READONLY);
    Connection dest(rollback, SQLITE_OPEN_READWRITE, kBatchVfsName);
    Backup backup(dest.get(), source.get());
    ASSERT_EQ(sqlite3_backup_step(backup.get(), 0), SQLITE_OK);
    EXPECT_EQ(RestoreWindow::open(dest.get(), 4096, [](uint32_t, const uint8_t*) { return true; }), nullptr);
}

} // namespace
} // namespace wb
