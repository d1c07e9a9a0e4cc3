"""``lcsim app``: what-if in the browser, for strategists (Dash, on 127.0.0.1).

Pick a baseline and its numbers show at once (conversions, revenue, cost, net value per run, with
95% intervals, and the funnel). Move its levers (each touchpoint's reach, cost, schedule and effect;
each team's servers, hand-off and patience; arrival rates; segment shares) and see the paired
comparison against the baseline — verdict, deltas with 95% CIs, funnel — refresh after each change;
changed levers are marked, and moving one segment's share rescales the others so the shares still
sum to 1. The variant is the small ``extends:`` file the app would save (docs/scenario.md,
"Variants"), loaded exactly as ``lcsim validate`` loads it, so a bad value (a reach of 1.4, a
negative cost) shows validate's message next to its input — never clamped — and nothing runs.
"Save variant" writes that file; "Save report" writes the comparison as a study and its HTML report
(:mod:`lcsim.htmlreport`). The numbers are ``lcsim.compare``'s for the scenario's seed, on the
baseline scenario's own ``replications:`` unless ``--replications`` says otherwise: the count
``lcsim compare``, ``tools/study.sh`` and so the report use, so the baseline numbers agree.
"""

from __future__ import annotations

import math
import os
import re
import sys
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._extras import missing_extra

try:  # lcsim[app]
    import dash
    from dash import ALL, MATCH, Input, Output, State, dcc, html
except ImportError as _error:
    raise missing_extra("app", _error) from _error

from . import htmlreport, recommend
from .errors import Problem, ScenarioError
from .scenario import Scenario, variant_text
from .simulation import simulate
from .whatif import compare

__all__ = [
    "AppLever",
    "Lever",
    "levers",
    "parse_value",
    "rebalance_shares",
    "problem_text",
    "variant_text",
    "make_app",
    "serve",
]

#: Metrics shown in the app's tables, in order, with their labels.
SHOWN = (
    ("conversions", "conversions (customers won)"),
    ("conversion_rate", "conversion rate"),
    ("revenue", "revenue ($)"),
    ("touchpoint_cost", "touchpoint and staff cost ($)"),
    ("net_value", "net value ($, discounted)"),
)
#: Metrics in the app's chart of relative changes.
CHARTED = (
    ("conversions", "conversions"),
    ("revenue", "revenue"),
    ("touchpoint_cost", "touchpoint and staff cost"),
    ("net_value", "net value"),
)
_BLUE, _ORANGE = "#4c6ef5", "#e8590c"


@dataclass(frozen=True)
class AppLever:
    """One input of the app: a scenario field by its dotted path (as ``with_changes`` takes it)."""

    path: str
    label: str
    group: str
    kind: str  # "probability" (a slider 0..1 with a box), "number", "integer" or "days" (a list of numbers)
    value: Any


#: The name :class:`AppLever` had before the optimiser's levers (:class:`lcsim.optimise.SearchLever`)
#: were told apart from it: an alias, kept for old code.
Lever = AppLever


def levers(scenario: Scenario) -> list[AppLever]:
    """The levers of a scenario, with its values, grouped as the app shows them."""
    d = scenario.to_dict()
    out: list[AppLever] = []
    for name, tp in (d.get("touchpoints") or {}).items():
        group = f"touchpoint {name}"
        p = f"touchpoints.{name}"
        out.append(
            AppLever(
                f"{p}.reach",
                "reach (share of contacts that land)",
                group,
                "probability",
                tp.get("reach", 1),
            )
        )
        out.append(
            AppLever(f"{p}.cost", "cost per contact ($)", group, "number", tp.get("cost", 0))
        )
        schedule = tp.get("schedule") or {}
        for kind in ("after_entry", "calendar"):
            times = schedule.get(kind)
            if not isinstance(times, dict):
                continue
            if "days" in times:
                out.append(
                    AppLever(
                        f"{p}.schedule.{kind}.days",
                        f"{kind.replace('_', ' ')}: on days",
                        group,
                        "days",
                        times["days"],
                    )
                )
            if "every" in times:
                out.append(
                    AppLever(
                        f"{p}.schedule.{kind}.every",
                        f"{kind.replace('_', ' ')}: every (days)",
                        group,
                        "number",
                        times["every"],
                    )
                )
            if "start" in times:
                out.append(
                    AppLever(
                        f"{p}.schedule.{kind}.start",
                        f"{kind.replace('_', ' ')}: first on day",
                        group,
                        "number",
                        times["start"],
                    )
                )
        effect = tp.get("effect") or {}
        if isinstance(effect.get("move"), dict) and "probability" in effect["move"]:
            out.append(
                AppLever(
                    f"{p}.effect.move.probability",
                    f"moves to {effect['move'].get('to')} with probability",
                    group,
                    "probability",
                    effect["move"]["probability"],
                )
            )
        if "hazard_factor" in effect:
            out.append(
                AppLever(
                    f"{p}.effect.hazard_factor",
                    "hazard factor (× exit rate)",
                    group,
                    "number",
                    effect["hazard_factor"],
                )
            )
        if "window" in effect:
            out.append(
                AppLever(
                    f"{p}.effect.window", "effect window (days)", group, "number", effect["window"]
                )
            )
    for name, team in (d.get("resources") or {}).items():
        group = f"team {name}"
        p = f"resources.{name}"
        if "servers" in team:
            out.append(
                AppLever(f"{p}.servers", "staff (servers)", group, "integer", team["servers"])
            )
        handoff = team.get("handoff") or {}
        for key, label in (("days", "hand-off (days, fixed)"), ("mean", "hand-off (mean days)")):
            if key in handoff:
                out.append(AppLever(f"{p}.handoff.{key}", label, group, "number", handoff[key]))
        patience = team.get("patience") or {}
        if "mean" in patience:
            out.append(
                AppLever(
                    f"{p}.patience.mean",
                    "patience (mean days before giving up)",
                    group,
                    "number",
                    patience["mean"],
                )
            )
    arrivals = d.get("arrivals") or {}
    for i, stream in enumerate(arrivals.get("streams") or []):
        out.append(
            AppLever(
                f"arrivals.streams[{i}].rate_per_day",
                f"stream into {stream.get('stage')}: per day",
                "arrivals",
                "number",
                stream.get("rate_per_day"),
            )
        )
    for i, cohort in enumerate(arrivals.get("initial") or []):
        out.append(
            AppLever(
                f"arrivals.initial[{i}].count",
                f"initial cohort in {cohort.get('stage')}",
                "arrivals",
                "integer",
                cohort.get("count"),
            )
        )
    for name, segment in (d.get("segments") or {}).items():
        out.append(
            AppLever(
                f"segments.{name}.share",
                f"segment {name}: share",
                "segments",
                "probability",
                segment.get("share"),
            )
        )
    return out


def parse_value(lever: AppLever, raw: Any) -> Any:
    """An input's value as the scenario takes it. Raises ValueError with a message for the input.

    Only the form is checked here (a number, a list of days); the range is the scenario's to check
    (``lcsim validate``'s message, never a clamp)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise ValueError("enter a value")
    if lever.kind == "days":
        try:
            return [
                float(x) if "." in x or "e" in x.lower() else int(x)
                for x in re.split(r"[,\s]+", str(raw).strip())
                if x
            ]
        except ValueError:
            raise ValueError("expected days as numbers separated by commas, e.g. 1, 8") from None
    if isinstance(raw, str):
        try:
            raw = float(raw.strip())
        except ValueError:
            raise ValueError(f"expected a number, got {raw.strip()!r}") from None
    if isinstance(raw, float) and not math.isfinite(raw):
        raise ValueError(f"expected a finite number, got {raw}")
    if float(raw) == int(raw) and (lever.kind == "integer" or isinstance(lever.value, int)):
        return int(raw)
    return raw


def rebalance_shares(shares: dict[str, float], moved: str) -> dict[str, float]:
    """The other segments' new shares once ``moved`` took ``shares[moved]``: scaled in proportion
    (equally when they are all 0) so that all shares sum to 1 (to 1e-12; the scenario's tolerance is
    1e-9). Returns only the shares that change; nothing when ``shares[moved]`` is not in [0, 1]."""
    new = shares[moved]
    others = [k for k in shares if k != moved]
    if not others or not 0 <= new <= 1:
        return {}
    rest = 1.0 - new
    total = sum(shares[k] for k in others)
    if total > 0:
        scaled = {k: round(rest * shares[k] / total, 6) for k in others}
    else:
        scaled = {k: round(rest / len(others), 6) for k in others}
    last = others[-1]
    scaled[last] = round(rest - sum(v for k, v in scaled.items() if k != last), 12)
    if scaled[last] < 0:  # rounding of the others overshot a tiny share
        scaled[last] = 0.0
    return {k: v for k, v in scaled.items() if abs(v - shares[k]) > 1e-12}


def problem_text(problem: Problem, lever_path: str | None = None) -> str:
    """A validation problem as the app shows it: without the file and line (the app's variant file
    is temporary; the input says where), and without the field when it is the lever's own."""
    field = problem.field or ""
    if lever_path is not None and field == lever_path:
        return problem.message
    if lever_path is not None and field.startswith(lever_path):
        field = field[len(lever_path) :].lstrip(".")
    return f"{field}: {problem.message}" if field else problem.message


def _lever_of(field: str, paths: Sequence[str]) -> str | None:
    """The lever a problem's field belongs to (its own path, or a field inside it)."""
    for path in paths:
        if field == path or field.startswith(path + ".") or field.startswith(path + "["):
            return path
    return None


def _where(lever: AppLever) -> str:
    """A lever in a few words: "touchpoint first_call reach", "segment icp: share"."""
    label = lever.label.split(" (")[0]
    return label if lever.group in ("arrivals", "segments") else f"{lever.group} {label}"


def _default_scenarios() -> list[Path]:
    here = Path.cwd() / "scenarios"
    return sorted(here.glob("*/baseline.yaml")) if here.is_dir() else []


def _shown(value: Any) -> str:
    """A lever's value as its input shows it."""
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def _lever_input(lever: AppLever):
    ident = {"type": "lever", "path": lever.path}
    if lever.kind == "probability":
        # The box holds the value that counts (typed values are never clamped: 1.4 is refused by
        # the scenario's check); the slider is a view of it, kept in step on the client.
        return html.Div(
            className="probability",
            children=[
                dcc.Slider(
                    id={"type": "slider", "path": lever.path},
                    min=0,
                    max=1,
                    step=0.01,
                    value=lever.value,
                    marks={0: "0", 0.5: "0.5", 1: "1"},
                    updatemode="mouseup",
                    allow_direct_input=False,
                ),
                dcc.Input(
                    id=ident,
                    type="text",
                    value=_shown(lever.value),
                    debounce=True,
                    inputMode="decimal",
                    className="box",
                    autoComplete="off",
                ),
            ],
        )
    if lever.kind == "days":
        return dcc.Input(
            id=ident, type="text", value=_shown(lever.value), debounce=True, className="box wide"
        )
    return dcc.Input(
        id=ident,
        type="number",
        value=lever.value,
        debounce=True,
        className="box",
        step=1 if lever.kind == "integer" else "any",
    )


def _lever_panel(scenario: Scenario):
    groups: dict[str, list] = {}
    for lever in levers(scenario):
        groups.setdefault(lever.group, []).append(
            html.Div(
                id={"type": "lever-box", "path": lever.path},
                className="lever",
                children=[
                    html.Label(
                        [
                            lever.label,
                            html.Span(f" baseline {_shown(lever.value)}", className="baseline"),
                            html.Span(" changed", className="mark"),
                        ]
                    ),
                    _lever_input(lever),
                    html.Div(
                        id={"type": "lever-error", "path": lever.path}, className="lever-error"
                    ),
                ],
            )
        )
    return [html.Fieldset([html.Legend(group), *items]) for group, items in groups.items()]


_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; color: #212529; margin: 0; }
.top { padding: 10px 20px; border-bottom: 1px solid #dee2e6; display: flex; gap: 16px; align-items: center;
       flex-wrap: wrap; }
.top h1 { font-size: 20px; margin: 0; }
.grid { display: grid; grid-template-columns: minmax(300px, 380px) minmax(0, 1fr); gap: 18px; padding: 12px 20px; }
.levers { max-height: calc(100vh - 90px); overflow-y: auto; padding-right: 8px; min-width: 0; }
fieldset { border: 1px solid #dee2e6; border-radius: 4px; margin: 0 0 10px; padding: 6px 10px 8px; min-width: 0; }
legend { font-weight: 600; padding: 0 4px; }
.lever { margin: 6px 0 10px; padding: 2px 6px; border-left: 3px solid transparent; min-width: 0; }
.lever label { display: block; margin-bottom: 2px; }
.lever .mark { display: none; color: #364fc7; font-weight: 600; font-size: 12px; }
.lever.changed { border-left-color: #364fc7; background: #edf2ff; }
.lever.changed .mark { display: inline; }
.lever.invalid { border-left-color: #c92a2a; background: #fff5f5; }
.lever.invalid .box { border: 2px solid #c92a2a; }
.probability { display: flex; align-items: center; gap: 8px; }
.probability > :first-child { flex: 1 1 auto; min-width: 0; }
.box { width: 6em; } .box.wide { width: 12em; }
.baseline { color: #5f676f; font-size: 12px; }
.lever-error, .errors { color: #c92a2a; font-size: 13px; white-space: pre-wrap; overflow-wrap: anywhere; }
.verdict { background: #f4f6f8; border-left: 4px solid #364fc7; padding: 8px 12px; margin: 6px 0 10px; }
.note { font-size: 13px; color: #343a40; margin: 4px 0 8px; overflow-wrap: anywhere; }
table.deltas { border-collapse: collapse; width: 100%; font-size: 14px; }
table.deltas th, table.deltas td { border-bottom: 1px solid #dee2e6; padding: 4px 8px; text-align: right; }
table.deltas th:first-child, table.deltas td:first-child { text-align: left; }
.actions { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; margin: 8px 0; }
.saved { color: #2b8a3e; font-size: 13px; overflow-wrap: anywhere; }
.warning { color: #8a5300; font-size: 13px; margin: 0 0 6px; overflow-wrap: anywhere; }
@media (max-width: 900px) { .grid { grid-template-columns: 1fr; } .levers { max-height: none; } }
"""

# Keeps a probability's slider and box in step, on the client: the slider writes the box; a box
# value in [0, 1] moves the slider; any other box value leaves the slider where it is (the server
# refuses it next to the box).
_SYNC = """
function(slider, box) {
    const nu = window.dash_clientside.no_update;
    const fired = (window.dash_clientside.callback_context.triggered || []).map(t => t.prop_id).join(' ');
    if (fired.indexOf('"slider"') >= 0) { return [nu, String(slider)]; }
    const x = Number(String(box).trim());
    if (String(box).trim() !== '' && isFinite(x) && x >= 0 && x <= 1 && x !== slider) { return [x, nu]; }
    return [nu, nu];
}
"""


def make_app(
    scenarios: Sequence[os.PathLike] = (),
    replications: int | None = None,
    save_dir: os.PathLike | None = None,
    threads: int | None = None,
) -> dash.Dash:
    """The Dash app (not started): ``make_app(...).run(host="127.0.0.1", port=...)``.

    ``replications`` per comparison defaults to each baseline's own ``replications:`` (what
    ``lcsim compare``, ``tools/study.sh`` and the report use). Raises :class:`lcsim.ScenarioError`
    when a baseline is invalid and ``ValueError`` when there is none (and no
    ``scenarios/*/baseline.yaml`` under the working directory)."""
    paths = [Path(s) for s in scenarios] or _default_scenarios()
    if not paths:
        raise ValueError(
            "give the baseline scenario(s) to offer: lcsim app scenarios/b2b_saas/baseline.yaml"
        )
    bases = {str(p): Scenario.load(p) for p in paths}
    save_dir = Path(save_dir) if save_dir else Path.cwd()
    if replications is not None:
        replications = int(replications)
        if replications < 2:
            raise ValueError(
                f"--replications: expected at least 2 paired replications, got {replications}"
            )
    first = next(iter(bases))
    lever_lists = {p: levers(s) for p, s in bases.items()}
    baseline_runs: dict[str, Any] = {}
    baseline_lock = threading.Lock()

    def reps_of(base_path: str) -> int:
        return replications if replications is not None else bases[base_path].replications

    def reps_text(base_path: str) -> str:
        source = (
            ""
            if replications is not None
            else " (the scenario's replications, as in lcsim compare and the report)"
        )
        return f"{reps_of(base_path)} paired replications per comparison{source}"

    per_run_texts = {p: _per_run(s, reps_of(p)) for p, s in bases.items()}

    def per_run_of(base_path: str) -> str:
        return per_run_texts[base_path]

    def baseline_run(base_path: str):
        with baseline_lock:  # once per baseline: its numbers on open and on every return to it
            if base_path not in baseline_runs:
                baseline_runs[base_path] = simulate(
                    bases[base_path], replications=reps_of(base_path), threads=threads
                )
            return baseline_runs[base_path]

    app = dash.Dash("lcsim", title="lcsim what-if", serve_locally=True, update_title=None)
    app.index_string = app.index_string.replace("{%css%}", "{%css%}<style>" + _CSS + "</style>")
    app.layout = html.Div(
        [
            html.Div(
                className="top",
                children=[
                    html.H1("lcsim what-if"),
                    html.Label(
                        [
                            "baseline ",
                            dcc.Dropdown(
                                id="baseline",
                                options=[
                                    {"label": f"{s.name} ({p})", "value": p}
                                    for p, s in bases.items()
                                ],
                                value=first,
                                clearable=False,
                                style={"width": "420px"},
                            ),
                        ]
                    ),
                    html.Span(reps_text(first), id="replications", className="baseline"),
                ],
            ),
            html.Div(
                className="grid",
                children=[
                    html.Div(id="levers", className="levers", children=_lever_panel(bases[first])),
                    html.Div(
                        style={"minWidth": 0},
                        children=[
                            html.Div(
                                className="actions",
                                children=[
                                    dcc.Input(
                                        id="variant-name",
                                        type="text",
                                        placeholder="variant name (file name)",
                                        debounce=True,
                                        style={"width": "16em"},
                                    ),
                                    html.Button("Save variant", id="save-variant"),
                                    html.Button("Save report", id="save-report"),
                                    html.Span(id="saved", className="saved"),
                                ],
                            ),
                            html.Div(id="errors", className="errors"),
                            dcc.Loading(
                                id="loading",
                                type="default",
                                delay_show=300,
                                children=html.Div(id="result"),
                            ),
                        ],
                    ),
                ],
            ),
        ]
    )

    def changes_of(base_path: str, values: list, ids: list) -> tuple[dict, dict]:
        """(changes, input errors): the levers whose value differs from the baseline's."""
        by_path = {lever.path: lever for lever in lever_lists[base_path]}
        changes, errors = {}, {}
        for ident, raw in zip(ids, values):
            lever = by_path.get(ident["path"])
            if lever is None:
                continue
            try:
                value = parse_value(lever, raw)
            except ValueError as e:
                errors[lever.path] = str(e)
                continue
            if value != lever.value:
                changes[lever.path] = value
        return changes, errors

    def variant_of(base_path: str, changes: dict, name: str | None):
        base = bases[base_path]
        name = (name or "").strip() or f"{base.name}_variant"
        at = save_dir / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.yaml"
        text = variant_text(Path(base_path), at, changes, name)
        return Scenario.from_yaml(text, str(at)), text, at

    @app.callback(
        Output("levers", "children"),
        Output("replications", "children"),
        Input("baseline", "value"),
        prevent_initial_call=True,
    )
    def _baseline(path):
        return _lever_panel(bases[path]), reps_text(path)

    app.clientside_callback(
        _SYNC,
        Output({"type": "slider", "path": MATCH}, "value"),
        Output({"type": "lever", "path": MATCH}, "value"),
        Input({"type": "slider", "path": MATCH}, "value"),
        Input({"type": "lever", "path": MATCH}, "value"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output("result", "children"),
        Output("errors", "children"),
        Output({"type": "lever-error", "path": ALL}, "children"),
        Output({"type": "lever-box", "path": ALL}, "className"),
        Output({"type": "lever", "path": ALL}, "value"),
        Input({"type": "lever", "path": ALL}, "value"),
        Input("variant-name", "value"),
        State({"type": "lever", "path": ALL}, "id"),
        State("baseline", "value"),
    )
    def _compare(values, name, ids, base_path):
        values = list(values)
        shown = [dash.no_update] * len(ids)
        notes = []
        moved = dash.ctx.triggered_id
        if isinstance(moved, dict) and moved.get("path", "").startswith("segments."):
            # Moving one segment's share rescales the others (shown in their inputs) to keep the sum 1.
            by_path = {lever.path: lever for lever in lever_lists[base_path]}
            shares = {}
            for i, ident in enumerate(ids):
                if ident["path"].startswith("segments."):
                    try:
                        shares[ident["path"]] = float(
                            parse_value(by_path[ident["path"]], values[i])
                        )
                    except (ValueError, KeyError):
                        shares = {}
                        break
            if moved["path"] in shares:
                new = rebalance_shares(shares, moved["path"])
                for i, ident in enumerate(ids):
                    if ident["path"] in new:
                        old = shares[ident["path"]]
                        values[i] = new[ident["path"]]
                        shown[i] = _shown(values[i])
                        notes.append(f"{ident['path'].split('.')[1]} {old:g} → {values[i]:g}")
                if notes:
                    notes = ["Segment shares kept summing to 1: " + ", ".join(notes) + "."]
        changes, errors = changes_of(base_path, values, ids)
        general = []
        variant = None
        if not errors and changes:
            try:
                variant, _, _ = variant_of(base_path, changes, name)
            except ScenarioError as e:
                paths = [i["path"] for i in ids]
                for p in e.problems:
                    if p.warning:  # the errors block the run; warnings are shown with a result
                        continue
                    target = _lever_of(p.field or "", paths)
                    if target is not None:
                        errors[target] = (
                            errors.get(target, "") + "\n" + problem_text(p, target)
                        ).strip()
                    else:
                        general.append(problem_text(p))
        per_lever = [errors.get(i["path"], "") for i in ids]
        classes = [
            "lever invalid"
            if i["path"] in errors
            else "lever changed"
            if i["path"] in changes
            else "lever"
            for i in ids
        ]
        if errors or general:
            if errors:
                by_path = {lever.path: lever for lever in lever_lists[base_path]}
                where = ", ".join(_where(by_path[p]) for p in errors if p in by_path)
                text = f"Fix the values marked in red ({where}); nothing was run."
            else:
                text = "This variant is not a valid scenario (see above); nothing was run."
            return html.Div(text, className="errors"), "\n".join(general), per_lever, classes, shown
        run = baseline_run(base_path)
        if not changes:
            return (
                _baseline_result(run, bases[base_path], per_run_of(base_path)),
                "",
                per_lever,
                classes,
                shown,
            )
        # Paired deltas only (the independent arm that measures variance reduction is left to reports).
        cmp = compare(
            bases[base_path],
            variant,
            replications=reps_of(base_path),
            threads=threads,
            independent=False,
            who_changed=False,
        )
        by_path = {lever.path: lever for lever in lever_lists[base_path]}
        changed = [
            f"{_where(by_path[p])} {_shown(by_path[p].value)} → {_shown(v)}"
            for p, v in changes.items()
        ]
        warnings = [problem_text(w) for w in variant.warnings]
        return (
            _result(
                cmp,
                warnings,
                notes=["Changed: " + "; ".join(changed) + "."] + notes,
                per_run=per_run_of(base_path),
            ),
            "",
            per_lever,
            classes,
            shown,
        )

    @app.callback(
        Output("saved", "children"),
        Input("save-variant", "n_clicks"),
        Input("save-report", "n_clicks"),
        State({"type": "lever", "path": ALL}, "value"),
        State({"type": "lever", "path": ALL}, "id"),
        State("variant-name", "value"),
        State("baseline", "value"),
        prevent_initial_call=True,
    )
    def _save(_variant_clicks, _report_clicks, values, ids, name, base_path):
        base = bases[base_path]
        changes, errors = changes_of(base_path, values, ids)
        if errors:
            return "Nothing saved: fix the values marked in red."
        try:
            variant, text, at = variant_of(base_path, changes, name)
        except ScenarioError as e:
            return "Nothing saved: " + "; ".join(
                problem_text(p) for p in e.problems if not p.warning
            )
        save_dir.mkdir(parents=True, exist_ok=True)
        if dash.ctx.triggered_id == "save-variant":
            _write(at, text)
            return f"variant saved to {at}"
        cmp = compare(base, variant, replications=reps_of(base_path), threads=threads)
        study = at.with_suffix(".h5")
        fd, tmp = tempfile.mkstemp(prefix=f".{study.stem}.", suffix=".h5", dir=save_dir)
        os.close(fd)
        os.unlink(tmp)
        try:
            cmp.save(tmp, name=variant.name)
            os.replace(tmp, study)
        finally:
            Path(tmp).unlink(missing_ok=True)
        out = htmlreport.report(
            study, at.with_suffix(".html"), title=f"{base.name} against {variant.name}"
        )
        return f"study saved to {study}, report to {out}"

    return app


def _write(path: Path, text: str) -> None:
    """Writes a file whole or not at all."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ---- the result panel ----------------------------------------------------------------------------


def _money(x: float, sign: bool = False) -> str:
    """Dollars as text: −$85, +$1,234, $0.99 M for millions."""
    if x is None or not math.isfinite(float(x)):
        return "–"
    x = float(x)
    body = f"${abs(x) / 1e6:,.2f} M" if abs(x) >= 1e6 else f"${abs(x):,.0f}"
    if x < 0 and round(abs(x)) > 0:
        return "−" + body
    return ("+" + body) if sign and round(x) > 0 else body


def _per_run(scenario: Scenario, replications: int) -> str:
    """What a number in the tables is (the scenario parsed in Python: once per baseline, not per refresh)."""
    d = scenario.to_dict()
    rate = (d.get("money") or {}).get("discount_rate", 0) or 0
    text = (
        f"Numbers are per run: one simulated {d.get('horizon'):g}-day horizon of the scenario's customers, the "
        f"mean over {replications} replications, with a 95% interval. Revenue and cost are undiscounted; "
    )
    if rate:
        return text + (
            f"net value is revenue minus cost, both discounted at {rate:.0%} a year, so it is not the "
            "revenue minus the cost shown here."
        )
    return text + "net value is revenue minus cost."


def _funnel(runs: list, names: list[str]) -> dict:
    """The funnel as a plain Plotly figure (no plotly.py objects: they cost a refresh 0.2-0.8 s
    here): customers who reached each stage, mean per run, on a linear scale, and for a variant
    its difference from the base beside its bar."""
    data, base = [], None
    for i, (run, name) in enumerate(zip(runs, names)):
        reached = run.arrays["reached"].mean(
            axis=0
        )  # [stage]: customers who reached it, mean per run
        trace = {
            "type": "bar",
            "orientation": "h",
            "y": list(run.stages),
            "x": [float(x) for x in reached],
            "name": name,
            "marker": {"color": (_BLUE, _ORANGE)[i % 2]},
            "hovertemplate": "%{y}: %{x:,.1f} customers<extra>" + name + "</extra>",
        }
        if base is None:
            base = reached
        else:
            trace["text"] = [
                f"{'+' if d > 0 else '−' if d < 0 else '±'}{abs(d):,.1f}" for d in reached - base
            ]
            trace["textposition"] = "outside"
            trace["cliponaxis"] = False
        data.append(trace)
    stages = len(runs[0].stages)
    return {
        "data": data,
        "layout": {
            "barmode": "group",
            "height": 120 + stages * (18 if len(runs) == 1 else 30),
            "template": None,
            "margin": {"l": 10, "r": 60, "t": 40, "b": 40},
            "font": {"size": 12},
            "title": {
                "text": "Funnel: customers who reached each stage (mean per run)"
                + ("; the variant's change beside its bars" if len(runs) > 1 else ""),
                "x": 0,
                "font": {"size": 14},
            },
            "xaxis": {
                "title": {"text": "customers per run"},
                "gridcolor": "#e9ecef",
                "zeroline": False,
            },
            "yaxis": {"autorange": "reversed", "automargin": True},
            "legend": {"orientation": "h", "y": -0.15},
            "plot_bgcolor": "white",
        },
    }


def _lifts(rows, variant_name: str) -> dict:
    """The relative changes (% of the base's mean) with their 95% CIs, as a plain Plotly figure."""
    labels, x, hi, lo, hover = [], [], [], [], []
    for metric, label in CHARTED:
        if metric not in rows.index or not all(
            math.isfinite(float(rows.loc[metric, k]))
            for k in ("lift", "lift_ci_low", "lift_ci_high")
        ):
            continue
        r = rows.loc[metric]
        labels.append(label)
        x.append(100 * float(r["lift"]))
        hi.append(100 * float(r["lift_ci_high"] - r["lift"]))
        lo.append(100 * float(r["lift"] - r["lift_ci_low"]))
        hover.append(f"{label}: {htmlreport.signed(r['delta'])} ({htmlreport.percent(r['lift'])})")
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "markers",
                "x": x,
                "y": labels,
                "text": hover,
                "hovertemplate": "%{text}<extra>" + variant_name + "</extra>",
                "marker": {"size": 10, "color": _BLUE},
                "error_x": {
                    "type": "data",
                    "symmetric": False,
                    "array": hi,
                    "arrayminus": lo,
                    "thickness": 2,
                    "width": 6,
                },
            }
        ],
        "layout": {
            "height": 90 + 34 * len(labels),
            "margin": {"l": 10, "r": 20, "t": 40, "b": 40},
            "font": {"size": 12},
            "title": {
                "text": "Change against the base, % of the base (95% CI)",
                "x": 0,
                "font": {"size": 14},
            },
            "xaxis": {
                "ticksuffix": "%",
                "zeroline": True,
                "zerolinecolor": "#868e96",
                "gridcolor": "#e9ecef",
            },
            "yaxis": {"autorange": "reversed", "automargin": True},
            "plot_bgcolor": "white",
            "showlegend": False,
        },
    }


def _cost_note(cmp, delta: float) -> str | None:
    """What a change in touchpoint and staff cost is made of, and what its sign means."""
    if not math.isfinite(delta) or round(abs(delta)) == 0:
        return None
    variant = cmp.variants[0]
    if delta < 0:
        text = (
            f"Touchpoint and staff cost {_money(delta)}: negative means the variant spends "
            f"{_money(-delta)} less per run "
            "than the baseline (a saving, which raises net value)."
        )
    else:
        text = f"Touchpoint and staff cost {_money(delta, sign=True)}: the variant spends {_money(delta)} more per run."
    parts = []
    # Per touchpoint (contacts, reached, moves, cost), mean per run: numpy, not DataFrames (a refresh's time).
    base_tp = dict(zip(cmp.base.touchpoint_names, cmp.base.arrays["touchpoints"].mean(axis=0)))
    var_tp = dict(zip(variant.touchpoint_names, variant.arrays["touchpoints"].mean(axis=0)))
    for name in base_tp.keys() & var_tp.keys():
        dc = float(var_tp[name][3] - base_tp[name][3])
        if round(abs(dc)) > 0:
            parts.append(
                (
                    abs(dc),
                    f"{name} {base_tp[name][0]:,.1f} → {var_tp[name][0]:,.1f} contacts ({_money(dc, sign=True)})",
                )
            )
    if cmp.base.resource_names:
        base_st = cmp.base.resources().groupby("resource", observed=False)["staff_cost"].mean()
        var_st = variant.resources().groupby("resource", observed=False)["staff_cost"].mean()
        for name in base_st.index.intersection(var_st.index):
            dc = float(var_st.loc[name] - base_st.loc[name])
            if round(abs(dc)) > 0:
                parts.append((abs(dc), f"team {name} staff {_money(dc, sign=True)}"))
    if parts:
        parts.sort(key=lambda p: -p[0])
        text += " Made of (means per run): " + "; ".join(p for _, p in parts[:4]) + "."
        if any("contacts" in p for _, p in parts):
            text += " A touchpoint is paid per contact made, so its cost follows the contacts, not the reach."
    return text


def _baseline_result(run, scenario: Scenario, per_run: str) -> html.Div:
    """The baseline's own numbers, shown before any lever moves."""
    summary = run.summary().set_index("metric")
    table = [html.Tr([html.Th("metric"), html.Th("baseline"), html.Th("95% interval")])]
    for metric, label in SHOWN:
        if metric not in summary.index:
            continue
        r = summary.loc[metric]
        table.append(
            html.Tr(
                id=f"base-{metric}",
                children=[
                    html.Td(label),
                    html.Td(htmlreport.number(r["mean"]), className="value"),
                    html.Td(
                        f"{htmlreport.number(r['ci_low'])} to {htmlreport.number(r['ci_high'])}"
                    ),
                ],
            )
        )
    return html.Div(
        id="baseline-summary",
        children=[
            html.Div(
                f"Baseline {scenario.name}: what the business does today. "
                "Move a lever on the left to compare a variant "
                "with it.",
                className="verdict",
            ),
            html.Table(table, className="deltas"),
            html.Div(per_run, className="note"),
            dcc.Graph(
                id="funnel-figure",
                figure=_funnel([run], [scenario.name]),
                config={"displaylogo": False},
            ),
        ],
    )


def _result(
    cmp, warnings: Sequence[str] = (), notes: Sequence[str] = (), per_run: str | None = None
) -> html.Div:
    variant = cmp.variants[0]
    deltas = cmp.deltas()
    rows = deltas.set_index("metric")
    names = [
        cmp.base.info.scenario_name or cmp.base.name,
        variant.info.scenario_name or variant.name,
    ]
    table = [
        html.Tr(
            [
                html.Th("metric"),
                html.Th("base"),
                html.Th("variant"),
                html.Th("delta"),
                html.Th("95% CI"),
                html.Th("lift"),
            ]
        )
    ]
    for metric, label in SHOWN:
        if metric not in rows.index:
            continue
        r = rows.loc[metric]
        table.append(
            html.Tr(
                id=f"delta-{metric}",
                children=[
                    html.Td(label),
                    html.Td(htmlreport.number(r["base_mean"])),
                    html.Td(htmlreport.number(r["variant_mean"])),
                    html.Td(htmlreport.signed(r["delta"]), className="delta"),
                    html.Td(
                        f"{htmlreport.number(r['ci_low'])} to {htmlreport.number(r['ci_high'])}"
                    ),
                    html.Td(htmlreport.percent(r["lift"])),
                ],
            )
        )
    cost = (
        _cost_note(cmp, float(rows.loc["touchpoint_cost", "delta"]))
        if "touchpoint_cost" in rows.index
        else None
    )
    return html.Div(
        [
            # The answer first, in the report's words (lcsim.recommend); the engine's verdict below it.
            html.Div(
                recommend.rank(cmp)[0].sentence,
                id="recommendation",
                className="recommendation",
                style={
                    "fontWeight": 600,
                    "borderLeft": "4px solid #2b8a3e",
                    "background": "#f4f6f8",
                    "padding": "8px 12px",
                    "margin": "6px 0",
                },
            ),
            html.Div(cmp.verdicts[0], id="verdict", className="verdict"),
            *[html.Div(n, className="note") for n in notes],
            *[html.Div(w, className="warning") for w in warnings],
            html.Table(table, className="deltas"),
            *([html.Div(cost, id="cost-note", className="note")] if cost else []),
            html.Div(per_run or _per_run(cmp.base.scenario, cmp.replications), className="note"),
            dcc.Graph(
                id="deltas-figure", figure=_lifts(rows, names[1]), config={"displaylogo": False}
            ),
            dcc.Graph(
                id="funnel-figure",
                figure=_funnel([cmp.base, variant], names),
                config={"displaylogo": False},
            ),
        ]
    )


def serve(
    scenarios: Sequence[os.PathLike] = (),
    port: int = 8050,
    replications: int | None = None,
    save_dir: os.PathLike | None = None,
) -> int:
    """Runs the app on 127.0.0.1:port until interrupted (prints the URL first)."""
    app = make_app(scenarios, replications=replications, save_dir=save_dir)
    print(f"lcsim app: open http://127.0.0.1:{port}/ (Ctrl-C stops it)", flush=True)
    app.run(host="127.0.0.1", port=port, debug=False)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(serve(sys.argv[1:]))
