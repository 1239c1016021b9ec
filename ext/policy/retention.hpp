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
};

struct RetentionPolicy {
    int64_t keep_last = 7;
    int64_t keep_daily = 0;
    int64_t keep_weekly = 0;
    int64_t keep_monthly = 0;
    int64_t keep_safety = 3;
};

// `newest_first` must be sorted newest first. Returns one reason per item.
std::vector<std::string> retention_reasons(const std::vector<RetentionItem>& newest_first,
                                           const RetentionPolicy& policy);

} // namespace wb
