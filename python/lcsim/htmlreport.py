"""A study as one self-contained HTML page a strategist can mail to a manager.

``lcsim.report("study.h5", "report.html")`` (or ``lcsim report study.h5 --out report.html``) writes,
for each comparison, the recommendation first (the variants ranked by net value with one plain
sentence each, :mod:`lcsim.recommend`) and a glossary, a chart of the deltas with 95% CIs, per
variant what it changes in words, a table in which net value adds up, who changed and (folded) the
analyst's details; the funnel, the occupancy of the won stage and the teams; for each sweep its
response curves; for other runs their summaries; and a provenance footer. Everything is inline
(Plotly's JavaScript included once, no fonts or images from elsewhere), so the file opens without a
network. Every number is read from the study.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._extras import missing_extra

try:  # lcsim[report]
    import jinja2
    import plotly.graph_objects as go
    import plotly.io as pio
    import plotly.offline
    from plotly.subplots import make_subplots
except ImportError as _error:
    raise missing_extra("report", _error) from _error

from . import _core, recommend
from .run import Run
from .study import Study
from .study import open as open_study

__all__ = [
    "report",
    "comparison_section",
    "render",
    "deltas_figure",
    "funnel_figure",
    "occupancy_figure",
    "sweep_figure",
    "number",
    "signed",
]

#: The deltas charted, with their panel titles (per run of the horizon, i.e. per replication, as the
#: study stores them).
CHARTED = (
    ("conversions", "customers won (per run)"),
    ("revenue", "revenue before discounting ($ per run)"),
    ("touchpoint_cost", "touchpoint and staff cost ($ per run)"),
    ("net_value", "net value, discounted ($ per run)"),
)
#: The deltas in each variant's first table (all metrics follow, folded).
KEY_METRICS = (
    "conversions",
    "conversion_rate",
    "revenue",
    "touchpoint_cost",
    "net_value",
    "value_per_conversion",
)
#: The rows of the precision table.
PRECISION = ("conversions", "net_value")
#: Teams' metrics shown, in order, with their labels.
TEAM_METRICS = (
    ("utilisation", "utilisation (share of staffed time busy)"),
    ("wait_mean", "mean wait (days)"),
    ("wait_p95", "95th percentile wait (days)"),
    ("abandoned", "gave up waiting (customers)"),
    ("served", "served (customers)"),
    ("staff_cost", "staff cost ($, part of touchpoint and staff cost)"),
)
_PALETTE = (
    "#4c6ef5",
    "#e8590c",
    "#2b8a3e",
    "#ae3ec9",
    "#c92a2a",
    "#0b7285",
    "#5c940d",
    "#862e9c",
    "#d9480f",
    "#1864ab",
    "#495057",
)
# The camera button saves a chart as PNG (Plotly draws it in the page: no network needed); the
# "share chart" button, which would send the data to Plotly's cloud, is removed.
_CONFIG = {
    "displaylogo": False,
    "responsive": True,
    "showSendToCloud": False,
    "modeBarButtonsToRemove": ["sendDataToCloud"],
    "toImageButtonOptions": {"format": "png", "scale": 2, "filename": "lcsim-chart"},
}


# ---- numbers as text ---------------------------------------------------------------------------


def number(x: Any, digits: int = 4) -> str:
    """A number for a table: thousands separators for large values, `digits` significant
    digits otherwise; NaN as an en dash."""
    if x is None:
        return "–"
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x)).lower()
    if not isinstance(x, (int, float, np.integer, np.floating)):
        return str(x)
    x = float(x)
    if math.isnan(x):
        return "–"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if abs(x) >= 1000 or (x == int(x) and abs(x) >= 1):
        return f"{x:,.0f}"
    if x == 0:
        return "0"
    return f"{x:.{digits}g}"


def signed(x: Any, digits: int = 4) -> str:
    text = number(x, digits)
    return (
        "+" + text
        if isinstance(x, (int, float, np.integer, np.floating)) and float(x) > 0
        else text
    )


def percent(x: Any) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{100 * float(x):+.1f}%"


def value_text(value: Any) -> str:
    """A scenario value (from Scenario.diff) as compact text."""
    if value is None:
        return "(none)"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(", ", ": "))
    return str(value)


# ---- figures -----------------------------------------------------------------------------------


def _figure_html(fig: go.Figure, div_id: str) -> str:
    return pio.to_html(fig, full_html=False, include_plotlyjs=False, config=_CONFIG, div_id=div_id)


def _layout(fig: go.Figure, height: int, title: str) -> None:
    fig.update_layout(
        height=height,
        margin=dict(l=10, r=20, t=60, b=50),
        title=dict(text=title, x=0, font=dict(size=15)),
        template="plotly_white",
        legend=dict(orientation="h", y=-0.18),
        font=dict(size=12),
        hoverlabel=dict(namelength=-1),
    )


def deltas_figure(deltas: pd.DataFrame, names: dict, order: list | None = None) -> go.Figure:
    """One panel per charted metric: each variant's paired delta with its 95% CI, top to bottom in
    ``order`` (run names; default: the comparison's)."""
    metrics = [(m, t) for m, t in CHARTED if m in set(deltas["metric"])]
    fig = make_subplots(
        rows=1,
        cols=len(metrics),
        subplot_titles=[t for _, t in metrics],
        shared_yaxes=True,
        horizontal_spacing=0.04,
    )
    variants = list(order) if order else list(dict.fromkeys(deltas["variant"]))
    for col, (metric, _title) in enumerate(metrics, start=1):
        rows = deltas[deltas["metric"] == metric].set_index("variant").loc[variants]
        labels = [names.get(v, v) for v in variants]
        fig.add_trace(
            go.Scatter(
                # Plain lists (not numpy's binary encoding): the page holds the study's numbers as written.
                x=rows["delta"].tolist(),
                y=labels,
                mode="markers",
                marker=dict(size=10, color=_PALETTE[0]),
                showlegend=False,
                error_x=dict(
                    type="data",
                    symmetric=False,
                    array=(rows["ci_high"] - rows["delta"]).tolist(),
                    arrayminus=(rows["delta"] - rows["ci_low"]).tolist(),
                    thickness=2,
                    width=6,
                ),
                customdata=np.stack(
                    [rows["ci_low"], rows["ci_high"], rows["base_mean"], rows["variant_mean"]],
                    axis=-1,
                ).tolist(),
                hovertemplate="%{y}<br>delta %{x:,.4~g}<br>95% CI %{customdata[0]:,.4~g} to %{customdata[1]:,.4~g}"
                "<br>base %{customdata[2]:,.4~g}, variant %{customdata[3]:,.4~g}<extra>"
                + metric
                + "</extra>",
            ),
            row=1,
            col=col,
        )
        fig.add_vline(x=0, line=dict(color="#868e96", dash="dot"), row=1, col=col)
        fig.update_xaxes(title_text="variant − base", row=1, col=col, zeroline=False)
    fig.update_yaxes(autorange="reversed")
    _layout(fig, 150 + 45 * len(variants), "Change against the base, with 95% confidence intervals")
    fig.update_annotations(font_size=12)
    return fig


def funnel_figure(runs: list[Run], names: dict) -> go.Figure:
    """Customers who reached each stage (mean per replication), base and variants side by side on a
    linear axis; with variants, a second panel shows each variant's difference from the base per
    stage, so a change is visible where the bars look alike."""
    reached = {}
    for run in runs:
        per_stage = run.reached().groupby("stage", sort=False, observed=False)["customers"].mean()
        reached[run.name] = per_stage.reindex(run.stages)
    stages = list(runs[0].stages)
    with_deltas = len(runs) > 1
    fig = make_subplots(
        rows=1,
        cols=2 if with_deltas else 1,
        shared_yaxes=True,
        horizontal_spacing=0.03,
        column_widths=[0.6, 0.4] if with_deltas else None,
        subplot_titles=["customers who reached the stage", "change against the base"]
        if with_deltas
        else None,
    )
    base = reached[runs[0].name]
    for i, run in enumerate(runs):
        label = names.get(run.name, run.name)
        colour = _PALETTE[i % len(_PALETTE)]
        values = reached[run.name]
        fig.add_trace(
            go.Bar(
                y=stages,
                x=values.reindex(stages).tolist(),
                orientation="h",
                name=label,
                marker_color=colour,
                legendgroup=label,
                hovertemplate="%{y}: %{x:,.1f} customers<extra>" + label + "</extra>",
            ),
            row=1,
            col=1,
        )
        if with_deltas and i > 0:
            delta = (values.reindex(stages) - base.reindex(stages)).fillna(0.0)
            fig.add_trace(
                go.Bar(
                    y=stages,
                    x=delta.tolist(),
                    orientation="h",
                    name=label,
                    marker_color=colour,
                    legendgroup=label,
                    showlegend=False,
                    hovertemplate="%{y}: %{x:+,.1f} customers vs base<extra>" + label + "</extra>",
                ),
                row=1,
                col=2,
            )
    fig.update_layout(barmode="group")
    fig.update_xaxes(type="linear", title_text="customers (mean per run)", row=1, col=1)
    if with_deltas:
        fig.update_xaxes(
            title_text="variant − base (customers per run)",
            zeroline=True,
            zerolinecolor="#868e96",
            row=1,
            col=2,
        )
    fig.update_yaxes(autorange="reversed")
    fig.update_yaxes(title_text="stage", row=1, col=1)
    _layout(
        fig,
        140 + 22 * len(stages) * max(1, min(len(runs), 4)) // 2 + 60,
        "Funnel: who reached each stage",
    )
    fig.update_annotations(font_size=12)
    return fig


def occupancy_figure(runs: list[Run], stage: str, names: dict) -> go.Figure:
    """Customers in `stage` over time: the mean over replications and the 2.5%-97.5% band."""
    fig = go.Figure()
    for i, run in enumerate(runs):
        occ = run.occupancy()
        occ = occ[occ["stage"] == stage]
        by_day = occ.groupby("day")["count"]
        mean, low, high = by_day.mean(), by_day.quantile(0.025), by_day.quantile(0.975)
        colour = _PALETTE[i % len(_PALETTE)]
        label = names.get(run.name, run.name)
        fig.add_trace(
            go.Scatter(
                x=list(high.index) + list(low.index[::-1]),
                y=list(high.values) + list(low.values[::-1]),
                fill="toself",
                fillcolor=colour,
                opacity=0.15,
                line=dict(width=0),
                hoverinfo="skip",
                showlegend=False,
                name=label + " band",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=mean.index,
                y=mean.values,
                mode="lines",
                line=dict(color=colour, width=2),
                name=label,
                hovertemplate="day %{x:,.0f}: %{y:,.1f} customers<extra>" + label + "</extra>",
            )
        )
    fig.update_xaxes(title_text="day")
    fig.update_yaxes(title_text=f"customers in {stage}", rangemode="tozero")
    _layout(fig, 380, f"Customers in '{stage}' over time (mean, band: 2.5%–97.5% of replications)")
    return fig


def sweep_figure(results: pd.DataFrame, parameters: list[str], metrics: list[str]) -> go.Figure:
    """The sweep's response curves: each metric's mean and 95% CI against the swept value (against the
    point number when several parameters vary)."""
    fig = make_subplots(
        rows=1,
        cols=len(metrics),
        subplot_titles=[metric_words(m) for m in metrics],
        horizontal_spacing=0.08,
    )
    single = len(parameters) == 1
    for col, metric in enumerate(metrics, start=1):
        rows = results[results["metric"] == metric].sort_values(
            parameters[0] if single else "point"
        )
        x = rows[parameters[0]] if single else rows["point"]
        hover = [
            ", ".join(f"{setting_words(p)} = {r[p]}" for p in parameters)
            for _, r in rows.iterrows()
        ]
        fig.add_trace(
            go.Scatter(
                x=x,
                y=rows["mean"],
                mode="lines+markers",
                showlegend=False,
                marker=dict(color=_PALETTE[0]),
                error_y=dict(
                    type="data",
                    symmetric=False,
                    array=rows["ci_high"] - rows["mean"],
                    arrayminus=rows["mean"] - rows["ci_low"],
                ),
                text=hover,
                hovertemplate="%{text}<br>%{y:,.4~g}<extra>" + metric + "</extra>",
            ),
            row=1,
            col=col,
        )
        fig.update_xaxes(
            title_text=setting_words(parameters[0]) if single else "point (values on hover)",
            row=1,
            col=col,
        )
        fig.update_yaxes(title_text="mean per run", row=1, col=col)
    _layout(fig, 400, "Response to the swept values (mean, 95% CI)")
    return fig


def optimisation_figures(opt) -> tuple[go.Figure, go.Figure, go.Figure]:
    """The search's objective by trial (feasible or not, with the best so far), the Pareto front of
    the objective against touchpoint cost, and each lever's importance."""
    search = opt.trials[(opt.trials["phase"] == "search") & opt.trials["objective"].notna()]
    objective = opt.objective
    hover = [
        ", ".join(f"{p} = {value_text(r[p])}" for p in opt.levers) for _, r in search.iterrows()
    ]
    ok = search["feasible"] == 1.0
    history = go.Figure()
    for mask, label, colour in (
        (ok, "meets the constraints", _PALETTE[0]),
        (~ok, "breaks a constraint", _PALETTE[3]),
    ):
        if mask.any():
            history.add_trace(
                go.Scatter(
                    x=search["trial"][mask].tolist(),
                    y=search["objective"][mask].tolist(),
                    mode="markers",
                    name=label,
                    marker=dict(color=colour, size=8),
                    text=[h for h, m in zip(hover, mask) if m],
                    hovertemplate="trial %{x}: %{y:,.4~g}<br>%{text}<extra></extra>",
                )
            )
    feasible = search["objective"].where(ok)
    best = (feasible.cummax() if opt.maximise else feasible.cummin()).ffill()
    history.add_trace(
        go.Scatter(
            x=search["trial"].tolist(),
            y=best.tolist(),
            mode="lines",
            line=dict(color=_PALETTE[1], shape="hv"),
            name="best so far (feasible)",
            hoverinfo="skip",
        )
    )
    history.update_xaxes(title_text="trial")
    history.update_yaxes(title_text=f"{objective} (mean per replication)")
    _layout(history, 380, f"{objective} of each plan tried")

    # Value against cost: the objective, or conversions when the objective is the cost itself.
    y = "objective" if objective != "touchpoint_cost" else "conversions"
    y_label = objective if y == "objective" else "conversions"
    front = opt.pareto("touchpoint_cost", y)
    pareto = go.Figure()
    pareto.add_trace(
        go.Scatter(
            x=search["touchpoint_cost"].tolist(),
            y=search[y].tolist(),
            mode="markers",
            name="plans tried",
            marker=dict(color="#b0b7c3", size=7),
            text=hover,
            hovertemplate="cost %{x:,.0f}: %{y:,.4~g}<br>%{text}<extra></extra>",
        )
    )
    pareto.add_trace(
        go.Scatter(
            x=front["touchpoint_cost"].tolist(),
            y=front[y].tolist(),
            mode="lines+markers",
            name="Pareto front",
            marker=dict(color=_PALETTE[0], size=9),
            line=dict(shape="hv"),
            hovertemplate="cost %{x:,.0f}: %{y:,.4~g}<extra>Pareto front</extra>",
        )
    )
    pareto.update_xaxes(title_text="touchpoint and staff cost ($ per replication)")
    pareto.update_yaxes(title_text=f"{y_label} (mean per replication)")
    _layout(
        pareto, 380, f"{y_label} against cost: the plans no other plan beats on both (Pareto front)"
    )

    gains = opt.importance().iloc[::-1]
    errors = dict(
        type="data",
        symmetric=False,
        array=(gains["gain_ci_high"] - gains["gain"]).fillna(0).tolist(),
        arrayminus=(gains["gain"] - gains["gain_ci_low"]).fillna(0).tolist(),
    )
    bars = go.Figure(
        go.Bar(
            x=gains["gain"].tolist(),
            y=list(gains["lever"]),
            orientation="h",
            marker_color=_PALETTE[2],
            error_x=errors,
            text=[
                f"{value_text(b)} → {value_text(c)}" for b, c in zip(gains["base"], gains["chosen"])
            ],
            hovertemplate="%{y}: %{x:,.4~g}<br>base → chosen: %{text}<extra></extra>",
        )
    )
    bars.update_xaxes(
        title_text=f"{objective} the lever brings (chosen plan vs that lever at the base, 95% CI)"
    )
    bars.update_yaxes(title_text="lever")
    _layout(bars, 160 + 40 * len(gains), "What each lever brings to the chosen plan")
    return history, pareto, bars


# ---- sections ----------------------------------------------------------------------------------


@dataclass
class Section:
    kind: str
    name: str
    anchor: str
    title: str
    data: dict = field(default_factory=dict)


def _label(run: Run) -> str:
    """A run's label on the page: its scenario's name, with the run name when they differ."""
    scenario_name = run.info.scenario_name
    return scenario_name if scenario_name and scenario_name != run.name else run.name


def _provenance(run: Run) -> dict:
    info = run.info
    files = [info.scenario_file] if info.scenario_file else []
    return {
        "run": run.name,
        "scenario": info.scenario_name,
        "files": files,
        "extends": list(info.scenario_extends),
        "seed": info.seed,
        "replications": info.replications,
        "created": info.created,
        "lcsim_version": info.lcsim_version,
    }


def _reached(value) -> str:
    """A who-changed row's stage (None or NaN: the changed touchpoints never reached them)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "(not reached)"
    return str(value)


def _verdict_words(verdict: str, name: str) -> str:
    """The verdict without its leading "name: " (the page shows the name above it)."""
    return verdict[len(name) + 2 :] if verdict.startswith(name + ": ") else verdict


#: The rows of each variant's first table: the metric and its plain label. Revenue and cost come
#: before and after discounting, so the net value adds up on the page.
KEY_ROWS = (
    ("conversions", "customers won"),
    ("revenue", "revenue, before discounting"),
    ("touchpoint_cost", "touchpoint and staff cost, before discounting"),
    ("discounted_revenue", "revenue, discounted"),
    ("discounted_cost", "touchpoint and staff cost, discounted"),
    ("net_value", "net value (discounted revenue − discounted cost)"),
)


#: Plain words for the metrics a sweep shows (its dotted names stay in the hover and the analyst details).
METRIC_WORDS = dict(CHARTED) | {
    "conversion_rate": "conversion rate (share of customers won)",
    "value_per_conversion": "net value per customer won ($)",
}
#: Plain words for the last part of a swept setting's dotted path.
SETTING_WORDS = {
    "reach": "reach (share contacted)",
    "cost": "cost a contact ($)",
    "servers": "team size",
    "every": "every (days)",
    "cost_per_server_day": "cost a staff-day ($)",
    "rate": "rate a day",
    "share": "share",
    "horizon": "horizon (days)",
}


def metric_words(metric: str) -> str:
    """A metric's plain label: ``net_value`` -> ``net value, discounted ($ per run)``."""
    return METRIC_WORDS.get(metric, metric.replace("_", " "))


def setting_words(path: str) -> str:
    """A swept setting's dotted path in words: ``touchpoints.first_call.reach`` -> ``first call: reach
    (share contacted)``, ``resources.sales.servers`` -> ``sales: team size``."""
    parts = path.split(".")
    if len(parts) >= 3 and parts[0] in (
        "touchpoints",
        "resources",
        "stages",
        "segments",
        "arrivals",
    ):
        leaf = ".".join(parts[2:])
        return f"{parts[1].replace('_', ' ')}: {SETTING_WORDS.get(leaf, leaf.replace('_', ' '))}"
    return SETTING_WORDS.get(path, path.replace("_", " ").replace(".", ": "))


def short_label(label: str, base_label: str) -> str:
    """A variant's label without the words it shares with the base's at the start, underscores as
    spaces: ``sales_team_two_more_reps`` against ``sales_team_baseline`` -> ``two more reps``."""
    a, b = label.split("_"), base_label.split("_")
    k = 0
    while k < min(len(a), len(b)) - 1 and a[k] == b[k]:
        k += 1
    return " ".join(a[k:]) or label


def _term(x: float) -> str:
    """A signed number that follows a minus sign: in parentheses when negative."""
    return f"({signed(x)})" if x < 0 else signed(x)


def _glossary(recs, discount: float) -> list[dict]:
    """The glossary shown under the ranking, with this comparison's numbers filled in."""
    words = dict(recommend.GLOSSARY)
    if recs:
        r = recs[0]
        words["per run of N prospects"] = (
            f"every figure is for one simulated {recommend.horizon_words(r.horizon_days)} "
            f"({r.horizon_days:g} days) with "
            f"everyone who enters in it ({number(r.prospects)} prospects: the starting customers plus arrivals), "
            f"the mean over {r.replications} such runs (replications) with different random draws"
        )
    words["net value"] += (
        f" ({100 * discount:g}% a year here)"
        if discount > 0
        else " (no discounting here: the rate is 0)"
    )
    words["cannot tell apart"] = (
        "two variants whose 95% intervals of net value overlap (the low end of each is below "
        "the high end of the other): the study cannot say which is better; more replications may"
    )
    return [{"term": t, "meaning": m} for t, m in words.items()]


def comparison_section(name: str, cmp, anchor: str) -> Section:
    """The data and figures of one stored comparison."""
    runs = [cmp.base] + list(cmp.variants)
    names = {r.name: _label(r) for r in runs}
    deltas = cmp.deltas()
    recs = recommend.rank(cmp)
    by_run = {r.variant: r for r in recs}
    discount = recs[0].discount_rate if recs else 0.0
    who_all = cmp.who_changed()
    variants = []
    for i, run in enumerate(cmp.variants):
        rec = by_run[run.name]
        d = deltas[deltas["variant"] == run.name].set_index("metric")
        conv = d["delta"].get("conversions", float("nan"))
        cost = d["delta"].get("touchpoint_cost", float("nan"))
        table = []
        for metric, row in d.iterrows():
            table.append(
                {
                    "metric": metric,
                    "base": number(row["base_mean"]),
                    "variant": number(row["variant_mean"]),
                    "delta": signed(row["delta"]),
                    "ci": f"{number(row['ci_low'])} to {number(row['ci_high'])}",
                    "lift": percent(row["lift"]),
                    "vr": number(row["variance_reduction"], 3),
                    "significant": bool(row["ci_low"] > 0 or row["ci_high"] < 0),
                }
            )
        rows = {r["metric"]: r for r in table}
        key = [dict(rows[m], label=label) for m, label in KEY_ROWS if m in rows]
        changes = [
            c for c in cmp.base.scenario.diff(run.scenario) if c.path not in ("name", "description")
        ]
        precision = []
        for metric in PRECISION:
            if metric in d.index:
                row = d.loc[metric]
                precision.append(
                    {
                        "metric": metric,
                        "half_width": number((row["ci_high"] - row["ci_low"]) / 2),
                        "delta": signed(row["delta"]),
                        "vr": number(row["variance_reduction"], 3),
                        "n": int(row["n"]),
                    }
                )
        who = who_all[who_all["variant"] == run.name].drop(columns=["variant"])
        # The stage where a changed touchpoint first reached a customer: a variant that changes no
        # touchpoint (a team, referrals, a stage) reaches no one that way, so the column says nothing.
        touchpoints_changed = bool(cmp.changed_touchpoints[i])
        if not touchpoints_changed and "reached_in" in who.columns:
            who = (
                who.drop(columns=["reached_in"])
                .groupby("segment", sort=False, as_index=False)
                .sum()
            )
        adds_up = None
        if all(m in d.index for m in ("discounted_revenue", "discounted_cost", "net_value")):
            adds_up = {
                "net": signed(d.loc["net_value", "delta"]),
                "revenue": signed(d.loc["discounted_revenue", "delta"]),
                "cost": _term(d.loc["discounted_cost", "delta"]),
                "revenue_raw": signed(d["delta"].get("revenue", float("nan"))),
                "cost_raw": signed(cost),
            }
        variants.append(
            {
                "run": run.name,
                "label": names[run.name],
                "verdict": _verdict_words(cmp.verdicts[i], run.info.scenario_name or run.name),
                "sentence": rec.sentence,
                "rank": rec.rank,
                "changes_words": list(rec.changes),
                "description": run.scenario.to_dict().get("description", ""),
                "changed_touchpoints": cmp.changed_touchpoints[i],
                "touchpoints_changed": touchpoints_changed,
                # Touchpoint and staff cost delta over the conversions delta.
                "cost_per_extra": number(cost / conv) if conv > 0 and cost > 0 else "–",
                "deltas": table,
                "key_deltas": key,
                "adds_up": adds_up,
                "changes": [
                    {"path": c.path, "old": value_text(c.old), "new": value_text(c.new)}
                    for c in changes
                ],
                "precision": precision,
                "who": [
                    {
                        k: number(v) if k not in ("segment", "reached_in") else _reached(v)
                        for k, v in r.items()
                    }
                    for r in who.to_dict("records")
                ],
                "who_columns": list(who.columns),
            }
        )
    variants.sort(key=lambda v: v["rank"])  # the sections in the ranking's order
    ranking = []
    for r in recs:
        ranking.append(
            {
                "rank": r.rank,
                "run": r.variant,
                "label": r.label,
                "sentence": r.sentence,
                "net": recommend.money(r.net_value),
                "ci": f"{recommend.money(r.ci[0])} to {recommend.money(r.ci[1])}",
                "net_exact": signed(r.net_value),
                "ci_exact": f"{number(r.ci[0])} to {number(r.ci[1])}",
                "tied_with": list(r.tied_with),
                "clear_gain": r.clear,
                "conversions": signed(r.conversions),
                "conversions_ci": f"{number(r.conversions_ci[0])} to {number(r.conversions_ci[1])}",
            }
        )
    teams = []
    if cmp.base.resource_names:
        summaries = {r.name: r.resource_summary() for r in runs}
        for resource in cmp.base.resource_names:
            rows = []
            for metric, label in TEAM_METRICS:
                cells = []
                for r in runs:
                    s = summaries[r.name]
                    hit = s[(s["resource"] == resource) & (s["metric"] == metric)]
                    cells.append(number(hit["mean"].iloc[0]) if len(hit) else "–")
                rows.append({"metric": label, "cells": cells})
            teams.append({"resource": resource, "rows": rows})
    won = cmp.base.info.won
    base_label = names[cmp.base.name]
    settings = cmp.base.scenario.to_dict()
    return Section(
        kind="comparison",
        name=name,
        anchor=anchor,
        title=f"{names[cmp.base.name]} against {len(cmp.variants)} variant{'s' if len(cmp.variants) != 1 else ''}",
        data={
            "base": {"run": cmp.base.name, "label": base_label},
            "variants": variants,
            "replications": cmp.replications,
            "precision_met": cmp.precision_met,
            "ranking": ranking,
            "headline": recommend.headline(recs),
            "glossary": _glossary(recs, discount),
            "glossary_link": "",  # set by study_sections for the second comparison on
            "horizon": f"{recommend.horizon_words(float(settings['horizon']))} ({float(settings['horizon']):g} days)",
            "prospects": number(recs[0].prospects) if recs else "–",
            "discount": f"{100 * discount:g}%",
            "teams": teams,
            "team_columns": [
                {
                    "short": "base" if r is cmp.base else short_label(names[r.name], base_label),
                    "label": names[r.name],
                }
                for r in runs
            ],
            "won": won,
            "deltas_figure": _figure_html(
                deltas_figure(deltas, names, [r.variant for r in recs]), f"{anchor}-deltas"
            ),
            "funnel_figure": _figure_html(funnel_figure(runs, names), f"{anchor}-funnel"),
            "occupancy_figure": _figure_html(
                occupancy_figure(runs, won, names), f"{anchor}-occupancy"
            ),
            "provenance": [_provenance(r) for r in runs],
        },
    )


def sweep_section(name: str, sw, anchor: str) -> Section:
    results = sw.results()
    available = list(dict.fromkeys(results["metric"]))
    metrics = [m for m in ("conversions", "net_value") if m in available] or available[:2]
    table = []
    for _i, row in sw.points.iterrows():
        r = results[results["point"] == row["point"]].set_index("metric")
        table.append(
            {
                "point": int(row["point"]),
                "values": [value_text(row[p]) for p in sw.parameters],
                "cells": [
                    f"{number(r.loc[m, 'mean'])} [{number(r.loc[m, 'ci_low'])}, {number(r.loc[m, 'ci_high'])}]"
                    for m in metrics
                ],
            }
        )
    return Section(
        kind="sweep",
        name=name,
        anchor=anchor,
        title=f"sweep of {', '.join(setting_words(p) for p in sw.parameters)}",
        data={
            "parameters": [{"path": p, "words": setting_words(p)} for p in sw.parameters],
            "metrics": [{"name": m, "words": metric_words(m)} for m in metrics],
            "table": table,
            "replications": sw.replications,
            "figure": _figure_html(
                sweep_figure(results, sw.parameters, metrics), f"{anchor}-curves"
            ),
            "provenance": [_provenance(sw.runs[0])] if sw.runs else [],
        },
    )


def optimisation_section(name: str, opt, anchor: str, comparison_anchor: str = "") -> Section:
    final = opt.final
    columns = ["objective", "delta", "delta_ci_low", "delta_ci_high"]
    constraint_columns = list(opt.settings["constraints"])
    finalists = []
    for i, r in final.iterrows():
        finalists.append(
            {
                "chosen": i == opt.settings["winner"],
                "values": [value_text(r[p]) for p in opt.levers],
                "objective": number(r["objective"]),
                "delta": f"{number(r['delta'])} [{number(r['delta_ci_low'])}, {number(r['delta_ci_high'])}]",
                "constraints": [number(r[c]) for c in constraint_columns],
                "feasible": bool(r["feasible"] == 1.0),
            }
        )
    history, pareto, importance = optimisation_figures(opt)
    st = opt.settings
    return Section(
        kind="optimisation",
        name=name,
        anchor=anchor,
        title=f"{'maximise' if opt.maximise else 'minimise'} {opt.objective} over {', '.join(opt.levers)}",
        data={
            "verdict": opt.verdict,
            "levers": opt.levers,
            "constraints": constraint_columns,
            "finalists": finalists,
            "chosen": opt.chosen,
            "settings": st,
            "comparison": name,
            "comparison_anchor": comparison_anchor,
            "columns": columns,
            "history_figure": _figure_html(history, f"{anchor}-history"),
            "pareto_figure": _figure_html(pareto, f"{anchor}-pareto"),
            "importance_figure": _figure_html(importance, f"{anchor}-importance"),
            "provenance": [_provenance(opt.selection.base)],
        },
    )


def run_section(run: Run, anchor: str) -> Section:
    summary = run.summary()
    rows = [
        {
            "metric": r["metric"],
            "mean": number(r["mean"]),
            "ci": f"{number(r['ci_low'])} to {number(r['ci_high'])}",
        }
        for _, r in summary.iterrows()
    ]
    return Section(
        kind="run",
        name=run.name,
        anchor=anchor,
        title=_label(run),
        data={
            "rows": rows,
            "replications": run.replications,
            "provenance": [_provenance(run)],
            "funnel_figure": _figure_html(
                funnel_figure([run], {run.name: _label(run)}), f"{anchor}-funnel"
            ),
        },
    )


# ---- the page ----------------------------------------------------------------------------------

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("lcsim", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(sections: list[Section], title: str, source: str) -> str:
    """The HTML page of some sections (Plotly's JavaScript inline once)."""
    return _ENV.get_template("report.html.j2").render(
        title=title,
        sections=sections,
        source=source,
        plotly_js=plotly.offline.get_plotlyjs(),
        generated=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        version=_core.__version__,
    )


def study_sections(study: Study) -> list[Section]:
    """A section per optimisation (its selection step follows as a comparison), per comparison, per
    sweep and per run that belongs to none of them."""
    sections: list[Section] = []
    used: set[str] = set()
    comparisons = study.comparisons()
    for k, name in enumerate(study.optimisations()):
        anchor = f"comparison-{comparisons.index(name)}" if name in comparisons else ""
        sections.append(
            optimisation_section(name, study.optimisation(name), f"optimisation-{k}", anchor)
        )
    glossary_at = ""  # the anchor of the first comparison's glossary: later ones link to it
    for k, name in enumerate(comparisons):
        cmp = study.comparison(name)
        used.update([cmp.base.name] + [v.name for v in cmp.variants])
        section = comparison_section(name, cmp, f"comparison-{k}")
        if glossary_at:
            section.data["glossary_link"] = glossary_at
        else:
            glossary_at = f"{section.anchor}-glossary"
        sections.append(section)
    for k, name in enumerate(study.sweeps()):
        sw = study.sweep(name)
        used.update(r.name for r in sw.runs)
        sections.append(sweep_section(name, sw, f"sweep-{k}"))
    for k, name in enumerate(n for n in study.runs() if n not in used):
        sections.append(run_section(study[name], f"run-{k}"))
    return sections


def report(
    study: str | os.PathLike | Study, out: str | os.PathLike | None = None, title: str | None = None
) -> Path | str:
    """Writes the study's report to ``out`` (one self-contained HTML file) and returns its path;
    without ``out``, returns the HTML text.

    The file is written whole or not at all (a temporary file renamed into place).
    Raises :class:`lcsim.StudyError` when ``study`` is not a readable study and ``ValueError`` when
    it holds nothing to report.
    """
    st = study if isinstance(study, Study) else open_study(study)
    sections = study_sections(st)
    if not sections:
        raise ValueError(f"{st.path}: the study holds no runs, comparisons or sweeps to report")
    html = render(sections, title or f"lcsim report: {Path(st.path).name}", str(st.path))
    if out is None:
        return html
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(html)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; a report is for mailing
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out
