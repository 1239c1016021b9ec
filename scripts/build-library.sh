#!/bin/sh
# Builds the extension for a package and copies it to OUT: npm's install step
# and prebuilt (bindings/node), the Python wheel (bindings/python). It runs the
# Makefile beside it, so the sources and flags are build.def's, the same as
# `make` at the top of the repository; the copy has its debug information
# stripped (`strip --strip-debug`, when strip is there), the code is the same.
#
# Before compiling it checks what the build needs and, when something is
# missing, names the Debian packages to install and stops.
#
#   sh scripts/build-library.sh OUT
#
# Environment: CXX (default g++) and CXXFLAGS as for make; WECARE_BACKUP_JOBS,
# the number of parallel compiles (default: the number of CPUs).
set -eu
if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: sh scripts/build-library.sh OUT" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")/.." && pwd)
out=$1
# Unquoted on purpose where it runs: CXX may be a command with arguments ("ccache g++").
cxx=${CXX:-g++}

# Every package the build needs on Debian (make setup installs them and more).
needed="g++ make libsqlite3-dev libxxhash-dev libcurl4-openssl-dev libzstd-dev libsodium-dev libexpat1-dev"
missing=""
reasons=""
lack() {
  case " $missing " in *" $1 "*) ;; *) missing="$missing $1" ;; esac
  reasons="$reasons
  - $2"
}

# The Debian package of each library build.def's LIBS links.
package_of_lib() {
  case $1 in
    curl) echo libcurl4-openssl-dev ;;
    zstd) echo libzstd-dev ;;
    sodium) echo libsodium-dev ;;
    expat) echo libexpat1-dev ;;
    *) echo "lib$1-dev" ;;
  esac
}

command -v make >/dev/null 2>&1 || lack make "make is not installed"
if ! $cxx --version >/dev/null 2>&1; then
  if [ -n "${CXX:-}" ]; then
    lack g++ "the C++ compiler CXX='$cxx' does not run: point CXX at a C++17 compiler, or unset it to use g++"
  else
    lack g++ "no C++ compiler: g++ is not installed"
  fi
else
  probe=$(mktemp -d)
  trap 'rm -rf "$probe"' EXIT
  for pair in sqlite3ext.h:libsqlite3-dev xxhash.h:libxxhash-dev; do
    header=${pair%%:*}
    printf '#include <%s>\n' "$header" >"$probe/header.cpp"
    $cxx -fsyntax-only "$probe/header.cpp" >/dev/null 2>&1 ||
      lack "${pair#*:}" "the header <$header> is missing"
  done
  printf 'int main() { return 0; }\n' >"$probe/main.cpp"
  for word in $(sed -n 's/^LIBS[ 	]*=//p' "$here/build.def"); do
    case $word in
      -l*)
        $cxx "$probe/main.cpp" -o "$probe/main" "$word" >/dev/null 2>&1 ||
          lack "$(package_of_lib "${word#-l}")" "the library $word is missing"
        ;;
    esac
  done
fi

if [ -n "$missing" ]; then
  cat >&2 <<MSG
wecare_backup: cannot build the extension from source:$reasons
On Debian or Ubuntu, install what is missing:
  sudo apt-get install$missing
(the build needs: $needed)
MSG
  exit 1
fi

jobs=${WECARE_BACKUP_JOBS:-$(nproc 2>/dev/null || echo 2)}
# A make that runs npm or pip must not hand its jobserver down to this one.
unset MAKEFLAGS MFLAGS MAKELEVEL
make -C "$here" -j"$jobs" dist/wecare_backup.so

mkdir -p "$(dirname "$out")"
cp "$here/dist/wecare_backup.so" "$out.tmp"
if command -v strip >/dev/null 2>&1; then strip --strip-debug "$out.tmp"; fi
mv "$out.tmp" "$out"
# The objects are only a step on the way.
rm -rf "$here/build" "$here/dist"
echo "wecare_backup: built $out"
