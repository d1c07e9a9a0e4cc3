"""Golden summaries: every bundled scenario and every bench workload gives the pinned numbers.

Each scenario listed by ``golden.sources()`` (scenarios/*/*.yaml and benches/*/*.yaml) is simulated
through the Python API at its own seed for ``golden.REPLICATIONS`` replications, and every number of
its summary (mean, std, ci_low, ci_high, n of every metric) is compared with its golden file
``tests/scenarios/<domain>/<name>.expected.json``. A failure lists each value that moved, pinned
and now, so a change of a random-stream key, a seed, the order of draws or a summary formula fails
here with every metric it touched (test_cli.py checks the same pins through ``lcsim run --json``).

Tolerance: relative 1e-12 (``golden.RTOL``; 0 equals only 0, NaN only NaN), not exact equality.
On one machine and build the numbers are the same bit for bit (any thread count, any SIMD target),
but the money metrics (discounting), the dwell tables of Weibull/lognormal/gamma dwells and the CI
quantiles go through glibc's exp/log/pow and Boost.Math, which glibc picks per CPU (FMA or not) and
which are not guaranteed to round the same way on another machine or libm: a last-bit difference
there is not a change of behaviour. 1e-12 is thousands of ulps above such noise and orders of
magnitude below any change of what is drawn (one customer more or less in a mean over 3
replications moves a count by 1e-4 relative or more; a money sum by far more than 1e-12).

Rewrite the files with ``pytest --update-golden`` or ``python tools/update_golden.py``, only for a
deliberate change of what is drawn (docs/contributing.md, "Golden summaries").
"""

import golden
import pytest

SOURCES = golden.sources()


def _id(path):
    return (
        golden.golden_path(path)
        .relative_to(golden.GOLDEN_DIR)
        .as_posix()
        .removesuffix(".expected.json")
    )


def test_every_bundled_scenario_and_bench_workload_has_a_golden_file():
    assert len([p for p in SOURCES if p.parts[-3] == "scenarios"]) >= 9
    assert any(p.name == "funnel10_webinar.yaml" for p in SOURCES)
    stale = sorted(
        {
            p.relative_to(golden.GOLDEN_DIR).as_posix()
            for p in golden.GOLDEN_DIR.rglob("*.expected.json")
        }
        - {golden.golden_path(p).relative_to(golden.GOLDEN_DIR).as_posix() for p in SOURCES}
    )
    assert not stale, f"golden files without a scenario: {stale}"


@pytest.mark.parametrize("source", SOURCES, ids=_id)
def test_golden_summary(source, request):
    actual = golden.compute(source)
    if request.config.getoption("--update-golden"):
        golden.write(source, actual)
    path = golden.golden_path(source)
    assert path.exists(), f"no golden file {path}: run python tools/update_golden.py {source}"
    moved = golden.differences(golden.read(source), actual)
    assert not moved, (
        f"{source.relative_to(golden.ROOT)}: {len(moved)} pinned values moved "
        f"(relative tolerance {golden.RTOL}):\n  " + "\n  ".join(moved)
    )
