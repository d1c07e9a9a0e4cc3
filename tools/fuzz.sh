#!/usr/bin/env bash
# Builds the libFuzzer harnesses of tests/fuzz/ with clang (AddressSanitizer + UBSan) in
# build-fuzz/ and runs each for a fixed number of executions. See docs/hardening.md.
#
#   bash tools/fuzz.sh [RUNS] [HARNESS...]     RUNS executions per harness (default 100000);
#                                              harnesses: scenario events snapshots funnel_counts contacts
#
# Environment: FUZZ_JOBS (compile jobs, default 2), FUZZ_TIMEOUT (seconds an input may take before
# it counts as a hang, default 10), FUZZ_MALLOC_MB (largest single allocation, default 1024),
# FUZZ_RSS_MB (memory limit, default 2048), FUZZ_MAX_LEN (largest input, default 16384),
# FUZZ_SECONDS (also stop each harness after this many seconds, default 0: no limit),
# FUZZ_BUILD=0 (run the harnesses already built, without configuring or building).
#
# Each harness starts from the seed corpus tests/fuzz/corpus/<name>/ plus the regression inputs
# tests/fuzz/regressions/<name>/ and grows its own working corpus in build-fuzz/corpus/<name>/
# (kept between calls; never written back to the repository). A finding is written to
# build-fuzz/findings/<name>/ (crash-*, timeout-*, oom-*, leak-*) and the script exits 1 naming it;
# copy it into tests/fuzz/regressions/<name>/ with the fix so that the ctest fuzz_replay_<name>
# replays it. The figures of each run (executions, seconds, corpus size) are in
# build-fuzz/logs/<name>.log and summarised at the end.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

runs="${1:-100000}"
shift || true
harnesses=("$@")
((${#harnesses[@]})) || harnesses=(scenario events snapshots funnel_counts contacts)
jobs="${FUZZ_JOBS:-2}"
timeout_s="${FUZZ_TIMEOUT:-10}"
malloc_mb="${FUZZ_MALLOC_MB:-1024}"
rss_mb="${FUZZ_RSS_MB:-2048}"
max_len="${FUZZ_MAX_LEN:-16384}"
seconds_limit="${FUZZ_SECONDS:-0}"

if ! command -v clang++ >/dev/null; then
  echo "fuzz.sh: clang++ not found; on Debian 12: apt-get install -y clang (libFuzzer comes with it)" >&2
  exit 2
fi

build=build-fuzz
mkdir -p "$build"
if [ "${FUZZ_BUILD:-1}" != 0 ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
    -DLCSIM_SANITIZE="address;undefined;fuzzer-no-link" -DLCSIM_FUZZ=ON \
    -DLCSIM_BUILD_TESTS=OFF -DLCSIM_BUILD_BENCHES=OFF -DLCSIM_BUILD_CLI=OFF >"$build/configure.log" 2>&1 ||
    { tail -n 30 "$build/configure.log" >&2; exit 1; }
  targets=()
  for h in "${harnesses[@]}"; do targets+=("fuzz_$h"); done
  nice cmake --build "$build" -j"$jobs" --target "${targets[@]}"
fi

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
status=0
summary=()
for h in "${harnesses[@]}"; do
  corpus="$build/corpus/$h" findings="$build/findings/$h" log="$build/logs/$h.log"
  mkdir -p "$corpus" "$findings" "$(dirname "$log")"
  seeds=(tests/fuzz/corpus/"$h")
  [ -d tests/fuzz/regressions/"$h" ] && seeds+=(tests/fuzz/regressions/"$h")
  t0=$(date +%s)
  echo "== fuzz_$h: $runs executions (timeout ${timeout_s} s, malloc limit ${malloc_mb} MB) =="
  set +e
  nice "$build/fuzz/fuzz_$h" -runs="$runs" -timeout="$timeout_s" -malloc_limit_mb="$malloc_mb" \
    -rss_limit_mb="$rss_mb" -max_len="$max_len" -max_total_time="$seconds_limit" -print_final_stats=1 \
    -dict=tests/fuzz/dict/"$h".dict -artifact_prefix="$findings/" "$corpus" "${seeds[@]}" >"$log" 2>&1
  rc=$?
  set -e
  seconds=$(($(date +%s) - t0))
  execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
  line="fuzz_$h: $execs executions in $seconds s, corpus $(find "$corpus" -type f | wc -l) files, exit $rc"
  summary+=("$line")
  echo "$line"
  if [ "$rc" -ne 0 ]; then
    status=1
    echo "fuzz_$h: FINDING; the log's end ($log):" >&2
    tail -n 40 "$log" >&2
    ls -1 "$findings" >&2 || true
  fi
done
echo "== summary =="
printf '%s\n' "${summary[@]}"
exit "$status"
