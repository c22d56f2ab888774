#!/usr/bin/env bash
# Runs every Corvus test on this machine: installs what is missing, builds,
# runs the unit and integration tests, then builds with AddressSanitizer
# and UndefinedBehaviorSanitizer and runs the unit tests again.
#   scripts/test.sh              everything
#   CORVUS_SKIP_SANITIZE=1 ...   skip the sanitizer pass
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
jobs="$(nproc)"

"$root/scripts/setup-debian.sh"

echo "== build" >&2
build="$("$root/scripts/build.sh" | tail -n 1)"
echo "== unit and integration tests" >&2
ctest --test-dir "$build" --output-on-failure -j "$jobs" --timeout 900

if [ -z "${CORVUS_SKIP_SANITIZE:-}" ]; then
  echo "== sanitizer build (ASan + UBSan)" >&2
  asan="$("$root/scripts/build.sh" --sanitize | tail -n 1)"
  echo "== unit tests under the sanitizers" >&2
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$asan" --output-on-failure -j "$jobs" -L unit \
      --timeout 900
fi
