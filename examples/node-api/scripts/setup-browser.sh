#!/bin/sh
# Installs what the operator page's browser tests (test/page.test.js) need on
# Debian 12: Debian's Chromium and a font for it, only when missing.
# playwright-core (a dev dependency) drives it and downloads no browser.
# Run as root, or with sudo available.
set -eu
packages="chromium fonts-liberation"
missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
  echo "setup-browser: all packages present"
  exit 0
fi
echo "setup-browser: installing$missing"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
