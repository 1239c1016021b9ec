// The timeline's segments off-site (offsite/segments.hpp): which are sent,
// what counts, and what the pitr window deletes, against a mounted directory
// and, when tests/offsite/run.sh gives one (WECARE_S3_ENDPOINT and
// WECARE_S3_BUCKET, credentials in the environment), a moto S3 bucket.
//
// The segment files here are plain bytes: a sync never reads a segment's
// points, only sends the file as it is (fetch('timeline') checks them; that
// is tests/test_offsite.py). Times are made up, so a generation can be hours
// old without waiting.
#include <gtest/gtest.h>
#include <sqlite3ext.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <set>
#include <string>

#include "common/clock.hpp"
#include "common/observer.hpp"
#include "offsite/segments.hpp"
#include "offsite/sync.hpp"
#include "offsite/target.hpp"
#include "offsite/transfer.hpp"
#include "policy/naming.hpp"

using namespace wb;
using namespace wb::offsite;

extern const sqlite3_api_routines* sqlite3_api; // tests/unit/sqlite_api_stub.cpp

namespace {

// The syncs log (foreign objects) through SQLite's API table: the one entry they
// need, doing nothing.
void ignore_log(int, const char*, ...) {}
const sqlite3_api_routines* logging_api() {
    static sqlite3_api_routines api{};
    api.log = ignore_log;
    return &api;
}

constexpr int64_t kNs = 1000000000;
constexpr int64_t kHour = 3600 * kNs;
const char* kKeyHex = "5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e7ab01";

std::string temp_dir() {
    char tmpl[] = "/tmp/wecare_timeline_test.XXXXXX";
    return ::mkdtemp(tmpl); // mode 0700
}

void write_file(const std::string& path, const std::string& content) {
    std::ofstream(path, std::ios::binary) << content;
    ::chmod(path.c_str(), 0600);
}

// A backup directory with a key, and a target: a directory, or the S3 bucket.
class OffsiteTimeline : public ::testing::TestWithParam<std::string> {
  protected:
    void SetUp() override {
        if (!sqlite3_api) sqlite3_api = logging_api();
        root_ = temp_dir();
        s_.dir = root_ + "/backups";
        ::mkdir(s_.dir.c_str(), 0700);
        ::mkdir((root_ + "/keys").c_str(), 0700);
        write_file(root_ + "/keys/offsite.key", std::string(kKeyHex) + "\n");
        s_.encrypt_key_file = root_ + "/keys/offsite.key";
        s_.prefix = "app";
        s_.pitr_hours = 1;
        if (GetParam() == "dir") {
            ::mkdir((root_ + "/nas").c_str(), 0700);
            s_.offsite = root_ + "/nas";
        } else {
            const char* endpoint = std::getenv("WECARE_S3_ENDPOINT");
            const char* bucket = std::getenv("WECARE_S3_BUCKET");
            if (!endpoint || !bucket) GTEST_SKIP() << "WECARE_S3_ENDPOINT not set (use tests/offsite/run.sh)";
            s_.s3_endpoint = endpoint;
            s_.s3_region = "us-east-1";
            write_file(root_ + "/keys/credentials",
                       "[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n");
            s_.s3_credentials_file = root_ + "/keys/credentials";
            s_.offsite = std::string("s3://") + bucket + "/timeline-" + std::to_string(::getpid()) + "-" +
                         std::to_string(std::random_device{}() % 1000000);
        }
    }
    void TearDown() override { std::system(("rm -rf '" + root_ + "'").c_str()); }

    // A segment file of generation `base`, created at `created_ns`.
    LocalSegment segment(const std::string& base, int64_t created_ns, bool closed = true) {
        LocalSegment seg;
        seg.name = segment_name(s_.prefix, created_ns / kNs, 1);
        seg.base = base;
        seg.created_ns = created_ns;
        seg.last_point_ns = created_ns + kNs;
        seg.closed = closed;
        write_file(s_.dir + "/" + seg.name, "segment " + seg.name + " " + std::string(5000, 'p'));
        return seg;
    }

    std::set<std::string> objects() {
        std::set<std::string> out;
        for (const auto& info : open_offsite_target(s_)->list(s_.prefix + "_"))
            out.insert(info.name);
        return out;
    }

    SegmentSyncResult sync(const LocalTimeline& local, bool list_target = true) {
        return sync_segments(s_, local, list_target, observer_);
    }

    std::string root_;
    Settings s_;
    QuietObserver observer_;
};

std::string base_at(int64_t ns) {
    return backup_name("app", false, ns / kNs, 1);
}

LocalTimeline timeline_of(const std::vector<LocalSegment>& segments) {
    LocalTimeline t;
    for (const auto& seg : segments) {
        t.segments.push_back(seg);
        t.generations.push_back({seg.base, seg.created_ns, true});
    }
    return t;
}

} // namespace

TEST_P(OffsiteTimeline, ClosedSegmentsAreSentEncryptedAndTheOpenOneWaits) {
    const int64_t now = now_nanoseconds();
    const std::string base = base_at(now - 60 * kNs);
    const LocalSegment a = segment(base, now - 50 * kNs);
    const LocalSegment b = segment(base, now - 40 * kNs);
    const LocalSegment open = segment(base, now - 30 * kNs, false);
    const SegmentSyncResult r = sync(timeline_of({a, b, open}));
    EXPECT_EQ(r.error, "");
    EXPECT_EQ(r.sent, 2);
    EXPECT_EQ(objects(), (std::set<std::string>{a.name + ".wcbk", b.name + ".wcbk"}));
    // The index vouches for them: the next sync sends nothing again.
    const Dir dir = Dir::open_existing(s_.dir, "the backup directory");
    const SegmentIndex index = read_segment_index(dir, s_);
    ASSERT_EQ(index.segments.size(), 2u);
    EXPECT_EQ(index.segments[0].base, base);
    EXPECT_EQ(index.segments[1].last_point_ns, b.last_point_ns);
    EXPECT_EQ(sync(timeline_of({a, b, open}), false).sent, 0);
    EXPECT_EQ(sync(timeline_of({a, b, open}), true).sent, 0);
    // The object authenticates as that segment of that generation, and holds no plaintext.
    auto target = open_offsite_target(s_);
    const Header h =
        probe(*target, object_name(a.name), load_key(s_), identity(s_, a.name, a.created_ns, base));
    EXPECT_EQ(h.base, base);
    EXPECT_TRUE(h.encrypted);
    std::string bytes;
    target->get_stream(object_name(a.name), [&](const uint8_t* p, size_t n) { bytes.append(p, p + n); });
    EXPECT_EQ(bytes.find("segment " + a.name), std::string::npos);
    // The base is kept off-site for as long as its generation is.
    EXPECT_EQ(kept_timeline_bases(s_, dir, timeline_of({a, b, open}), now), std::set<std::string>{base});
}

TEST_P(OffsiteTimeline, ObjectsThatDoNotAuthenticateAsTheirSegmentAreForeignAndNeverDeleted) {
    const int64_t now = now_nanoseconds();
    const std::string base = base_at(now - 3 * kHour);
    const LocalSegment a = segment(base, now - 3 * kHour + kNs);
    const LocalSegment b = segment(base, now - 3 * kHour + 2 * kNs);
    s_.pitr_hours = 24;
    ASSERT_EQ(sync(timeline_of({a, b})).error, "");
    auto target = open_offsite_target(s_);
    // A replay: a's object under another segment's name; and junk.
    const std::string replayed = segment_name(s_.prefix, (now - 3 * kHour) / kNs + 7, 1);
    const std::string junk = segment_name(s_.prefix, (now - 3 * kHour) / kNs + 8, 1);
    std::string a_object;
    target->get_stream(object_name(a.name), [&](const uint8_t* p, size_t n) { a_object.append(p, p + n); });
    target->put_stream(object_name(replayed), [&](const Sink& out) {
        out(reinterpret_cast<const uint8_t*>(a_object.data()), a_object.size());
    });
    target->put_stream(object_name(junk), [&](const Sink& out) {
        const std::string bytes = "WCBK2 junk";
        out(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    });
    const SegmentSyncResult r = sync(timeline_of({a, b}));
    EXPECT_EQ(r.error, "");
    EXPECT_EQ(r.foreign, 2);
    EXPECT_EQ(r.objects, 2);
    // The generation is pruned here and a newer one is past the window start: the
    // authenticated segments go, the foreign objects stay.
    s_.pitr_hours = 1;
    const std::string later = base_at(now - 2 * kHour);
    const LocalSegment c = segment(later, now - 2 * kHour + kNs);
    ::unlink((s_.dir + "/" + a.name).c_str());
    ::unlink((s_.dir + "/" + b.name).c_str());
    const SegmentSyncResult pruned = sync(timeline_of({c}));
    EXPECT_EQ(pruned.error, "");
    EXPECT_EQ(pruned.deleted, 2);
    EXPECT_EQ(objects(),
              (std::set<std::string>{object_name(c.name), object_name(replayed), object_name(junk)}));
    const RemoteTimeline remote =
        survey_timeline(s_, Dir::open_existing(s_.dir, "the backup directory"), observer_);
    ASSERT_EQ(remote.segments.size(), 1u);
    EXPECT_EQ(remote.segments[0].name, c.name);
    EXPECT_EQ(remote.foreign.size(), 2u);
}

TEST_P(OffsiteTimeline, ThePitrWindowDeletesOnlyGenerationsNoLongerHereAndFullyOlderThanIt) {
    const int64_t now = now_nanoseconds();
    const std::string first = base_at(now - 5 * kHour);
    const std::string second = base_at(now - 3 * kHour);
    const std::string third = base_at(now - 30 * 60 * kNs);
    const LocalSegment a1 = segment(first, now - 5 * kHour + kNs);
    const LocalSegment a2 = segment(first, now - 5 * kHour + 2 * kNs);
    const LocalSegment b1 = segment(second, now - 3 * kHour + kNs);
    const LocalSegment c1 = segment(third, now - 30 * 60 * kNs + kNs);
    const LocalSegment c2 = segment(third, now - 30 * 60 * kNs + 2 * kNs, false);
    s_.pitr_hours = 24; // sent while inside the window
    ASSERT_EQ(sync(timeline_of({a1, a2, b1, c1, c2})).sent, 4);
    s_.pitr_hours = 1;
    const Dir dir = Dir::open_existing(s_.dir, "the backup directory");

    // Still here: nothing is deleted off-site, whatever its age.
    EXPECT_EQ(sync(timeline_of({a1, a2, b1, c1, c2}), false).deleted, 0);
    // The capturer pruned the first generation here (the second started more than
    // pitr_hours ago): off-site follows. The second is not past the window yet: the
    // third started inside it, so the second still restores instants inside it.
    for (const auto& seg : {a1, a2})
        ::unlink((s_.dir + "/" + seg.name).c_str());
    LocalTimeline now_here = timeline_of({b1, c1, c2});
    EXPECT_EQ(kept_timeline_bases(s_, dir, now_here, now), (std::set<std::string>{second, third}));
    const SegmentSyncResult r = sync(now_here, false);
    EXPECT_EQ(r.error, "");
    EXPECT_EQ(r.deleted, 2);
    EXPECT_EQ(objects(), (std::set<std::string>{object_name(b1.name), object_name(c1.name)}));

    // A new machine that has only the newest generation here deletes no generation
    // the window keeps: the second stays off-site, and so does its base.
    ::unlink((s_.dir + "/" + b1.name).c_str());
    now_here = timeline_of({c1, c2});
    EXPECT_EQ(sync(now_here, true).deleted, 0);
    EXPECT_TRUE(objects().count(object_name(b1.name)));
    EXPECT_EQ(kept_timeline_bases(s_, dir, now_here, now), (std::set<std::string>{second, third}));
}

TEST_P(OffsiteTimeline, ASegmentPastTheWindowIsNeverSent) {
    const int64_t now = now_nanoseconds();
    // Still here (the capturer deletes it at its next pruning), but past the window.
    const LocalSegment old = segment(base_at(now - 5 * kHour), now - 5 * kHour);
    const LocalSegment newer = segment(base_at(now - 2 * kHour), now - 2 * kHour);
    EXPECT_EQ(sync(timeline_of({old, newer})).sent, 1);
    EXPECT_EQ(objects(), std::set<std::string>{object_name(newer.name)});
}

INSTANTIATE_TEST_SUITE_P(Offsite, OffsiteTimeline, ::testing::Values("dir", "s3"),
                         [](const auto& info) { return info.param; });
