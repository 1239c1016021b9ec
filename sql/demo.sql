-- The demo: run by `make demo` (sql/run_demo.sh) on a generated sample database.
-- It shows create, list, verify, stats and cleanup.
.load dist/wecare_backup
.mode box
.print '== version'
SELECT wecare_backup_version() AS version;

.print '== settings: keep the 3 newest, and never trust a backup without patients'
SELECT wecare_backup_config('keep_last', 3) AS keep_last,
       wecare_backup_config('critical_tables', 'users,patients') AS critical_tables;

.print '== five backups (a consistent snapshot each, checksummed, verified, published atomically)'
SELECT wecare_backup_create('demo 1') AS created;
SELECT wecare_backup_create('demo 2') AS created;
SELECT wecare_backup_create() AS created;
SELECT wecare_backup_create() AS created;
SELECT wecare_backup_create('latest') AS created;

.print '== the list, newest first (rotation after each backup kept the newest 3)'
SELECT name, kind, label, created_at, size_bytes, verify_ok, retain_reason FROM wecare_backup_list;

.print '== verify the newest backup'
SELECT json_extract(v, '$.ok') AS ok, json_extract(v, '$.checksum') AS checksum,
       json_extract(v, '$.integrity') AS integrity, json_extract(v, '$.rows') AS rows
FROM (SELECT wecare_backup_verify((SELECT name FROM wecare_backup_list LIMIT 1)) AS v);

.print '== stats'
SELECT json_extract(s, '$.count') AS count, json_extract(s, '$.total_bytes') AS total_bytes,
       json_extract(s, '$.newest') AS newest, json_extract(s, '$.last_success_at') AS last_success_at
FROM (SELECT wecare_backup_stats() AS s);

.print '== keep only 1 now, then clean up'
SELECT wecare_backup_config('keep_last', 1) AS keep_last;
SELECT wecare_backup_cleanup() AS deleted;
SELECT name, kind, verify_ok, retain_reason FROM wecare_backup_list;
