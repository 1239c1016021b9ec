// The sidecar record: serialisation, parsing, and refusing damaged text.
#include <gtest/gtest.h>

#include "common/error.hpp"
#include "policy/record.hpp"
#include "policy/text.hpp"

using namespace wb;

namespace {
BackupRecord sample() {
    BackupRecord r;
    r.name = "wecare_backup_2026-11-26_09-00-00.db";
    r.kind = "manual";
    r.label = "before migration 42";
    r.created_ns = 1795683600123456789;
    r.size_bytes = 4096 * 300;
    r.checksum = "xxh3t:0123456789abcdef0123456789abcdef";
    r.page_count = 300;
    r.page_size = 4096;
    r.source = "/srv/app/wecare.db";
    r.journal_mode = "wal";
    r.tables = {{"patients", 200}, {"users", 2}};
    r.verified_at = 1795683601;
    r.verify_ok = true;
    r.offsite_at = 1795683700;
    r.offsite_ok = false;
    r.offsite_error = "target down\nretry";
    return r;
}

void expect_same(const BackupRecord& a, const BackupRecord& b) {
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.kind, b.kind);
    EXPECT_EQ(a.label, b.label);
    EXPECT_EQ(a.created_ns, b.created_ns);
    EXPECT_EQ(a.size_bytes, b.size_bytes);
    EXPECT_EQ(a.checksum, b.checksum);
    EXPECT_EQ(a.page_count, b.page_count);
    EXPECT_EQ(a.page_size, b.page_size);
    EXPECT_EQ(a.source, b.source);
    EXPECT_EQ(a.journal_mode, b.journal_mode);
    EXPECT_EQ(a.tables, b.tables);
    EXPECT_EQ(a.verified_at, b.verified_at);
    EXPECT_EQ(a.verify_ok, b.verify_ok);
    EXPECT_EQ(a.verify_error, b.verify_error);
    EXPECT_EQ(a.offsite_at, b.offsite_at);
    EXPECT_EQ(a.offsite_ok, b.offsite_ok);
    EXPECT_EQ(a.offsite_error, b.offsite_error);
}

std::string parse_error(const std::string& text) {
    try {
        parse_record(text);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}
} // namespace

TEST(Metadata, RoundTrip) {
    const BackupRecord r = sample();
    expect_same(parse_record(serialize_record(r)), r);
}

TEST(Metadata, FormatIsTextKeyValueLines) {
    const std::string text = serialize_record(sample());
    EXPECT_EQ(text.rfind("wecare_backup_meta 1\nname=wecare_backup_2026-11-26_09-00-00.db\nkind=manual\n", 0),
              0u);
    EXPECT_NE(text.find("\ntable=patients 200\n"), std::string::npos);
    EXPECT_EQ(text.back(), '\n');
}

TEST(Metadata, HostileLabelsAndTableNamesSurvive) {
    BackupRecord r = sample();
    r.label = std::string("line1\nline2\r%41%\x01\x7f=x=\0end", 22);
    r.tables = {{"a b", 1}, {"with=equals", 2}, {"new\nline", 3}, {"per%cent", 4}, {"trailing ", 5},
                {"", 6},    {"caf\xc3\xa9", -7}};
    r.verify_ok = false;
    r.verify_error = "integrity: *** in database main ***\nPage 3: btree";
    r.source = "/path with spaces/and%percent/\n.db";
    const std::string text = serialize_record(r);
    // One line per field: nothing in a value can start a new line, so every
    // line after the first is `key=...` with a plain key.
    size_t pos = text.find('\n') + 1, tables = 0;
    while (pos < text.size()) {
        const size_t nl = text.find('\n', pos);
        ASSERT_NE(nl, std::string::npos);
        const std::string line = text.substr(pos, nl - pos);
        const size_t eq = line.find('=');
        ASSERT_NE(eq, std::string::npos) << line;
        for (size_t i = 0; i < eq; ++i)
            ASSERT_TRUE(line[i] == '_' || (line[i] >= 'a' && line[i] <= 'z')) << line;
        tables += line.compare(0, 6, "table=") == 0;
        pos = nl + 1;
    }
    EXPECT_EQ(tables, r.tables.size());
    expect_same(parse_record(text), r);
}

TEST(Metadata, OptionalFieldsStayAbsent) {
    BackupRecord r = sample();
    r.label.reset();
    r.verified_at.reset();
    r.verify_ok.reset();
    r.tables.clear();
    const BackupRecord back = parse_record(serialize_record(r));
    EXPECT_FALSE(back.label.has_value());
    EXPECT_FALSE(back.verified_at.has_value());
    EXPECT_FALSE(back.verify_ok.has_value());
    EXPECT_TRUE(back.tables.empty());
    r.label = "";
    EXPECT_EQ(parse_record(serialize_record(r)).label, std::optional<std::string>(""));
}

TEST(Metadata, ARecordWithoutKindSurvivesARewrite) {
    // Older or hand-written records may lack a kind; verify rewrites them.
    const BackupRecord r = parse_record("wecare_backup_meta 1\nname=x.db\nchecksum=xxh3t:00\n");
    EXPECT_EQ(r.kind, "");
    const BackupRecord back = parse_record(serialize_record(r));
    EXPECT_EQ(back.kind, "");
    EXPECT_EQ(back.checksum, "xxh3t:00");
}

TEST(Metadata, UnknownKeysAreIgnored) {
    const BackupRecord r = parse_record("wecare_backup_meta 1\nname=x.db\nfuture_key=whatever\nkind=auto\n");
    EXPECT_EQ(r.name, "x.db");
    EXPECT_EQ(r.kind, "auto");
}

TEST(Metadata, DamagedTextIsRefused) {
    const std::string ok = "wecare_backup_meta 1\nname=x.db\n";
    EXPECT_EQ(parse_error(ok), "");
    EXPECT_EQ(parse_error(""), "metadata: not a wecare_backup record");
    EXPECT_EQ(parse_error("wecare_backup_meta 1"), "metadata: not a wecare_backup record");
    EXPECT_EQ(parse_error("wecare_backup_meta 2\nname=x\n"), "metadata: not a wecare_backup record");
    EXPECT_EQ(parse_error("wecare_backup_meta 1\r\nname=x\n"), "metadata: not a wecare_backup record");
    EXPECT_EQ(parse_error("wecare_backup_meta 1\nname=x.db"), "metadata: truncated");
    EXPECT_EQ(parse_error("wecare_backup_meta 1\n"), "metadata: record without a name");
    EXPECT_EQ(parse_error(ok + "garbage\n"), "metadata: malformed line");
    EXPECT_EQ(parse_error(ok + "kind=weekly\n"), "metadata: unknown kind");
    EXPECT_EQ(parse_error(ok + "verify_ok=yes\n"), "metadata: bad verify_ok");
    EXPECT_EQ(parse_error(ok + "size_bytes=12a\n"), "metadata: size_bytes: bad number");
    EXPECT_EQ(parse_error(ok + "size_bytes=\n"), "metadata: size_bytes: bad number");
    EXPECT_EQ(parse_error(ok + "size_bytes=-\n"), "metadata: size_bytes: bad number");
    EXPECT_EQ(parse_error(ok + "size_bytes=99999999999999999999\n"), "metadata: size_bytes: bad number");
    EXPECT_EQ(parse_error(ok + "size_bytes=9223372036854775808\n"),
              "metadata: size_bytes: number out of range");
    EXPECT_EQ(parse_error(ok + "label=%4\n"), "metadata: bad escape");
    EXPECT_EQ(parse_error(ok + "label=%GG\n"), "metadata: bad escape");
    EXPECT_EQ(parse_error(ok + "label=%\n"), "metadata: bad escape");
    EXPECT_EQ(parse_error(ok + "table=nocount\n"), "metadata: malformed table line");
    EXPECT_EQ(parse_error(ok + "table=t x\n"), "metadata: table: bad number");
    EXPECT_EQ(parse_error(std::string(16 << 20, 'x') + "y"), "metadata: record too large");
}

TEST(Metadata, NumbersAtTheLimits) {
    const BackupRecord r = parse_record(
        "wecare_backup_meta 1\nname=x.db\ncreated_ns=9223372036854775807\nsize_bytes=-9223372036854775807\n");
    EXPECT_EQ(r.created_ns, INT64_MAX);
    EXPECT_EQ(r.size_bytes, -INT64_MAX);
}

TEST(Metadata, EscapeUnescape) {
    EXPECT_EQ(escape_value("a%b\nc\rd\x1f\x7f e"), "a%25b%0Ac%0Dd%1F%7F e");
    EXPECT_EQ(unescape_value("a%25b%0ac%0Dd"), "a%b\nc\rd");
    for (int c = 0; c < 256; ++c) {
        const std::string one(1, static_cast<char>(c));
        EXPECT_EQ(unescape_value(escape_value(one)), one) << c;
    }
}
