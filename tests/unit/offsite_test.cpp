// The pure parts of off-site copies: setting values, the index file, and the
// plan of what a sync keeps, sends and deletes (offsite_plan).
#include <gtest/gtest.h>

#include "common/error.hpp"
#include "offsite/index.hpp"
#include "offsite/sync.hpp"
#include "policy/setting_values.hpp"

using namespace wb;
using namespace wb::offsite;

TEST(OffsiteSettings, CanonicalValues) {
    EXPECT_EQ(check_offsite_spec("key", ""), "");
    EXPECT_EQ(check_offsite_spec("key", "s3://bucket"), "s3://bucket");
    EXPECT_EQ(check_offsite_spec("key", "s3://my.bucket-1/a/b/"), "s3://my.bucket-1/a/b");
    EXPECT_EQ(check_offsite_spec("key", "/mnt/nas/wecare/"), "/mnt/nas/wecare");
    EXPECT_EQ(check_compress("key", "zstd"), "zstd:3");
    EXPECT_EQ(check_compress("key", "zstd:19"), "zstd:19");
    EXPECT_EQ(check_compress("key", "none"), "none");
    EXPECT_EQ(zstd_level_of("zstd:7"), 7);
    EXPECT_EQ(zstd_level_of("none"), 0);
    EXPECT_EQ(check_s3_endpoint("key", "https://s3.example.com/"), "https://s3.example.com");
    EXPECT_EQ(check_s3_endpoint("key", "http://127.0.0.1:9000"), "http://127.0.0.1:9000");
}

TEST(OffsiteSettings, BadValuesNameTheValidOnesAndNeverEchoAPassword) {
    for (const char* v : {"rel/dir", "s3://", "s3://ab", "s3://Bucket/x", "s3://b-/x", "s3://bucket//x",
                          "s3://bucket/../x", "s3://key:secret@bucket/x", "http://x"})
        EXPECT_THROW(check_offsite_spec("key", v), Error) << v;
    for (const char* v : {"zstd:0", "zstd:20", "zstd:03", "zstd:", "lz4", "zstd:1x"})
        EXPECT_THROW(check_compress("key", v), Error) << v;
    for (const char* v :
         {"127.0.0.1", "ftp://h", "http://", "http://h:0", "http://h:65536", "http://h/p", "http://h?x"})
        EXPECT_THROW(check_s3_endpoint("key", v), Error) << v;
    try {
        check_s3_endpoint("key", "http://admin:hunter2@h:9000");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos);
    }
    EXPECT_THROW(check_s3_region("key", "EU West"), Error);
    EXPECT_THROW(check_absolute_file("encrypt_key_file", "key"), Error);
    EXPECT_THROW(check_absolute_file("encrypt_key_file", std::string("/a\0b", 4)), Error);
}

TEST(OffsiteIndex, RoundTripsAndIgnoresUnknownKeys) {
    OffsiteIndex index;
    index.target = "s3://bucket/db";
    index.last_success_at = 1700000000;
    index.last_error = "a\nmulti-line error with 100% of the text";
    index.last_error_at = 1700000001;
    index.objects.push_back({"wecare_backup_2026-01-01_00-00-00.db", 123, 4096, 1767225600123456789, "auto",
                             "xxh3t:00ff", 1767225601});
    index.objects.push_back({"wecare_backup_2026-01-02_00-00-00.db", 5, 0, 0, "", "", 0});
    const OffsiteIndex back = parse_offsite_index(serialize_offsite_index(index) + "future_key=1\n");
    EXPECT_EQ(back.target, index.target);
    EXPECT_EQ(back.last_success_at, index.last_success_at);
    EXPECT_EQ(back.last_error, index.last_error);
    EXPECT_EQ(back.last_error_at, index.last_error_at);
    ASSERT_EQ(back.objects.size(), 2u);
    EXPECT_EQ(back.objects[0].checksum, "xxh3t:00ff");
    EXPECT_EQ(back.objects[0].created_ns, 1767225600123456789);
    EXPECT_EQ(back.objects[1].kind, "");
    ASSERT_NE(back.find("wecare_backup_2026-01-02_00-00-00.db"), nullptr);
    EXPECT_EQ(back.find("nope"), nullptr);
    EXPECT_THROW(parse_offsite_index("not an index\n"), Error);
    EXPECT_THROW(parse_offsite_index("wecare_offsite_index 1\nobject=a 1\n"), Error);
}

TEST(OffsiteIndex, TheTimelinesSegmentIndexRoundTripsAndIsNotABackupIndex) {
    SegmentIndex index;
    index.target = "/mnt/nas/wecare";
    index.last_error = "sending the segment 'x' failed";
    index.last_error_at = 1700000001;
    index.foreign = 3;
    SegmentObject o;
    o.name = "wecare_segment_2026-01-01_00-00-00.wcseg";
    o.object_bytes = 700;
    o.original_bytes = 4608;
    o.created_ns = 1767225600123456789;
    o.base = "wecare_backup_2025-12-31_23-00-00.db";
    o.checksum = "xxh3t:00ff";
    o.last_point_ns = 1767225601000000000;
    o.modified = "2026-01-01T00:00:02Z";
    o.uploaded_at = 1767225602;
    index.segments.push_back(o);
    index.segments.push_back({"wecare_segment_2026-01-01_00-00-10.wcseg", 600, 512, 1, "b", "", 0, "", 0});
    const SegmentIndex back = parse_segment_index(serialize_segment_index(index) + "future_key=1\n");
    EXPECT_EQ(back.target, index.target);
    EXPECT_EQ(back.last_error, index.last_error);
    EXPECT_EQ(back.foreign, 3);
    ASSERT_EQ(back.segments.size(), 2u);
    EXPECT_EQ(back.segments[0].base, o.base);
    EXPECT_EQ(back.segments[0].last_point_ns, o.last_point_ns);
    EXPECT_EQ(back.segments[0].modified, o.modified);
    EXPECT_EQ(back.segments[1].checksum, "");
    ASSERT_NE(back.find(o.name), nullptr);
    EXPECT_EQ(segment_index_file_name("wecare"), ".wecare_offsite_segments_wecare");
    EXPECT_THROW(parse_segment_index(serialize_offsite_index(OffsiteIndex{})), Error);
    EXPECT_THROW(parse_offsite_index(serialize_segment_index(index)), Error);
    EXPECT_THROW(parse_segment_index("wecare_offsite_segments 1\nsegment=a 1 2\n"), Error);
}

TEST(OffsiteIndex, TextFieldsWithSpacesOrADashRoundTrip) {
    // An index line is space-separated and "-" means empty: neither may leak
    // into a field unescaped, or the file cannot be read back.
    OffsiteIndex index;
    index.objects.push_back({"a b", 1, 2, 3, "-", "x\ty %", 4});
    index.objects.push_back({"-", 0, 0, 0, "", " ", 0});
    const std::string text = serialize_offsite_index(index);
    const OffsiteIndex back = parse_offsite_index(text);
    ASSERT_EQ(back.objects.size(), 2u);
    EXPECT_EQ(back.objects[0].name, "a b");
    EXPECT_EQ(back.objects[0].kind, "-");
    EXPECT_EQ(back.objects[0].checksum, "x\ty %");
    EXPECT_EQ(back.objects[0].uploaded_at, 4);
    EXPECT_EQ(back.objects[1].name, "-");
    EXPECT_EQ(back.objects[1].kind, "");
    EXPECT_EQ(back.objects[1].checksum, " ");
    EXPECT_EQ(serialize_offsite_index(back), text);
    // What earlier versions wrote still reads the same.
    EXPECT_EQ(parse_offsite_index("wecare_offsite_index 1\nobject=n 1 2 3 auto - 4\n").objects[0].checksum,
              "");
}

TEST(OffsiteIndex, AnIncrementsBaseRoundTripsAndOldReadersSkipIt) {
    OffsiteIndex index;
    index.object_format = 2;
    OffsiteObject full{"wecare_backup_2026-01-01_00-00-00.db", 10, 20, 30, "auto", "xxh3t:01", 40};
    OffsiteObject increment{"wecare_backup_2026-01-02_00-00-00.incr", 1, 2, 3, "auto", "xxh3t:02", 4};
    increment.base = full.name;
    index.objects = {increment, full};
    const std::string text = serialize_offsite_index(index);
    // A full backup's line is exactly what it was before increments existed.
    EXPECT_NE(text.find("object=wecare_backup_2026-01-01_00-00-00.db 10 20 30 auto xxh3t:01 40\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find(" 4 wecare_backup_2026-01-01_00-00-00.db\n"), std::string::npos) << text;
    const OffsiteIndex back = parse_offsite_index(text);
    ASSERT_EQ(back.objects.size(), 2u);
    EXPECT_EQ(back.objects[0].base, full.name);
    EXPECT_EQ(back.objects[0].uploaded_at, 4);
    EXPECT_EQ(back.objects[1].base, "");
    EXPECT_EQ(serialize_offsite_index(back), text);
    // A later field after the base, or a "-" base, reads as what this version knows.
    EXPECT_EQ(parse_offsite_index("wecare_offsite_index 1\nobject=n 1 2 3 auto - 4 b more\n").objects[0].base,
              "b");
    EXPECT_EQ(parse_offsite_index("wecare_offsite_index 1\nobject=n 1 2 3 auto - 4 -\n").objects[0].base, "");
}

TEST(OffsiteIndex, AuthenticatedObjectsForeignCountAndLegacyObjectsRoundTrip) {
    OffsiteIndex index;
    index.target = "/mnt/nas/wecare";
    index.object_format = 2;
    index.foreign = 7;
    index.objects.push_back({"wecare_backup_2026-01-02_00-00-00.db", 10, 20, 30, "auto", "xxh3t:02", 40});
    index.legacy.push_back({"wecare_backup_2026-01-01_00-00-00.db", 1, 2, 3, "manual", "xxh3t:01", 4});
    const std::string text = serialize_offsite_index(index);
    const OffsiteIndex back = parse_offsite_index(text);
    EXPECT_EQ(back.object_format, 2);
    EXPECT_EQ(back.foreign, 7);
    ASSERT_EQ(back.objects.size(), 1u);
    ASSERT_EQ(back.legacy.size(), 1u);
    EXPECT_EQ(back.legacy[0].checksum, "xxh3t:01");
    EXPECT_EQ(back.find("wecare_backup_2026-01-01_00-00-00.db"), nullptr); // legacy objects never count
    ASSERT_NE(back.find_legacy("wecare_backup_2026-01-01_00-00-00.db"), nullptr);
    EXPECT_EQ(serialize_offsite_index(back), text);
    // An index written by 1.0.0 says nothing of the format: its objects are 1.0.0 objects.
    const OffsiteIndex old =
        parse_offsite_index("wecare_offsite_index 1\ntarget=/x\nobject=n 1 2 3 auto xxh3t:9 4\n");
    EXPECT_EQ(old.object_format, 0);
    EXPECT_EQ(old.foreign, 0);
    EXPECT_EQ(old.objects.size(), 1u);
}

namespace {

OffsiteObject object(const std::string& name, const std::string& base = "") {
    OffsiteObject o{name, 100, 4096, 0, "auto", "xxh3t:00", 0};
    o.base = base;
    return o;
}

CatalogEntry local_backup(const std::string& prefix, const std::string& name, const std::string& base = "") {
    CatalogEntry e;
    e.name = name;
    e.parsed = *parse_backup_name(prefix, name);
    BackupRecord r;
    r.name = name;
    r.kind = "auto";
    r.type = base.empty() ? "full" : "incremental";
    r.base = base;
    r.verify_ok = true;
    e.record = r;
    return e;
}

} // namespace

TEST(OffsitePlan, AKeptIncrementKeepsItsChainWhereverEachBackupIs) {
    Settings s;
    s.prefix = "wecare";
    s.offsite_keep_last = 1;
    const std::string full = "wecare_backup_2026-01-01_00-00-00.db";
    const std::string first = "wecare_backup_2026-01-01_01-00-00.incr";
    const std::string second = "wecare_backup_2026-01-01_02-00-00.incr";
    const std::string older = "wecare_backup_2025-12-01_00-00-00.db";
    // The full backup is only local (not sent yet), the increments only off-site.
    CatalogEntry local = local_backup(s.prefix, full);
    local.record->verify_ok.reset(); // else it is kept as "last_good" (the objects' results are not known)
    const auto plan = offsite_plan(s, {&local}, {object(second, first), object(first, full), object(older)});
    ASSERT_EQ(plan.size(), 4u);
    EXPECT_EQ(plan[0].name, second);
    EXPECT_EQ(plan[0].reason, "last");
    EXPECT_EQ(plan[1].reason, "base of " + second);
    EXPECT_EQ(plan[2].name, full);
    EXPECT_EQ(plan[2].reason,
              "base of " + second); // so it is sent, and never deleted while the chain is kept
    EXPECT_TRUE(plan[2].local && !plan[2].remote);
    EXPECT_EQ(plan[0].base_index, std::optional<size_t>(1));
    EXPECT_EQ(plan[1].base_index, std::optional<size_t>(2));
    EXPECT_EQ(plan[3].reason, ""); // an older full backup no kept one needs: the sync deletes it
}

TEST(OffsitePlan, AnIncrementWhoseBaseIsNowhereIsABrokenChainThatCountsForNoRule) {
    Settings s;
    s.prefix = "wecare";
    s.offsite_keep_last = 1;
    const std::string full = "wecare_backup_2026-01-01_00-00-00.db";
    const std::string orphan = "wecare_backup_2026-01-02_00-00-00.incr";
    const std::string remote_orphan = "wecare_backup_2026-01-03_00-00-00.incr";
    const CatalogEntry local = local_backup(s.prefix, orphan, "wecare_backup_2025-06-01_00-00-00.db");
    const auto plan = offsite_plan(s, {&local}, {object(full), object(remote_orphan, "gone_backup.db")});
    ASSERT_EQ(plan.size(), 3u);
    EXPECT_EQ(plan[0].name, remote_orphan);
    EXPECT_FALSE(plan[0].whole);
    EXPECT_EQ(plan[0].reason, "broken chain"); // never deleted
    EXPECT_FALSE(plan[1].whole);
    EXPECT_EQ(plan[1].reason, "broken chain"); // never sent (sync checks `whole`)
    EXPECT_EQ(plan[2].name, full);
    EXPECT_EQ(plan[2].reason, "last"); // the newest backup that can be restored keeps its place
}

TEST(OffsitePlan, ALocalRecordsBaseWinsAndFailedLocalBackupsAreLeftOut) {
    Settings s;
    s.prefix = "wecare";
    const std::string full = "wecare_backup_2026-01-01_00-00-00.db";
    const std::string increment = "wecare_backup_2026-01-01_01-00-00.incr";
    const std::string failed = "wecare_backup_2026-01-01_02-00-00.db";
    CatalogEntry bad = local_backup(s.prefix, failed);
    bad.record->verify_ok = false;
    const CatalogEntry a = local_backup(s.prefix, full);
    const CatalogEntry b = local_backup(s.prefix, increment, full);
    const auto plan = offsite_plan(s, {&bad, &b, &a}, {object(increment, full)});
    ASSERT_EQ(plan.size(), 2u); // the failed one is never sent
    EXPECT_EQ(plan[0].name, increment);
    EXPECT_TRUE(plan[0].local && plan[0].remote);
    EXPECT_EQ(plan[0].base, full);
    EXPECT_TRUE(plan[0].whole && plan[1].whole);
}
