// Retention: retention_reasons on any list and policy.
// Input: 5 policy bytes, then 9 bytes per backup (flags, 8-byte time).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>

#include "policy/retention.hpp"

using namespace wb;

namespace {
void check(bool ok) {
    if (!ok) std::abort();
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 5) return 0;
    RetentionPolicy p;
    p.keep_last = data[0] % 16;
    p.keep_daily = data[1] % 16;
    p.keep_weekly = data[2] % 16;
    p.keep_monthly = data[3] % 16;
    p.keep_safety = data[4] % 16;
    std::vector<RetentionItem> items;
    for (size_t off = 5; off + 9 <= size; off += 9) {
        RetentionItem it;
        it.safety = data[off] & 1;
        if (data[off] & 2) it.verify_ok = (data[off] & 4) != 0;
        int64_t t;
        std::memcpy(&t, data + off + 1, 8);
        if (data[off] & 8) t %= 400LL * 366 * 86400; // mostly plausible dates
        it.epoch_seconds = t;
        items.push_back(it);
    }
    std::stable_sort(items.begin(), items.end(), [](const RetentionItem& a, const RetentionItem& b) {
        return a.epoch_seconds > b.epoch_seconds;
    });
    const auto reasons = retention_reasons(items, p);
    check(reasons.size() == items.size());
    static const std::set<std::string> allowed = {"",        "last",      "daily", "weekly",
                                                  "monthly", "last_good", "safety"};
    int64_t regular = 0, safety = 0, last = 0, safe_kept = 0, good = 0, kept_regular = 0;
    std::optional<size_t> newest_ok;
    for (size_t i = 0; i < items.size(); ++i) {
        check(allowed.count(reasons[i]) == 1);
        if (items[i].safety) {
            ++safety;
            safe_kept += reasons[i] == "safety";
            check(reasons[i] == "" || reasons[i] == "safety");
            continue;
        }
        check(reasons[i] != "safety");
        ++regular;
        last += reasons[i] == "last";
        good += reasons[i] == "last_good";
        kept_regular += !reasons[i].empty();
        if (items[i].verify_ok == std::optional<bool>(true) && !newest_ok) newest_ok = i;
        // keep_last is the N newest regular backups, exactly.
        check((reasons[i] == "last") == (regular <= p.keep_last));
    }
    check(last == std::min(regular, p.keep_last));
    check(safe_kept == std::min(safety, p.keep_safety));
    check(good <= 1);
    check(kept_regular <= p.keep_last + p.keep_daily + p.keep_weekly + p.keep_monthly + 1);
    if (newest_ok) check(!reasons[*newest_ok].empty()); // never delete the newest good backup
    return 0;
}
