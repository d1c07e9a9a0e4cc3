"""Speed of the phase-type snapshot fit (not a test: nothing is asserted).

    .venv/bin/python benches/phase_fit_bench.py [--source crm|synth] [--max-phases 3] [--repeat 3] [--cpu 0]

--source crm (the default): the independent month-end CRM export of tests/python/crm_export.py
(TEN: ten stages, two segments, 20,000 accounts, 24 exports at 23:59:59, creation timestamps,
seed 1), fitted without --transitions as an analyst without a stage model would. --source synth:
the monthly panel of benches/phase_fit/semi_markov10.yaml (about 20,000 customers over two years;
`lcsim synth --snapshots --every monthly`, with creation times). Times the whole
`lcsim calibrate --snapshots` on one core (`taskset -c CPU`): reading,
the Markov fit, the phase-type fit with the choice of phases up to --max-phases, the same two fits
for each of the two segments (`--segment-column segment`), the intervals and writing the scenario.
Prints the median, min and max wall time of --repeat runs, the phases chosen and the two
log-likelihoods. Timings are wall clock on a shared machine: quote the medians.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "benches" / "phase_fit" / "semi_markov10.yaml"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-phases", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cpu", type=int, default=0)
    parser.add_argument("--source", choices=("crm", "synth"), default="crm")
    args = parser.parse_args()
    lcsim = shutil.which("lcsim", path=str(ROOT / ".venv" / "bin")) or "lcsim"
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        if args.source == "synth":
            subprocess.run(
                [
                    lcsim,
                    "synth",
                    str(SCENARIO),
                    "--events",
                    str(d / "events.csv"),
                    "--snapshots",
                    str(d / "snaps.csv"),
                    "--every",
                    "monthly",
                ],
                check=True,
                capture_output=True,
            )
            won = "won"
        else:
            sys.path.insert(0, str(ROOT / "tests" / "python"))
            import crm_export  # the tests' independent generator

            crm_export.export(crm_export.TEN, 20000, seed=1)["snapshots"].to_csv(
                d / "snaps.csv", index=False
            )
            won = "customer"
        rows = sum(1 for _ in open(d / "snaps.csv")) - 1
        command = [
            "taskset",
            "-c",
            str(args.cpu),
            lcsim,
            "calibrate",
            "--snapshots",
            str(d / "snaps.csv"),
            "--absorbing",
            "lost,churned",
            "--won",
            won,
            "--max-phases",
            str(args.max_phases),
            "--segment-column",
            "segment",
            "--out",
            str(d / "fitted.yaml"),
            "--report",
            str(d / "report.json"),
        ]
        walls = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            walls.append(time.perf_counter() - started)
        report = json.loads((d / "report.json").read_text())
    phase = report["phase_type"]
    chosen = {
        s: k
        for s, k, a in zip(phase["stages"], phase["phases"], report["snapshots"]["stages"])
        if s not in ("lost", "churned")
    }
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in open("/proc/cpuinfo")
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    print(f"CPU: {cpu}")
    print(
        f"{'crm_export TEN' if args.source == 'crm' else 'semi_markov10'} monthly panel: "
        f"{rows} snapshot rows, {phase['n_customers']} customers, "
        f"{phase['n_observations']} observations, {phase['n_intervals']} distinct gaps"
    )
    print(
        f"lcsim calibrate --snapshots --max-phases {args.max_phases} on one core: median "
        f"{statistics.median(walls):.2f} s (min {min(walls):.2f}, max {max(walls):.2f}; {args.repeat} runs)"
    )
    segments = report.get("snapshot_segments", [])
    models = len(phase["candidates"]) + sum(len(g["phase_type"]["candidates"]) for g in segments)
    print(
        f"phases chosen (all customers): {chosen}; {models} models fitted over all customers and "
        f"{len(segments)} segments"
    )
    for g in segments:
        k = {
            s: n
            for s, n in zip(g["phase_type"]["stages"], g["phase_type"]["phases"])
            if s not in ("lost", "churned")
        }
        print(
            f"  segment {g['segment']}: {g['customers']} customers, phases {k}, pooled {g['pooled_stages']}"
        )
    print(
        f"log-likelihood: phase-type {phase['loglik']:.1f}, Markov {phase['loglik_markov']:.1f}; "
        f"AIC {phase['aic']:.1f} vs {phase['aic_markov']:.1f}; criterion {phase['criterion']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
