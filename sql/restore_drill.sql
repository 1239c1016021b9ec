-- The restore drill, part 2: run on a scratch database (never the live one) by
-- sql/restore_drill.sh, with `dir` pointing at the drill folder that holds one
-- exported backup. It verifies the copy, restores it into the scratch database
-- and checks that every table has the row count recorded when the backup was made.
.bail on
.mode line
SELECT name AS drill_backup FROM wecare_backup_list WHERE kind <> 'safety' LIMIT 1;
CREATE TEMP TABLE drill AS
  SELECT wecare_backup_verify((SELECT name FROM wecare_backup_list WHERE kind <> 'safety' LIMIT 1)) AS report;
SELECT json_extract(report, '$.ok') AS verified, json_extract(report, '$.integrity') AS integrity FROM drill;
-- Restore takes the name as a parameter: a statement that read a table itself
-- would keep a rollback-journal database locked.
.parameter set @name "(SELECT name FROM wecare_backup_list WHERE kind <> 'safety' LIMIT 1)"
SELECT wecare_backup_restore(@name, 'I understand this will replace the current database') AS restore;
SELECT (SELECT count(*) FROM users) AS users_restored, (SELECT count(*) FROM patients) AS patients_restored,
       json_extract(report, '$.rows.users') AS users_recorded,
       json_extract(report, '$.rows.patients') AS patients_recorded FROM drill;
SELECT CASE WHEN (SELECT count(*) FROM patients) = json_extract(report, '$.rows.patients')
             AND (SELECT count(*) FROM users) = json_extract(report, '$.rows.users')
            THEN 'DRILL PASSED' ELSE 'DRILL FAILED' END AS result FROM drill;
