"""An independent generator of CRM stage exports, written from the CRM's side with plain numpy.

It shares nothing with lcsim (no engine, no `lcsim synth`, no random streams, no conventions of the
fit): accounts are created at timestamps with a time of day, each account lives a semi-Markov path
(Weibull, lognormal and exponential dwells; skips and backward moves are ordinary next stages), and
the CRM writes a month-end export (the last day of each month at 23:59:59) listing every account
created by then with its stage, absorbed accounts repeated every month, creation dates joined from
the accounts table. The calibration tests fit these exports and compare with the truth below.

A truth is a dict: {"entry": stage, "stages": [names], "absorbing": [names], "segments": {name:
{"share": s, "stages": {stage: {"dwell": (family, ...), "next": {to: p}}}}}}, dwells as
("exponential", mean), ("weibull", shape, mean), ("lognormal", mean, sigma).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def _dwells(rng: np.random.Generator, dwell: tuple, n: int) -> np.ndarray:
    family = dwell[0]
    if family == "exponential":
        return rng.exponential(dwell[1], n)
    if family == "weibull":
        shape, mean = dwell[1], dwell[2]
        return mean / math.gamma(1.0 + 1.0 / shape) * rng.weibull(shape, n)
    if family == "gamma":
        shape, mean = dwell[1], dwell[2]
        return rng.gamma(shape, mean / shape, n)
    if family == "lognormal":
        mean, sigma = dwell[1], dwell[2]
        return rng.lognormal(math.log(mean) - sigma * sigma / 2.0, sigma, n)
    raise ValueError(f"unknown dwell family {family!r}")


def dwell_mean(dwell: tuple) -> float:
    return dwell[2] if dwell[0] in ("weibull", "gamma") else dwell[1]


def paths(truth: dict, segment: str, start: np.ndarray, until: float, rng: np.random.Generator):
    """Stage-entry events of accounts entering the entry stage at `start` (days), followed until
    `until` or absorption: arrays (account, time, stage index), in account then time order."""
    stages = truth["stages"]
    spec = truth["segments"][segment]["stages"]
    n = len(start)
    stage = np.full(n, stages.index(truth["entry"]))
    t = np.asarray(start, dtype=float).copy()
    alive = np.arange(n)
    acc, tim, stg = [alive.copy()], [t.copy()], [stage.copy()]
    while alive.size:
        new_stage = stage[alive].copy()
        new_time = t[alive].copy()
        for s, name in enumerate(stages):
            if name in truth["absorbing"]:
                continue
            sel = np.nonzero(stage[alive] == s)[0]
            if sel.size == 0:
                continue
            new_time[sel] += _dwells(rng, spec[name]["dwell"], sel.size)
            targets = list(spec[name]["next"])
            probs = np.array([spec[name]["next"][k] for k in targets])
            pick = rng.choice(len(targets), size=sel.size, p=probs / probs.sum())
            new_stage[sel] = [stages.index(targets[k]) for k in pick]
        keep = new_time < until
        alive = alive[keep]
        stage[alive] = new_stage[keep]
        t[alive] = new_time[keep]
        acc.append(alive.copy())
        tim.append(t[alive].copy())
        stg.append(stage[alive].copy())
        alive = alive[~np.isin(stage[alive], [stages.index(a) for a in truth["absorbing"]])]
    account, time, st = np.concatenate(acc), np.concatenate(tim), np.concatenate(stg)
    order = np.lexsort((time, account))
    return account[order], time[order], st[order]


def month_ends(start: str, months: int) -> list[pd.Timestamp]:
    """The last second (23:59:59) of each of `months` calendar months from the month of `start`."""
    first = pd.Timestamp(start).to_period("M")
    return [(first + k).to_timestamp(how="end").floor("s") for k in range(months)]


def export(
    truth: dict,
    accounts: int,
    seed: int,
    start: str = "2025-01-01",
    months: int = 24,
    before_months: int = 3,
    stage_entered: bool = False,
) -> dict:
    """A CRM's month-end exports of `accounts` accounts created at random times (with a time of
    day) from `before_months` before `start` to the last export; returns {"accounts": the accounts
    table, "snapshots": the exports joined with the creation time (and the segment), "events": the
    true stage entries (for checking only)}. With stage_entered, each export row also carries the
    time the account entered its current stage (some CRMs export it)."""
    rng = np.random.default_rng(seed)
    day0 = pd.Timestamp(start) - pd.DateOffset(months=before_months)
    ends = month_ends(start, months)
    horizon = (ends[-1] - day0) / pd.Timedelta(days=1)
    created = np.sort(rng.uniform(0.0, horizon, accounts))
    # CRM clocks count whole seconds.
    created = np.floor(created * 86400.0) / 86400.0
    names = list(truth["segments"])
    shares = np.array([truth["segments"][s]["share"] for s in names])
    segment = rng.choice(len(names), size=accounts, p=shares / shares.sum())
    ends_days = np.array([(e - day0) / pd.Timedelta(days=1) for e in ends])
    events = []
    for k, name in enumerate(names):
        ids = np.nonzero(segment == k)[0]
        acc, tim, stg = paths(truth, name, created[ids], ends_days[-1] + 1.0, rng)
        events.append((ids[acc], tim, stg))
    acc = np.concatenate([e[0] for e in events])
    tim = np.concatenate([e[1] for e in events])
    stg = np.concatenate([e[2] for e in events])
    order = np.lexsort((tim, acc))
    acc, tim, stg = acc[order], tim[order], stg[order]
    # The stage at each month end: the account's last entry at or before it (its creation is one).
    span = float(ends_days[-1]) + 10.0
    key = acc * span + tim
    pair_acc, pair_end = np.nonzero(ends_days[None, :] >= created[:, None])
    where = np.searchsorted(key, pair_acc * span + ends_days[pair_end], side="right") - 1
    stages = np.array(truth["stages"])
    to_ts = lambda days: day0 + pd.to_timedelta(np.round(days * 86400.0), unit="s")  # noqa: E731
    ids = np.array([f"A{a:06d}" for a in range(accounts)])
    end_text = np.array([e.strftime("%Y-%m-%dT%H:%M:%S") for e in ends])
    created_text = np.asarray(to_ts(created).strftime("%Y-%m-%dT%H:%M:%S"))
    out = pd.DataFrame(
        {
            "customer_id": ids[pair_acc],
            "date": end_text[pair_end],
            "stage": stages[stg[where]],
            "segment": np.array(names)[segment[pair_acc]],
            "created": created_text[pair_acc],
        }
    )
    if stage_entered:
        out["stage_entered"] = np.asarray(to_ts(tim[where]).strftime("%Y-%m-%dT%H:%M:%S"))
    table = pd.DataFrame(
        {"customer_id": ids, "segment": np.array(names)[segment], "created": created_text}
    )
    ev = pd.DataFrame({"account": acc, "time": tim, "stage": stages[stg]})
    return {"accounts": table, "snapshots": out, "events": ev, "day0": day0}


# ---- the truth's own numbers (for the tests' comparisons) ----------------------------------------


def embedded(truth: dict, segment: str) -> np.ndarray:
    stages = truth["stages"]
    p = np.zeros((len(stages), len(stages)))
    for i, name in enumerate(stages):
        if name in truth["absorbing"]:
            p[i, i] = 1.0
            continue
        for to, prob in truth["segments"][segment]["stages"][name]["next"].items():
            p[i, stages.index(to)] += prob
    return p


def reach_probability(truth: dict, segment: str, target: str) -> float:
    """P(an account entering the entry stage ever reaches `target`): the jump chain with `target`
    made absorbing, solved with the fundamental matrix."""
    stages = truth["stages"]
    p = embedded(truth, segment)
    t = stages.index(target)
    p[t, :] = 0.0
    p[t, t] = 1.0
    transient = [i for i, s in enumerate(stages) if s not in truth["absorbing"] and i != t]
    q = p[np.ix_(transient, transient)]
    h = np.linalg.solve(np.eye(len(transient)) - q, p[np.ix_(transient, [t])])[:, 0]
    return float(h[transient.index(stages.index(truth["entry"]))])


def occupancy(truth: dict, segment: str, day: float, n: int = 200_000, seed: int = 12345) -> dict:
    """P(in each stage at `day`) of an account entering the entry stage at day 0, by simulating n
    accounts with this generator (the value and its binomial variance)."""
    rng = np.random.default_rng(seed)
    acc, tim, stg = paths(truth, segment, np.zeros(n), day + 1e-9, rng)
    keep = tim <= day
    acc, stg = acc[keep], stg[keep]
    last = np.r_[acc[1:] != acc[:-1], True]
    counts = np.bincount(stg[last], minlength=len(truth["stages"])) / n
    return {
        s: (float(counts[i]), float(counts[i] * (1 - counts[i]) / n))
        for i, s in enumerate(truth["stages"])
    }


# ---- the truths of the tests -----------------------------------------------------------------------


def _ten(slow: float, sql_won: float) -> dict:
    return {
        "awareness": {"dwell": ("exponential", 40.0 * slow), "next": {"engaged": 0.6, "lost": 0.4}},
        "engaged": {
            "dwell": ("exponential", 20.0 * slow),
            "next": {"lead": 0.55, "mql": 0.12, "awareness": 0.08, "lost": 0.25},
        },
        "lead": {
            "dwell": ("weibull", 1.8, 18.0 * slow),
            "next": {"mql": 0.55, "sql": 0.15, "engaged": 0.05, "lost": 0.25},
        },
        "mql": {
            "dwell": ("weibull", 0.7, 25.0 * slow),
            "next": {"sql": 0.5, "lead": 0.1, "lost": 0.4},
        },
        "sql": {
            "dwell": ("lognormal", 30.0 * slow, 0.8),
            "next": {"customer": sql_won, "mql": 0.1, "lost": 0.9 - sql_won},
        },
        "customer": {
            "dwell": ("exponential", 150.0),
            "next": {"loyal": 0.6, "advocate": 0.1, "churned": 0.3},
        },
        "loyal": {
            "dwell": ("exponential", 240.0),
            "next": {"advocate": 0.3, "customer": 0.1, "churned": 0.6},
        },
        "advocate": {"dwell": ("exponential", 300.0), "next": {"loyal": 0.2, "churned": 0.8}},
    }


# Ten stages, two segments: Weibull lead (shape 1.8) and mql (0.7), lognormal sql, exponential
# elsewhere; skips engaged -> mql, lead -> sql, customer -> advocate; backward moves engaged ->
# awareness, lead -> engaged, mql -> lead, sql -> mql, loyal -> customer, advocate -> loyal; engaged,
# lead, mql and sql dwell 0.6-1.2 months on average, less than or about the export interval.
TEN = {
    "entry": "awareness",
    "stages": [
        "awareness",
        "engaged",
        "lead",
        "mql",
        "sql",
        "customer",
        "loyal",
        "advocate",
        "lost",
        "churned",
    ],
    "absorbing": ["lost", "churned"],
    "segments": {
        "smb": {"share": 0.7, "stages": _ten(1.0, 0.4)},
        "ent": {"share": 0.3, "stages": _ten(1.25, 0.55)},
    },
}

# A small truth for coverage: a skip (lead -> sql, around an exponential mql) and a backward move
# (mql -> lead), a Weibull lead whose mean dwell is half the export interval and a lognormal sql,
# one segment. The tests also allow sql -> mql, which the truth never takes (its probability is 0:
# a boundary). (A skip around a stage whose dwell is more regular than exponential is harder:
# docs/calibration.md, "What monthly snapshots cannot tell".)
SMALL = {
    "entry": "lead",
    "stages": ["lead", "mql", "sql", "won", "lost"],
    "absorbing": ["won", "lost"],
    "segments": {
        "all": {
            "share": 1.0,
            "stages": {
                "lead": {
                    "dwell": ("weibull", 1.5, 15.0),
                    "next": {"mql": 0.6, "sql": 0.1, "lost": 0.3},
                },
                "mql": {
                    "dwell": ("exponential", 25.0),
                    "next": {"sql": 0.5, "lead": 0.15, "lost": 0.35},
                },
                "sql": {"dwell": ("lognormal", 20.0, 0.7), "next": {"won": 0.5, "lost": 0.5}},
            },
        }
    },
}
