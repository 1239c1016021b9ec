// Which backups to keep, and why. Pure: a list of backups plus a policy in,
// one reason per backup out ("" = the next cleanup deletes it).
//
// Regular backups (manual and scheduled), newest first:
//   keep_last N     -> "last"     the N newest
//   keep_daily N    -> "daily"    the newest of each of the last N days that have a backup
//   keep_weekly N   -> "weekly"   ... of each of the last N ISO weeks (Monday to Sunday, UTC)
//   keep_monthly N  -> "monthly"  ... of each of the last N calendar months
//   (restic's meaning; the rules are OR-ed and the first that applies is the reason shown)
//   always          -> "last_good" the newest backup that verified ok; when none has
//                                  verified ok, the newest one that has not failed
// Safety backups (taken by restore):
//   keep_safety N   -> "safety"   the N newest
// Never deleted, and never counted by the rules above:
//   "unknown"        a file named like a backup but without a readable record
//                    (placed by hand, or by someone else): it is never a reason
//                    to delete a real backup, and rotation never deletes it
//   "future"         a backup dated more than an hour after `now` (a clock set
//                    wrong): it never pushes a backup of the past out
//   "timeline base"  the base backup of continuous capture's restore points
//                    within pitr_hours (RetentionItem::kept_for)
//   "base of <name>" a backup that a kept increment builds on, naming the newest
//                    kept backup that depends on it (a chain is kept whole)
//   "broken chain"   an increment whose chain is not whole in the list (a backup
//                    it builds on is missing; link_chains finds them): nothing in
//                    the list can restore it, so it never pushes a restorable
//                    backup out of a rule, and it keeps nothing it builds on.
//                    Only the off-site rules mark them (offsite/sync.hpp): a
//                    missing base may still come back (fetched with an old key,
//                    or put back by hand), and an object that cannot be
//                    restored is better deleted by someone who looked at it.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wb {

struct RetentionItem {
    bool safety = false;
    int64_t epoch_seconds = 0;     // creation time, UTC
    std::optional<bool> verify_ok; // nullopt = never verified
    bool recorded = true;          // false: no readable record ("unknown")
    std::string name;              // for "base of <name>"
    std::optional<size_t> base;    // index (in the same list) of the backup this one builds on
    std::string kept_for;          // a reason to keep it whatever the rules say ("timeline base"), or ""
    bool whole = true;             // false: its chain is broken (see link_chains)
};

struct RetentionPolicy {
    int64_t keep_last = 7;
    int64_t keep_daily = 0;
    int64_t keep_weekly = 0;
    int64_t keep_monthly = 0;
    int64_t keep_safety = 3;
    int64_t now = 0; // UTC seconds; 0 = no backup is treated as dated in the future
};

// How far ahead of `now` a backup may be dated before it counts as "future".
constexpr int64_t kFutureToleranceSeconds = 3600;

// Fills `base` and `whole` of each item from `base_names` (one per item: the
// name of the backup it builds on, "" for a full backup). An item is whole
// when every backup it builds on is in the list, back to a full backup, in at
// most kMaxChainLinks backups and without a loop; an increment (a name ending
// in ".incr") that names no base is not. Any order of items.
void link_chains(std::vector<RetentionItem>& items, const std::vector<std::string>& base_names);

// `newest_first` must be sorted newest first. Returns one reason per item.
std::vector<std::string> retention_reasons(const std::vector<RetentionItem>& newest_first,
                                           const RetentionPolicy& policy);

} // namespace wb
