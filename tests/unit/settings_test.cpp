// Settings: defaults, parsing, and "a bad value leaves the old one".
#include <gtest/gtest.h>

#include <algorithm>

#include "common/error.hpp"
#include "policy/settings.hpp"
#include "policy/text.hpp"

using namespace wb;

namespace {
std::string error_of(Settings& s, const std::string& key, const std::string& value) {
    try {
        set_setting(s, key, value);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}
} // namespace

TEST(Settings, DefaultsAreTheDocumentedOnes) {
    const Settings s;
    EXPECT_EQ(get_setting(s, "dir"), "");
    EXPECT_EQ(get_setting(s, "prefix"), "");
    EXPECT_EQ(get_setting(s, "keep_last"), "7");
    EXPECT_EQ(get_setting(s, "keep_daily"), "0");
    EXPECT_EQ(get_setting(s, "keep_weekly"), "0");
    EXPECT_EQ(get_setting(s, "keep_monthly"), "0");
    EXPECT_EQ(get_setting(s, "keep_safety"), "3");
    EXPECT_EQ(get_setting(s, "verify_on_create"), "1");
    EXPECT_EQ(get_setting(s, "critical_tables"), "");
    EXPECT_EQ(get_setting(s, "max_snapshot_seconds"), "3600");
    EXPECT_EQ(get_setting(s, "busy_timeout_ms"), "10000");
}

TEST(Settings, EveryKeyReadsBackWhatWasSet) {
    Settings s;
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"dir", "/var/backups/wecare"},
        {"prefix", "clinic-1"},
        {"keep_last", "0"},
        {"keep_daily", "14"},
        {"keep_weekly", "8"},
        {"keep_monthly", "1000000"},
        {"keep_safety", "1"},
        {"verify_on_create", "0"},
        {"critical_tables", "users,patients"},
        {"max_snapshot_seconds", "1"},
        {"busy_timeout_ms", "0"},
        {"offsite", "s3://bucket/clinic"},
        {"s3_endpoint", "http://127.0.0.1:9000"},
        {"s3_region", "eu-west-1"},
        {"s3_credentials_file", "/etc/wecare/aws"},
        {"compress", "zstd:9"},
        {"encrypt_key_file", "/etc/wecare/key"},
        {"offsite_keep_last", "3"},
        {"offsite_keep_daily", "7"},
        {"offsite_keep_weekly", "4"},
        {"offsite_keep_monthly", "12"}};
    for (const auto& [k, v] : cases) {
        set_setting(s, k, v);
        EXPECT_EQ(get_setting(s, k), v) << k;
    }
    // Every documented key is listed (other modules may add more).
    for (const auto& [k, v] : cases)
        EXPECT_NE(std::find(setting_keys().begin(), setting_keys().end(), k), setting_keys().end()) << k;
}

TEST(Settings, BadValuesAreRefusedAndTheOldValueStays) {
    const std::vector<std::pair<std::string, std::string>> bad = {
        {"keep_last", "-1"},
        {"keep_last", "+3"},
        {"keep_last", " 3"},
        {"keep_last", "3 "},
        {"keep_last", "3.0"},
        {"keep_last", "1e3"},
        {"keep_last", "0x10"},
        {"keep_last", ""},
        {"keep_last", "1000001"},
        {"keep_last", "9999999999999"},
        {"keep_daily", "x"},
        {"keep_weekly", "-0"},
        {"keep_monthly", "1000001"},
        {"keep_safety", "three"},
        {"verify_on_create", "true"},
        {"verify_on_create", "2"},
        {"verify_on_create", ""},
        {"max_snapshot_seconds", "0"},
        {"max_snapshot_seconds", "604801"},
        {"busy_timeout_ms", "3600001"},
        {"prefix", "a/b"},
        {"prefix", ".hidden"},
        {"prefix", "a..b"},
        {"prefix", std::string(161, 'p')},
        {"prefix", std::string("a\0b", 3)},
        {"prefix", "\xff"},
        {"dir", std::string("/tmp/a\0b", 8)},
        {"dir", std::string(4097, 'd')},
        {"dir", "/tmp/\xc3"},
        {"critical_tables", "users,\xff"},
        {"critical_tables", std::string("a\0b", 3)},
    };
    for (const auto& [key, value] : bad) {
        Settings s;
        set_setting(s, "keep_last", "5");
        const Settings before = s;
        const std::string message = error_of(s, key, value);
        EXPECT_FALSE(message.empty()) << key << "=" << value;
        EXPECT_NE(message.find(key), std::string::npos) << message;
        for (const auto& k : setting_keys())
            EXPECT_EQ(get_setting(s, k), get_setting(before, k)) << k;
    }
}

TEST(Settings, NumberErrorsGiveTheRange) {
    Settings s;
    EXPECT_EQ(error_of(s, "keep_last", "abc"),
              "keep_last must be a whole number from 0 to 1000000, not 'abc'");
    EXPECT_EQ(error_of(s, "max_snapshot_seconds", "0"),
              "max_snapshot_seconds must be a whole number from 1 to 604800, not 0");
}

TEST(Settings, UnknownKeysNameTheValidOnes) {
    Settings s;
    const std::string message = error_of(s, "keep_lst", "3");
    EXPECT_NE(message.find("unknown setting 'keep_lst'"), std::string::npos);
    for (const auto& k : setting_keys())
        EXPECT_NE(message.find(k), std::string::npos) << k;
    EXPECT_THROW(get_setting(s, "nope"), Error);
    EXPECT_THROW(get_setting(s, ""), Error);
}

TEST(Settings, EmptyDirAndPrefixMeanTheDefault) {
    Settings s;
    set_setting(s, "dir", "/x");
    set_setting(s, "dir", "");
    set_setting(s, "prefix", "p");
    set_setting(s, "prefix", "");
    const Settings r = resolve_settings(s, "/srv/app/wecare.db");
    EXPECT_EQ(r.dir, "/srv/app/backups");
    EXPECT_EQ(r.prefix, "wecare");
}

TEST(Settings, CriticalTablesAreTrimmedAndEmptyItemsDropped) {
    Settings s;
    set_setting(s, "critical_tables", " users ,, \tpatients\t, ");
    EXPECT_EQ(get_setting(s, "critical_tables"), "users,patients");
    ASSERT_EQ(s.critical_tables.size(), 2u);
    set_setting(s, "critical_tables", "");
    EXPECT_TRUE(s.critical_tables.empty());
    set_setting(s, "critical_tables", "weird name \xc3\xa9");
    EXPECT_EQ(s.critical_tables.at(0), "weird name \xc3\xa9");
}

TEST(Settings, ResolveMakesDirAbsoluteBesideTheDatabase) {
    Settings s;
    EXPECT_EQ(resolve_settings(s, "/srv/app/wecare.db").dir, "/srv/app/backups");
    EXPECT_EQ(resolve_settings(s, "/wecare.db").dir, "/backups");
    EXPECT_EQ(resolve_settings(s, "wecare.db").dir, "backups");
    s.dir = "nightly/";
    EXPECT_EQ(resolve_settings(s, "/srv/app/wecare.db").dir, "/srv/app/nightly");
    s.dir = "/var/b///";
    EXPECT_EQ(resolve_settings(s, "/srv/app/wecare.db").dir, "/var/b");
    s.dir = "/";
    EXPECT_EQ(resolve_settings(s, "/srv/app/wecare.db").dir, "/");
    s.dir = "";
    s.prefix = "custom";
    EXPECT_EQ(resolve_settings(s, "/srv/app/wecare.db").prefix, "custom");
}

TEST(Settings, DirIsNormalised) {
    Settings s;
    s.dir = "..";
    EXPECT_EQ(resolve_settings(s, "/srv/app/wecare.db").dir, "/srv");
    s.dir = "./b/../c/./d/";
    EXPECT_EQ(resolve_settings(s, "/srv/app/wecare.db").dir, "/srv/app/c/d");
    s.dir = "/../../x";
    EXPECT_EQ(resolve_settings(s, "/srv/app/wecare.db").dir, "/x");
    EXPECT_EQ(normalize_path("a/../../b"), "../b");
    EXPECT_EQ(normalize_path("a/.."), ".");
}

TEST(Settings, Join) {
    EXPECT_EQ(join({}, ","), "");
    EXPECT_EQ(join({"a"}, ","), "a");
    EXPECT_EQ(join({"a", "b", "c"}, ", "), "a, b, c");
}
