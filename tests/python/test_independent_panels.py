"""Snapshot calibration on data lcsim did not make: month-end CRM exports written by crm_export.py
(plain numpy, from the CRM's side: accounts created at timestamps, exports at 23:59:59 with
absorbed accounts repeated, skips and backward moves, Weibull and lognormal dwells, stages faster
than the export interval). The phase-type fit must recover the truth with honest intervals; the
Markov fit on the same data is shown missing a skip; the coverage of the intervals is measured
over 100 seeds; an allowed transition the truth never takes is answered at 0 with its upper bound."""

from __future__ import annotations

import concurrent.futures
import math

import crm_export as crm
import numpy as np
import pytest

import lcsim

TEN_TRANSITIONS = None  # inferred from the export, as an analyst without a stage model would run it


def _z(row: dict, truth: float, extra_var: float = 0.0) -> float:
    """Distance of the truth from the estimate in standard errors on the estimate's scale (log for
    means, logit for probabilities), the SE read off the interval's side that faces the truth (so
    asymmetric profile and boundary intervals are read as they are); `extra_var` is a simulated
    truth's own variance (probabilities)."""
    mean = ".dwell.mean" in row["parameter"]
    f = (
        math.log
        if mean
        else (
            lambda p: math.log(min(max(p, 1e-12), 1 - 1e-12) / (1 - min(max(p, 1e-12), 1 - 1e-12)))
        )
    )
    est, lo, hi = row["estimate"], row["ci_low"], row["ci_high"]
    assert np.isfinite(lo) and np.isfinite(hi), row
    t, e = f(truth), f(est)
    side = hi if t > e else lo
    if side <= 0.0 or (not mean and side >= 1.0):
        return 0.0  # the interval runs to the end of the range on that side
    se = abs(f(side) - e) / 1.959964
    if extra_var > 0.0:
        se = math.sqrt(se * se + extra_var / (truth * (1 - truth)) ** 2)
    return (t - e) / se if se > 0 else (0.0 if t == e else math.inf)


def _truth_rows(truth: dict, segment: str) -> dict:
    """Mean dwells and next-probabilities of one segment: next-probabilities of 0.05 and more (the
    skips included) of stages with more than one exit."""
    rows = {}
    for stage, spec in truth["segments"][segment]["stages"].items():
        rows[f"stages.{stage}.dwell.mean"] = crm.dwell_mean(spec["dwell"])
        if len(spec["next"]) > 1:
            rows.update(
                {f"stages.{stage}.next.{to}": p for to, p in spec["next"].items() if p >= 0.05}
            )
    return rows


@pytest.fixture(scope="module")
def ten():
    """The issue's export: 10 stages, 2 segments, 20,000 accounts, 24 month-end exports."""
    export = crm.export(crm.TEN, 20000, seed=1)
    cal = lcsim.calibrate(
        None,
        snapshots=export["snapshots"],
        segment_column="segment",
        absorbing=["lost", "churned"],
        won="customer",
    )
    return export, cal


def test_ten_stage_export_recovers_every_quantity_in_both_segments(ten):
    export, cal = ten
    assert export["accounts"]["segment"].value_counts().to_dict().keys() == {"smb", "ent"}
    rows = cal.phase_estimates.set_index("parameter")
    worst = {}
    for segment in ("smb", "ent"):
        prefix = f"segments.{segment}."
        checks = dict(_truth_rows(crm.TEN, segment))
        checks["conversion.customer"] = crm.reach_probability(crm.TEN, segment, "customer")
        occupancy = crm.occupancy(crm.TEN, segment, 365.0)
        extra = {}
        for stage, (p, var) in occupancy.items():
            if p >= 0.01:  # stages holding at least 1% at day 365 (far tails: docs/calibration.md)
                checks[f"occupancy.365.{stage}"] = p
                extra[f"occupancy.365.{stage}"] = var
        for parameter, truth in checks.items():
            row = rows.loc[prefix + parameter]
            z = _z(_row(row, parameter), truth, extra.get(parameter, 0.0))
            worst[prefix + parameter] = z
            assert abs(z) <= 4.0, (prefix + parameter, truth, row.to_dict())
    # The skips are found: engaged -> mql, lead -> sql and customer -> advocate are not at 0.
    for segment in ("smb", "ent"):
        for skip in ("engaged.next.mql", "lead.next.sql", "customer.next.advocate"):
            row = rows.loc[f"segments.{segment}.stages.{skip}"]
            assert row["ci_low"] > 0.01, (segment, skip, row.to_dict())
    assert len(worst) > 60


def _row(row, parameter):
    out = row.to_dict()
    out["parameter"] = parameter
    return out


def test_markov_fit_of_the_same_export_misses_a_skip(ten):
    _, cal = ten
    markov = cal.markov_estimates.set_index("parameter")
    misses = []
    for segment in ("smb", "ent"):
        for parameter, truth in _truth_rows(crm.TEN, segment).items():
            row = markov.loc[f"segments.{segment}.{parameter}"]
            if not row["ci_low"] <= truth <= row["ci_high"]:
                misses.append((segment, parameter, truth, row["estimate"]))
    # engaged -> mql (0.12) is left at 0 by the Markov model: its interval is [0, a bound below it].
    assert ("smb", "stages.engaged.next.mql") in {(s, p) for s, p, _, _ in misses}, misses
    assert len(misses) >= 4, misses


def test_ten_stage_choice_keeps_exponential_stages_exponential(ten):
    _, cal = ten
    dwells = cal.dwells.set_index(["segment", "stage"])
    for segment in ("smb", "ent"):
        # Weibull lead and mql and the lognormal sql get phases; exponential awareness, engaged,
        # loyal and advocate keep one.
        for stage in ("lead", "mql", "sql"):
            assert dwells.loc[(segment, stage), "phases"] > 1, (segment, stage)
        for stage in ("awareness", "engaged", "loyal", "advocate"):
            assert dwells.loc[(segment, stage), "phases"] == 1, (segment, stage)
    starts = cal.phase_starts
    assert list(starts["start"][:3]) == ["markov fit", "floored", "crude"] and starts["best"].any()


SMALL_TRANSITIONS = [
    ("lead", "mql"),
    ("lead", "sql"),
    ("lead", "lost"),
    ("mql", "sql"),
    ("mql", "lead"),
    ("mql", "lost"),
    ("sql", "won"),
    ("sql", "lost"),
    ("sql", "mql"),
]


def _small_fit(seed: int):
    export = crm.export(crm.SMALL, 2000, seed=seed, months=18, before_months=0)
    cal = lcsim.calibrate(
        None,
        snapshots=export["snapshots"],
        absorbing=["won", "lost"],
        won="won",
        transitions=SMALL_TRANSITIONS,
    )
    return cal.phase_estimates.set_index("parameter"), cal.dwells.set_index("stage")["phases"]


def test_intervals_cover_the_truth_over_100_seeds():
    """Coverage of the 95% intervals of every quantity over 100 exports of SMALL (2,000 accounts,
    18 months): 90-99%; the transition the truth never takes (sql -> mql) is answered at 0 with an
    upper bound, 0 not rejected; the exponential mql keeps one phase beside the Weibull lead and the
    lognormal sql in at least 90 of 100."""
    truth = _truth_rows(crm.SMALL, "all")
    truth["stages.lead.next.sql"] = 0.1
    truth["conversion.won"] = crm.reach_probability(crm.SMALL, "all", "won")
    seeds = range(5000, 5100)
    covered = {p: 0 for p in truth}
    absent_at_boundary = 0
    mql_one_phase = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:  # calibrate releases the GIL
        for rows, phases in pool.map(_small_fit, seeds):
            mql_one_phase += phases["mql"] == 1
            for parameter, value in truth.items():
                covered[parameter] += (
                    rows.loc[parameter, "ci_low"] <= value <= rows.loc[parameter, "ci_high"]
                )
            absent = rows.loc["stages.sql.next.mql"]
            absent_at_boundary += (
                absent["method"] == "boundary"
                and absent["ci_low"] == 0.0
                and absent["p_zero"] >= 0.05
                and absent["ci_high"] < 0.05
            )
    coverage = {p: c / len(seeds) for p, c in covered.items()}
    assert all(0.90 <= c <= 0.99 for c in coverage.values()), coverage
    assert absent_at_boundary >= 90, absent_at_boundary
    assert mql_one_phase >= 90, mql_one_phase


def test_cli_answers_an_absent_transition_as_a_boundary(lcsim_cli, tmp_path):
    export = crm.export(crm.SMALL, 2000, seed=11, months=18, before_months=0)
    export["snapshots"].to_csv(tmp_path / "exports.csv", index=False)
    res = lcsim_cli(
        "calibrate",
        "--snapshots",
        tmp_path / "exports.csv",
        "--absorbing",
        "won,lost",
        "--won",
        "won",
        "--transitions",
        ",".join(f"{a}:{b}" for a, b in SMALL_TRANSITIONS),
        "--out",
        tmp_path / "s.yaml",
        "--report",
        tmp_path / "r.json",
    )
    assert res.returncode == 0, res.stderr
    line = next(ln for ln in res.stdout.splitlines() if ln.startswith("stages.sql.next.mql"))
    assert "[0, " in line and "0 not rejected (LR test p = " in line, line
    assert "Markov model's starts" in res.stdout and "likelihood-ratio tests" in res.stdout
