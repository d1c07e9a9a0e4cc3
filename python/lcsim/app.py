"""``lcsim app``: what-if in the browser, for strategists (Dash, on 127.0.0.1).

Pick a baseline, move its levers (each touchpoint's reach, cost, schedule and effect; each team's
servers, hand-off and patience; arrival rates; segment shares) and see the paired comparison against
the baseline — verdict, deltas with 95% CIs, funnel — refresh after each change. The variant is the
small ``extends:`` file the app would save (docs/scenario.md, "Variants"), loaded exactly as
``lcsim validate`` loads it, so a bad value shows validate's message next to its input and nothing
runs. "Save variant" writes that file; "Save report" writes the comparison as a study and its HTML
report (:mod:`lcsim.htmlreport`). The numbers are ``lcsim.compare``'s for the scenario's seed.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import dash
from dash import ALL, Input, Output, State, dcc, html

from . import htmlreport, recommend
from .errors import ScenarioError
from .scenario import Scenario, variant_text
from .whatif import compare

__all__ = ["Lever", "levers", "variant_text", "make_app", "serve"]

#: Deltas shown in the app's table, in order.
SHOWN = (("conversions", "conversions"), ("conversion_rate", "conversion rate"), ("revenue", "revenue ($)"),
         ("touchpoint_cost", "cost ($)"), ("net_value", "net value ($)"))


@dataclass(frozen=True)
class Lever:
    """One input of the app: a scenario field by its dotted path (as ``with_changes`` takes it)."""

    path: str
    label: str
    group: str
    kind: str  # "probability" (a slider 0..1), "number", "integer" or "days" (a list of numbers)
    value: Any


def levers(scenario: Scenario) -> list[Lever]:
    """The levers of a scenario, with its values, grouped as the app shows them."""
    d = scenario.to_dict()
    out: list[Lever] = []
    for name, tp in (d.get("touchpoints") or {}).items():
        group = f"touchpoint {name}"
        p = f"touchpoints.{name}"
        out.append(Lever(f"{p}.reach", "reach (share of contacts that land)", group, "probability", tp.get("reach", 1)))
        out.append(Lever(f"{p}.cost", "cost per contact ($)", group, "number", tp.get("cost", 0)))
        schedule = tp.get("schedule") or {}
        for kind in ("after_entry", "calendar"):
            times = schedule.get(kind)
            if not isinstance(times, dict):
                continue
            if "days" in times:
                out.append(Lever(f"{p}.schedule.{kind}.days", f"{kind.replace('_', ' ')}: on days", group, "days", times["days"]))
            if "every" in times:
                out.append(Lever(f"{p}.schedule.{kind}.every", f"{kind.replace('_', ' ')}: every (days)", group, "number", times["every"]))
            if "start" in times:
                out.append(Lever(f"{p}.schedule.{kind}.start", f"{kind.replace('_', ' ')}: first on day", group, "number", times["start"]))
        effect = tp.get("effect") or {}
        if isinstance(effect.get("move"), dict) and "probability" in effect["move"]:
            out.append(Lever(f"{p}.effect.move.probability", f"moves to {effect['move'].get('to')} with probability", group,
                             "probability", effect["move"]["probability"]))
        if "hazard_factor" in effect:
            out.append(Lever(f"{p}.effect.hazard_factor", "hazard factor (× exit rate)", group, "number", effect["hazard_factor"]))
        if "window" in effect:
            out.append(Lever(f"{p}.effect.window", "effect window (days)", group, "number", effect["window"]))
    for name, team in (d.get("resources") or {}).items():
        group = f"team {name}"
        p = f"resources.{name}"
        if "servers" in team:
            out.append(Lever(f"{p}.servers", "staff (servers)", group, "integer", team["servers"]))
        handoff = team.get("handoff") or {}
        for key, label in (("days", "hand-off (days, fixed)"), ("mean", "hand-off (mean days)")):
            if key in handoff:
                out.append(Lever(f"{p}.handoff.{key}", label, group, "number", handoff[key]))
        patience = team.get("patience") or {}
        if "mean" in patience:
            out.append(Lever(f"{p}.patience.mean", "patience (mean days before giving up)", group, "number", patience["mean"]))
    arrivals = d.get("arrivals") or {}
    for i, stream in enumerate(arrivals.get("streams") or []):
        out.append(Lever(f"arrivals.streams[{i}].rate_per_day", f"stream into {stream.get('stage')}: per day", "arrivals",
                         "number", stream.get("rate_per_day")))
    for i, cohort in enumerate(arrivals.get("initial") or []):
        out.append(Lever(f"arrivals.initial[{i}].count", f"initial cohort in {cohort.get('stage')}", "arrivals", "integer",
                         cohort.get("count")))
    for name, segment in (d.get("segments") or {}).items():
        out.append(Lever(f"segments.{name}.share", f"segment {name}: share", "segments", "probability", segment.get("share")))
    return out


def parse_value(lever: Lever, raw: Any) -> Any:
    """An input's value as the scenario takes it. Raises ValueError with a message for the input."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise ValueError("enter a value")
    if lever.kind == "days":
        try:
            return [float(x) if "." in x or "e" in x.lower() else int(x) for x in re.split(r"[,\s]+", str(raw).strip()) if x]
        except ValueError:
            raise ValueError("expected days as numbers separated by commas, e.g. 1, 8") from None
    if isinstance(raw, str):
        try:
            raw = float(raw)
        except ValueError:
            raise ValueError(f"expected a number, got {raw!r}") from None
    if lever.kind == "integer" and float(raw) == int(raw):
        return int(raw)
    return raw


def _default_scenarios() -> list[Path]:
    here = Path.cwd() / "scenarios"
    return sorted(here.glob("*/baseline.yaml")) if here.is_dir() else []


def _lever_input(lever: Lever):
    ident = {"type": "lever", "path": lever.path}
    if lever.kind == "probability":
        return dcc.Slider(id=ident, min=0, max=1, step=0.01, value=lever.value, marks={0: "0", 0.5: "0.5", 1: "1"},
                          updatemode="mouseup")
    if lever.kind == "days":
        return dcc.Input(id=ident, type="text", value=", ".join(str(x) for x in lever.value), debounce=True,
                         style={"width": "10em"})
    return dcc.Input(id=ident, type="number", value=lever.value, debounce=True, style={"width": "8em"},
                     step=1 if lever.kind == "integer" else "any")


def _lever_panel(scenario: Scenario):
    groups: dict[str, list] = {}
    for lever in levers(scenario):
        baseline = ", ".join(map(str, lever.value)) if lever.kind == "days" else lever.value
        groups.setdefault(lever.group, []).append(html.Div(className="lever", children=[
            html.Label([lever.label, html.Span(f" baseline {baseline}", className="baseline")]),
            _lever_input(lever),
            html.Div(id={"type": "lever-error", "path": lever.path}, className="lever-error"),
        ]))
    return [html.Fieldset([html.Legend(group), *items]) for group, items in groups.items()]


_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; color: #212529; margin: 0; }
.top { padding: 10px 20px; border-bottom: 1px solid #dee2e6; display: flex; gap: 16px; align-items: center; flex-wrap: wrap; }
.top h1 { font-size: 20px; margin: 0; }
.grid { display: grid; grid-template-columns: minmax(300px, 380px) 1fr; gap: 18px; padding: 12px 20px; }
.levers { max-height: calc(100vh - 90px); overflow-y: auto; padding-right: 8px; }
fieldset { border: 1px solid #dee2e6; border-radius: 4px; margin: 0 0 10px; padding: 6px 10px 8px; }
legend { font-weight: 600; padding: 0 4px; }
.lever { margin: 6px 0 10px; }
.lever label { display: block; margin-bottom: 2px; }
.baseline { color: #5f676f; font-size: 12px; }
.lever-error, .errors { color: #c92a2a; font-size: 13px; white-space: pre-wrap; }
.verdict { background: #f4f6f8; border-left: 4px solid #364fc7; padding: 8px 12px; margin: 6px 0 10px; }
table.deltas { border-collapse: collapse; width: 100%; font-size: 14px; }
table.deltas th, table.deltas td { border-bottom: 1px solid #dee2e6; padding: 4px 8px; text-align: right; }
table.deltas th:first-child, table.deltas td:first-child { text-align: left; }
.actions { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; margin: 8px 0; }
.saved { color: #2b8a3e; font-size: 13px; }
.warning { color: #8a5300; font-size: 13px; margin: 0 0 6px; }
@media (max-width: 900px) { .grid { grid-template-columns: 1fr; } .levers { max-height: none; } }
"""


def make_app(scenarios: Sequence[os.PathLike] = (), replications: int = 10, save_dir: Optional[os.PathLike] = None,
             threads: Optional[int] = None) -> dash.Dash:
    """The Dash app (not started): ``make_app(...).run(host="127.0.0.1", port=...)``.

    Raises :class:`lcsim.ScenarioError` when a baseline is invalid and ``ValueError`` when there
    is none (and no ``scenarios/*/baseline.yaml`` under the working directory)."""
    paths = [Path(s) for s in scenarios] or _default_scenarios()
    if not paths:
        raise ValueError("give the baseline scenario(s) to offer: lcsim app scenarios/b2b_saas/baseline.yaml")
    bases = {str(p): Scenario.load(p) for p in paths}
    save_dir = Path(save_dir) if save_dir else Path.cwd()
    replications = int(replications)
    if replications < 2:
        raise ValueError(f"--replications: expected at least 2 paired replications, got {replications}")
    first = next(iter(bases))

    app = dash.Dash("lcsim", title="lcsim what-if", serve_locally=True, update_title=None)
    app.index_string = app.index_string.replace("{%css%}", "{%css%}<style>" + _CSS + "</style>")
    app.layout = html.Div([
        html.Div(className="top", children=[
            html.H1("lcsim what-if"),
            html.Label(["baseline ", dcc.Dropdown(id="baseline", options=[{"label": f"{s.name} ({p})", "value": p}
                                                                      for p, s in bases.items()],
                                                  value=first, clearable=False, style={"width": "420px"})]),
            html.Span(f"{replications} paired replications per comparison", className="baseline"),
        ]),
        html.Div(className="grid", children=[
            html.Div(id="levers", className="levers", children=_lever_panel(bases[first])),
            html.Div([
                html.Div(className="actions", children=[
                    dcc.Input(id="variant-name", type="text", placeholder="variant name (file name)", debounce=True,
                              style={"width": "16em"}),
                    html.Button("Save variant", id="save-variant"), html.Button("Save report", id="save-report"),
                    html.Span(id="saved", className="saved"),
                ]),
                html.Div(id="errors", className="errors"),
                dcc.Loading(id="loading", type="default", children=html.Div(id="result")),
            ]),
        ]),
    ])

    def changes_of(base: Scenario, values: list, ids: list) -> tuple[dict, dict]:
        """(changes, input errors): the levers whose value differs from the baseline's."""
        by_path = {lever.path: lever for lever in levers(base)}
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

    def variant_of(base_path: str, base: Scenario, changes: dict, name: Optional[str]):
        name = (name or "").strip() or f"{base.name}_variant"
        at = save_dir / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.yaml"
        text = variant_text(Path(base_path), at, changes, name)
        return Scenario.from_yaml(text, str(at)), text, at

    @app.callback(Output("levers", "children"), Input("baseline", "value"), prevent_initial_call=True)
    def _baseline(path):
        return _lever_panel(bases[path])

    @app.callback(
        Output("result", "children"), Output("errors", "children"),
        Output({"type": "lever-error", "path": ALL}, "children"),
        Input({"type": "lever", "path": ALL}, "value"), Input("variant-name", "value"),
        State({"type": "lever", "path": ALL}, "id"), State("baseline", "value"),
    )
    def _compare(values, name, ids, base_path):
        base = bases[base_path]
        changes, errors = changes_of(base, values, ids)
        general = []
        if not errors and changes:
            try:
                variant, _, _ = variant_of(base_path, base, changes, name)
            except ScenarioError as e:
                for p in e.problems:
                    if p.warning:  # the errors block the run; warnings are shown with a result
                        continue
                    target = next((i["path"] for i in ids if p.field == i["path"] or p.field.startswith(i["path"] + ".")), None)
                    if target is not None:
                        errors[target] = (errors.get(target, "") + "\n" + str(p)).strip()
                    else:
                        general.append(str(p))
        per_lever = [errors.get(i["path"], "") for i in ids]
        if errors or general:
            return html.Div("Fix the values marked in red; nothing was run.", className="errors"), "\n".join(general), per_lever
        if not changes:
            return html.Div("Move a lever to compare a variant with the baseline.", className="baseline"), "", per_lever
        # Paired deltas only (the independent arm that measures variance reduction is left to reports).
        cmp = compare(base, variant, replications=replications, threads=threads, independent=False)
        return _result(cmp, [str(w) for w in variant.warnings]), "", per_lever

    @app.callback(Output("saved", "children"), Input("save-variant", "n_clicks"), Input("save-report", "n_clicks"),
                  State({"type": "lever", "path": ALL}, "value"), State({"type": "lever", "path": ALL}, "id"),
                  State("variant-name", "value"), State("baseline", "value"), prevent_initial_call=True)
    def _save(_variant_clicks, _report_clicks, values, ids, name, base_path):
        base = bases[base_path]
        changes, errors = changes_of(base, values, ids)
        if errors:
            return "Nothing saved: fix the values marked in red."
        try:
            variant, text, at = variant_of(base_path, base, changes, name)
        except ScenarioError as e:
            return f"Nothing saved: {e}"
        save_dir.mkdir(parents=True, exist_ok=True)
        if dash.ctx.triggered_id == "save-variant":
            _write(at, text)
            return f"variant saved to {at}"
        cmp = compare(base, variant, replications=replications, threads=threads)
        study = at.with_suffix(".h5")
        fd, tmp = tempfile.mkstemp(prefix=f".{study.stem}.", suffix=".h5", dir=save_dir)
        os.close(fd)
        os.unlink(tmp)
        try:
            cmp.save(tmp, name=variant.name)
            os.replace(tmp, study)
        finally:
            Path(tmp).unlink(missing_ok=True)
        out = htmlreport.report(study, at.with_suffix(".html"), title=f"{base.name} against {variant.name}")
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


def _result(cmp, warnings: Sequence[str] = ()) -> html.Div:
    variant = cmp.variants[0]
    deltas = cmp.deltas()
    rows = deltas.set_index("metric")
    names = {cmp.base.name: cmp.base.info.scenario_name or cmp.base.name, variant.name: variant.info.scenario_name or variant.name}
    table = [html.Tr([html.Th("metric"), html.Th("base"), html.Th("variant"), html.Th("delta"), html.Th("95% CI"), html.Th("lift")])]
    for metric, label in SHOWN:
        if metric not in rows.index:
            continue
        r = rows.loc[metric]
        table.append(html.Tr(id=f"delta-{metric}", children=[
            html.Td(label), html.Td(htmlreport.number(r["base_mean"])), html.Td(htmlreport.number(r["variant_mean"])),
            html.Td(htmlreport.signed(r["delta"]), className="delta"),
            html.Td(f"{htmlreport.number(r['ci_low'])} to {htmlreport.number(r['ci_high'])}"),
            html.Td(htmlreport.percent(r["lift"]))]))
    return html.Div([
        # The answer first, in the report's words (lcsim.recommend); the engine's verdict below it.
        html.Div(recommend.rank(cmp)[0].sentence, id="recommendation", className="recommendation",
                 style={"fontWeight": 600, "borderLeft": "4px solid #2b8a3e", "background": "#f4f6f8",
                        "padding": "8px 12px", "margin": "6px 0"}),
        html.Div(cmp.verdicts[0], id="verdict", className="verdict"),
        *[html.Div(w, className="warning") for w in warnings],
        html.Table(table, className="deltas"),
        dcc.Graph(id="deltas-figure", figure=htmlreport.deltas_figure(deltas, names), config={"displaylogo": False}),
        dcc.Graph(id="funnel-figure", figure=htmlreport.funnel_figure([cmp.base, variant], names),
                  config={"displaylogo": False}),
    ])


def serve(scenarios: Sequence[os.PathLike] = (), port: int = 8050, replications: Optional[int] = None,
          save_dir: Optional[os.PathLike] = None) -> int:
    """Runs the app on 127.0.0.1:port until interrupted (prints the URL first)."""
    app = make_app(scenarios, replications=replications or 10, save_dir=save_dir)
    print(f"lcsim app: open http://127.0.0.1:{port}/ (Ctrl-C stops it)", flush=True)
    app.run(host="127.0.0.1", port=port, debug=False)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(serve(sys.argv[1:]))
