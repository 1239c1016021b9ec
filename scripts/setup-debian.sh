#!/bin/sh
# Installs what building and testing wecare_backup needs on Debian 12, only
# when something is missing. Run as root, or with sudo available.
set -eu
packages="build-essential cmake sqlite3 libsqlite3-dev libxxhash-dev python3 python3-pytest python3-venv python3-pip python3-setuptools python3-wheel libgtest-dev clang libclang-rt-14-dev libcurl4-openssl-dev libzstd-dev libsodium-dev libexpat1-dev clang-tidy cppcheck clang-format"
missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
  echo "setup: all packages present"
  exit 0
fi
echo "setup: installing$missing"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
