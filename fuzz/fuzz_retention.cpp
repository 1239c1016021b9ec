// Retention: link_chains and retention_reasons on any list and policy.
// Input: 5 policy bytes, then 9 bytes per backup (flags, 8-byte time). The
// high 4 bits of a regular backup's flags make it an increment on the backup
// that many places after it in the sorted list (past the end: a base that is
// missing); 0 is a full backup.
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
    std::vector<uint8_t> steps;
    for (size_t off = 5; off + 9 <= size; off += 9)
        steps.push_back(static_cast<uint8_t>(data[off] >> 4));
    std::vector<size_t> order(items.size());
    for (size_t i = 0; i < order.size(); ++i)
        order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return items[a].epoch_seconds > items[b].epoch_seconds; });
    std::vector<RetentionItem> sorted;
    std::vector<uint8_t> step_of;
    for (size_t i : order) {
        sorted.push_back(items[i]);
        step_of.push_back(items[i].safety ? 0 : steps[i]);
    }
    items = std::move(sorted);
    std::vector<std::string> bases(items.size());
    for (size_t i = 0; i < items.size(); ++i)
        items[i].name = "b" + std::to_string(i) + (step_of[i] ? ".incr" : ".db");
    for (size_t i = 0; i < items.size(); ++i) {
        if (!step_of[i]) continue;
        const size_t at = i + step_of[i];
        bases[i] = at < items.size() ? items[at].name : "gone.db";
    }
    link_chains(items, bases);
    for (size_t i = 0; i < items.size(); ++i) {
        // whole: a full backup, or its base is in the list and whole.
        const bool expect_whole = bases[i].empty() || (items[i].base && items[*items[i].base].whole);
        check(items[i].whole == expect_whole);
    }
    const auto reasons = retention_reasons(items, p);
    check(reasons.size() == items.size());
    static const std::set<std::string> allowed = {"",        "last",      "daily",  "weekly",
                                                  "monthly", "last_good", "safety", "broken chain"};
    int64_t regular = 0, safety = 0, last = 0, safe_kept = 0, good = 0, kept_regular = 0;
    std::optional<size_t> newest_ok;
    for (size_t i = 0; i < items.size(); ++i) {
        const bool base_of = reasons[i].rfind("base of ", 0) == 0;
        check(allowed.count(reasons[i]) == 1 || base_of);
        // A chain is kept whole: never the base of a kept backup deleted.
        if (!reasons[i].empty() && items[i].whole && items[i].base) check(!reasons[*items[i].base].empty());
        check((reasons[i] == "broken chain") == !items[i].whole);
        if (!items[i].whole) continue; // counted by no rule
        if (items[i].safety) {
            ++safety;
            safe_kept += reasons[i] == "safety";
            check(reasons[i] == "" || reasons[i] == "safety" || base_of);
            continue;
        }
        check(reasons[i] != "safety");
        ++regular;
        last += reasons[i] == "last";
        good += reasons[i] == "last_good";
        kept_regular += !reasons[i].empty() && !base_of; // kept by a rule
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
