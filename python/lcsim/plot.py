"""Plots of a :class:`lcsim.Run`: the funnel, stage occupancy over time, and flows between stages.

Every function takes the run and an optional matplotlib ``ax``; without one it creates a new
figure (through pyplot, so it shows inline in Jupyter). Each returns the Axes it drew on, with a
title, labelled axes and a legend. Uncertainty is shown across replications: means with 95%
Student-t intervals of the mean (or min-max ranges where asked).

>>> import lcsim
>>> run = lcsim.simulate("scenarios/b2b_saas/baseline.yaml", replications=10)
>>> lcsim.plot.funnel(run)
>>> lcsim.plot.occupancy(run, stages=["lead", "mql", "sql"], band="range")
>>> lcsim.plot.flows(run)
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import to_rgb
from matplotlib.transforms import offset_copy

__all__ = ["flows", "funnel", "occupancy"]

_LEVEL = 0.95
# Destinations that are drop-off (absorbing, not the won stage) get these, in order.
_DROPOFF_COLOURS = ["#c0392b", "#7f7f7f", "#e8827a", "#b0b0b0", "#8e1b10", "#4d4d4d"]
# The won stage stands out in green; everything else: blues, purples, olives (no reds, oranges, greys, greens).
_WON_COLOUR = "#2ca02c"
_OTHER_COLOURS = [
    "#1f77b4", "#9467bd", "#17becf", "#bcbd22", "#aec7e8", "#c5b0d5",
    "#393b79", "#6baed6", "#5254a3", "#7b4173", "#9edae5", "#dbdb8d",
]


# ---- shared aggregation over replications -------------------------------------------------
def _t_quantile(level: float, df: int) -> float:
    """The two-sided Student-t critical value: P(|T| < q) = level for T ~ t(df).

    Exact for integer ``df`` (Abramowitz & Stegun 26.7.3-4, inverted by bisection); the normal
    quantile for very large ``df``. NaN when ``df < 1``.
    """
    if df < 1:
        return math.nan
    if df > 20000:
        return NormalDist().inv_cdf(0.5 + level / 2)

    def coverage(t: float) -> float:
        theta = math.atan(t / math.sqrt(df))
        s, c = math.sin(theta), math.cos(theta)
        c2 = c * c
        if df % 2:  # odd
            total, term = 0.0, c
            for k in range(1, (df - 1) // 2 + 1):
                total += term
                term *= c2 * (2 * k) / (2 * k + 1)
            return 2 / math.pi * (theta + s * total) if df > 1 else 2 * theta / math.pi
        total, term = 0.0, 1.0
        for k in range(1, df // 2 + 1):
            total += term
            term *= c2 * (2 * k - 1) / (2 * k)
        return s * total

    lo, hi = 0.0, 2.0
    while coverage(hi) < level:
        hi *= 2
    for _ in range(200):
        mid = (lo + hi) / 2
        if coverage(mid) < level:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12 * hi:
            break
    return (lo + hi) / 2


def _across_replications(values, band: Optional[str] = "ci"):
    """Mean over replications (axis 0) and a band around it.

    Parameters
    ----------
    values : array_like, shape (R, ...)
        One row per replication.
    band : {"ci", "range", None}
        ``"ci"``: 95% Student-t interval of the mean (NaN with one replication); ``"range"``:
        minimum and maximum over replications; ``None``: no band (NaN).

    Returns
    -------
    mean, low, high : numpy.ndarray, shape (...)
    """
    values = np.asarray(values, dtype=float)
    n = values.shape[0]
    mean = values.mean(axis=0)
    if band == "ci":
        if n < 2:
            half = np.full_like(mean, np.nan)
        else:
            half = _t_quantile(_LEVEL, n - 1) * values.std(axis=0, ddof=1) / math.sqrt(n)
        return mean, mean - half, mean + half
    if band == "range":
        return mean, values.min(axis=0), values.max(axis=0)
    if band is None or band == "none":
        nan = np.full_like(mean, np.nan)
        return mean, nan, nan
    raise ValueError(f"band: expected 'ci', 'range' or None, got {band!r}")


def _absorbing(run) -> np.ndarray:
    """Boolean mask over ``run.stages``: which stages are absorbing."""
    try:
        stages = run.scenario.to_dict()["stages"]
        return np.array([bool((stages.get(s) or {}).get("absorbing", False)) for s in run.stages])
    except Exception:  # no usable scenario text: absorbing stages never have exits
        return run.arrays["transitions"].sum(axis=(0, 2)) == 0


def _ordered(run) -> list[int]:
    """Stage indices: non-absorbing stages in written order, then the absorbing ones."""
    absorbing = _absorbing(run)
    return [i for i in range(len(run.stages)) if not absorbing[i]] + [i for i in range(len(run.stages)) if absorbing[i]]


def _axes(ax: Optional[Axes], figsize) -> Axes:
    if ax is not None:
        return ax
    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _errors(mean, low, high) -> np.ndarray:
    """Asymmetric error-bar lengths (2, n); zero where the interval is undefined."""
    return np.nan_to_num(np.vstack([mean - low, high - mean]), nan=0.0)


def _title(what: str, run) -> str:
    r = run.replications
    return f"{what}: {run.name} ({r} replication{'s' if r != 1 else ''})"


# ---- plots ---------------------------------------------------------------------------------
def funnel(run, ax: Optional[Axes] = None, log: Optional[bool] = None) -> Axes:
    """Customers reaching each stage, and drop-off from it.

    Bars show the mean over replications of the customers who were in each stage at least once
    (:meth:`Run.reached`) with 95% confidence intervals, next to the mean drop-off from the stage
    (moves into an absorbing stage other than the won one; the ``dropoff.<stage>`` metrics).
    Non-absorbing stages come in the scenario's order, then the absorbing ones.

    Parameters
    ----------
    run : lcsim.Run
    ax : matplotlib.axes.Axes, optional
        Draw here; default: a new figure.
    log : bool, optional
        Logarithmic count axis. Default: when the largest stage is over 100 times the smallest
        non-empty one (late stages would otherwise be invisible).

    Returns
    -------
    matplotlib.axes.Axes
        With two bar series labelled ``"reached"`` and ``"drop-off"``.
    """
    order = _ordered(run)
    names = [run.stages[i] for i in order]
    reached = run.arrays["reached"][:, order]
    metrics = run.metrics()
    dropoff = np.column_stack(
        [metrics[f"dropoff.{s}"].to_numpy(float) if f"dropoff.{s}" in metrics else np.zeros(len(metrics)) for s in names]
    )
    r_mean, r_low, r_high = _across_replications(reached)
    d_mean, d_low, d_high = _across_replications(dropoff)

    ax = _axes(ax, (10, 4.8))
    x = np.arange(len(names))
    width = 0.4
    kw = dict(capsize=3, error_kw={"elinewidth": 1, "ecolor": "#333333"})
    bars = ax.bar(x - width / 2, r_mean, width, yerr=_errors(r_mean, r_low, r_high), label="reached", color="#1f77b4", **kw)
    ax.bar(x + width / 2, d_mean, width, yerr=_errors(d_mean, d_low, d_high), label="drop-off", color="#c0392b", **kw)
    ax.bar_label(bars, labels=[_count(v) for v in r_mean], padding=2, fontsize=8)

    positive = r_mean[r_mean > 0]
    smallest = np.concatenate([positive, d_mean[d_mean > 0]])
    if log is None:
        log = positive.size > 0 and positive.max() > 100 * positive.min()
    if log:
        ax.set_yscale("log")
        top = positive.max() if positive.size else 1.0
        ax.set_ylim(max(0.5, smallest.min() / 3) if smallest.size else 0.5, top * 4)
    else:
        ax.set_ylim(0, max(r_mean.max(initial=0), np.nanmax(r_high, initial=0)) * 1.12 or 1)
    ax.set_xticks(x, names, rotation=30, ha="right", rotation_mode="anchor")
    ax.set_xlabel("stage")
    ax.set_ylabel("customers per replication" + (" (log scale)" if log else ""))
    ax.set_title(_title("Funnel", run) + ", 95% CI")
    ax.legend(loc="upper right")
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    return ax


def occupancy(run, stages: Optional[Sequence[str]] = None, ax: Optional[Axes] = None, band: Optional[str] = "ci") -> Axes:
    """Customers in each stage over time: the mean over replications with a band.

    Parameters
    ----------
    run : lcsim.Run
    stages : sequence of str, optional
        Stages to draw, in this order. Default: every non-absorbing stage (absorbing stages only
        grow and would dominate the scale).
    ax : matplotlib.axes.Axes, optional
        Draw here; default: a new figure.
    band : {"ci", "range", None}
        ``"ci"``: 95% Student-t interval of the mean across replications; ``"range"``: minimum to
        maximum across replications; ``None``: lines only.

    Returns
    -------
    matplotlib.axes.Axes
        One line per stage, labelled with the stage name, in ``stages`` order.
    """
    if band not in ("ci", "range", None, "none"):
        raise ValueError(f"band: expected 'ci', 'range' or None, got {band!r}")
    if stages is None:
        absorbing = _absorbing(run)
        stages = [s for s, a in zip(run.stages, absorbing) if not a]
    else:
        stages = list(stages)
        unknown = [s for s in stages if s not in run.stages]
        if unknown:
            raise ValueError(f"unknown stage(s) {unknown}; the run has {run.stages}")
    index = [run.stages.index(s) for s in stages]
    days = run.report_times
    mean, low, high = _across_replications(run.arrays["occupancy"][:, :, index], band)

    ax = _axes(ax, (10, 4.8))
    colours = plt.get_cmap("tab10" if len(stages) <= 10 else "tab20").colors
    for j, stage in enumerate(stages):
        colour = colours[j % len(colours)]
        ax.plot(days, mean[:, j], color=colour, lw=1.6, label=stage)
        if band not in (None, "none"):
            ax.fill_between(days, low[:, j], high[:, j], color=colour, alpha=0.2, lw=0, label="_nolegend_")
    ax.set_xlabel("day")
    ax.set_ylabel("customers in stage")
    shade = {"ci": ", bands: 95% CI of the mean", "range": ", bands: min-max over replications"}.get(band, "")
    ax.set_title(_title("Customers per stage", run) + shade)
    ax.set_xlim(days[0], days[-1]) if len(days) > 1 else None
    ax.set_ylim(bottom=0)
    ax.legend(title="stage", loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    ax.grid(alpha=0.3)
    return ax


def flows(run, ax: Optional[Axes] = None) -> Axes:
    """Where customers go from each stage: shares of the exits by destination.

    One horizontal stacked bar per non-absorbing stage, from :meth:`Run.transitions` summed over
    replications and normalised per stage; segments wide enough carry their percentage. Drop-off
    destinations (absorbing stages other than the won one) are drawn in reds and greys, and come
    last in each bar. The mean number of exits per replication is written right of each bar.

    Parameters
    ----------
    run : lcsim.Run
    ax : matplotlib.axes.Axes, optional
        Draw here; default: a new figure.

    Returns
    -------
    matplotlib.axes.Axes
        One bar series per destination, labelled with the destination stage.
    """
    absorbing = _absorbing(run)
    sources = [i for i in range(len(run.stages)) if not absorbing[i]]
    counts = run.arrays["transitions"].sum(axis=0).astype(float)[sources]  # [from, to]
    exits = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.where(exits[:, None] > 0, counts / exits[:, None], 0.0)

    used = counts.sum(axis=0) > 0
    dropoff = absorbing & (np.array(run.stages) != run.info.won)
    destinations = [i for i in _ordered(run) if used[i] and not dropoff[i]] + [i for i in _ordered(run) if used[i] and dropoff[i]]
    won = run.stages.index(run.info.won) if run.info.won in run.stages else -1
    colour = {won: _WON_COLOUR}
    others = iter(_OTHER_COLOURS * len(destinations))
    reds = iter(_DROPOFF_COLOURS * len(destinations))
    for i in destinations:
        if i != won:
            colour[i] = next(reds) if dropoff[i] else next(others)

    ax = _axes(ax, (10, 1.2 + 0.45 * max(len(sources), 1)))
    y = np.arange(len(sources))
    left = np.zeros(len(sources))
    for i in destinations:
        width = shares[:, i]
        ax.barh(y, width, left=left, height=0.7, color=colour[i], label=run.stages[i], edgecolor="white", linewidth=0.5)
        ink = "white" if sum(c * w for c, w in zip(to_rgb(colour[i]), (0.299, 0.587, 0.114))) < 0.55 else "black"
        for row in np.flatnonzero(width >= 0.06):
            ax.text(left[row] + width[row] / 2, y[row], f"{width[row]:.0%}", ha="center", va="center", fontsize=8, color=ink)
        left += width
    per_rep = exits / max(run.replications, 1)
    for row in range(len(sources)):
        ax.text(1.01, y[row], _count(per_rep[row]) if exits[row] > 0 else "no exits", ha="left", va="center", fontsize=8,
                transform=ax.get_yaxis_transform())
    ax.text(1.01, 1.0, "exits/rep.", ha="left", va="bottom", fontsize=8, transform=ax.transAxes)

    ax.set_yticks(y, [run.stages[i] for i in sources])
    ax.set_ylim(len(sources) - 0.5, -0.5)  # first stage on top
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.set_xlabel("share of exits from the stage (summed over replications)")
    ax.set_ylabel("from stage")
    ax.set_title(_title("Where customers go from each stage", run))
    # Below the x label, a fixed distance in points whatever the figure's height.
    below = offset_copy(ax.transAxes, fig=ax.figure, y=-36, units="points")
    ax.legend(title="to (green: won, red/grey: drop-off)", loc="upper center", bbox_to_anchor=(0.5, 0.0),
              bbox_transform=below, ncol=min(len(destinations), 6), frameon=False)
    return ax


def _count(v: float) -> str:
    """Short count label: 46.1k, 974, 9.6."""
    if not np.isfinite(v):
        return ""
    if abs(v) >= 10000:
        return f"{v / 1000:.0f}k"
    if abs(v) >= 1000:
        return f"{v / 1000:.1f}k"
    if abs(v) >= 100:
        return f"{v:.0f}"
    return f"{v:.3g}"
