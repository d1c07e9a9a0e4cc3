"""Backtests: calibrate on history up to a cut, simulate the held-out period, compare with what happened.

>>> bt = lcsim.backtest(events, holdout_start="2025-10-01", absorbing=["won", "lost"], replications=40)
>>> bt.table        # period, start, end, stage, observed, simulated, sim_low, sim_high, inside
>>> bt.error        # per stage (and "all"): cells, mape, rmse, coverage
>>> lcsim.plot.backtest(bt)

**Design.** The calibrated scenario is simulated from day 0 of the history (the log's epoch, with
its initial cohort and arrival streams) to the end of the holdout, and only the holdout window is
compared. The alternative, starting the customers present at the cut in their stage at the cut,
would restart their dwell clocks: with Weibull, lognormal or gamma dwells the time already spent in
a stage changes the time left, and the scenario has no way to say "entered 40 days ago". Simulating
from the start gives every customer the model's own age in its stage at the cut; the price is that
the state at the cut is simulated too, so the bands include that noise (an honest part of the
forecast's uncertainty, since a what-if run starts the same way).

**Entries.** An entry into a stage is a row of the log (the first row of a customer is its arrival)
and, in the simulation, an event of the event log. Periods are calendar months (the first and last
may be partial) or blocks of ``period`` days from the cut. The band is the 2.5%-97.5% quantile range
of the replications' counts, a prediction interval for one history.

**Layers.** This module knows calibrations only by what it reads of them (``epoch``, ``window``,
``scenario``), so it imports no calibration code: :mod:`lcsim.calibration` imports it, for
:meth:`lcsim.Calibration.backtest` and :func:`lcsim.backtest` (calibrate before the cut, then
:func:`run_backtest`), which live there.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pandas as pd

from .errors import ScenarioError
from .simulation import simulate

__all__ = ["Backtest", "run_backtest"]

_TABLE_COLUMNS = [
    "period",
    "start",
    "end",
    "stage",
    "observed",
    "simulated",
    "sim_low",
    "sim_high",
    "inside",
]


class Backtest:
    """The result of :func:`lcsim.backtest` or :meth:`lcsim.Calibration.backtest`.

    Attributes
    ----------
    table : DataFrame
        One row per (period, stage): ``period`` (label: ``YYYY-MM`` or the start date), ``start``,
        ``end`` (days since the epoch), ``stage``, ``observed`` entries, ``simulated`` (mean over
        replications), ``sim_low``, ``sim_high`` (2.5% and 97.5% quantiles), ``inside`` (observed
        within the band).
    conversions : DataFrame
        Entries into the won stage summed over the holdout: ``observed, simulated, sim_low,
        sim_high, inside, relative_error``.
    error : DataFrame
        Per stage, then ``"all"``: ``cells`` (periods), ``mape`` (mean absolute percentage error of
        the simulated mean over cells with observed > 0; a short partial period weighs as much as a
        whole one), ``wape`` (sum of absolute errors / sum of observed: robust to small cells),
        ``rmse``, ``coverage`` (share of cells whose observed count lies in the band).
    coverage, mape, wape : float
        The ``"all"`` row's coverage, MAPE and WAPE.
    calibration : lcsim.Calibration
        The fit on the training part.
    scenario : lcsim.Scenario
        What was simulated (the calibrated scenario with the horizon moved to the end of the holdout).
    cut, end : float
        The holdout window, days since the epoch.
    run : lcsim.Run
        The simulation (with its event log).
    """

    def __init__(self, calibration, scenario, run, table, conversions, cut, end, won):
        self.calibration = calibration
        self.scenario = scenario
        self.run = run
        self.table = table
        self.conversions = conversions
        self.cut = cut
        self.end = end
        self.won = won
        self.error = _errors(table)
        overall = self.error[self.error["stage"] == "all"].iloc[0]
        self.coverage = float(overall["coverage"])
        self.mape = float(overall["mape"])
        self.wape = float(overall["wape"])

    def __repr__(self) -> str:
        return (
            f"Backtest(days {self.cut:g}-{self.end:g}, periods={self.table['period'].nunique()}, "
            f"stages={self.table['stage'].nunique()}, replications={self.run.replications}, "
            f"coverage={self.coverage:.2f}, mape={self.mape:.3f})"
        )


def _errors(table: pd.DataFrame) -> pd.DataFrame:
    rows = []
    groups = [(s, g) for s, g in table.groupby("stage", sort=False, observed=True)] + [
        ("all", table)
    ]
    for stage, g in groups:
        pos = g[g["observed"] > 0]
        mape = (
            float((abs(pos["simulated"] - pos["observed"]) / pos["observed"]).mean())
            if len(pos)
            else math.nan
        )
        rows.append(
            {
                "stage": stage,
                "cells": len(g),
                "mape": mape,
                "wape": float(abs(g["simulated"] - g["observed"]).sum() / g["observed"].sum())
                if g["observed"].sum()
                else math.nan,
                "rmse": float(np.sqrt(((g["simulated"] - g["observed"]) ** 2).mean()))
                if len(g)
                else math.nan,
                "coverage": float(g["inside"].mean()) if len(g) else math.nan,
            }
        )
    return pd.DataFrame(rows)


def read_history(events) -> tuple[pd.DataFrame, str]:
    """The log as a string DataFrame and its name for messages."""
    if isinstance(events, pd.DataFrame):
        return events.copy(), "<events>"
    if isinstance(events, (str, os.PathLike)):
        path = os.fspath(events)
        try:
            return pd.read_csv(path, dtype=str, keep_default_na=False), path
        except OSError as e:
            raise ScenarioError.of([(path, 0, "", f"cannot read file: {e}")]) from e
    raise TypeError(f"expected a path or a pandas DataFrame, got {type(events).__name__}")


def read_timestamps(frame: pd.DataFrame, file: str, column: str = "timestamp") -> pd.Series:
    """UTC timestamps of a column; unparseable ones are a ScenarioError naming line and column."""
    if column not in frame.columns:
        msg = f"missing column '{column}' (columns: {', '.join(map(str, frame.columns))})"
        raise ScenarioError.of([(file, 1, column, msg)])
    raw = frame[column]
    if pd.api.types.is_datetime64_any_dtype(raw):
        ts = pd.to_datetime(raw, utc=True)
    else:
        ts = pd.to_datetime(raw.astype(str), utc=True, errors="coerce", format="ISO8601")
    bad = np.flatnonzero(ts.isna().to_numpy())
    if bad.size:
        problems = [
            (file, int(i) + 2, column, f"expected a timestamp, got {str(raw.iloc[i])!r}")
            for i in bad[:20]
        ]
        raise ScenarioError.of(problems)
    return ts


def days_since(ts, epoch: str):
    return (ts - pd.Timestamp(epoch, tz="UTC")) / pd.Timedelta(days=1)


def _periods(
    epoch: str, cut: float, end: float, period: str | float
) -> tuple[np.ndarray, list[str]]:
    """Edges (days) and labels of the holdout periods."""
    if period == "month":
        origin = pd.Timestamp(epoch, tz="UTC")
        start = origin + pd.Timedelta(days=cut)
        months = pd.date_range(
            start.normalize().replace(day=1), origin + pd.Timedelta(days=end), freq="MS", tz="UTC"
        )
        inner = [
            float(days_since(m, epoch)) for m in months if cut < float(days_since(m, epoch)) < end
        ]
        edges = np.array([cut] + inner + [end])
        labels = [(origin + pd.Timedelta(days=e)).strftime("%Y-%m") for e in edges[:-1]]
        return edges, labels
    step = float(period)
    if not step > 0:
        raise ValueError(f"period must be 'month' or a number of days > 0, got {period!r}")
    edges = np.append(np.arange(cut, end, step), end)
    origin = pd.Timestamp(epoch, tz="UTC")
    labels = [(origin + pd.Timedelta(days=e)).strftime("%Y-%m-%d") for e in edges[:-1]]
    return edges, labels


def _count(
    days: np.ndarray, stage_index: np.ndarray, edges: np.ndarray, n_stages: int
) -> np.ndarray:
    """Entries per [period, stage]; days outside [edges[0], edges[-1]) are dropped."""
    k = np.searchsorted(edges, days, side="right") - 1
    ok = (k >= 0) & (k < len(edges) - 1) & (stage_index >= 0)
    out = np.zeros((len(edges) - 1, n_stages), dtype=np.int64)
    np.add.at(out, (k[ok], stage_index[ok]), 1)
    return out


def run_backtest(
    calibration,
    history,
    *,
    holdout: float | None = None,
    replications: int = 20,
    seed: int | None = None,
    threads: int | None = None,
    period: str | float = "month",
    scenario=None,
    uncertainty: bool = False,
    stage_map: dict | None = None,
) -> Backtest:
    """Backtests a calibration fitted on history up to its window end (see :meth:`Calibration.backtest`)."""
    frame, file = read_history(history)
    if "stage" not in frame.columns:
        msg = f"missing column 'stage' (columns: {', '.join(map(str, frame.columns))})"
        raise ScenarioError.of([(file, 1, "stage", msg)])
    days = days_since(read_timestamps(frame, file), calibration.epoch).to_numpy(dtype=float)
    cut = float(calibration.window[1])
    last = float(days.max()) if days.size else cut
    end = cut + float(holdout) if holdout is not None else last
    if not end > cut:
        msg = (
            f"expected history after the calibration's end (day {cut:g}, {calibration.epoch} + {cut:g} days); "
            f"the history ends at day {last:g}"
        )
        raise ScenarioError.of([(file, 0, "holdout", msg)])
    base = scenario if scenario is not None else calibration.scenario
    sim_scenario = base.with_changes({"horizon": end})
    stages = sim_scenario.stages
    index = {s: i for i, s in enumerate(stages)}
    observed_stage = frame["stage"].astype(str).map(lambda s: (stage_map or {}).get(s, s))
    unknown = sorted(set(observed_stage) - set(index))
    if unknown:
        msg = f"stages {unknown} are not in the calibrated scenario (stages: {', '.join(stages)})"
        raise ScenarioError.of([(file, 0, "stage", msg)])
    edges, labels = _periods(calibration.epoch, cut, end, period)
    obs = _count(days, observed_stage.map(index).to_numpy(dtype=np.int64), edges, len(stages))

    run = simulate(
        sim_scenario,
        replications=replications,
        seed=seed,
        threads=threads,
        events=True,
        uncertainty=calibration if uncertainty else None,
    )
    ev = run.events()
    to = ev["to"].cat.codes.to_numpy(dtype=np.int64)
    rep = ev["replication"].to_numpy()
    reps = np.unique(run.arrays["replication"])
    sims = np.stack(
        [_count(ev["time"].to_numpy()[rep == r], to[rep == r], edges, len(stages)) for r in reps]
    )
    mean = sims.mean(axis=0)
    low, high = np.quantile(sims, 0.025, axis=0), np.quantile(sims, 0.975, axis=0)
    p, s = obs.shape
    table = pd.DataFrame(
        {
            "period": np.repeat(labels, s),
            "start": np.repeat(edges[:-1], s),
            "end": np.repeat(edges[1:], s),
            "stage": pd.Categorical(np.tile(stages, p), categories=stages),
            "observed": obs.reshape(-1),
            "simulated": mean.reshape(-1),
            "sim_low": low.reshape(-1),
            "sim_high": high.reshape(-1),
        }
    )
    table["inside"] = (table["observed"] >= table["sim_low"]) & (
        table["observed"] <= table["sim_high"]
    )
    # stages nobody enters in the holdout, observed or simulated, say nothing: leave them out
    entered = table.groupby("stage", observed=True)[["observed", "simulated"]].sum().sum(axis=1)
    table = table[table["stage"].isin(entered[entered > 0].index)].reset_index(drop=True)
    table["stage"] = table["stage"].cat.remove_unused_categories()

    won = run.info.won
    conversions = pd.DataFrame()
    if won in index:
        o = int(obs[:, index[won]].sum())
        per_rep = sims[:, :, index[won]].sum(axis=1)
        m = float(per_rep.mean())
        lo, hi = np.quantile(per_rep, [0.025, 0.975])
        conversions = pd.DataFrame(
            [
                {
                    "stage": won,
                    "observed": o,
                    "simulated": m,
                    "sim_low": float(lo),
                    "sim_high": float(hi),
                    "inside": bool(lo <= o <= hi),
                    "relative_error": (m - o) / o if o else math.nan,
                }
            ]
        )
    return Backtest(calibration, sim_scenario, run, table, conversions, cut, end, won)
