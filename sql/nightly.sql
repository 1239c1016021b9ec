-- Nightly backup for cron, with the sqlite3 shell:
--   15 2 * * *  cd /opt/wecare_backup && sqlite3 -bail /var/lib/wecare/wecare.db < sql/nightly.sql >> /var/log/wecare-backup.log 2>&1
-- Any error stops the script (-bail) with a message and a non-zero exit code,
-- so cron mails it. A failed backup deletes nothing.
.load dist/wecare_backup
.bail on
SELECT wecare_backup_config('keep_last', 7);
SELECT wecare_backup_config('keep_daily', 7);
SELECT wecare_backup_config('keep_weekly', 4);
SELECT wecare_backup_config('keep_monthly', 6);
SELECT wecare_backup_config('critical_tables', 'users,patients');
SELECT datetime('now') || ' created ' || wecare_backup_create('nightly');
-- Off the server: copy the newest backup to a mounted share (uncomment and set the path).
-- SELECT 'exported ' || wecare_backup_export((SELECT name FROM wecare_backup_list WHERE kind <> 'safety' LIMIT 1), '/mnt/offsite/wecare');
SELECT 'stats ' || wecare_backup_stats();
