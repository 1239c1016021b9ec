// The -wal read ahead of the write-gathering VFS (engine/batch_vfs.hpp) must
// never serve bytes another connection has since replaced. A checkpoint that
// copied a frame from a stale read ahead would write an old page into the
// database and mark it done: the newer commit is lost and the database mixes
// two moments. Runs on the real SQLite.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <string>

#include "engine/batch_vfs.hpp"
#include "engine/sqlite_handles.hpp"
#include "real_sqlite.hpp"

namespace wb {
namespace {

class BatchReadAheadTest : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_TRUE(use_real_sqlite());
        ASSERT_EQ(register_batch_vfs(), SQLITE_OK);
        char dir_template[] = "/tmp/wecare_read_ahead_XXXXXX";
        ASSERT_NE(::mkdtemp(dir_template), nullptr);
        dir_ = dir_template;
        path_ = dir_ + "/app.db";
    }
    void TearDown() override {
        const std::string command = "rm -rf '" + dir_ + "'";
        ASSERT_EQ(std::system(command.c_str()), 0);
    }
    // The application's connection, which never checkpoints on its own; its
    // update of one row ('second') is the log's only frame.
    Connection open_app() const {
        Connection app(path_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
        app.exec("PRAGMA journal_mode = WAL");
        app.exec("PRAGMA wal_autocheckpoint = 0");
        app.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body TEXT)");
        app.exec("INSERT INTO t VALUES (1, 'first')");
        app.exec("PRAGMA wal_checkpoint(TRUNCATE)");
        app.exec("UPDATE t SET body = 'second' WHERE id = 1");
        return app;
    }

    std::string dir_, path_;
};

TEST_F(BatchReadAheadTest, ACheckpointAfterAnotherConnectionResetTheLogCopiesTheNewFrames) {
    Connection app = open_app();

    // The restore's connection checkpoints: it reads that frame, and ahead.
    Connection restore(path_, SQLITE_OPEN_READWRITE, kBatchVfsName);
    restore.exec("PRAGMA wal_autocheckpoint = 0");
    ASSERT_EQ(restore.query_int("SELECT count(*) FROM t"), 1); // opens the log
    int log = -1, done = -1;
    ASSERT_EQ(sqlite3_wal_checkpoint_v2(restore.get(), "main", SQLITE_CHECKPOINT_PASSIVE, &log, &done),
              SQLITE_OK);
    ASSERT_EQ(log, 1);
    ASSERT_EQ(done, 1);

    // Everything is in the database file, so the application's next commit
    // starts the log again: its frame replaces the one just read.
    app.exec("UPDATE t SET body = 'third' WHERE id = 1");

    // The restore's connection checkpoints again: it must copy the new frame.
    ASSERT_EQ(sqlite3_wal_checkpoint_v2(restore.get(), "main", SQLITE_CHECKPOINT_PASSIVE, &log, &done),
              SQLITE_OK);
    EXPECT_EQ(log, 1);
    EXPECT_EQ(done, 1);
    restore.close();
    app.close();

    Connection fresh(path_, SQLITE_OPEN_READONLY);
    Statement body(fresh.get(), "SELECT body FROM t WHERE id = 1");
    ASSERT_TRUE(body.step());
    EXPECT_EQ(body.column_text(0), "third");
}

TEST_F(BatchReadAheadTest, ANewReadTransactionAfterAnotherConnectionResetTheLogReadsTheNewFrames) {
    // Found by an attack helper after the first fix: that fix forgot only the
    // window of the file a lock call was made on, but SQLite makes its lock and
    // shared-memory calls on the database file, never on the -wal; a read
    // transaction touches no method of the -wal, so its window survived from
    // one transaction to the next.
    Connection app = open_app();

    Connection restore(path_, SQLITE_OPEN_READWRITE, kBatchVfsName);
    restore.exec("PRAGMA wal_autocheckpoint = 0");
    {
        Statement body(restore.get(), "SELECT body FROM t WHERE id = 1"); // reads the frame, and ahead
        ASSERT_TRUE(body.step());
        ASSERT_EQ(body.column_text(0), "second");
    }
    // The application checkpoints everything, resets the log and writes a
    // frame over the one the restore's connection read.
    app.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    app.exec("UPDATE t SET body = 'third' WHERE id = 1");

    Statement body(restore.get(), "SELECT body FROM t WHERE id = 1");
    ASSERT_TRUE(body.step());
    EXPECT_EQ(body.column_text(0), "third");
}

} // namespace
} // namespace wb
