-- Nightly backup: the SQL that sql/nightly.sh runs on the database, once it
-- has loaded the extension and set these parameters (each optional):
--   @settings    a JSON object of wecare_backup_config settings; the keep rules
--                default to 7 last, 7 daily, 4 weekly and 6 monthly, and
--                critical_tables to none
--   @label       the backup's label (default 'nightly')
--   @export_dir  a folder (a mounted share) to copy the new backup into
-- Use nightly.sh (it stamps every line with the time); by hand, on any database:
--   sqlite3 -bail -cmd ".load /usr/local/lib/wecare_backup/wecare_backup" DATABASE < nightly.sql
-- Any error stops it with the message and a non-zero exit code. A failed
-- backup deletes nothing.
.bail on
.mode list
.headers off
SELECT key || ' = ' || wecare_backup_config(key, value)
FROM json_each(json_patch('{"keep_last": 7, "keep_daily": 7, "keep_weekly": 4, "keep_monthly": 6, "critical_tables": ""}',
                          coalesce(@settings, '{}')));
SELECT 'created ' || wecare_backup_create(coalesce(@label, 'nightly'));
-- The newest regular backup is the one just created.
SELECT 'exported ' || wecare_backup_export((SELECT name FROM wecare_backup_list WHERE kind <> 'safety' LIMIT 1),
                                           @export_dir)
WHERE @export_dir IS NOT NULL;
SELECT 'stats ' || wecare_backup_stats();
