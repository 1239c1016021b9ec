#!/bin/sh
# Copies what building the extension needs into DEST, for the packages to carry
# (bindings/node's `npm pack`, bindings/python's wheel build):
#
#   DEST/Makefile, DEST/build.def   the one build definition, as they are
#   DEST/ext/                       the sources (*.cpp, *.hpp)
#   DEST/scripts/build-library.sh   checks what the build needs, runs make
#
# so that `sh DEST/scripts/build-library.sh OUT` builds exactly what `make`
# builds here, with the same sources and flags.
#
#   sh scripts/stage-sources.sh DEST      (DEST is emptied first)
set -eu
if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: sh scripts/stage-sources.sh DEST" >&2
  exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
dest=$1

rm -rf "$dest"
mkdir -p "$dest/scripts"
cp "$root/Makefile" "$root/build.def" "$dest/"
cp "$root/scripts/build-library.sh" "$dest/scripts/"
# Sources only: no objects, editor files or anything else that lies in ext/.
(cd "$root" && find ext -type f \( -name '*.cpp' -o -name '*.hpp' \)) | while read -r file; do
  mkdir -p "$dest/$(dirname "$file")"
  cp "$root/$file" "$dest/$file"
done
