#!/bin/sh
# Nightly backup of any SQLite database, for cron: applies the keep rules and
# any other setting, creates a verified backup, optionally exports it to a
# mounted share, and prints the stats. Every line it writes starts with the
# UTC time. Run it as the database's owner (it refuses anyone else, root too).
#
#   nightly.sh [options] DATABASE
#     --critical T1,T2   tables that must exist and not be empty for a backup
#                        to verify (default: none)
#     --keep-last N, --keep-daily N, --keep-weekly N, --keep-monthly N
#                        the keep rules (default: 7, 7, 4, 6)
#     --dir DIR          the backup directory (default: backups/ beside the
#                        database; a directory you name must exist)
#     --label TEXT       the backup's label (default: nightly)
#     --export DIR       also copy the new backup into DIR, checked
#     --set KEY=VALUE    any setting of wecare_backup_config (offsite,
#                        encrypt_key_file, offsite_keep_last, ...); repeatable
#
# The extension: $WECARE_BACKUP_EXT, else found relative to this script
# (sql/common.sh). The SQL it runs is nightly.sql, beside it.
# Exit status: 0 done; 1 the backup failed (nothing was deleted); 2 refused.
# Its functions run through wb_run_stamped, which shellcheck cannot follow:
# shellcheck disable=SC2317
set -u
wb_script=nightly.sh
wb_here=$(cd -P "$(dirname -- "$0")" && pwd -P)
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$wb_here/common.sh"

usage() {
    wb_refuse "usage: nightly.sh [--critical T1,T2] [--keep-last N] [--keep-daily N] [--keep-weekly N]" \
        "[--keep-monthly N] [--dir DIR] [--label TEXT] [--export DIR] [--set KEY=VALUE]... DATABASE"
}

nightly() {
    label=nightly
    export_dir=""
    db=""
    while [ $# -gt 0 ]; do
        wb_setting_option "$@"
        if [ "$wb_used" -gt 0 ]; then
            shift "$wb_used"
            continue
        fi
        case $1 in
        --keep-last | --keep-daily | --keep-weekly | --keep-monthly)
            [ $# -ge 2 ] || usage
            key=$(printf '%s' "${1#--}" | tr - _)
            wb_set "$key" "$2"
            shift 2
            ;;
        --label)
            [ $# -ge 2 ] || usage
            label=$2
            shift 2
            ;;
        --export)
            [ $# -ge 2 ] || usage
            export_dir=$(wb_absolute "$2") || wb_refuse "the export folder '$2' does not exist"
            shift 2
            ;;
        -h | --help) usage ;;
        -*) wb_refuse "unknown option '$1'" ;;
        *)
            [ -z "$db" ] || usage
            db=$1
            shift
            ;;
        esac
    done
    [ -n "$db" ] || usage
    [ -f "$db" ] || wb_refuse "'$db' is not a database file"
    wb_check_owner "$db"
    wb_find_extension
    if [ -n "$export_dir" ]; then
        export_param="('@export_dir', $(wb_sql_quote "$export_dir"))"
    else
        export_param="('@export_dir', NULL)"
    fi
    wb_say "backing up $db"
    if ! wb_sqlite3 -bail -cmd ".load '$wb_ext'" -cmd ".parameter init" -cmd "$(wb_settings_sql)" \
        -cmd "REPLACE INTO temp.sqlite_parameters(key, value) VALUES ('@label', $(wb_sql_quote "$label")), $export_param;" \
        "$db" <"$wb_here/nightly.sql"; then
        wb_fail "FAILED: no backup was made today, and none was deleted"
    fi
    wb_say "done"
}

wb_run_stamped nightly "$@"
