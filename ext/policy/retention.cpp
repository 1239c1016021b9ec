// Retention: which backups to keep, and why (see retention.hpp).
#include "policy/retention.hpp"

#include <unordered_map>

#include "policy/increment_format.hpp"
#include "policy/naming.hpp"

namespace wb {

namespace {

int64_t floor_div(int64_t a, int64_t b) {
    return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

int64_t day_bucket(int64_t t) {
    return floor_div(t, 86400);
}
// 1970-01-01 was a Thursday, so Monday-based weeks start 3 days before it.
int64_t week_bucket(int64_t t) {
    return floor_div(day_bucket(t) + 3, 7);
}
int64_t month_bucket(int64_t t) {
    int y, mon, d, h, mi, s;
    civil_from_seconds(t, y, mon, d, h, mi, s);
    return static_cast<int64_t>(y) * 12 + mon;
}

// restic's bucket rule: walking newest first, keep an item when its bucket
// differs from the last bucket kept, until `limit` buckets are kept.
struct BucketRule {
    int64_t limit;
    int64_t (*bucket)(int64_t);
    int64_t kept = 0;
    std::optional<int64_t> last;

    bool keeps(int64_t t) {
        if (kept >= limit) return false;
        const int64_t b = bucket(t);
        if (last && *last == b) return false;
        last = b;
        ++kept;
        return true;
    }
};

bool names_an_increment(const std::string& name) {
    constexpr std::string_view kIncrement = ".incr";
    return name.size() >= kIncrement.size() &&
           name.compare(name.size() - kIncrement.size(), kIncrement.size(), kIncrement) == 0;
}

} // namespace

void link_chains(std::vector<RetentionItem>& items, const std::vector<std::string>& base_names) {
    std::unordered_map<std::string, size_t> position;
    for (size_t i = 0; i < items.size(); ++i)
        position.emplace(items[i].name, i);
    for (size_t i = 0; i < items.size(); ++i) {
        items[i].base.reset();
        if (i >= base_names.size() || base_names[i].empty()) continue;
        auto it = position.find(base_names[i]);
        if (it != position.end() && it->second != i) items[i].base = it->second;
    }
    for (size_t i = 0; i < items.size(); ++i) {
        // Walk down to a full backup; a chain longer than any can be, or a loop, is broken.
        size_t at = i;
        size_t links = 1;
        bool whole = false;
        for (;;) {
            const bool names_base = at < base_names.size() && !base_names[at].empty();
            if (!names_base) {
                whole = !names_an_increment(items[at].name);
                break;
            }
            if (!items[at].base || ++links > kMaxChainLinks) break;
            at = *items[at].base;
        }
        items[i].whole = whole;
    }
}

std::vector<std::string> retention_reasons(const std::vector<RetentionItem>& items,
                                           const RetentionPolicy& policy) {
    std::vector<std::string> reasons(items.size());
    BucketRule daily{policy.keep_daily, day_bucket, 0, std::nullopt};
    BucketRule weekly{policy.keep_weekly, week_bucket, 0, std::nullopt};
    BucketRule monthly{policy.keep_monthly, month_bucket, 0, std::nullopt};
    int64_t regular_seen = 0;
    int64_t safety_seen = 0;
    std::optional<size_t> newest_ok;
    std::optional<size_t> newest_not_failed;

    for (size_t i = 0; i < items.size(); ++i) {
        const RetentionItem& item = items[i];
        if (!item.recorded) {
            reasons[i] = "unknown";
            continue;
        }
        if (!item.whole) {
            reasons[i] = "broken chain";
            continue;
        }
        if (policy.now > 0 && item.epoch_seconds > policy.now + kFutureToleranceSeconds) {
            reasons[i] = "future";
            continue;
        }
        if (item.safety) {
            if (safety_seen++ < policy.keep_safety) reasons[i] = "safety";
            continue;
        }
        if (item.verify_ok.value_or(false) && !newest_ok) newest_ok = i;
        if (item.verify_ok != std::optional<bool>(false) && !newest_not_failed) newest_not_failed = i;
        // Every rule sees every item, so each rule's buckets are counted the same
        // way whether or not an earlier rule already keeps the item.
        const bool by_last = regular_seen++ < policy.keep_last;
        const bool by_daily = daily.keeps(item.epoch_seconds);
        const bool by_weekly = weekly.keeps(item.epoch_seconds);
        const bool by_monthly = monthly.keeps(item.epoch_seconds);
        if (by_last) {
            reasons[i] = "last";
        } else if (by_daily) {
            reasons[i] = "daily";
        } else if (by_weekly) {
            reasons[i] = "weekly";
        } else if (by_monthly) {
            reasons[i] = "monthly";
        }
    }
    const std::optional<size_t> guard = newest_ok ? newest_ok : newest_not_failed;
    if (guard && reasons[*guard].empty()) reasons[*guard] = "last_good";
    for (size_t i = 0; i < items.size(); ++i)
        if (reasons[i].empty() && items[i].recorded && !items[i].kept_for.empty())
            reasons[i] = items[i].kept_for;
    // A kept backup keeps every backup it builds on; newest first, so the
    // newest dependent names it. (Bounded: a broken or cyclic list of bases
    // stops after as many steps as there are items.)
    for (size_t i = 0; i < items.size(); ++i) {
        if (reasons[i].empty() || !items[i].whole) continue;
        std::optional<size_t> at = items[i].base;
        for (size_t steps = 0; at && *at < items.size() && steps < items.size(); ++steps) {
            if (reasons[*at].empty()) reasons[*at] = "base of " + items[i].name;
            at = items[*at].base;
        }
    }
    return reasons;
}

} // namespace wb
