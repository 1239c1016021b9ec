-- The restore drill, part 2: run by sql/restore_drill.sh on a new scratch
-- database in the drill folder (never the live one), in that folder, with
-- the extension loaded and these parameters:
--   @backup_dir  the drill's backup folder, holding the exported copy
--   @prefix      the live database's backup prefix
--   @name        the copy's name
-- and, in the folder, record.json: what wecare_backup_verify reported when the
-- live database's connection checked the copy against the record made at
-- backup time (checksum, integrity_check, the row count of every table).
-- It restores the copy into the scratch database, counts the rows of every
-- table there, and compares each count with the record. It works on any
-- database: the tables are read from the schema.
.bail on
.mode list
.headers off
SELECT 'scratch backups in ' || wecare_backup_config('dir', @backup_dir) || ', prefix '
       || wecare_backup_config('prefix', @prefix);

CREATE TEMP TABLE record AS SELECT CAST(readfile('record.json') AS TEXT) AS report;
CREATE TEMP TABLE record_check AS
  SELECT coalesce(json_valid(report) AND json_extract(report, '$.ok') = 1
                  AND json_extract(report, '$.checksum') = 'match', 0) AS ok
  FROM record;
SELECT CASE WHEN ok THEN 'the copy matches the record made at backup time: checksum, integrity_check, '
                         || json_extract(report, '$.tables') || ' tables with their row counts'
            ELSE 'the copy does not match the record made at backup time:' END
FROM record, record_check;
SELECT '  ' || value FROM record, json_each(CASE WHEN json_valid(report) THEN report ELSE '{}' END, '$.errors');
SELECT '  checksum: ' || json_extract(report, '$.checksum') || ' (no record of this backup to compare with)'
FROM record WHERE json_valid(report) AND json_extract(report, '$.checksum') = 'none';
SELECT '  no report: the copy could not be verified' FROM record WHERE NOT coalesce(json_valid(report), 0);

-- Restore only a copy that matches the record. The condition is a parameter:
-- a statement that read a table itself would keep the scratch database locked.
.parameter set @restore "(SELECT ok FROM temp.record_check)"
SELECT 'restored ' || json_extract(wecare_backup_restore(@name, 'I understand this will replace the current database'),
                                   '$.restored')
WHERE @restore;

-- Count the rows of every table of the restored database (the tables the record
-- counts: those with rows of their own, not SQLite's internal ones).
CREATE TEMP TABLE restored(name TEXT PRIMARY KEY, rows INTEGER);
.output restored_counts.sql
SELECT 'INSERT INTO temp.restored VALUES (' || quote(name) || ', (SELECT count(*) FROM main."'
       || replace(name, '"', '""') || '"));'
FROM main.sqlite_master WHERE type = 'table' AND rootpage > 0 AND name NOT LIKE 'sqlite\_%' ESCAPE '\';
.output
.read restored_counts.sql

CREATE TEMP TABLE recorded AS
  SELECT key AS name, value AS rows
  FROM record, json_each(CASE WHEN json_valid(report) THEN report ELSE '{}' END, '$.rows');
CREATE TEMP TABLE comparison AS
  SELECT t.name, r.rows AS recorded, s.rows AS restored
  FROM (SELECT name FROM recorded UNION SELECT name FROM restored) AS t
  LEFT JOIN recorded AS r ON r.name = t.name
  LEFT JOIN restored AS s ON s.name = t.name;
SELECT 'table ' || quote(name) || ': '
       || CASE WHEN restored IS NULL THEN 'missing after the restore (' || recorded || ' rows recorded)'
               WHEN recorded IS NULL THEN 'restored with ' || restored || ' rows, but not in the record'
               ELSE restored || ' rows restored, ' || recorded || ' recorded at backup time' END
FROM comparison WHERE @restore AND recorded IS NOT restored ORDER BY name;
SELECT tables || ' tables, ' || rows || ' rows: every count is the one recorded at backup time'
FROM (SELECT count(*) AS tables, coalesce(sum(restored), 0) AS rows FROM comparison)
WHERE @restore AND NOT EXISTS (SELECT 1 FROM comparison WHERE recorded IS NOT restored);

SELECT CASE WHEN @restore AND NOT EXISTS (SELECT 1 FROM comparison WHERE recorded IS NOT restored)
            THEN 'DRILL PASSED' ELSE 'DRILL FAILED' END;
