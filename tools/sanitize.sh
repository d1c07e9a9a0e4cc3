#!/usr/bin/env bash
# Builds the C++ suite (the GoogleTest programs, the fuzz replays and the CLI) with sanitizers in
# build-asan/ and runs it with ctest. See docs/hardening.md for the last measured result.
#
#   bash tools/sanitize.sh [CTEST ARGS...]      e.g. bash tools/sanitize.sh -R test_yaml
#
# Environment: LCSIM_SANITIZE (default "address;undefined"), SANITIZE_JOBS (compile and test jobs,
# default 2), SANITIZE_BUILD (default build-asan). Every sanitizer finding stops its test program
# (-fno-sanitize-recover, halt_on_error), so a finding is a failed test. Prints the ctest counts
# and the minutes it took.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
san="${LCSIM_SANITIZE:-address;undefined}"
jobs="${SANITIZE_JOBS:-2}"
build="${SANITIZE_BUILD:-build-asan}"
t0=$(date +%s)
mkdir -p "$build"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
  -DLCSIM_SANITIZE="$san" -DLCSIM_BUILD_TESTS=ON -DLCSIM_BUILD_BENCHES=OFF -DLCSIM_BUILD_CLI=ON \
  >"$build/configure.log" 2>&1 || { tail -n 30 "$build/configure.log" >&2; exit 1; }
nice cmake --build "$build" -j"$jobs"
t1=$(date +%s)
# detect_leaks: LeakSanitizer too (no suppressions: a leak is a finding).
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
status=0
nice ctest --test-dir "$build" --output-on-failure -j"$jobs" --timeout 1800 "$@" || status=$?
t2=$(date +%s)
echo "sanitize.sh: LCSIM_SANITIZE=$san: build $(((t1 - t0) / 60)) min $(((t1 - t0) % 60)) s, ctest $(((t2 - t1) / 60)) min $(((t2 - t1) % 60)) s, exit $status"
exit "$status"
