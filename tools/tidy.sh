#!/usr/bin/env bash
# clang-tidy-14 with .clang-tidy's checks over lcsim's C++ files, through the compile commands of a
# configured build directory (CMake writes build/compile_commands.json; tools/setup.sh test makes it):
#
#   bash tools/tidy.sh                       every .cpp of src/ tests/cpp/ benches/ python/src/ in
#                                            the compile commands (many minutes: not in the suite)
#   bash tools/tidy.sh src/engine/engine.cpp src/run/run.cpp    only those files
#
# Headers are checked through the files that include them (.clang-tidy's HeaderFilterRegex).
# Prints the findings and a count; exits 1 when there is any, 2 when it cannot run.
# Environment: BUILD (default build), CLANG_TIDY (default clang-tidy-14), JOBS (default nproc).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

build="${BUILD:-build}"
program="${CLANG_TIDY:-clang-tidy-14}"
jobs="${JOBS:-$(nproc)}"
command -v "$program" >/dev/null 2>&1 ||
  { echo "tidy.sh: $program not found: apt-get install -y clang-tidy-14" >&2; exit 2; }
[ -f "$build/compile_commands.json" ] ||
  { echo "tidy.sh: no $build/compile_commands.json: configure first (bash tools/setup.sh test, or cmake -S . -B $build)" >&2; exit 2; }

if (($#)); then
  files=("$@")
else
  # Every translation unit of the compile commands that lies in the source tree's C++ folders.
  mapfile -t files < <(python3 - "$root" "$build/compile_commands.json" <<'PY'
import json, os, sys
root, db = sys.argv[1], sys.argv[2]
seen = set()
for entry in json.load(open(db)):
    path = os.path.normpath(os.path.join(entry["directory"], entry["file"]))
    rel = os.path.relpath(path, root)
    if rel.split(os.sep)[0] in ("src", "benches") or rel.startswith(("tests/cpp/", "python/src/")):
        seen.add(rel)
print("\n".join(sorted(seen)))
PY
)
fi
((${#files[@]})) || { echo "tidy.sh: no files" >&2; exit 2; }

out="$(mktemp)"
trap 'rm -f "$out"' EXIT
printf '%s\n' "${files[@]}" |
  xargs -P "$jobs" -I{} "$program" -p "$build" --quiet {} >"$out" 2>/dev/null || true
cat "$out"
count="$(grep -cE '^[^ ].*: (warning|error): ' "$out" || true)"
echo "tidy.sh: ${#files[@]} files, $count findings" >&2
((count == 0)) || exit 1
