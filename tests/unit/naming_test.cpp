// Backup names: spelling, parsing, and the checks every name argument passes.
#include <gtest/gtest.h>

#include <string>

#include "policy/naming.hpp"
#include "policy/text.hpp"

using namespace wb;

namespace {
constexpr int64_t kT = 1795683600; // 2026-11-26T09:00:00Z
std::string np(const std::string& s) {
    return name_problem(s.data(), s.size());
}
} // namespace

TEST(Naming, IsoUtcIsIndependentOfTheTimeZone) {
    EXPECT_EQ(iso_utc(0), "1970-01-01T00:00:00Z");
    EXPECT_EQ(iso_utc(kT), "2026-11-26T09:00:00Z");
    EXPECT_EQ(iso_utc(-1), "1969-12-31T23:59:59Z");
    EXPECT_EQ(iso_utc(951782400), "2000-02-29T00:00:00Z");
    EXPECT_EQ(iso_utc(253402300799), "9999-12-31T23:59:59Z");
}

TEST(Naming, CivilRoundTripOverFourCenturies) {
    for (int64_t day = -146097; day <= 2 * 146097; day += 1) {
        int y, m, d, h, mi, s;
        civil_from_seconds(day * 86400 + 3723, y, m, d, h, mi, s);
        ASSERT_EQ(days_from_civil(y, static_cast<unsigned>(m), static_cast<unsigned>(d)), day);
        ASSERT_EQ(h, 1);
        ASSERT_EQ(mi, 2);
        ASSERT_EQ(s, 3);
    }
}

TEST(Naming, BackupNameSpelling) {
    EXPECT_EQ(backup_name("wecare", false, kT, 1), "wecare_backup_2026-11-26_09-00-00.db");
    EXPECT_EQ(backup_name("wecare", true, kT, 1), "wecare_safety_2026-11-26_09-00-00.db");
    EXPECT_EQ(backup_name("wecare", false, kT, 2), "wecare_backup_2026-11-26_09-00-00_2.db");
    EXPECT_EQ(backup_name("wecare", false, kT, 99999), "wecare_backup_2026-11-26_09-00-00_99999.db");
}

TEST(Naming, EveryNameParsesBackToWhatMadeIt) {
    for (bool safety : {false, true})
        for (int seq : {1, 2, 9, 10, 12345, 99999})
            for (int64_t t : {int64_t{0}, kT, kT + 86399, int64_t{951782400}, int64_t{253402300799}}) {
                const std::string name = backup_name("my-db_1", safety, t, seq);
                const auto p = parse_backup_name("my-db_1", name);
                ASSERT_TRUE(p.has_value()) << name;
                EXPECT_EQ(p->safety, safety);
                EXPECT_EQ(p->epoch_seconds, t);
                EXPECT_EQ(p->sequence, seq);
                EXPECT_TRUE(np(name).empty()) << name;
            }
}

TEST(Naming, ParseRejectsWhatIsNotExactlyABackupName) {
    const char* bad[] = {
        "wecare_backup_2026-11-26_09-00-00",         // no .db
        "wecare_backup_2026-11-26_09-00-00.db.meta", // sidecar
        "wecare_backup_2026-11-26_09-00-00.DB",
        "wecare_backup_2026-11-26_09-00-00_1.db",      // suffix 1 is spelled without suffix
        "wecare_backup_2026-11-26_09-00-00_02.db",     // leading zero
        "wecare_backup_2026-11-26_09-00-00_100000.db", // above 99999
        "wecare_backup_2026-11-26_09-00-00_.db",
        "wecare_backup_2026-11-26_09-00-00_x.db",
        "wecare_backup_2026-13-26_09-00-00.db",
        "wecare_backup_2026-00-26_09-00-00.db",
        "wecare_backup_2026-02-30_09-00-00.db", // no such day
        "wecare_backup_2025-02-29_09-00-00.db", // not a leap year
        "wecare_backup_2026-11-26_24-00-00.db",
        "wecare_backup_2026-11-26_09-60-00.db",
        "wecare_backup_2026-11-26_09-00-60.db",
        "wecare_backup_2026-11-26 09-00-00.db",
        "wecare_backup_26-11-26_09-00-00.db",
        "wecare_Backup_2026-11-26_09-00-00.db",
        "wecare_other_2026-11-26_09-00-00.db",
        "wecare2_backup_2026-11-26_09-00-00.db", // another prefix
        "wecar_backup_2026-11-26_09-00-00.db",
        "_backup_2026-11-26_09-00-00.db",
        "wecare_backup_+026-11-26_09-00-00.db",
        "wecare_backup_2026-11-26_09-00-00.db ",
        "",
    };
    for (const char* name : bad)
        EXPECT_FALSE(parse_backup_name("wecare", name).has_value()) << name;
    EXPECT_TRUE(parse_backup_name("wecare", "wecare_backup_2024-02-29_09-00-00.db").has_value());
    EXPECT_FALSE(parse_backup_name("", "_backup_2026-11-26_09-00-00.db").has_value());
}

TEST(Naming, ParseRejectsOverlongNames) {
    const std::string prefix(240, 'p');
    EXPECT_FALSE(parse_backup_name(prefix, backup_name(prefix, false, kT, 1)).has_value());
}

TEST(Naming, NameProblemAcceptsPlainNames) {
    EXPECT_EQ(np("wecare_backup_2026-11-26_09-00-00.db"), "");
    EXPECT_EQ(np("caf\xc3\xa9.db"), "");
    EXPECT_EQ(np("a.b"), "");
    EXPECT_EQ(np(std::string(255, 'a')), "");
}

TEST(Naming, NameProblemRejectsEveryHostileShape) {
    EXPECT_EQ(np(""), "the backup name is empty");
    EXPECT_EQ(name_problem(nullptr, 5), "the backup name is empty");
    EXPECT_EQ(np(std::string("a\0b", 3)), "the backup name contains a NUL byte");
    EXPECT_EQ(np(std::string(256, 'a')), "the backup name is longer than 255 bytes");
    EXPECT_EQ(np("../x.db"), "the backup name contains '/'");
    EXPECT_EQ(np("/etc/passwd"), "the backup name contains '/'");
    EXPECT_EQ(np("a\\b.db"), "the backup name contains '\\'");
    EXPECT_EQ(np(".."), "the backup name contains '..'");
    EXPECT_EQ(np("x..y"), "the backup name contains '..'");
    EXPECT_EQ(np(".wecare_backup.lock"), "the backup name starts with '.'");
    EXPECT_EQ(np("."), "the backup name starts with '.'");
    EXPECT_EQ(np("\xff\xfe.db"), "the backup name is not valid UTF-8");
    EXPECT_EQ(np("a\nb"), "the backup name contains a control character");
    EXPECT_EQ(np("a\x7f"), "the backup name contains a control character");
    EXPECT_EQ(np("\t"), "the backup name contains a control character");
}

TEST(Naming, Utf8Validation) {
    EXPECT_TRUE(is_valid_utf8(""));
    EXPECT_TRUE(is_valid_utf8("plain"));
    EXPECT_TRUE(is_valid_utf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80")); // é € 😀
    EXPECT_TRUE(is_valid_utf8("\xf4\x8f\xbf\xbf"));                     // U+10FFFF
    EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));                            // overlong '/'
    EXPECT_FALSE(is_valid_utf8("\xe0\x80\xaf"));                        // overlong
    EXPECT_FALSE(is_valid_utf8("\xf0\x80\x80\xaf"));                    // overlong
    EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));                        // surrogate
    EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));                    // above U+10FFFF
    EXPECT_FALSE(is_valid_utf8("\xf5\x80\x80\x80"));
    EXPECT_FALSE(is_valid_utf8("\xc3"));     // truncated
    EXPECT_FALSE(is_valid_utf8("\xe2\x82")); // truncated
    EXPECT_FALSE(is_valid_utf8("\x80"));     // lone continuation
    EXPECT_FALSE(is_valid_utf8("a\xc3z"));
}

TEST(Naming, DefaultPrefixIsTheFileNameWithoutExtension) {
    EXPECT_EQ(default_prefix("/srv/app/wecare.db"), "wecare");
    EXPECT_EQ(default_prefix("wecare.sqlite3"), "wecare");
    EXPECT_EQ(default_prefix("/srv/app/archive.tar.db"), "archive.tar");
    EXPECT_EQ(default_prefix("/srv/app/noext"), "noext");
    EXPECT_EQ(default_prefix("/srv/app/.hidden.db"), "hidden");
    EXPECT_EQ(default_prefix("/srv/app/...db"), "db");
    EXPECT_EQ(default_prefix(""), "db");
    EXPECT_EQ(default_prefix("/srv/app/"), "db");
    EXPECT_EQ(default_prefix("/srv/app/a..b.db"), "db"); // ".." is refused in a prefix
    EXPECT_EQ(default_prefix("/srv/app/\xff.db"), "db");
    EXPECT_EQ(default_prefix("/srv/" + std::string(300, 'x') + ".db"), std::string(160, 'x'));
}

TEST(Naming, PrefixProblem) {
    EXPECT_EQ(prefix_problem("wecare"), "");
    EXPECT_EQ(prefix_problem(""), "the prefix is empty");
    EXPECT_EQ(prefix_problem(std::string(161, 'a')), "the prefix is longer than 160 bytes");
    EXPECT_EQ(prefix_problem("a/b"), "the prefix contains '/'");
    EXPECT_EQ(prefix_problem(".a"), "the prefix starts with '.'");
    EXPECT_EQ(prefix_problem(std::string("a\0", 2)), "the prefix contains a NUL byte");
}

// kPrefixRule, both ways: everything it lists is accepted, anything else refused.
TEST(Naming, PrefixRuleAcceptsWhatItStates) {
    for (const char* ok :
         {"My Clinic", "clinic-1.prod_x", "A9", "Cl\xc3\xadnica", "\xe0\xb8\x84\xe0\xb8\xa5"})
        EXPECT_EQ(prefix_problem(ok), "") << ok;
}

TEST(Naming, PrefixRuleRefusesWhatItDoesNotState) {
    for (char c : std::string("+'\"?#%*&;$`!()[]{}<>|=,:@~^/\\")) {
        const std::string prefix = std::string("a") + c + "b";
        EXPECT_EQ(prefix_problem(prefix), std::string("the prefix contains '") + c + "'") << prefix;
    }
    EXPECT_EQ(prefix_problem("a\tb"), "the prefix contains a control character");
    EXPECT_EQ(prefix_problem("a..b"), "the prefix contains '..'");
    EXPECT_EQ(prefix_problem("\xff"), "the prefix is not valid UTF-8");
}

TEST(Naming, DefaultPrefixReplacesWhatAPrefixMayNotHold) {
    EXPECT_EQ(default_prefix("/srv/app/My Clinic.db"), "My Clinic");
    EXPECT_EQ(default_prefix("/srv/app/my+clinic(2).db"), "my_clinic_2_");
    EXPECT_EQ(default_prefix("/srv/app/Cl\xc3\xadnica.sqlite"), "Cl\xc3\xadnica");
}

TEST(Naming, SidecarNames) {
    EXPECT_TRUE(is_sidecar_name("x.db.meta"));
    EXPECT_FALSE(is_sidecar_name(".meta"));
    EXPECT_FALSE(is_sidecar_name("x.db"));
    EXPECT_FALSE(is_sidecar_name("x.meta.db"));
}
