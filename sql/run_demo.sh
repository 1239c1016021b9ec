#!/bin/sh
# Builds a fresh sample database in demo/ and runs sql/demo.sql on it.
set -eu
cd "$(dirname "$0")/.."
rm -rf demo
mkdir -p demo
sqlite3 demo/wecare.db < sql/sample.sql > /dev/null
sqlite3 demo/wecare.db < sql/demo.sql
echo "demo database: demo/wecare.db   backups: demo/backups/"
