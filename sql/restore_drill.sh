#!/bin/sh
# Restore drill: proves that the newest verified backup of LIVE_DB can be
# restored, without touching LIVE_DB or its backup directory.
#   sh sql/restore_drill.sh /var/lib/wecare/wecare.db [/tmp/wecare-drill]
# 1. exports the newest verified backup to the drill folder (checksummed copy),
# 2. restores it into a scratch database there and compares row counts.
set -eu
live=${1:?usage: restore_drill.sh LIVE_DB [DRILL_DIR]}
drill=${2:-/tmp/wecare-drill}
cd "$(dirname "$0")/.."
rm -rf "$drill"
mkdir -p "$drill/backups"
chmod 700 "$drill" "$drill/backups"
prefix=$(sqlite3 "$live" ".load dist/wecare_backup" "SELECT wecare_backup_setting('prefix')")
sqlite3 -bail "$live" ".load dist/wecare_backup" \
  "SELECT 'exported ' || wecare_backup_export((SELECT name FROM wecare_backup_list WHERE kind <> 'safety' AND verify_ok = 1 LIMIT 1), '$drill/backups')"
out=$(sqlite3 -bail -cmd ".load dist/wecare_backup" \
  -cmd "SELECT wecare_backup_config('dir', '$drill/backups') || ' ' || wecare_backup_config('prefix', '$prefix')" \
  "$drill/scratch.db" < sql/restore_drill.sql)
echo "$out"
echo "$out" | grep -q 'DRILL PASSED'
