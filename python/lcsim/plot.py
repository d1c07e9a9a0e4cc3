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
>>> lcsim.plot.resources(run)                                # queue length and wait per team
>>> lcsim.plot.compare(lcsim.compare(base, variant))          # paired deltas with 95% CIs
>>> lcsim.plot.sweep(sw, x="touchpoints.webinar.reach", metric="conversions")
>>> lcsim.plot.sensitivity(lcsim.analyze(base))              # tornado of elasticities
>>> lcsim.plot.backtest(lcsim.backtest(events, holdout_start="2025-10-01"))  # observed vs simulated
>>> lcsim.plot.optimisation(lcsim.optimise(base, levers))    # plans tried, Pareto front, importance
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from contextlib import contextmanager

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import to_rgb
from matplotlib.transforms import offset_copy

from . import _core

__all__ = [
    "backtest",
    "compare",
    "flows",
    "funnel",
    "occupancy",
    "optimisation",
    "resources",
    "sensitivity",
    "sweep",
]

# Destinations that are drop-off (absorbing, not the won stage) get these, in order.
_DROPOFF_COLOURS = ["#c0392b", "#7f7f7f", "#e8827a", "#b0b0b0", "#8e1b10", "#4d4d4d"]
# The won stage stands out in green; everything else: blues, purples, olives (no reds, oranges, greys, greens).
_WON_COLOUR = "#2ca02c"
_OTHER_COLOURS = [
    "#1f77b4",
    "#9467bd",
    "#17becf",
    "#bcbd22",
    "#aec7e8",
    "#c5b0d5",
    "#393b79",
    "#6baed6",
    "#5254a3",
    "#7b4173",
    "#9edae5",
    "#dbdb8d",
]


# ---- shared aggregation over replications -------------------------------------------------
def _across_replications(values, band: str | None = "ci"):
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
            half = _core.t95_factor(n) * values.std(axis=0, ddof=1) / math.sqrt(n)
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
    return [i for i in range(len(run.stages)) if not absorbing[i]] + [
        i for i in range(len(run.stages)) if absorbing[i]
    ]


def _axes(ax: Axes | None, figsize) -> Axes:
    if ax is not None:
        return ax
    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _errors(mean, low, high) -> np.ndarray:
    """Asymmetric error-bar lengths (2, n); zero where the interval is undefined."""
    return np.nan_to_num(np.vstack([mean - low, high - mean]), nan=0.0)


def _title(what: str, run, detail: str = "") -> str:
    """Two short lines: what and which run; replications and what the bands are."""
    r = run.replications
    return f"{what}: {run.name}\n{r} replication{'s' if r != 1 else ''}{detail}"


# ---- plots ---------------------------------------------------------------------------------
def funnel(run, ax: Axes | None = None, log: bool | None = None) -> Axes:
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
        [
            metrics[f"dropoff.{s}"].to_numpy(float)
            if f"dropoff.{s}" in metrics
            else np.zeros(len(metrics))
            for s in names
        ]
    )
    r_mean, r_low, r_high = _across_replications(reached)
    d_mean, d_low, d_high = _across_replications(dropoff)

    ax = _axes(ax, (10, 4.8))
    x = np.arange(len(names))
    width = 0.4
    kw = dict(capsize=3, error_kw={"elinewidth": 1, "ecolor": "#333333"})
    bars = ax.bar(
        x - width / 2,
        r_mean,
        width,
        yerr=_errors(r_mean, r_low, r_high),
        label="reached",
        color="#1f77b4",
        **kw,
    )
    ax.bar(
        x + width / 2,
        d_mean,
        width,
        yerr=_errors(d_mean, d_low, d_high),
        label="drop-off",
        color="#c0392b",
        **kw,
    )
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
    ax.set_title(_title("Funnel", run, ", 95% CI"))
    ax.legend(loc="best")
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    return ax


def occupancy(
    run, stages: Sequence[str] | None = None, ax: Axes | None = None, band: str | None = "ci"
) -> Axes:
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
            ax.fill_between(
                days, low[:, j], high[:, j], color=colour, alpha=0.2, lw=0, label="_nolegend_"
            )
    ax.set_xlabel("day")
    ax.set_ylabel("customers in stage")
    shade = {"ci": ", bands: 95% CI of the mean", "range": ", bands: min to max"}.get(band, "")
    ax.set_title(_title("Customers per stage", run, shade))
    if len(days) > 1:
        ax.set_xlim(days[0], days[-1])
    ax.set_ylim(bottom=0)
    ax.legend(title="stage", loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    ax.grid(alpha=0.3)
    return ax


def flows(run, ax: Axes | None = None) -> Axes:
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
    destinations = [i for i in _ordered(run) if used[i] and not dropoff[i]] + [
        i for i in _ordered(run) if used[i] and dropoff[i]
    ]
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
        ax.barh(
            y,
            width,
            left=left,
            height=0.7,
            color=colour[i],
            label=run.stages[i],
            edgecolor="white",
            linewidth=0.5,
        )
        ink = (
            "white"
            if sum(c * w for c, w in zip(to_rgb(colour[i]), (0.299, 0.587, 0.114))) < 0.55
            else "black"
        )
        for row in np.flatnonzero(width >= 0.06):
            ax.text(
                left[row] + width[row] / 2,
                y[row],
                f"{width[row]:.0%}",
                ha="center",
                va="center",
                fontsize=8,
                color=ink,
            )
        left += width
    per_rep = exits / max(run.replications, 1)
    for row in range(len(sources)):
        ax.text(
            1.01,
            y[row],
            _count(per_rep[row]) if exits[row] > 0 else "no exits",
            ha="left",
            va="center",
            fontsize=8,
            transform=ax.get_yaxis_transform(),
        )
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
    ax.legend(
        title="to (green: won, red/grey: drop-off)",
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        bbox_transform=below,
        ncol=min(len(destinations), 6),
        frameon=False,
    )
    return ax


def _across_replications_nan(values):
    """Like ``_across_replications(values, "ci")``, leaving NaN replications out element by element
    (a period in which a replication started no service has no mean wait)."""
    values = np.asarray(values, dtype=float)
    n = np.sum(~np.isnan(values), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        total = np.nansum(values, axis=0)
        mean = np.where(n > 0, total / np.maximum(n, 1), np.nan)
        squares = np.nansum((values - mean) ** 2, axis=0)
        sd = np.sqrt(np.where(n > 1, squares / np.maximum(n - 1, 1), np.nan))
        factor = np.vectorize(
            lambda k: _core.t95_factor(int(k)) if k >= 2 else np.nan, otypes=[float]
        )(n)
        half = factor * sd / np.sqrt(np.maximum(n, 1))
    return mean, mean - half, mean + half


def resources(run, resource=None, axes=None, band: str | None = "ci"):
    """Each resource's queue over time: customers waiting, and how long the served waited.

    Two panels sharing the day axis. Top: customers waiting in the queue at each report time
    (:meth:`Run.queue`'s ``queue_length``), the mean over replications with a band. Bottom: the mean
    wait (days, queue join to service start) of the services that started in each period between
    report times, drawn flat over the period; replications in which no service started in a
    period are left out of that period's mean, and a period without any is a gap.

    Parameters
    ----------
    run : lcsim.Run
    resource : str or sequence of str, optional
        Resources to draw, in this order. Default: every resource of the run.
    axes : sequence of two matplotlib.axes.Axes, optional
        Draw here (queue length, wait); default: a new figure.
    band : {"ci", "range", None}
        ``"ci"``: 95% Student-t interval of the mean across replications; ``"range"``: minimum to
        maximum; ``None``: lines only.

    Returns
    -------
    matplotlib.figure.Figure
        With the two Axes (``fig.axes[0]`` queue length, ``fig.axes[1]`` wait), one line per
        resource in each, labelled with the resource name.
    """
    if band not in ("ci", "range", None, "none"):
        raise ValueError(f"band: expected 'ci', 'range' or None, got {band!r}")
    names = run.resource_names
    if not names:
        raise ValueError(f"run '{run.name}' has no resources (teams with limited capacity) to plot")
    if resource is None:
        chosen = list(names)
    else:
        chosen = [resource] if isinstance(resource, str) else list(resource)
        unknown = [r for r in chosen if r not in names]
        if unknown or not chosen:
            raise ValueError(f"unknown resource(s) {unknown}; the run has {names}")
    index = [names.index(r) for r in chosen]
    days = run.report_times
    length = run.arrays["queue_length"][:, :, index]
    wait = run.arrays["queue_wait"][:, :, index]
    l_mean, l_low, l_high = _across_replications(length, band)
    if band == "ci":
        w_mean, w_low, w_high = _across_replications_nan(wait)
    elif band == "range":
        with _quiet_nan_warnings():
            w_mean, w_low, w_high = (
                np.nanmean(wait, axis=0),
                np.nanmin(wait, axis=0),
                np.nanmax(wait, axis=0),
            )
    else:
        with _quiet_nan_warnings():
            w_mean = np.nanmean(wait, axis=0)
        w_low = w_high = np.full_like(w_mean, np.nan)

    if axes is None:
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7), sharex=True, layout="constrained")
    else:
        top, bottom = axes
        fig = top.figure
    colours = plt.get_cmap("tab10" if len(chosen) <= 10 else "tab20").colors
    shaded = band not in (None, "none")
    for j, name in enumerate(chosen):
        colour = colours[j % len(colours)]
        top.plot(days, l_mean[:, j], color=colour, lw=1.6, label=name)
        periods, w = _over_periods(days, w_mean[:, j])
        bottom.plot(periods, w, color=colour, lw=1.6, label=name)
        if shaded:
            top.fill_between(
                days, l_low[:, j], l_high[:, j], color=colour, alpha=0.2, lw=0, label="_nolegend_"
            )
            bottom.fill_between(
                periods,
                _over_periods(days, w_low[:, j])[1],
                _over_periods(days, w_high[:, j])[1],
                color=colour,
                alpha=0.2,
                lw=0,
                label="_nolegend_",
            )
    shade = {"ci": ", bands: 95% CI of the mean", "range": ", bands: min to max"}.get(band, "")
    top.set_title(_title("Queue", run, shade))
    top.set_ylabel("customers waiting")
    bottom.set_ylabel("mean wait of services\nstarted in the period (days)")
    bottom.set_xlabel("day")
    for ax in (top, bottom):
        if len(days) > 1:
            ax.set_xlim(days[0], days[-1])
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(title="resource", loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    return fig


def _over_periods(days, values):
    """A value per report time that belongs to the period ending then, as a flat step over each
    period (days[i-1], days[i]]: x = [d0, d1, d1, d2, ...], y = [v1, v1, v2, v2, ...]. The value at
    the first report time (an instant, not a period) is left out; NaN periods become gaps."""
    days = np.asarray(days, dtype=float)
    values = np.asarray(values, dtype=float)
    if days.size < 2:
        return days[:0], values[:0]
    x = np.column_stack([days[:-1], days[1:]]).reshape(-1)
    y = np.repeat(values[1:], 2)
    return x, y


@contextmanager
def _quiet_nan_warnings():
    """Silences numpy's "mean of empty slice" warnings (periods without any service)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        yield


def _count(v: float) -> str:
    """Short count label: 46k, 5.7k, 974, 41.6."""
    if not np.isfinite(v):
        return ""
    if abs(v) >= 10000:
        return f"{v / 1000:.0f}k"
    if abs(v) >= 1000:
        return f"{v / 1000:.1f}k"
    if abs(v) >= 100:
        return f"{v:.0f}"
    return f"{v:.3g}"


# ---- what-if comparisons and sweeps ---------------------------------------------------------
_COMPARE_METRICS = ["conversions", "conversion_rate", "revenue", "touchpoint_cost", "net_value"]


def _variant_colours(n: int) -> list:
    colours = plt.get_cmap("tab10").colors
    return [colours[j % len(colours)] for j in range(n)]


def _engineering(axis, values) -> None:
    """Ticks such as 20k or 13.5M (instead of 20000, or an offset "1e7") for large values."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size and np.abs(values).max() >= 1e4:
        from matplotlib.ticker import EngFormatter

        axis.set_major_formatter(EngFormatter(sep=""))


def _short(v: float, sign: bool = False) -> str:
    """A number for a label: 3 significant digits (whole numbers up to 9999), k/M/G from 10 000 on:
    1.25M, -85k, 1234, 428, 68.8, 0.0123."""
    if not np.isfinite(v):
        return "n/a"
    plus = "+" if sign and v > 0 else ""
    if abs(v) >= 1e4:
        v = float(f"{v:.3g}")  # round first: 999 999 is 1M, not 1000k
        for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
            if abs(v) >= factor:
                return f"{plus}{v / factor:.3g}{suffix}"
    return f"{plus}{v:.0f}" if abs(v) >= 100 else f"{plus}{v:.3g}"


def _signed(v: float, percent: bool = False) -> str:
    if not np.isfinite(v):
        return "n/a"
    return f"{v:+.1%}" if percent else _short(v, sign=True)


def _variant_handles(variants, colours) -> list:
    """Legend entries: a filled dot with a bar per variant (whatever the dots in the plot look like)."""
    from matplotlib.lines import Line2D

    return [
        Line2D([], [], color=c, marker="o", markerfacecolor=c, lw=1.6, label=v)
        for v, c in zip(variants, colours)
    ]


def compare(cmp, metrics: Sequence[str] | None = None, relative: bool = False, ax=None):
    """What each variant changes against the base: paired differences with 95% intervals.

    Draws, for each metric and variant, the mean paired difference over replications (variant minus
    base, same seed and replication numbers: common random numbers) as a dot with its 95% Student-t
    interval as a horizontal error bar, a dashed line at zero, and the value and interval as text
    right of the plot. A filled dot means the interval excludes zero; a hollow one that it does not.

    The metrics have their own units (customers, a rate, money), so by default each metric gets its
    own small row (its own x scale), one line per variant. With ``relative=True`` the lifts
    ((variant - base) / base mean, with their intervals) share one percent axis instead, grouped by
    metric: better for seeing at a glance which metric moves most, though a metric that moves a lot
    (the cost of a new touchpoint, say) squeezes the others, which is why differences are the default.
    A lift is undefined (shown as "n/a") where the base mean is zero.

    Parameters
    ----------
    cmp : lcsim.Comparison, or a DataFrame like ``Comparison.deltas()``
    metrics : sequence of str, optional
        Default: conversions, conversion_rate, revenue, touchpoint_cost, net_value (those present).
    relative : bool
        Lifts in percent on one axis instead of differences in each metric's units.
    ax : matplotlib.axes.Axes, or a sequence of them (one per metric), optional
        Draw here; default: a new figure.

    Returns
    -------
    numpy.ndarray of matplotlib.axes.Axes (one per metric), or with ``relative=True`` one Axes.
        Each has one error-bar series per variant, labelled with the variant's run name.
    """
    import pandas as pd

    deltas = (cmp.deltas() if hasattr(cmp, "deltas") else pd.DataFrame(cmp)).reset_index(drop=True)
    available = list(dict.fromkeys(deltas["metric"]))
    if metrics is None:
        metrics = [m for m in _COMPARE_METRICS if m in available] or available[:5]
    else:
        metrics = [metrics] if isinstance(metrics, str) else list(metrics)
        unknown = [m for m in metrics if m not in available]
        if unknown or not metrics:
            raise ValueError(f"unknown metric(s) {unknown}; the comparison has {available}")
    variants = _variant_labels(deltas)
    colours = _variant_colours(len(variants))
    rows = deltas.assign(variant=deltas["_label"]).set_index(["variant", "metric"])
    base = getattr(getattr(cmp, "base", None), "name", None)
    reps = getattr(cmp, "replications", None)
    if reps is None and "n" in deltas:
        reps = int(deltas["n"].max())
    against = f" vs {base}" if base else ""
    detail = f"{reps} paired replications, 95% CI" if reps else "95% CI"
    if relative:
        return _compare_lifts(rows, metrics, variants, colours, ax, f"Lift{against}\n{detail}")
    return _compare_deltas(
        rows, metrics, variants, colours, ax, f"Paired differences{against}\n{detail}"
    )


def _variant_labels(deltas) -> list:
    """Adds a ``_label`` column naming each variant's block of rows uniquely (variants whose runs
    share a name become 'name #1', 'name #2', ...); returns the labels in order."""
    block, blocks, seen, previous = [], [], set(), None
    for variant, metric in zip(deltas["variant"], deltas["metric"]):
        if not blocks or variant != previous or metric in seen:  # a new variant's rows start
            blocks.append(variant)
            seen = set()
        seen.add(metric)
        previous = variant
        block.append(len(blocks) - 1)
    counts = {name: blocks.count(name) for name in blocks}
    numbers: dict = {}
    labels = []
    for name in blocks:
        numbers[name] = numbers.get(name, 0) + 1
        labels.append(f"{name} #{numbers[name]}" if counts[name] > 1 else str(name))
    deltas["_label"] = [labels[b] for b in block]
    return labels


def _compare_deltas(rows, metrics, variants, colours, ax, title):
    from matplotlib.ticker import MaxNLocator

    nv, nm = len(variants), len(metrics)
    if ax is None:
        fig, grid = plt.subplots(
            nm, 1, figsize=(9, 0.9 + nm * (0.75 + 0.3 * nv)), layout="constrained", squeeze=False
        )
        axes = grid[:, 0]
        fig.suptitle(title)
    else:
        axes = np.atleast_1d(np.asarray(ax, dtype=object))
        if len(axes) != nm:
            raise ValueError(
                f"ax: {nm} metrics need {nm} Axes (one row each), got {len(axes)}; or pass relative=True"
            )
    for k, (metric, a) in enumerate(zip(metrics, axes)):
        extremes = [0.0]
        for j, variant in enumerate(variants):
            if (variant, metric) not in rows.index:
                continue
            r = rows.loc[(variant, metric)]
            d, lo, hi = float(r["delta"]), float(r["ci_low"]), float(r["ci_high"])
            significant = np.isfinite(lo) and (lo > 0 or hi < 0)
            a.errorbar(
                [d],
                [j],
                xerr=_errors(np.array([d]), np.array([lo]), np.array([hi])),
                fmt="o",
                color=colours[j],
                markerfacecolor=colours[j] if significant else "white",
                markersize=7,
                capsize=4,
                lw=1.6,
                label=variant,
            )
            a.text(
                1.01,
                j,
                f"{_signed(d)} [{_signed(lo)}, {_signed(hi)}]",
                transform=a.get_yaxis_transform(),
                ha="left",
                va="center",
                fontsize=8,
            )
            extremes += [v for v in (d, lo, hi) if np.isfinite(v)]
        a.axvline(0, color="#333333", lw=0.9, ls="--", zorder=0)
        _engineering(a.xaxis, extremes)
        span = (max(extremes) - min(extremes)) or 1.0
        a.set_xlim(min(extremes) - 0.08 * span, max(extremes) + 0.08 * span)
        a.set_yticks(range(nv), variants)
        a.set_ylim(nv - 0.5, -0.5)
        base_mean = (
            rows.xs(metric, level="metric")["base_mean"].iloc[0] if "base_mean" in rows else np.nan
        )
        a.xaxis.set_major_locator(MaxNLocator(nbins=6))
        a.set_title(
            f"{metric}" + (f" (base mean {_short(base_mean)})" if np.isfinite(base_mean) else ""),
            fontsize=10,
        )
        a.set_xlabel(f"\u0394 {metric} (variant \u2212 base)", fontsize=9)
        a.set_ylabel("variant", fontsize=9)
        a.grid(axis="x", alpha=0.3)
        a.set_axisbelow(True)
        if ax is not None and k == 0:
            a.set_title(f"{title.splitlines()[0]}: {a.get_title()}", fontsize=10)
    last = axes[-1]
    below = offset_copy(last.transAxes, fig=last.figure, y=-34, units="points")
    last.legend(
        handles=_variant_handles(variants, colours),
        title="variant (filled dot: 95% CI excludes 0)",
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        bbox_transform=below,
        ncol=min(nv, 3),
        frameon=False,
        fontsize=8,
        title_fontsize=8,
    )
    return axes


def _compare_lifts(rows, metrics, variants, colours, ax, title):
    nv, nm = len(variants), len(metrics)
    ax = _axes(ax, (9, 1.4 + nm * (0.3 + 0.25 * nv)))
    step = 0.7 / nv
    extremes = [0.0]
    for j, variant in enumerate(variants):
        ys, ds, los, his = [], [], [], []
        for i, metric in enumerate(metrics):
            y = i + (j - (nv - 1) / 2) * step
            r = rows.loc[(variant, metric)] if (variant, metric) in rows.index else None
            lift = float(r["lift"]) if r is not None else np.nan
            lo = float(r["lift_ci_low"]) if r is not None else np.nan
            hi = float(r["lift_ci_high"]) if r is not None else np.nan
            ax.text(
                1.01,
                y,
                f"{_signed(lift, True)} [{_signed(lo, True)}, {_signed(hi, True)}]"
                if np.isfinite(lift)
                else "n/a",
                transform=ax.get_yaxis_transform(),
                ha="left",
                va="center",
                fontsize=7,
            )
            if np.isfinite(lift):
                ys.append(y)
                ds.append(100 * lift)
                los.append(100 * lo)
                his.append(100 * hi)
                extremes += [v for v in (100 * lift, 100 * lo, 100 * hi) if np.isfinite(v)]
        ys, ds, los, his = (np.array(v, dtype=float) for v in (ys, ds, los, his))
        container = ax.errorbar(
            ds,
            ys,
            xerr=_errors(ds, los, his) if len(ds) else None,
            fmt="o",
            color=colours[j],
            markersize=6,
            capsize=3,
            lw=1.4,
            label=variant,
        )
        hollow = ~((los > 0) | (his < 0))
        if hollow.any():
            ax.plot(
                ds[hollow],
                ys[hollow],
                "o",
                color="white",
                markersize=3.5,
                zorder=container.lines[0].get_zorder() + 1,
                label="_nolegend_",
            )
    ax.axvline(0, color="#333333", lw=0.9, ls="--", zorder=0)
    span = (max(extremes) - min(extremes)) or 1.0
    ax.set_xlim(min(extremes) - 0.08 * span, max(extremes) + 0.08 * span)
    ax.set_yticks(range(nm), metrics)
    ax.set_ylim(nm - 0.5, -0.5)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:+.0f}%" if v else "0%"))
    ax.set_xlabel("lift: (variant \u2212 base) / base mean")
    ax.set_ylabel("metric")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    below = offset_copy(ax.transAxes, fig=ax.figure, y=-34, units="points")
    ax.legend(
        handles=_variant_handles(variants, colours),
        title="variant (filled dot: 95% CI excludes 0)",
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        bbox_transform=below,
        ncol=min(nv, 3),
        frameon=False,
        fontsize=8,
        title_fontsize=8,
    )
    return ax


def sweep(
    sw, x: str, metric: str = "conversions", hue: str | None = None, ax: Axes | None = None
) -> Axes:
    """A metric across a sweep: its mean per point against one parameter, with 95% intervals.

    One line per value of the ``hue`` parameter (or a single line), through the points' means over
    replications sorted by ``x``, with a shaded 95% Student-t interval of the mean. When parameters
    other than ``x`` and ``hue`` also vary between the points (a Latin hypercube, or a grid with a
    third parameter), neighbouring points differ in more than ``x`` and a line would mislead: the
    points are then drawn as dots with vertical error bars, unconnected, and the title says so.
    A non-numeric ``x`` (lists, names) is spaced evenly in point order.

    The bands are each point's own interval. Sweep points share their random numbers (the same seed
    and replications), so the *differences* between points are far more precise than overlapping
    bands suggest; for the paired difference between two settings use :func:`lcsim.compare`.

    Parameters
    ----------
    sw : lcsim.Sweep, or a DataFrame like ``Sweep.results()``
    x : str
        The parameter path on the horizontal axis.
    metric : str
        One of the runs' metrics (``Sweep.results()["metric"]``).
    hue : str, optional
        Another parameter path: one line (colour) per value.
    ax : matplotlib.axes.Axes, optional
        Draw here; default: a new figure.

    Returns
    -------
    matplotlib.axes.Axes
        One line (or error-bar series) per hue value, labelled with the value (``"mean"`` without
        ``hue``), and one band per line.
    """
    import pandas as pd

    res = sw.results() if hasattr(sw, "results") else pd.DataFrame(sw)
    stats = {"point", "metric", "mean", "std", "ci_low", "ci_high", "n"}
    params = list(getattr(sw, "parameters", [c for c in res.columns if c not in stats]))
    for what, name in (("x", x), ("hue", hue)):
        if name is not None and name not in params:
            raise ValueError(f"{what}={name!r} is not a parameter of this sweep; it has {params}")
    if hue is not None and hue == x:
        raise ValueError("hue must be another parameter than x")
    known = list(dict.fromkeys(res["metric"]))
    if metric not in known:
        raise ValueError(f"unknown metric {metric!r}; the sweep has {known}")
    d = res[res["metric"] == metric].copy()
    others = [p for p in params if p not in (x, hue)]
    varying = [p for p in others if d[p].map(repr).nunique() > 1]

    numeric = pd.to_numeric(d[x], errors="coerce")
    if numeric.notna().all() and not d[x].map(lambda v: isinstance(v, bool)).any():
        d["_x"] = numeric.astype(float)
        ticks = None
    else:  # categorical: positions in order of first appearance
        keys = list(dict.fromkeys(d[x].map(repr)))
        d["_x"] = d[x].map(repr).map({k: i for i, k in enumerate(keys)}).astype(float)
        ticks = (list(range(len(keys))), [str(v) for v in dict(zip(d[x].map(repr), d[x])).values()])

    if hue is None:
        groups = [(None, "mean", d)]
    else:
        d["_hue"] = d[hue].map(repr)
        firsts = d.drop_duplicates("_hue")
        order = (
            list(firsts[hue])
            if not pd.to_numeric(firsts[hue], errors="coerce").notna().all()
            else sorted(firsts[hue])
        )
        groups = [(v, str(v), d[d["_hue"] == repr(v)]) for v in order]

    ax = _axes(ax, (9, 4.8))
    colours = (
        plt.get_cmap("tab10").colors
        if len(groups) <= 10
        else plt.get_cmap("viridis")(np.linspace(0, 1, len(groups)))
    )
    for j, (_, label, g) in enumerate(groups):
        g = g.sort_values("_x", kind="stable")
        xs, mean = g["_x"].to_numpy(float), g["mean"].to_numpy(float)
        low, high = g["ci_low"].to_numpy(float), g["ci_high"].to_numpy(float)
        colour = colours[j % len(colours)]
        if varying:
            ax.errorbar(
                xs,
                mean,
                yerr=_errors(mean, low, high),
                fmt="o",
                color=colour,
                capsize=3,
                label=label,
            )
        else:
            ax.plot(xs, mean, "o-", color=colour, lw=1.6, markersize=5, label=label)
            ax.fill_between(xs, low, high, color=colour, alpha=0.2, lw=0, label="_nolegend_")
    if ticks is not None:
        ax.set_xticks(*ticks)
    _engineering(
        ax.yaxis, np.concatenate([d["mean"].to_numpy(float), d["ci_high"].to_numpy(float)])
    )
    ax.set_xlabel(x)
    ax.set_ylabel(f"{metric} (mean per replication)")
    n = int(d["n"].max()) if "n" in d and len(d) else 0
    design = getattr(sw, "design", None)
    what = f"{design.replace('_', ' ')} sweep, " if design else ""
    shade = "error bars" if varying else "bands"
    title = f"{metric} vs {x}\n{what}{n} replication{'s' if n != 1 else ''} per point, {shade}: 95% CI of the mean"
    if varying:
        title += f"\n(not joined by lines: {', '.join(varying)} also {'vary' if len(varying) > 1 else 'varies'})"
    ax.set_title(title)
    if hue is None:
        ax.legend(loc="best")
    else:
        ax.legend(title=hue, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    ax.grid(alpha=0.3)
    return ax


# ---- sensitivity ----------------------------------------------------------------------------
def sensitivity(analysis, top: int = 12, ax: Axes | None = None) -> Axes:
    """Tornado chart of elasticities from :func:`lcsim.analyze`: where nurture effort moves the needle.

    One row per parameter (the ``top`` largest by |elasticity of conversion|, then of time to
    convert), with two bars: the elasticity of the conversion probability and of the expected time
    to convert (a 1% increase of the parameter changes the quantity by that many percent).

    Parameters
    ----------
    analysis : lcsim.Analysis
    top : int
        Number of parameters shown.
    ax : matplotlib Axes, optional
    """
    table = analysis.sensitivity.sort_values("rank").head(top)
    ax = _axes(ax, (8, 0.45 * max(len(table), 4) + 1.5))
    y = np.arange(len(table))[::-1]
    height = 0.38
    conversion = table["elasticity_conversion"].to_numpy(dtype=float)
    time = table["elasticity_time"].to_numpy(dtype=float)
    ax.barh(
        y + height / 2,
        np.nan_to_num(conversion),
        height,
        color="#1f77b4",
        label="elasticity of P(convert)",
    )
    ax.barh(
        y - height / 2,
        np.nan_to_num(time),
        height,
        color="#bcbd22",
        label="elasticity of days to convert",
    )
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels(list(table["parameter"]))
    ax.set_xlabel("elasticity (% change of the quantity per 1% change of the parameter)")
    ax.set_ylabel("parameter")
    ax.set_title(f"Sensitivity of conversion, closed form\n{analysis.description}")
    ax.legend(loc="lower right")
    return ax


def backtest(bt, stages: Sequence[str] | None = None, axes=None):
    """Observed stage entries per period against the simulated mean and 95% band, one panel per stage.

    Parameters
    ----------
    bt : lcsim.Backtest
        From :func:`lcsim.backtest` or :meth:`lcsim.Calibration.backtest`.
    stages : list of str, optional
        Default: every stage in the backtest table.
    axes : sequence of matplotlib Axes, optional
        One per stage; without, a new figure with a row of panels.

    Returns
    -------
    list of Axes
        Each titled with its stage, with the band's coverage and MAPE in the x label.
    """
    table = bt.table
    names = list(stages) if stages is not None else list(table["stage"].cat.categories)
    unknown = [s for s in names if s not in set(table["stage"])]
    if unknown:
        raise KeyError(
            f"stages {unknown} are not in the backtest (stages: {list(table['stage'].cat.categories)})"
        )
    if axes is None:
        cols = min(len(names), 4)
        rows = math.ceil(len(names) / cols)
        fig, grid = plt.subplots(
            rows, cols, figsize=(3.6 * cols, 3.0 * rows), layout="constrained", squeeze=False
        )
        axes = list(grid.reshape(-1))
        for extra in axes[len(names) :]:
            extra.set_visible(False)
        fig.suptitle(
            f"Backtest of {bt.scenario.name}: days {bt.cut:g} to {bt.end:g}, "
            f"{bt.run.replications} replications (coverage {bt.coverage:.0%}, MAPE {bt.mape:.1%})"
        )
    errors = bt.error.set_index("stage")
    for ax, stage in zip(axes, names):
        rows_ = table[table["stage"] == stage]
        x = np.arange(len(rows_))
        ax.fill_between(
            x,
            rows_["sim_low"],
            rows_["sim_high"],
            color="#aec7e8",
            alpha=0.7,
            label="95% band",
            step=None,
        )
        ax.plot(x, rows_["simulated"], color="#1f77b4", label="simulated mean")
        ax.plot(x, rows_["observed"], "o", color="black", markersize=4, label="observed")
        handles, labels = ax.get_legend_handles_labels()
        order = [labels.index(k) for k in ("observed", "simulated mean", "95% band")]
        ax.legend([handles[i] for i in order], [labels[i] for i in order], fontsize="small")
        ax.set_xticks(x)
        ax.set_xticklabels(list(rows_["period"]), rotation=45, ha="right", fontsize="small")
        ax.set_title(stage)
        e = errors.loc[stage]
        ax.set_xlabel(f"period (coverage {e['coverage']:.0%}, MAPE {e['mape']:.1%})")
        ax.set_ylabel("entries")
        ax.set_ylim(bottom=0)
    return list(axes)[: len(names)]


def optimisation(opt, axes=None):
    """An :class:`lcsim.Optimisation` in three panels: the objective of every plan tried (meeting
    the constraints or not) with the best feasible so far; value against cost with the Pareto front
    (the plans no other plan beats on both; conversions against cost when the objective is the cost
    itself); and what each lever brings to the chosen plan (:meth:`lcsim.Optimisation.importance`).

    Parameters
    ----------
    opt : lcsim.Optimisation
    axes : sequence of three matplotlib Axes, optional
        Default: a new figure with three panels side by side.

    Returns
    -------
    list of matplotlib.axes.Axes
    """
    if axes is None:
        _, axes = plt.subplots(1, 3, figsize=(15, 4.2), layout="constrained")
    axes = list(axes)
    if len(axes) != 3:
        raise ValueError(f"axes: expected 3 Axes, got {len(axes)}")
    objective = opt.objective
    t = opt.trials
    search = t[(t["phase"] == "search") & t["objective"].notna()]
    ok = (search["feasible"] == 1.0).to_numpy()

    ax = axes[0]
    ax.scatter(
        search["trial"][ok],
        search["objective"][ok],
        s=22,
        color="#1f77b4",
        label="meets the constraints",
    )
    if (~ok).any():
        ax.scatter(
            search["trial"][~ok],
            search["objective"][~ok],
            s=22,
            color="#9467bd",
            marker="x",
            label="breaks a constraint",
        )
    feasible = search["objective"].where(ok)
    best = (feasible.cummax() if opt.maximise else feasible.cummin()).ffill()
    ax.step(search["trial"], best, where="post", color="#ff7f0e", label="best so far (feasible)")
    ax.set_xlabel("trial")
    ax.set_ylabel(f"{objective} (mean per replication)")
    ax.set_title(f"{'Maximise' if opt.maximise else 'Minimise'} {objective}: every plan tried")
    _engineering(ax.yaxis, search["objective"].to_numpy())
    ax.legend(loc="best", fontsize="small")

    ax = axes[1]
    y = "objective" if objective != "touchpoint_cost" else "conversions"
    label = objective if y == "objective" else "conversions"
    front = opt.pareto("touchpoint_cost", y)
    ax.scatter(search["touchpoint_cost"], search[y], s=18, color="#b0b7c3", label="plans tried")
    ax.step(
        front["touchpoint_cost"],
        front[y],
        where="post",
        color="#1f77b4",
        marker="o",
        label="Pareto front",
    )
    ax.set_xlabel("touchpoint and staff cost ($ per replication)")
    ax.set_ylabel(f"{label} (mean per replication)")
    ax.set_title(f"{label} against cost")
    _engineering(ax.xaxis, search["touchpoint_cost"].to_numpy())
    _engineering(ax.yaxis, search[y].to_numpy())
    ax.legend(loc="best", fontsize="small")

    ax = axes[2]
    gains = opt.importance().iloc[::-1]
    err = np.vstack(
        [
            (gains["gain"] - gains["gain_ci_low"]).fillna(0),
            (gains["gain_ci_high"] - gains["gain"]).fillna(0),
        ]
    )
    ax.barh(
        [_short_path(p) for p in gains["lever"]],
        gains["gain"].to_numpy(),
        xerr=err,
        color="#2ca02c",
        capsize=3,
    )
    ax.axvline(0, color="#444", lw=0.8)
    ax.set_xlabel(f"{objective} the lever brings (95% CI)")
    ax.set_title("What each lever brings to the chosen plan")
    _engineering(ax.xaxis, gains["gain"].to_numpy())
    return axes


def _short_path(path: str, width: int = 34) -> str:
    return path if len(path) <= width else "…" + path[-(width - 1) :]
