"""Rewrites the golden summaries tests/scenarios/**/*.expected.json (tests/python/golden.py).

    .venv/bin/python tools/update_golden.py              # every bundled scenario and bench workload
    .venv/bin/python tools/update_golden.py FILE.yaml... # only those

Legitimate only for a deliberate change of what is drawn, in the commit that makes it
(docs/contributing.md, "Golden summaries"); a refactor must leave every golden file unchanged.
Prints one line per file, saying whether it changed.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "python"))

import golden  # noqa: E402


def main(argv: list[str]) -> int:
    files = [Path(a).resolve() for a in argv] if argv else golden.sources()
    for source in files:
        path = golden.golden_path(source)
        before = path.read_text() if path.exists() else None
        golden.write(source, golden.compute(source))
        state = (
            "new" if before is None else ("unchanged" if path.read_text() == before else "CHANGED")
        )
        print(f"{state:9} {path.relative_to(golden.ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
