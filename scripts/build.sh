#!/usr/bin/env bash
# Configures and builds Corvus with CMake and Ninja.
#   scripts/build.sh [TARGET...]  release build in build/ (all targets, or
#                                 only those named, e.g. corvus)
#   scripts/build.sh --sanitize  ASan + UBSan build in build-asan/
#   scripts/build.sh --fuzz      libFuzzer targets (clang 16) in build-fuzz/
# Prints the build folder on the last line of stdout.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

# ccache reuses objects across clones in different folders (CI builds a
# fresh clone each time) when paths are taken relative to the clone.
export CCACHE_BASEDIR="$root"
export CCACHE_NOHASHDIR=1

dir="$root/build"
flags=()
mode="${1:-}"
case "$mode" in
  --sanitize)
    dir="$root/build-asan"
    flags=(-DCORVUS_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
    ;;
  --fuzz)
    dir="$root/build-fuzz"
    flags=(-DCORVUS_FUZZ=ON -DCORVUS_TESTS=OFF -DCMAKE_BUILD_TYPE=Debug
           -DCMAKE_CXX_COMPILER=clang++-16)
    ;;
  --*) echo "usage: $0 [--sanitize|--fuzz] [TARGET...]" >&2; exit 2 ;;
  *) mode="" ;;
esac
if [ -n "$mode" ]; then shift; fi

if [ ! -f "$dir/build.ninja" ]; then
  cmake -S "$root" -B "$dir" -G Ninja "${flags[@]}" >&2
fi
ninja -C "$dir" "$@" >&2
echo "$dir"
