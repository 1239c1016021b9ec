// The consistent copy (see snapshot.hpp).
#include "engine/snapshot.hpp"

#include <algorithm>
#include <chrono>

#include "engine/live_snapshot.hpp"
#include "engine/page_writer.hpp"

namespace wb {

SnapshotResult snapshot_to(const SnapshotRequest& req) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(req.max_snapshot_seconds);
    LiveSnapshot::Options options;
    options.busy_timeout_ms = req.busy_timeout_ms;
    options.writer_lock_held = req.writer_lock_held;
    LiveSnapshot source(req.db_path, options);

    SnapshotResult result;
    result.page_size = source.page_size();
    result.page_count = source.page_count();
    result.journal_mode = source.journal_mode();
    result.wal_position = source.wal_position();
    PageWriter out(req.out_fd, source.page_size(), PageWriter::Options{});
    req.observer->page_size(source.page_size());
    copy_pages(source, out, *req.observer, deadline,
               "the copy took longer than max_snapshot_seconds (" + std::to_string(req.max_snapshot_seconds) +
                   " s) and was abandoned, so the write-ahead log cannot grow without bound; raise "
                   "max_snapshot_seconds for a database this large");
    result.tables = source.count_rows();
    source.end(); // release the snapshot before the slow part: the sync

    PageWriter::Result written = out.finish();
    result.checksum = std::move(written.checksum);
    result.size_bytes = written.size_bytes;
    result.page_hashes = std::move(written.page_hashes);
    result.db_checksum = written.db_checksum;
    return result;
}

} // namespace wb
