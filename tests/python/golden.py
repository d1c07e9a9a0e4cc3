"""Golden summaries: the numbers of every bundled scenario and bench workload, pinned.

Each scenario file ``scenarios/<domain>/<name>.yaml`` (baselines and variants) and each workload of
the benches (``benches/<bench>/<name>.yaml``: funnel-10 plain, with its webinar and with its email,
the B2B scenario at CRM scale ``b2b_1500``, the semi-Markov panel) has a golden file
``tests/scenarios/<domain>/<name>.expected.json`` (for the benches ``tests/scenarios/benches/<bench>/
<name>.expected.json``): the summary of a small fixed run (the scenario's own seed and population,
``REPLICATIONS`` replications, every metric's mean, std and 95% CI with its n), each number written
with ``repr`` (the shortest text that reads back as the same double: full precision), and what made
it (seed, replications, the lcsim and Boost versions, the random streams).

Used by ``tests/python/test_golden.py`` (compares), ``pytest --update-golden`` and
``python tools/update_golden.py`` (rewrite). When rewriting is legitimate: docs/contributing.md,
"Golden summaries".
"""

from __future__ import annotations

import json
import math
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GOLDEN_DIR = ROOT / "tests" / "scenarios"

# Replications of every golden run: few, so the whole golden test takes seconds; the populations
# and horizons are the scenarios' own (the largest, funnel-10 at 10^6 customers, runs in a third of
# a second a replication on 2 cores).
REPLICATIONS = 3

# The random streams the numbers were drawn with. The code has no stream version number: this names
# the scheme (include/lcsim/rng/stream.hpp) so that a reader of a golden file knows what drew it;
# Boost's version is recorded beside it (its ziggurat draws the exponentials).
STREAMS = (
    "SplitMix64 counter keys of (seed, replication, customer, purpose, sub, epoch); rng/stream.hpp"
)

# Relative tolerance of the comparison (test_golden.py's docstring says why it is not 0).
RTOL = 1e-12

FIELDS = ("mean", "std", "ci_low", "ci_high", "n")


def sources() -> list[Path]:
    """Every scenario the golden test pins: the bundled scenarios, then the benches' workloads."""
    return sorted((ROOT / "scenarios").glob("*/*.yaml")) + sorted(
        (ROOT / "benches").glob("*/*.yaml")
    )


def golden_path(source: Path) -> Path:
    """tests/scenarios/<domain>/<name>.expected.json for scenarios/<domain>/<name>.yaml, and
    tests/scenarios/benches/<bench>/<name>.expected.json for benches/<bench>/<name>.yaml."""
    rel = source.resolve().relative_to(ROOT)
    if rel.parts[0] == "scenarios":
        rel = rel.relative_to("scenarios")
    return GOLDEN_DIR / rel.with_suffix(".expected.json")


def _number(x):
    """A float as JSON keeps it: repr's digits (full precision); NaN and infinities as strings."""
    if isinstance(x, float) and not math.isfinite(x):
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    return x


def _read_number(x):
    """Back from _number; None (the JSON null that `lcsim run --json` writes for NaN) is NaN."""
    if x is None:
        return math.nan
    if isinstance(x, str):
        return float(x)
    return x


def compute(source: Path, replications: int = REPLICATIONS) -> dict:
    """Runs the scenario at its own seed for `replications` replications; the golden record."""
    import lcsim

    scenario = lcsim.Scenario.load(source)
    run = lcsim.simulate(scenario, replications=replications)
    summary = run.summary()
    metrics = {}
    for row in summary.to_dict("records"):
        metrics[row["metric"]] = {
            "mean": _number(float(row["mean"])),
            "std": _number(float(row["std"])),
            "ci_low": _number(float(row["ci_low"])),
            "ci_high": _number(float(row["ci_high"])),
            "n": int(row["n"]),
        }
    info = run.info
    return {
        "scenario": source.resolve().relative_to(ROOT).as_posix(),
        "seed": int(info.seed),
        "replications": int(info.replications),
        "lcsim_version": info.lcsim_version,
        "boost_version": info.boost_version,
        "streams": STREAMS,
        "made_by": "python tools/update_golden.py (or pytest --update-golden)",
        "metrics": metrics,
    }


def write(source: Path, record: dict) -> Path:
    path = golden_path(source)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path


def read(source: Path) -> dict:
    record = json.loads(golden_path(source).read_text())
    for values in record["metrics"].values():
        for key in FIELDS:
            values[key] = _read_number(values[key])
    return record


def same(expected, actual, rtol: float = RTOL) -> bool:
    """Equal within `rtol` relative (0 only equals 0; NaN equals NaN)."""
    expected, actual = _read_number(expected), _read_number(actual)
    if isinstance(expected, float) and math.isnan(expected):
        return isinstance(actual, float) and math.isnan(actual)
    if isinstance(actual, float) and math.isnan(actual):
        return False
    if expected == actual:
        return True
    if math.isinf(expected) or math.isinf(actual):
        return False
    return abs(expected - actual) <= rtol * max(abs(expected), abs(actual))


def differences(expected: dict, actual: dict, rtol: float = RTOL) -> list[str]:
    """One line per pinned value that moved (and per metric that appeared or went)."""
    lines = []
    for key in ("seed", "replications"):
        if expected[key] != actual[key]:
            lines.append(f"{key}: pinned {expected[key]!r}, now {actual[key]!r}")
    want, got = expected["metrics"], actual["metrics"]
    for metric in want:
        if metric not in got:
            lines.append(f"{metric}: pinned, now missing")
            continue
        for field in FIELDS:
            a, b = _read_number(want[metric][field]), _read_number(got[metric][field])
            if not same(a, b, rtol):
                rel = ""
                if (
                    isinstance(a, (int, float))
                    and isinstance(b, (int, float))
                    and a != 0
                    and math.isfinite(a)
                    and math.isfinite(b)
                ):
                    rel = f" (relative {abs(b - a) / abs(a):.3g})"
                lines.append(f"{metric}.{field}: pinned {a!r}, now {b!r}{rel}")
    for metric in got:
        if metric not in want:
            lines.append(f"{metric}: new metric, not pinned")
    return lines
