// Retention: which backups stay, and why (restic's keep-* meaning).
#include <gtest/gtest.h>

#include "policy/increment_format.hpp"
#include "policy/naming.hpp"
#include "policy/retention.hpp"
#include "policy/text.hpp"

using namespace wb;

namespace {
constexpr int64_t kDay = 86400;
// 2026-11-23 is a Monday.
const int64_t kMonday = days_from_civil(2026, 11, 23) * kDay;

RetentionItem regular(int64_t t, std::optional<bool> ok = std::nullopt) {
    return {false, t, ok};
}
RetentionItem safety(int64_t t) {
    return {true, t, true};
}
RetentionPolicy only(int64_t last, int64_t daily = 0, int64_t weekly = 0, int64_t monthly = 0,
                     int64_t safe = 0) {
    return {last, daily, weekly, monthly, safe};
}
} // namespace

TEST(Retention, EmptyListKeepsNothing) {
    EXPECT_TRUE(retention_reasons({}, RetentionPolicy{}).empty());
}

TEST(Retention, KeepLastKeepsTheNNewest) {
    std::vector<RetentionItem> items;
    for (int i = 0; i < 10; ++i)
        items.push_back(regular(kMonday - i * 60));
    const auto r = retention_reasons(items, only(3));
    ASSERT_EQ(r.size(), 10u);
    EXPECT_EQ(r[0], "last");
    EXPECT_EQ(r[1], "last");
    EXPECT_EQ(r[2], "last");
    for (size_t i = 4; i < 10; ++i)
        EXPECT_EQ(r[i], "") << i;
    EXPECT_EQ(r[3], ""); // none verified: the newest not-failed is item 0, already kept
}

TEST(Retention, NewestVerifiedOkIsAlwaysKept) {
    std::vector<RetentionItem> items = {regular(kMonday + 3, false), regular(kMonday + 2, std::nullopt),
                                        regular(kMonday + 1, true), regular(kMonday, true)};
    const auto r = retention_reasons(items, only(1));
    EXPECT_EQ(r, (std::vector<std::string>{"last", "", "last_good", ""}));
    const auto none = retention_reasons(items, only(0));
    EXPECT_EQ(none, (std::vector<std::string>{"", "", "last_good", ""}));
}

TEST(Retention, WithoutAVerifiedBackupTheNewestNotFailedIsKept) {
    std::vector<RetentionItem> items = {regular(kMonday + 2, false), regular(kMonday + 1), regular(kMonday)};
    EXPECT_EQ(retention_reasons(items, only(0)), (std::vector<std::string>{"", "last_good", ""}));
    std::vector<RetentionItem> failed = {regular(kMonday + 1, false), regular(kMonday, false)};
    EXPECT_EQ(retention_reasons(failed, only(0)), (std::vector<std::string>{"", ""}));
}

TEST(Retention, KeepDailyIsTheNewestOfEachOfTheLastNDaysThatHaveOne) {
    // Three backups on Monday, none on Tuesday, two on Wednesday, one on Thursday.
    std::vector<RetentionItem> items = {regular(kMonday + 3 * kDay + 100),
                                        regular(kMonday + 2 * kDay + 200),
                                        regular(kMonday + 2 * kDay + 100),
                                        regular(kMonday + 300),
                                        regular(kMonday + 200),
                                        regular(kMonday + 100),
                                        regular(kMonday - 1)}; // Sunday 23:59:59
    const auto r = retention_reasons(items, only(0, 3));
    EXPECT_EQ(r, (std::vector<std::string>{"daily", "daily", "", "daily", "", "", ""}));
}

TEST(Retention, KeepWeeklyUsesMondayToSundayWeeksInUtc) {
    std::vector<RetentionItem> items = {
        regular(kMonday + 6 * kDay + 86399), // Sunday 23:59:59, same ISO week as the Monday
        regular(kMonday),                    // Monday 00:00:00
        regular(kMonday - 1),                // previous Sunday: previous week
        regular(kMonday - 6 * kDay),         // previous Tuesday
        regular(kMonday - 7 * kDay - 1),     // the week before
    };
    EXPECT_EQ(retention_reasons(items, only(0, 0, 2)),
              (std::vector<std::string>{"weekly", "", "weekly", "", ""}));
    EXPECT_EQ(retention_reasons(items, only(0, 0, 5)),
              (std::vector<std::string>{"weekly", "", "weekly", "", "weekly"}));
}

TEST(Retention, KeepMonthlyUsesCalendarMonths) {
    const int64_t dec1 = days_from_civil(2026, 12, 1) * kDay;
    const int64_t jan31 = days_from_civil(2027, 1, 31) * kDay;
    std::vector<RetentionItem> items = {regular(jan31 + 5), regular(dec1 + 5), regular(dec1 - 1),
                                        regular(dec1 - 20 * kDay)};
    EXPECT_EQ(retention_reasons(items, only(0, 0, 0, 2)),
              (std::vector<std::string>{"monthly", "monthly", "", ""}));
    EXPECT_EQ(retention_reasons(items, only(0, 0, 0, 3)),
              (std::vector<std::string>{"monthly", "monthly", "monthly", ""}));
}

TEST(Retention, RulesAreOredAndTheFirstReasonIsShown) {
    std::vector<RetentionItem> items = {regular(kMonday + kDay), regular(kMonday + 10), regular(kMonday)};
    EXPECT_EQ(retention_reasons(items, only(1, 2, 1, 1)), (std::vector<std::string>{"last", "daily", ""}));
    // keep_daily counts its own buckets even where keep_last already keeps the item.
    EXPECT_EQ(retention_reasons(items, only(2, 2)), (std::vector<std::string>{"last", "last", ""}));
}

TEST(Retention, SafetyBackupsHaveTheirOwnCount) {
    std::vector<RetentionItem> items = {safety(kMonday + 5), regular(kMonday + 4), safety(kMonday + 3),
                                        safety(kMonday + 2), regular(kMonday + 1)};
    const auto r = retention_reasons(items, only(1, 0, 0, 0, 2));
    EXPECT_EQ(r, (std::vector<std::string>{"safety", "last", "safety", "", ""}));
    // Safety backups never count as the last good regular backup.
    const auto r0 = retention_reasons({safety(kMonday)}, only(0, 0, 0, 0, 0));
    EXPECT_EQ(r0, (std::vector<std::string>{""}));
}

TEST(Retention, TimesBefore1970BucketCorrectly) {
    std::vector<RetentionItem> items = {regular(10), regular(-10), regular(-kDay - 10)};
    EXPECT_EQ(retention_reasons(items, only(0, 3)), (std::vector<std::string>{"daily", "daily", "daily"}));
    std::vector<RetentionItem> same_day = {regular(-10), regular(-20)};
    EXPECT_EQ(retention_reasons(same_day, only(0, 3)), (std::vector<std::string>{"daily", ""}));
}

TEST(Retention, NeverMoreKeptThanTheRulesAllow) {
    std::vector<RetentionItem> items;
    for (int i = 0; i < 500; ++i)
        items.push_back(regular(kMonday - i * 3600, i % 3 == 0));
    const auto r = retention_reasons(items, only(5, 7, 4, 6));
    size_t kept = 0;
    for (const auto& reason : r)
        kept += !reason.empty();
    EXPECT_LE(kept, 5u + 7 + 4 + 6 + 1);
    EXPECT_GE(kept, 5u);
}

TEST(Retention, FilesWithoutARecordAreNeverCountedNorDeleted) {
    std::vector<RetentionItem> items = {regular(kMonday + 3 * 86400), regular(kMonday + 2 * 86400),
                                        regular(kMonday + 86400), regular(kMonday)};
    items[0].recorded = false;
    items[1].recorded = false;
    EXPECT_EQ(retention_reasons(items, only(1)),
              (std::vector<std::string>{"unknown", "unknown", "last", ""}));
}

TEST(Retention, BackupsDatedInTheFutureNeverPushOutThePast) {
    std::vector<RetentionItem> items = {regular(kMonday + 400 * 86400), regular(kMonday + 300 * 86400),
                                        regular(kMonday + 1000), regular(kMonday)};
    RetentionPolicy p = only(2);
    p.now = kMonday + 2000;
    EXPECT_EQ(retention_reasons(items, p), (std::vector<std::string>{"future", "future", "last", "last"}));
}

TEST(Retention, AKeptBackupKeepsTheChainItBuildsOn) {
    std::vector<RetentionItem> items = {regular(kMonday + 300), regular(kMonday + 200),
                                        regular(kMonday + 100), regular(kMonday)};
    for (size_t i = 0; i < items.size(); ++i)
        items[i].name = "b" + std::to_string(i);
    items[0].base = 1; // b0 builds on b1, which builds on b3 (a full backup)
    items[1].base = 3;
    EXPECT_EQ(retention_reasons(items, only(1)),
              (std::vector<std::string>{"last", "base of b0", "", "base of b0"}));
    items[3].base = 0; // a cycle in damaged records ends
    EXPECT_EQ(retention_reasons(items, only(1)).size(), 4u);
}

// Daily chains: one full backup a day at 00:00 and an increment each hour
// after it. Whatever rule keeps a backup, every backup under it stays, and
// nothing that only a deleted backup needed does.
TEST(Retention, EveryKeepRuleKeepsWholeChains) {
    std::vector<RetentionItem> items; // newest first
    const int days = 70;
    for (int d = days - 1; d >= 0; --d)
        for (int h = 23; h >= 0; --h)
            items.push_back(regular(kMonday + d * kDay + h * 3600, true));
    for (size_t i = 0; i < items.size(); ++i) {
        items[i].name = "b" + std::to_string(i);
        const bool full = (i % 24) == 23; // the 00:00 backup of its day
        if (!full) items[i].base = i + 1; // the previous hour's backup
    }
    for (const RetentionPolicy& policy :
         {only(5), only(0, 3), only(0, 0, 2), only(0, 0, 0, 2), only(2, 2, 2, 2)}) {
        const auto r = retention_reasons(items, policy);
        for (size_t i = 0; i < items.size(); ++i) {
            if (r[i].empty() || !items[i].base) continue;
            for (auto at = items[i].base; at; at = items[*at].base)
                EXPECT_FALSE(r[*at].empty()) << items[*at].name << " is needed by kept " << items[i].name;
        }
        // A kept base names the newest kept backup that depends on it.
        for (size_t i = 0; i < items.size(); ++i) {
            if (r[i].rfind("base of ", 0) != 0) continue;
            const std::string dependent = r[i].substr(8);
            const size_t j = static_cast<size_t>(std::stoul(dependent.substr(1)));
            EXPECT_LT(j, i);
            EXPECT_FALSE(r[j].empty());
            for (size_t k = 0; k < j; ++k) { // no newer kept backup depends on it
                if (r[k].empty()) continue;
                for (auto at = items[k].base; at; at = items[*at].base)
                    EXPECT_NE(*at, i)
                        << "b" << k << " is newer than " << dependent << " and needs " << items[i].name;
            }
        }
        // Nothing kept only as a base when no kept backup needs it.
        size_t kept = 0;
        for (const auto& reason : r)
            kept += reason.empty() ? 0 : 1;
        EXPECT_LT(kept, items.size());
    }
}

TEST(Retention, LinkChainsFindsBasesAndBrokenChains) {
    // Newest first: i3 -> i2 -> f1 (whole); j1 -> (missing) ; k1 names no base; f1 full.
    std::vector<RetentionItem> items = {regular(kMonday + 500), regular(kMonday + 400),
                                        regular(kMonday + 300), regular(kMonday + 200),
                                        regular(kMonday + 100)};
    const std::vector<std::string> names = {"i3.incr", "j1.incr", "k1.incr", "i2.incr", "f1.db"};
    for (size_t i = 0; i < items.size(); ++i)
        items[i].name = names[i];
    link_chains(items, {"i2.incr", "gone.db", "", "f1.db", ""});
    EXPECT_EQ(items[0].base, std::optional<size_t>(3));
    EXPECT_EQ(items[3].base, std::optional<size_t>(4));
    EXPECT_FALSE(items[1].base.has_value());
    EXPECT_EQ(
        (std::vector<bool>{items[0].whole, items[1].whole, items[2].whole, items[3].whole, items[4].whole}),
        (std::vector<bool>{true, false, false, true, true}));
    // keep_last 1: the newest whole backup and its chain; the broken ones are
    // never counted and never deleted, and keep nothing of their own.
    EXPECT_EQ(retention_reasons(items, only(1)),
              (std::vector<std::string>{"last", "broken chain", "broken chain", "base of i3.incr",
                                        "base of i3.incr"}));
    // A broken increment never takes the place of a restorable backup.
    std::vector<RetentionItem> newest_broken = {regular(kMonday + 2), regular(kMonday + 1), regular(kMonday)};
    newest_broken[0].name = "x.incr";
    newest_broken[1].name = "b.db";
    newest_broken[2].name = "a.db";
    link_chains(newest_broken, {"missing.incr", "", ""});
    EXPECT_EQ(retention_reasons(newest_broken, only(1)),
              (std::vector<std::string>{"broken chain", "last", ""}));
}

TEST(Retention, LinkChainsEndsLoopsAndOverlongChains) {
    std::vector<RetentionItem> loop = {regular(kMonday + 1), regular(kMonday)};
    loop[0].name = "a.incr";
    loop[1].name = "b.incr";
    link_chains(loop, {"b.incr", "a.incr"});
    EXPECT_FALSE(loop[0].whole);
    EXPECT_FALSE(loop[1].whole);
    std::vector<RetentionItem> self = {regular(kMonday)};
    self[0].name = "s.incr";
    link_chains(self, {"s.incr"});
    EXPECT_FALSE(self[0].whole);
    // kMaxChainLinks backups are a chain; one more is not.
    for (size_t length : {kMaxChainLinks, kMaxChainLinks + 1}) {
        std::vector<RetentionItem> chain;
        std::vector<std::string> bases;
        for (size_t i = 0; i < length; ++i) {
            chain.push_back(regular(kMonday + static_cast<int64_t>(length - i)));
            const bool full = i + 1 == length;
            chain.back().name = "c" + std::to_string(i) + (full ? ".db" : ".incr");
            bases.push_back(full ? "" : "c" + std::to_string(i + 1) + (i + 2 == length ? ".db" : ".incr"));
        }
        link_chains(chain, bases);
        EXPECT_EQ(chain.front().whole, length == kMaxChainLinks) << length;
        EXPECT_TRUE(chain.back().whole);
    }
}
