// The "wecare_batch" VFS: a shim over the default VFS for the one private
// connection that writes a restore into the live database. SQLite writes its
// log, its journal and (at checkpoint) the database one page per system call,
// and reads the log back one page per call; a restore of a large database
// then spends most of its CPU in those calls. This shim
//   * gathers consecutive writes to the database, its -wal and its journal
//     into writes of up to 128 KiB (the most the unix VFS writes in one
//     call), and
//   * reads the -wal ahead in 1 MiB windows.
// It changes no byte and no order: a gathered write reaches the file before
// SQLite can make it visible to anyone or rely on it. Everything buffered is
// written before any read, size, truncate, sync, lock, shared-memory call
// (xShmLock, xShmBarrier, xShmMap: before a frame or the checkpoint's
// progress becomes visible), file control (SQLITE_FCNTL_CKPT_DONE comes
// before the checkpoint publishes), delete or close. The restore's connection
// runs with synchronous=FULL, so every publication is preceded by an xSync
// that reports a failed write; a failure seen later poisons the file, which
// then fails every call. Only that connection uses this VFS; the
// application's connections are untouched.
#pragma once

namespace wb {

constexpr const char* kBatchVfsName = "wecare_batch";

// Registers the VFS once per process; an SQLite result code.
int register_batch_vfs();

} // namespace wb
