#!/usr/bin/env python3
"""Proves that a commit only reformats Python: every file it changes is a .py or .pyi file whose
syntax tree (ast.dump, without line and column numbers) is the same before and after.

    python tools/same_ast.py REV        # e.g. the ruff format commit in .git-blame-ignore-revs

Exit 0 with one line when it holds; 1 naming each file that is not Python, was added or removed,
or parses to another tree. Needs git and nothing else.
"""

from __future__ import annotations

import ast
import subprocess
import sys


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout


def check(rev: str) -> list[str]:
    """The problems with calling ``rev`` a Python reformat (empty: it is one)."""
    problems = []
    changes = _git("diff", "--name-status", "--no-renames", f"{rev}^", rev).splitlines()
    for line in changes:
        status, path = line.split("\t", 1)
        if not path.endswith((".py", ".pyi")):
            problems.append(f"{path}: not a Python file")
            continue
        if status != "M":
            problems.append(f"{path}: {'added' if status == 'A' else 'removed'}, not reformatted")
            continue
        before = ast.dump(ast.parse(_git("show", f"{rev}^:{path}"), filename=path))
        after = ast.dump(ast.parse(_git("show", f"{rev}:{path}"), filename=path))
        if before != after:
            problems.append(f"{path}: another syntax tree after the commit")
    if not changes:
        problems.append("the commit changes no file")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python tools/same_ast.py REV", file=sys.stderr)
        return 2
    rev = argv[0]
    problems = check(rev)
    for p in problems:
        print(f"same_ast: {p}")
    if problems:
        return 1
    count = len(_git("diff", "--name-only", f"{rev}^", rev).splitlines())
    print(f"same_ast: {rev}: {count} Python files reformatted, every syntax tree unchanged")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
