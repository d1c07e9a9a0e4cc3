#!/usr/bin/env bash
# Proves that a commit changes only whitespace: every file it changes is compared with its parent's
# copy with all whitespace removed (spaces, tabs, newlines; tr -d '[:space:]').
#
#   bash tools/whitespace_only.sh REV     exit 0 and "whitespace only: N files", or exit 1 naming
#                                          each file whose text changed otherwise
set -euo pipefail
rev="${1:?usage: bash tools/whitespace_only.sh REV}"
cd "$(git rev-parse --show-toplevel)"
n=0 bad=0
while IFS= read -r -d '' f; do
  n=$((n + 1))
  if ! cmp -s <(git show "$rev^:$f" 2>/dev/null | tr -d '[:space:]') <(git show "$rev:$f" 2>/dev/null | tr -d '[:space:]'); then
    echo "not whitespace only: $f" >&2
    bad=$((bad + 1))
  fi
done < <(git diff -z --name-only --no-renames "$rev^" "$rev")
((bad == 0)) || { echo "whitespace_only: $bad of $n files changed more than whitespace" >&2; exit 1; }
echo "whitespace only: $n files"
