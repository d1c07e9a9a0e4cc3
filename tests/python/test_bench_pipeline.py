"""benches/run.sh --quick end to end: the comparison's pipeline runs and its correctness checks hold.

The figures of a quick run mean nothing (one repetition, small sizes, a busy machine) and are not
asserted; what is: every step ran, the table has its fourteen rows, the raw-limit loop reproduced the
engine's result and the thread runs' results were identical. It uses the Release build in build/
that tools/setup.sh makes (the benches and the CLI are already built there: a few seconds).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT

BUILD = ROOT / "build"


@pytest.fixture(scope="module")
def quick_run():
    if not (BUILD / "benches" / "lcsim_benches").exists() or not (BUILD / "lcsim").exists():
        pytest.skip("no benches in build/ (tools/setup.sh builds them)")
    if not os.path.exists("/usr/bin/time") or shutil.which("cmake") is None:
        pytest.skip("run.sh needs /usr/bin/time and cmake")
    env = dict(os.environ, BUILD=str(BUILD), PYTHON=sys.executable)
    return subprocess.run(
        ["bash", str(ROOT / "benches" / "run.sh"), "--quick"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_quick_run_prints_the_whole_table(quick_run):
    assert quick_run.returncode == 0, quick_run.stderr[-3000:]
    rows = [
        line
        for line in quick_run.stdout.splitlines()
        if line.startswith("| ") and line.rstrip().endswith(("| pass |", "| **FAIL** |"))
    ]
    assert len(rows) == 14, quick_run.stdout
    for name in (
        "lcsim vs numpy peer",
        "lcsim on 2 threads (the replication in parts) vs numpy peer",
        "vs SimPy peer",
        "raw limit loop",
        "webinar cost",
        "peak RSS",
        "1 -> 2 threads",
        "one replication of",
        "bundled B2B scenario",
        "sales team",
    ):
        assert any(name in r for r in rows), name
    assert "QUICK SMOKE RUN" in quick_run.stdout
    # The CPU and the SIMD target that ran head the table (the target as the engine names it).
    assert re.search(
        r"^CPU: .+; SIMD target the vector lanes ran: (AVX3|AVX2|SSE4|SSSE3|NEON|SCALAR|EMU128) "
        r"\(\d+ lanes\)$",
        quick_run.stdout,
        re.M,
    ), quick_run.stdout[:2000]


def test_quick_run_checks_hold(quick_run):
    out = quick_run.stdout
    assert "Raw limit reproduces the engine's result: yes" in out
    assert re.search(
        r"threads: \d+ replications, 1 -> 2 threads \(lcsim run; results identical: yes\)", out
    )
    assert re.search(
        r"one replication of [\d^,]+ funnel-10 customers, 1 -> 2 threads "
        r"\(lcsim run; results identical: yes\)",
        out,
    )
