# Shared by nightly.sh and restore_drill.sh (sourced, never run on its own):
# UTC-stamped output, finding the extension, SQL quoting, the database-owner
# check and the settings both scripts take (--dir, --critical, --set).
#
# The extension is $WECARE_BACKUP_EXT when set (a path, with or without .so);
# otherwise it is found relative to the scripts: <prefix>/lib/wecare_backup/
# beside an installed <prefix>/share/wecare_backup/, or dist/ beside the
# sql/ folder of a source tree.
# The sourcing script sets wb_script (its name, for messages) and wb_here (its folder).
# shellcheck shell=sh disable=SC2154,SC2034

wb_now() {
    date -u +%Y-%m-%dT%H:%M:%SZ
}

# Copies standard input to standard output, each line prefixed with the UTC
# time it arrived: a cron log has no time otherwise.
wb_stamp() {
    while IFS= read -r wb_line || [ -n "$wb_line" ]; do
        printf '%s %s\n' "$(wb_now)" "$wb_line"
    done
}

# Runs "$@" (the script's main function) in a subshell with every line it
# writes stamped: its standard output onto ours, its standard error onto ours;
# then exits with its status. Everything the script and the programs it runs
# print goes through here.
wb_run_stamped() {
    exec 3>&1 4>&2
    wb_status=$({ { {
        wb_status=0
        ("$@") 3>&- 4>&- 5>&- || wb_status=$?
        echo "$wb_status" >&5
    } | wb_stamp >&3; } 2>&1 | wb_stamp >&4; } 5>&1)
    exit "${wb_status:-1}"
}

wb_say() {
    printf '%s: %s\n' "$wb_script" "$*"
}

# Refusals (bad usage, a folder that is not empty, the wrong user) exit 2 and
# change nothing; failures exit 1.
wb_refuse() {
    printf '%s: %s\n' "$wb_script" "$*" >&2
    exit 2
}

wb_fail() {
    printf '%s: %s\n' "$wb_script" "$*" >&2
    exit 1
}

# $1 as an SQL string literal.
wb_sql_quote() {
    printf "'%s'" "$(printf '%s' "$1" | sed "s/'/''/g")"
}

# An absolute path for $1, which need not exist (its folder must).
wb_absolute() {
    if [ -d "$1" ]; then
        (cd -P -- "$1" && pwd -P)
    else
        wb_parent=$(cd -P -- "$(dirname -- "$1")" 2>/dev/null && pwd -P) || return 1
        printf '%s/%s\n' "${wb_parent%/}" "$(basename -- "$1")"
    fi
}

# Sets wb_ext to the extension's path (see the top of this file).
wb_find_extension() {
    if [ -n "${WECARE_BACKUP_EXT:-}" ]; then
        wb_ext=$WECARE_BACKUP_EXT
        case $wb_ext in /*) ;; *) wb_ext=$(pwd -P)/$wb_ext ;; esac
    elif [ -f "$wb_here/../../lib/wecare_backup/wecare_backup.so" ]; then
        wb_ext=$(cd -P "$wb_here/../../lib/wecare_backup" && pwd -P)/wecare_backup.so
    elif [ -f "$wb_here/../dist/wecare_backup.so" ]; then
        wb_ext=$(cd -P "$wb_here/../dist" && pwd -P)/wecare_backup.so
    else
        wb_refuse "cannot find wecare_backup.so (looked in $wb_here/../../lib/wecare_backup and" \
            "$wb_here/../dist); run make install, or set WECARE_BACKUP_EXT to its path"
    fi
    case $wb_ext in
    *\'* | *"
"*) wb_refuse "the extension's path '$wb_ext' contains a quote or a line break; move it" ;;
    esac
}

# The sqlite3 shell, its output line-buffered so that each line is stamped
# when it is written, not when the shell exits.
wb_sqlite3() {
    if command -v stdbuf >/dev/null 2>&1; then
        stdbuf -oL sqlite3 "$@"
    else
        sqlite3 "$@"
    fi
}

# A backup run by another user than the database's owner (root included)
# creates files the application cannot use: the default backup directory
# (mode 0700, owned by that user), -wal and -shm files. Refuse instead.
wb_check_owner() {
    wb_owner=$(stat -c %u -- "$1") || wb_refuse "cannot examine '$1'"
    if [ "$wb_owner" != "$(id -u)" ]; then
        wb_refuse "run this as the owner of '$1' ($(stat -c %U -- "$1")), e.g. with" \
            "sudo -u $(stat -c %U -- "$1"); run by $(id -un), it would create files there (a mode 0700" \
            "backup directory, -wal and -shm files) that the application could not read"
    fi
}

# Settings given on the command line, gathered as json_object() arguments:
# wb_set KEY VALUE.
wb_settings=""
wb_set() {
    case $1 in
    "" | *[!a-z0-9_]*) wb_refuse "'$1' is not a setting name (see wecare_backup_config in the README)" ;;
    esac
    wb_settings="$wb_settings${wb_settings:+, }'$1', $(wb_sql_quote "$2")"
}

# The options both scripts take for the settings; sets wb_used to how many
# arguments it used (0: not one of them).
wb_setting_option() {
    wb_used=0
    case $1 in
    --dir)
        [ $# -ge 2 ] || wb_refuse "--dir needs a folder"
        wb_set dir "$2"
        ;;
    --critical)
        [ $# -ge 2 ] || wb_refuse "--critical needs a comma-separated list of tables"
        wb_set critical_tables "$2"
        ;;
    --set)
        [ $# -ge 2 ] || wb_refuse "--set needs KEY=VALUE"
        case $2 in *=*) ;; *) wb_refuse "--set needs KEY=VALUE, not '$2'" ;; esac
        wb_set "${2%%=*}" "${2#*=}"
        ;;
    *) return 0 ;;
    esac
    wb_used=2
}

# The SQL that gives the sqlite3 shell's parameter @settings the settings
# gathered by wb_set (after .parameter init).
wb_settings_sql() {
    printf "REPLACE INTO temp.sqlite_parameters(key, value) VALUES ('@settings', json_object(%s));" "$wb_settings"
}
