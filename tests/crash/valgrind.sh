#!/bin/sh
# valgrind memcheck on the sqlite3 shell running the sql/ scripts (demo,
# nightly.sh, restore_drill.sh) and an extra script that reaches verify, restore,
# export, path, schedule and the error paths. Fails on any memory error or
# definite leak. Run from the repository root: `make valgrind`.
set -eu
cd "$(dirname "$0")/../.."
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)"; exit 1; }
work=$(mktemp -d /tmp/wecare_valgrind.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin"
cat > "$work/bin/sqlite3" <<WRAP
#!/bin/sh
exec valgrind --tool=memcheck --quiet --error-exitcode=99 --leak-check=full \
  --errors-for-leak-kinds=definite --show-leak-kinds=definite --num-callers=30 \
  --log-file="$work/valgrind.%p.log" /usr/bin/sqlite3 "\$@"
WRAP
chmod +x "$work/bin/sqlite3"
PATH="$work/bin:$PATH"; export PATH
runs=0

run() {  # run <label> <database> <script> [errors-expected]
  runs=$((runs + 1))
  rc=0
  sqlite3 "$2" < "$3" > "$work/out.txt" 2>&1 || rc=$?
  # 99 = valgrind found an error; any other failure counts unless the script
  # checks error paths on purpose.
  if [ "$rc" = 99 ] || { [ "$rc" != 0 ] && [ -z "${4:-}" ]; }; then
    echo "valgrind: FAILED on $1 (exit $rc)"; tail -20 "$work/out.txt"; cat "$work"/valgrind.*.log; exit 1
  fi
  echo "valgrind: $1 clean"
}

/usr/bin/sqlite3 "$work/wecare.db" < sql/sample.sql > /dev/null
run "sql/demo.sql" "$work/wecare.db" sql/demo.sql

# The scripts call sqlite3 themselves; every call runs under valgrind.
script() {  # script <label> <command...>
  runs=$((runs + 1))
  label=$1; shift
  if ! "$@" > "$work/out.txt" 2>&1; then
    echo "valgrind: FAILED on $label"; tail -20 "$work/out.txt"; cat "$work"/valgrind.*.log; exit 1
  fi
  echo "valgrind: $label clean"
}
script "sql/nightly.sh" sh sql/nightly.sh --critical users,patients "$work/wecare.db"

cat > "$work/extra.sql" <<SQL
.load dist/wecare_backup
.bail off
SELECT wecare_backup_config('keep_last', 2);
SELECT wecare_backup_create('extra') IS NOT NULL;
SELECT json_extract(wecare_backup_verify((SELECT name FROM wecare_backup_list LIMIT 1)), '\$.ok');
SELECT wecare_backup_path((SELECT name FROM wecare_backup_list LIMIT 1)) IS NOT NULL;
SELECT wecare_backup_export((SELECT name FROM wecare_backup_list LIMIT 1), '$work') IS NOT NULL;
SELECT json_extract(wecare_backup_verify('$work/' || (SELECT name FROM wecare_backup_list LIMIT 1)), '\$.ok');
SELECT wecare_backup_restore((SELECT name FROM wecare_backup_list WHERE kind <> 'safety' LIMIT 1),
                             'I understand this will replace the current database') IS NOT NULL;
SELECT wecare_backup_schedule(1);
.system sleep 3
SELECT wecare_backup_schedule(0);
SELECT wecare_backup_cleanup() >= 0;
SELECT count(*) > 0 FROM wecare_backup_list;
SELECT wecare_backup_stats() IS NOT NULL;
SELECT wecare_backup_verify('../etc/passwd');
SELECT wecare_backup_verify(NULL);
SELECT wecare_backup_restore('x', 'no');
SELECT wecare_backup_config('nope');
SELECT wecare_backup_config('keep_last', -1);
SELECT wecare_backup_create(zeroblob(10));
SELECT wecare_backup_schedule('soon');
SELECT wecare_backup_export('wecare_backup_2000-01-01_00-00-00.db', '');
SQL
run "extra script (verify, export, restore, schedule, errors)" "$work/wecare.db" "$work/extra.sql" errors-expected

script "sql/restore_drill.sh" sh sql/restore_drill.sh "$work/wecare.db" "$work/drill"
if grep -l . "$work"/valgrind.*.log >/dev/null 2>&1; then
  echo "valgrind: reports found"; cat "$work"/valgrind.*.log; exit 1
fi
echo "valgrind: $runs scripts, $(ls "$work"/valgrind.*.log | wc -l) sqlite3 processes, no memory error, no definite leak"
