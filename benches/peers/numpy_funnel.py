"""funnel-10 as a vectorised numpy model: the peer lcsim is compared with (benches/README.md).

The workload is benches/funnel10/funnel10.yaml (and funnel10_webinar.yaml with --webinar): N customers
start in awareness at day 0, exponential dwell per stage, next stage by fixed probabilities, horizon
730 days; +webinar: on days 7, 14, 21, ... each customer in mql attends with probability 0.25 and an
attendee moves to sql with probability 0.2.

How it is vectorised (the way a strong notebook user would write it): every customer still moving is
one entry of a few flat arrays (stage, time of entering it). One *sweep* advances all of them by one
stage visit at once: a dwell for every entry (one exponential draw each, scaled by the stage's mean),
the next stage by one uniform per entry against the stage's cumulative next-probabilities (at most
three targets per stage, so two vectorised comparisons instead of a search), and then the arrays are
compacted to the customers that are still moving (not absorbed, not past the horizon). The work is
proportional to the transitions, with no per-event Python and no global event queue; the number of
sweeps is the longest path (a few dozen).

The webinar needs no calendar loop either: an mql visit over (entry, exit) sees the webinars on the
days 7k inside it (before the horizon); each moves the customer with probability 0.25 * 0.2 = 0.05
independently, so the first webinar that moves the customer is a geometric draw G, and the visit ends
at webinar G (to sql) when G is no more than the number of webinars in the visit, else as usual.

Run as a script it prints JSON {"seconds", "transitions", "counts"}; seconds is the simulation alone
(time.perf_counter around simulate(), no interpreter start-up or imports), the median of --repeat runs
(repeat r uses seed + r); cpu_seconds is the same with time.process_time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
from funnel10_workload import (
    HORIZON,
    MEAN_DWELL,
    NEXT,
    STAGES,
    WEBINAR_EVERY,
    WEBINAR_MOVE,
    WEBINAR_REACH,
)


def _tables(nxt):
    """Per stage: mean dwell, the two cumulative cut points and the three targets (padded)."""
    s_count = len(STAGES)
    index = {s: i for i, s in enumerate(STAGES)}
    mean = np.zeros(s_count)
    cuts = np.full((s_count, 2), 2.0)  # u < 1 never passes a cut of 2
    dest = np.zeros((s_count, 3), dtype=np.int8)
    absorbing = np.ones(s_count, dtype=bool)
    for s, probs in nxt.items():
        i = index[s]
        absorbing[i] = False
        mean[i] = MEAN_DWELL[s]
        targets = list(probs.items())
        assert 1 <= len(targets) <= 3 and abs(sum(p for _, p in targets) - 1.0) < 1e-9
        acc = 0.0
        for j, (t, p) in enumerate(targets):
            dest[i, j] = index[t]
            if j < len(targets) - 1:
                acc += p
                cuts[i, j] = acc
        for j in range(len(targets), 3):
            dest[i, j] = dest[i, len(targets) - 1]
    return mean, cuts[:, 0].copy(), cuts[:, 1].copy(), dest, absorbing


def simulate(
    n: int, webinar: bool = False, seed: int = 1, next_probs=None, with_transitions: bool = False
):
    """Stage counts at day 730 ({stage: customers}) of n customers starting in awareness at day 0.

    next_probs overrides the next-stage table (the tests use it for a deliberately wrong peer).
    with_transitions=True returns (counts, transitions).
    """
    mean, cut0, cut1, dest, absorbing = _tables(NEXT if next_probs is None else next_probs)
    dest = dest.astype(np.intp).ravel()  # dest[3 * stage + choice]
    moving = ~absorbing
    s_count = len(STAGES)
    mql, sql = STAGES.index("mql"), STAGES.index("sql")
    p_move = WEBINAR_REACH * WEBINAR_MOVE
    rng = np.random.default_rng(seed)

    # Stage indices are intp: numpy converts any other index type to intp on every gather.
    stage = np.zeros(n, dtype=np.intp)  # everyone in awareness
    t = np.zeros(n)  # time of entering `stage`
    counts = np.zeros(s_count, dtype=np.int64)
    transitions = 0
    while stage.size:
        m = stage.size
        exit_t = rng.standard_exponential(m)
        exit_t *= mean.take(stage)
        exit_t += t
        u = rng.random(m)
        choice = stage * 3
        choice += u >= cut0.take(stage)
        choice += u >= cut1.take(stage)
        nxt = dest.take(choice)
        if webinar:
            in_mql = np.flatnonzero(stage == mql)
            if in_mql.size:
                entry, leave = t.take(in_mql), np.minimum(exit_t.take(in_mql), HORIZON)
                first = (
                    np.floor(entry / WEBINAR_EVERY) + 1.0
                ) * WEBINAR_EVERY  # first webinar after entry
                seen = np.ceil(
                    (leave - first) / WEBINAR_EVERY
                )  # webinars first, first + 7, ... before leave
                g = rng.geometric(p_move, in_mql.size)  # the webinar that moves the customer
                moved = g <= seen
                hit = in_mql[moved]
                exit_t[hit] = first[moved] + (g[moved] - 1) * WEBINAR_EVERY
                nxt[hit] = sql
        going = exit_t < HORIZON  # leaves its stage before the horizon
        keep = going & moving.take(nxt)  # ... and into a stage it can leave again
        transitions += int(np.count_nonzero(going))
        ended = np.flatnonzero(~keep)  # counted where they are at day 730
        if ended.size:
            final = np.where(going.take(ended), nxt.take(ended), stage.take(ended))
            counts += np.bincount(final, minlength=s_count)
        k = np.flatnonzero(keep)
        stage, t = nxt.take(k), exit_t.take(k)
    result = dict(zip(STAGES, counts.tolist()))
    return (result, transitions) if with_transitions else result


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=float, default=1e6, help="customers (default 1e6)")
    ap.add_argument("--webinar", action="store_true", help="the +webinar variant")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=1, help="runs; seconds is their median")
    ap.add_argument(
        "--warmup",
        type=int,
        default=1,
        help="untimed runs first (default 1): the first run in a process pays for page faults of "
        "its fresh arrays, 2-4x the time of later runs, and lcsim's benchmark is timed warm too",
    )
    a = ap.parse_args(argv)
    for r in range(a.warmup):
        simulate(int(a.n), a.webinar, a.seed + a.repeat + r)
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
                "peer": "numpy",
                "numpy": np.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
