#!/usr/bin/env bash
# Measures what a newcomer waits for on this machine, from nothing, and prints a table:
#
#   1. the main job, `bash tools/study.sh`, in a fresh clone: to its first printed result and to its end
#   2. `bash tools/test.sh` after it, in the same clone
#   3. `bash tools/test.sh` on its own from nothing, in another fresh clone
#
# "From nothing" before 1 and 3: the Debian packages that tools/setup.sh installs are removed
# (apt-get purge + autoremove, and the downloaded .debs cleaned), pip's cache and ccache's cache are
# emptied, and the clone has no .venv and no build/. Packages that a new Debian 12 image of this
# kind already has (build-essential, cmake, ninja-build, python3-dev, python3-venv, pkg-config) are
# left alone. DESTRUCTIVE for this machine's packages and caches: it runs only with --yes, as root.
#
#   bash tools/fresh_times.sh --yes [--keep DIR]    (about 20 minutes on 2 cores)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ "${1:-}" = --yes ] || { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[ "$(id -u)" = 0 ] || { echo "fresh_times: run as root (it removes Debian packages)" >&2; exit 2; }
keep="${3:-}"
work="$(mktemp -d)"
echo "fresh_times: clones of $(git -C "$root" rev-parse --short HEAD) under $work"

# Packages of the base image that stay; every other package setup.sh names is removed.
base_image=(build-essential cmake ninja-build pkg-config python3 python3-venv python3-dev)
read -r -a project <<<"$(bash "$root/tools/setup.sh" --print-packages)"
remove=()
for p in "${project[@]}"; do
  [[ " ${base_image[*]} " == *" $p "* ]] || remove+=("$p")
done

from_nothing() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get purge -y -qq "${remove[@]}" >/dev/null 2>&1 || true
  apt-get autoremove --purge -y -qq >/dev/null 2>&1 || true
  apt-get clean
  rm -rf "${PIP_CACHE_DIR:-$HOME/.cache/pip}"
  hash -r
  ccache -C >/dev/null 2>&1 || true
  rm -rf "${CCACHE_DIR:-$HOME/.cache/ccache}"
  rm -rf "$work/$1"
  git clone -q "$root" "$work/$1"
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }
secs() { printf '%d.%d' $(($1 / 1000)) $(($1 % 1000 / 100)); }

# timed NAME COMMAND...: runs COMMAND in the current directory, keeps its output in $work/NAME.log,
# and sets first_ms (the first line that is not a set-up line) and total_ms.
timed() {
  local name="$1" t0 line
  shift
  t0="$(now_ms)"
  first_ms=""
  while IFS= read -r line; do
    printf '%s %s\n' "$(secs $(($(now_ms) - t0)))" "$line" >>"$work/$name.log"
    if [ -z "$first_ms" ] && [ -n "$line" ] && [[ "$line" != setup:* ]]; then first_ms=$(($(now_ms) - t0)); fi
  done < <(if "$@" 2>&1; then echo "exit status 0"; else echo "exit status $?"; fi)
  total_ms=$(($(now_ms) - t0))
  local rc
  rc="$(tail -n 1 "$work/$name.log" | awk '{print $NF}')"
  [ "$rc" = 0 ] || { echo "fresh_times: $name failed (exit $rc); its log: $work/$name.log" >&2; exit 1; }
}

rows=()
row() { rows+=("$(printf '%-52s %9s %9s' "$1" "$2" "$3")"); }

echo "fresh_times: 1/3 the main job from nothing"
from_nothing a
cd "$work/a"
timed study bash tools/study.sh
row "bash tools/study.sh (fresh machine)" "$(secs "$first_ms")" "$(secs "$total_ms")"
study_setup="$(grep -o 'setup: .*' "$work/study.log" || true)"

echo "fresh_times: 2/3 the test command after it"
ccache -z >/dev/null 2>&1 || true
timed test_after bash tools/test.sh
row "bash tools/test.sh after it" "" "$(secs "$total_ms")"
test_after_setup="$(grep -o 'setup: .*' "$work/test_after.log" || true)"
ccache_after="$(ccache -s 2>/dev/null | grep -E 'Hits|Misses' | head -2 | tr -s ' ' | paste -sd ';')"

echo "fresh_times: 3/3 the test command on its own from nothing"
from_nothing b
cd "$work/b"
ccache -z >/dev/null 2>&1 || true
timed test_alone bash tools/test.sh
row "bash tools/test.sh on its own (fresh machine)" "" "$(secs "$total_ms")"
test_alone_setup="$(grep -o 'setup: .*' "$work/test_alone.log" || true)"

echo
echo "== fresh-machine times ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, commit $(git -C "$root" rev-parse --short HEAD)) =="
printf '%-52s %9s %9s\n' "command" "first (s)" "total (s)"
printf '%s\n' "${rows[@]}"
echo
echo "set-up steps of the main job:";            sed 's/^/  /' <<<"$study_setup"
echo "set-up steps of the test command after it:"; sed 's/^/  /' <<<"$test_after_setup"
echo "set-up steps of the test command alone:";   sed 's/^/  /' <<<"$test_alone_setup"
echo "ccache during the test command after the main job: $ccache_after"
echo "test counts (test command alone):"; grep -E 'tests passed|passed|failed' "$work/test_alone.log" | tail -n 2 | sed 's/^[0-9.]* /  /'
echo "logs: $work/{study,test_after,test_alone}.log"
if [ -z "$keep" ]; then rm -rf "$work/a" "$work/b"; fi
