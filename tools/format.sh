#!/usr/bin/env bash
# The C++ layout of .clang-format, with clang-format-14 (another version lays code out otherwise):
#
#   bash tools/format.sh --check   exits 1 and lists the files that are not formatted (tools/test.sh
#                                  runs it before the tests); 0 when all are
#   bash tools/format.sh --fix     formats them in place
#
# The files: every *.cpp, *.hpp, *.h and *.cc under src/ include/ tests/cpp/ benches/ python/src/
# that git tracks or would track (untracked but not ignored), in sorted order; nothing else is read,
# so the result depends only on those files and .clang-format. clang-format-14 is a Debian package
# (apt-get install clang-format-14; tools/setup.sh test installs it); CLANG_FORMAT overrides the
# program for a check with another build of clang-format 14.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

mode="${1:-}"
case "$mode" in
  --check | --fix) ;;
  *) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac

program="${CLANG_FORMAT:-clang-format-14}"
if ! command -v "$program" >/dev/null 2>&1; then
  echo "format.sh: $program not found: apt-get install -y clang-format-14 (or bash tools/setup.sh test)" >&2
  exit 2
fi
version="$("$program" --version)"
case "$version" in
  *"version 14."*) ;;
  *) echo "format.sh: $program is not clang-format 14 ($version); .clang-format is written for 14" >&2; exit 2 ;;
esac

dirs=(src include tests/cpp benches python/src)
mapfile -d '' files < <(git ls-files -z --cached --others --exclude-standard -- "${dirs[@]}" |
  grep -zE '\.(cpp|hpp|h|cc)$' | LC_ALL=C sort -zu)
# Files listed by git but deleted from the work tree are skipped.
present=()
for f in "${files[@]}"; do [ -f "$f" ] && present+=("$f"); done

if [ "$mode" = --fix ]; then
  printf '%s\0' "${present[@]}" | xargs -0 -n 16 "$program" --style=file -i
  echo "format.sh: formatted ${#present[@]} files" >&2
  exit 0
fi

bad=()
for f in "${present[@]}"; do
  "$program" --style=file "$f" | cmp -s - "$f" || bad+=("$f")
done
if ((${#bad[@]})); then
  echo "format.sh: ${#bad[@]} of ${#present[@]} files are not formatted (bash tools/format.sh --fix):" >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "format.sh: ${#present[@]} files formatted" >&2
