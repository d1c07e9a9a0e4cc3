"""funnel-10 as a SimPy 4 model: one process per customer (the peer of benches/README.md).

The workload is benches/funnel10/funnel10.yaml (and funnel10_webinar.yaml with --webinar): N customers
start in awareness at day 0, exponential dwell per stage, next stage by fixed probabilities, horizon
730 days; +webinar: on days 7, 14, 21, ... each customer in mql attends with probability 0.25 and an
attendee moves to sql with probability 0.2.

Written the way SimPy is meant to be used: each customer is a process that waits out its dwell
(`env.timeout`) and picks its next stage; the webinar is one more process that wakes every 7 days,
draws attendance for every customer then in mql and interrupts the process of each one it moves to
sql. Scalar draws come from Python's `random` (faster than numpy for one number at a time).

Run as a script it prints JSON {"seconds", "transitions", "counts"}; seconds is the simulation alone
(time.perf_counter around simulate(), no interpreter start-up or imports), the median of --repeat runs
(repeat r uses seed + r); cpu_seconds is the same with time.process_time.
At 10^6 customers a run takes minutes; benches/run.sh runs it at 10^5 and compares per transition.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from bisect import bisect_right

import simpy
from funnel10_workload import (
    HORIZON,
    MEAN_DWELL,
    NEXT,
    STAGES,
    WEBINAR_EVERY,
    WEBINAR_MOVE,
    WEBINAR_REACH,
)


class _Funnel:
    """The model: per-stage tables, the customers' current stages and the transition count."""

    def __init__(self, env, n, webinar, rng, next_probs):
        self.env = env
        self.rng = rng
        nxt = NEXT if next_probs is None else next_probs
        index = {s: i for i, s in enumerate(STAGES)}
        self.rate = [1.0 / MEAN_DWELL[s] if s in nxt else 0.0 for s in STAGES]
        self.cum = []  # per stage: cumulative probabilities (last one dropped) and targets
        for s in STAGES:
            if s not in nxt:
                self.cum.append(None)
                continue
            targets = list(nxt[s].items())
            acc, cuts = 0.0, []
            for _, p in targets[:-1]:
                acc += p
                cuts.append(acc)
            self.cum.append((cuts, [index[t] for t, _ in targets]))
        self.mql, self.sql = index["mql"], index["sql"]
        self.stage = [0] * n
        self.transitions = 0
        self.in_mql = {}  # customer -> its process, for the webinar
        self.procs = [env.process(self.customer(i)) for i in range(n)]
        if webinar:
            env.process(self.webinar())

    def customer(self, i):
        env, rng, stage = self.env, self.rng, self.stage
        s = 0
        while True:
            rule = self.cum[s]
            if rule is None:  # absorbing
                return
            if s == self.mql:
                self.in_mql[i] = self.procs[i]
            try:
                yield env.timeout(rng.expovariate(self.rate[s]))
                cuts, targets = rule
                s = targets[bisect_right(cuts, rng.random())]
            except simpy.Interrupt:  # the webinar moved the customer
                s = self.sql
            if i in self.in_mql:
                del self.in_mql[i]
            stage[i] = s
            self.transitions += 1

    def webinar(self):
        env, rng = self.env, self.rng
        while True:
            yield env.timeout(WEBINAR_EVERY - env.now % WEBINAR_EVERY)
            for i, proc in list(self.in_mql.items()):
                if rng.random() < WEBINAR_REACH and rng.random() < WEBINAR_MOVE:
                    del self.in_mql[i]  # moved now; the interrupt is delivered at this same time
                    proc.interrupt("webinar")


def simulate(
    n: int, webinar: bool = False, seed: int = 1, next_probs=None, with_transitions: bool = False
):
    """Stage counts at day 730 ({stage: customers}) of n customers starting in awareness at day 0.

    next_probs overrides the next-stage table (the tests use it for a deliberately wrong peer).
    with_transitions=True returns (counts, transitions).
    """
    env = simpy.Environment()
    model = _Funnel(env, n, webinar, random.Random(seed), next_probs)
    env.run(until=HORIZON)
    counts = dict.fromkeys(STAGES, 0)
    for s in model.stage:
        counts[STAGES[s]] += 1
    return (counts, model.transitions) if with_transitions else counts


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=float, default=1e5, help="customers (default 1e5)")
    ap.add_argument("--webinar", action="store_true", help="the +webinar variant")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=1, help="runs; seconds is their median")
    a = ap.parse_args(argv)
    seconds, cpu = [], []
    for r in range(a.repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        counts, transitions = simulate(int(a.n), a.webinar, a.seed + r, with_transitions=True)
        seconds.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    print(
        json.dumps(
            {
                "seconds": statistics.median(seconds),
                "cpu_seconds": statistics.median(cpu),
                "all_seconds": seconds,
                "transitions": transitions,
                "counts": counts,
                "n": int(a.n),
                "webinar": a.webinar,
                "peer": "simpy",
                "simpy": simpy.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
