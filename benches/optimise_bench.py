"""Speed of `lcsim.optimise` on the bundled B2B baseline (not a test: nothing is asserted).

    .venv/bin/python benches/optimise_bench.py [--trials 200] [--replications 10] [--threads 2] [--repeat 3]

Prints, side by side in one run:
- plan evaluations per second: one plan = one scenario with the levers applied, simulated with the
  base's seed and replications (what the search does per trial), timed over 40 distinct plans;
- the wall time of a whole optimisation of ``--trials`` trials (three levers: the nurture email's
  cadence and reach, the first call's timing; a budget and a chance constraint), split into the
  search and the selection step (3 finalists on 4 x replications, then one run per lever for
  importance()), median of ``--repeat``.
Timings are wall clock on a shared machine: quote the medians.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

import lcsim
from lcsim.optimise import _evaluate

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "scenarios" / "b2b_saas" / "baseline.yaml"
LEVERS = {
    "touchpoints.nurture_email.schedule.after_entry.every": (2, 21),
    "touchpoints.nurture_email.reach": (0.2, 0.6),
    "touchpoints.first_call.schedule.after_entry.days": [[2], [1], [0.5], [0.1667]],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--replications", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    base = lcsim.Scenario.load(BASE)

    rng = np.random.default_rng(1)
    plans = [
        base.with_changes(
            {
                "touchpoints.nurture_email.schedule.after_entry.every": int(rng.integers(2, 22)),
                "touchpoints.nurture_email.reach": float(rng.uniform(0.2, 0.6)),
            }
        )
        for _ in range(40)
    ]
    rates = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        for p in plans:
            _evaluate(
                p.text,
                p.file,
                args.replications,
                base.seed,
                args.threads,
                ["net_value", "conversions"],
            )
        rates.append(len(plans) / (time.perf_counter() - started))
    print(
        f"plan evaluations per second ({args.replications} replications each, {args.threads} threads): "
        f"median {statistics.median(rates):.1f} (min {min(rates):.1f}, max {max(rates):.1f})"
    )

    walls, searches = [], []
    for _ in range(args.repeat):
        started = time.perf_counter()
        done = {}

        def progress(k, n, done=done, started=started):
            if k == n:
                done["search"] = time.perf_counter() - started

        opt = lcsim.optimise(
            base,
            LEVERS,
            "net_value",
            budget=80_000,
            constraints=["conversions>=400@0.9"],
            trials=args.trials,
            replications=args.replications,
            threads=args.threads,
            progress=progress,
        )
        walls.append(time.perf_counter() - started)
        searches.append(done["search"])
    print(
        f"{args.trials}-trial optimisation ({opt.settings['evaluations']} plans simulated, {args.threads} threads): "
        f"wall median {statistics.median(walls):.2f} s (min {min(walls):.2f}, max {max(walls):.2f}); "
        f"search {statistics.median(searches):.2f} s, selection and importance "
        f"{statistics.median(walls) - statistics.median(searches):.2f} s"
    )
    print(opt.verdict[0])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
