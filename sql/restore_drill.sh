#!/bin/sh
# Restore drill for any SQLite database: proves that a backup restores, and
# that the restored database has, in every table, the row count recorded when
# the backup was made. The database and its backup directory are only read.
# Every line it writes starts with the UTC time. Run it as the database's owner.
#
#   restore_drill.sh [options] DATABASE [DRILL_DIR]
#     DRILL_DIR          a new or empty folder for the drill; an existing folder
#                        with anything in it is refused. Default: a new folder
#                        made with mktemp, removed once the drill passes.
#     --backup NAME      the backup to drill (default: the newest regular
#                        backup that verified ok)
#     --dir DIR, --set KEY=VALUE
#                        as given to nightly.sh, so the drill finds the same
#                        backups (dir, prefix)
#     --critical T1,T2   tables that must exist and not be empty
#     --keep             keep the default drill folder when the drill passes
#
# 1. On the live database: exports the backup into DRILL_DIR/backups (a copy
#    read back and checksum-checked), then verifies that copy against the
#    record made at backup time, which stays in the live backup directory
#    (checksum, integrity_check, the row count of every table); the report
#    goes to DRILL_DIR/record.json. Nothing is written to the live side.
# 2. On a new DRILL_DIR/scratch.db: restore_drill.sql restores the copy and
#    compares the row count of every table with the record.
# It prints DRILL PASSED or DRILL FAILED. Exit status: 0 passed; 1 failed
# (the drill folder is kept for a look); 2 refused, nothing created.
# Its functions run through wb_run_stamped, which shellcheck cannot follow:
# shellcheck disable=SC2317
set -u
wb_script=restore_drill.sh
wb_here=$(cd -P "$(dirname -- "$0")" && pwd -P)
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$wb_here/common.sh"

usage() {
    wb_refuse "usage: restore_drill.sh [--backup NAME] [--dir DIR] [--critical T1,T2] [--set KEY=VALUE]..." \
        "[--keep] DATABASE [DRILL_DIR]"
}

# The sqlite3 shell on the live database, with the extension and the settings
# given on the command line; prints only what the arguments that follow print.
live_sql() {
    wb_sqlite3 -bail -cmd ".load '$wb_ext'" -cmd ".parameter init" -cmd "$(wb_settings_sql)" \
        -cmd ".output /dev/null" -cmd "SELECT wecare_backup_config(key, value) FROM json_each(@settings)" \
        -cmd ".output" -cmd ".mode list" -cmd ".headers off" "$db" "$@"
}

# The line after `tag=` in $info.
field() {
    printf '%s\n' "$info" | sed -n "s/^$1=//p"
}

refuse_unless_empty() {
    entries=$(ls -A -- "$drill_dir") || wb_refuse "cannot read the folder '$drill_dir'"
    if [ -n "$entries" ]; then
        wb_refuse "'$drill_dir' is not empty; give a new or empty folder (the drill never deletes" \
            "or overwrites anything it did not create)"
    fi
}

drill() {
    backup=""
    keep=no
    db=""
    drill_dir=""
    while [ $# -gt 0 ]; do
        wb_setting_option "$@"
        if [ "$wb_used" -gt 0 ]; then
            shift "$wb_used"
            continue
        fi
        case $1 in
        --backup)
            [ $# -ge 2 ] || usage
            backup=$2
            shift 2
            ;;
        --keep)
            keep=yes
            shift
            ;;
        -h | --help) usage ;;
        -*) wb_refuse "unknown option '$1'" ;;
        *)
            if [ -z "$db" ]; then
                db=$1
            elif [ -z "$drill_dir" ]; then
                drill_dir=$1
            else
                usage
            fi
            shift
            ;;
        esac
    done
    [ -n "$db" ] || usage
    [ -f "$db" ] || wb_refuse "'$db' is not a database file"
    db=$(wb_absolute "$db")
    wb_check_owner "$db"
    wb_find_extension
    umask 077 # the drill's copies hold the database's data

    # The drill folder: never one that holds anything (the database's own
    # folder least of all), checked before the database is even opened.
    if [ -n "$drill_dir" ]; then
        drill=$(wb_absolute "$drill_dir") || wb_refuse "the folder that would hold '$drill_dir' does not exist"
        if [ "$drill" = "$(dirname -- "$db")" ]; then
            wb_refuse "'$drill_dir' is the database's own folder; give a new or empty folder for the drill"
        elif [ -L "$drill_dir" ] || { [ -e "$drill_dir" ] && [ ! -d "$drill_dir" ]; }; then
            wb_refuse "'$drill_dir' is a symbolic link or not a folder; give a new or empty folder for the drill"
        elif [ -d "$drill_dir" ]; then
            refuse_unless_empty
        fi
        case $drill in *"
"*) wb_refuse "the drill folder's path contains a line break" ;; esac
    fi

    # What to drill, and where the live backups are: read only.
    if [ -n "$backup" ]; then
        pick="SELECT name FROM wecare_backup_list WHERE name = $(wb_sql_quote "$backup") AND path IS NOT NULL"
    else
        pick="SELECT name FROM wecare_backup_list WHERE kind <> 'safety' AND verify_ok = 1 AND path IS NOT NULL LIMIT 1"
    fi
    info=$(live_sql "SELECT 'prefix=' || wecare_backup_setting('prefix')" \
        "SELECT 'dir=' || json_extract(wecare_backup_stats(), '\$.dir')" \
        "SELECT 'backup=' || coalesce(($pick), '')") || wb_fail "DRILL FAILED: cannot read the backups of '$db'"
    prefix=$(field prefix)
    backup_dir=$(field dir)
    name=$(field backup)
    if [ -n "$drill_dir" ]; then
        live_backups=$(cd -P -- "$backup_dir" 2>/dev/null && pwd -P) || live_backups=$backup_dir
        case $drill/ in
        "$live_backups"/*) wb_refuse "'$drill_dir' is in the backup directory '$backup_dir'; give a folder elsewhere" ;;
        esac
    fi
    if [ -z "$name" ]; then
        if [ -n "$backup" ]; then
            wb_fail "DRILL FAILED: there is no local backup '$backup' in '$backup_dir'"
        fi
        wb_fail "DRILL FAILED: no backup in '$backup_dir' has verified ok; run nightly.sh first"
    fi

    if [ -z "$drill_dir" ]; then
        drill=$(mktemp -d "${TMPDIR:-/tmp}/wecare-drill.XXXXXX") || wb_fail "cannot create a drill folder"
        made_drill=temporary
    elif [ -d "$drill_dir" ]; then
        refuse_unless_empty # again: the live database was read meanwhile
        made_drill=no
    else
        mkdir -m 700 -- "$drill_dir" || wb_refuse "cannot create the drill folder '$drill_dir'"
        made_drill=yes
    fi
    wb_say "drilling $name of $db in $drill"
    mkdir -m 700 -- "$drill/backups" || wb_fail "DRILL FAILED: cannot create '$drill/backups'"
    q_name=$(wb_sql_quote "$name")
    q_copy=$(wb_sql_quote "$drill/backups/$name")

    # 1. The copy, checked against the record made at backup time.
    if ! (cd -- "$drill" && live_sql \
        "SELECT 'exported ' || wecare_backup_export($q_name, $(wb_sql_quote "$drill/backups"))" \
        ".once record.json" "SELECT wecare_backup_verify($q_copy)"); then
        wb_fail "DRILL FAILED: the backup could not be exported and checked; the drill folder is kept: $drill"
    fi

    # 2. The restore into a scratch database, compared with the record.
    (cd -- "$drill" && wb_sqlite3 -bail -cmd ".load '$wb_ext'" -cmd ".parameter init" \
        -cmd "REPLACE INTO temp.sqlite_parameters(key, value) VALUES ('@backup_dir', $(wb_sql_quote "$drill/backups")),
              ('@prefix', $(wb_sql_quote "$prefix")), ('@name', $q_name);" \
        scratch.db <"$wb_here/restore_drill.sql" | tee result.txt)
    if ! grep -qx 'DRILL PASSED' "$drill/result.txt"; then
        grep -qx 'DRILL FAILED' "$drill/result.txt" || wb_say "DRILL FAILED"
        wb_fail "the drill folder is kept for a look: $drill"
    fi
    if [ "$made_drill" = temporary ] && [ "$keep" = no ]; then
        rm -rf -- "$drill" # made by mktemp above: nothing in it is anyone else's
        wb_say "the drill folder was removed"
    else
        wb_say "the drill folder is kept: $drill"
    fi
}

wb_run_stamped drill "$@"
