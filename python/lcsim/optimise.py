"""From "what if" to "what should we do": the best plan under a budget, with honest uncertainty.

>>> import lcsim
>>> opt = lcsim.optimise("scenarios/b2b_saas/baseline.yaml",
...                      levers={"touchpoints.nurture_email.reach": (0.1, 0.9),
...                              "touchpoints.first_call.schedule.after_entry.days": [[2], [1], [0.25]]},
...                      objective="net_value", constraints=["conversions>=800@0.9"], budget=120_000)
>>> print(opt)                  # the verdict in words
>>> opt.trials                  # every plan tried: levers, objective, deltas with CIs, constraints
>>> opt.save("study.h5", "nurture_budget"); opt.save_variant("scenarios/b2b_saas/best_plan.yaml")

**Levers** are dotted scenario paths (those of :meth:`lcsim.Scenario.with_changes` and
:func:`lcsim.sweep`): a tuple ``(low, high)`` is a range (whole numbers when both ends are ints, as
for a team's ``servers``), a list is a set of choices (``[True, False]``, schedules, ``None`` to
remove a field). Every end and every choice is applied to the base and validated before anything
runs, so an unknown path, ``low > high`` or a value of the wrong type is an error at once.

**Constraints** are strings ``"metric<=value"`` / ``"metric>=value"`` on a plan's mean per
replication, or chance constraints ``"metric>=value@0.9"``: at least 90% of the replications (each
one a possible year, quarter, ... of the horizon) must meet it. ``budget=50_000`` is
``"touchpoint_cost<=50000"`` (touchpoint spend plus staffing, per replication).

**Search.** Optuna's TPE sampler (seeded, so the same seed gives the same plans), asked for ``batch``
plans at a time; each plan is simulated with the base's seed and replication numbers (common random
numbers), so plans are compared on the same customers, and its paired delta against the base gets a
95% CI. Why Optuna: it handles continuous, integer and categorical levers in one search space, has
constraints in TPE (infeasible plans inform the search instead of being dropped), runs the
ask-and-tell loop that lets a batch of plans run on Dask workers while this process stays the only
writer, and stays deterministic for a fixed seed. (scikit-optimize is unmaintained; NLopt's
derivative-free methods assume a smooth noiseless objective and have no categorical levers.)

**Selection.** The best few distinct plans are simulated again with ``final_replications`` *fresh*
paired replications (seed + 1), so the winner is not judged on the same noise it was picked on. The
winner is reported with its deltas' 95% CIs against the base and against the runner-up, the
probability that each chance constraint holds (Wilson 95% interval), and, when the runner-up's CI
overlaps, the plain statement that the data cannot separate them.

With ``client=`` (a ``dask.distributed.Client``) each batch's plans run as Dask tasks; the numbers are
identical to a local run for the same seed.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from . import _core
from ._extras import missing_extra
from ._paths import MISSING, lookup
from ._validators import validate_positive
from .errors import ScenarioError
from .run import Run
from .scenario import Scenario, _plain, variant_text
from .whatif import Comparison, compare

__all__ = ["Constraint", "Lever", "Optimisation", "SearchLever", "optimise", "optimize"]

#: Metrics recorded for every plan (besides the objective and the constraints' metrics).
RECORDED = ("conversions", "revenue", "touchpoint_cost", "net_value")


# ---- levers ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SearchLever:
    """One dimension of the search: a scenario path and the values it may take."""

    path: str
    kind: str  # "float", "int" or "choice"
    low: Any = None
    high: Any = None
    choices: tuple = ()
    base: Any = None  # the base scenario's value (None where the field is not written)

    def describe(self) -> str:
        if self.kind == "choice":
            return f"{self.path} in {list(self.choices)}"
        return f"{self.path} in [{self.low}, {self.high}]" + (
            " (whole numbers)" if self.kind == "int" else ""
        )

    def to_json(self) -> dict:
        d = {"path": self.path, "kind": self.kind}
        if self.kind == "choice":
            d["choices"] = [_plain(c) for c in self.choices]
        else:
            d["low"], d["high"] = self.low, self.high
        return d


def _is_int(x) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _is_number(x) -> bool:
    return (_is_int(x) or isinstance(x, (float, np.floating))) and not isinstance(
        x, (bool, np.bool_)
    )


#: The name :class:`SearchLever` had before the app's levers (:class:`lcsim.app.AppLever`) were told
#: apart from it: an alias, kept for old code.
Lever = SearchLever


def parse_levers(base: Scenario, levers: Mapping[str, Any]) -> list[SearchLever]:
    """Checks every lever against the base before anything runs: the path exists, the range is
    ordered and finite, a range is on a number field, and every end and choice gives a valid
    scenario. @raises ValueError / TypeError / ScenarioError naming the lever."""
    if not isinstance(levers, Mapping) or not levers:
        raise ValueError("levers: expected a non-empty dict of path -> (low, high) or [choices]")
    d = base.to_dict()
    out = []
    for path, spec in levers.items():
        if not isinstance(path, str) or not path:
            raise ValueError(
                f"levers: paths are dotted strings such as 'touchpoints.webinar.reach', got {path!r}"
            )
        current = lookup(d, path)
        current = None if current is MISSING else current
        if isinstance(spec, tuple):
            if len(spec) != 2:
                raise ValueError(f"levers[{path!r}]: a range is a tuple (low, high), got {spec!r}")
            low, high = spec
            if not (_is_number(low) and _is_number(high)):
                raise TypeError(
                    f"levers[{path!r}]: a range needs numbers, got {spec!r} (give a list for choices)"
                )
            if not (math.isfinite(low) and math.isfinite(high)):
                raise ValueError(f"levers[{path!r}]: the range must be finite, got {spec!r}")
            if not low < high:
                raise ValueError(
                    f"levers[{path!r}]: low must be below high, got low {low} and high {high}"
                )
            if current is not None and not _is_number(current):
                raise TypeError(
                    f"levers[{path!r}]: a range needs a number field, but the base has "
                    f"{current!r} there; give a list of choices instead"
                )
            kind = "int" if _is_int(low) and _is_int(high) else "float"
            lever = SearchLever(
                path,
                kind,
                int(low) if kind == "int" else float(low),
                int(high) if kind == "int" else float(high),
                base=current,
            )
            tried = [lever.low, lever.high]
        elif isinstance(spec, (list, np.ndarray)):
            choices = tuple(_plain(c) for c in spec)
            if not choices:
                raise ValueError(f"levers[{path!r}]: no choices")
            if len({json.dumps(c, sort_keys=True) for c in choices}) != len(choices):
                raise ValueError(f"levers[{path!r}]: the choices {list(choices)} repeat a value")
            lever = SearchLever(path, "choice", choices=choices, base=current)
            tried = list(choices)
        else:
            raise TypeError(
                f"levers[{path!r}]: expected a tuple (low, high) or a list of choices, got {spec!r}"
            )
        for value in tried:
            try:
                base.with_changes({path: value})
            except ScenarioError as e:
                # A problem of the lever's own field (or of the path itself) is fatal. One of another
                # field (segment shares that no longer sum to 1) may be mended by the other levers:
                # such combinations are tried, and those that stay invalid are failed trials.
                errors = [p for p in e.problems if not p.warning]
                own = not errors or any(
                    p.field == path
                    or p.field.startswith(path + ".")
                    or p.field.startswith(path + "[")
                    for p in errors
                )
                if own or len(levers) == 1:
                    raise ScenarioError(
                        f"lever {path} = {value!r} does not give a valid scenario:\n{e}", e.problems
                    ) from None
        out.append(lever)
    return out


# ---- constraints -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Constraint:
    """``metric <= limit`` or ``metric >= limit`` on the mean per replication, or, with
    ``probability``, on at least that share of the replications (a chance constraint)."""

    metric: str
    op: str  # "<=" or ">="
    limit: float
    probability: float | None = None

    @property
    def label(self) -> str:
        text = f"{self.metric}{self.op}{_number(self.limit)}"
        return text + (f"@{_number(self.probability)}" if self.probability is not None else "")

    def met_by(self, values: np.ndarray) -> np.ndarray:
        return values <= self.limit if self.op == "<=" else values >= self.limit

    def measure(self, values: np.ndarray) -> float:
        """The number the constraint is about: the mean, or the share of replications meeting it."""
        return (
            float(np.mean(self.met_by(values)))
            if self.probability is not None
            else float(np.mean(values))
        )

    def violation(self, values: np.ndarray) -> float:
        """<= 0 when met (Optuna's convention), scaled so that constraints compare."""
        x = self.measure(values)
        if self.probability is not None:
            return self.probability - x
        scale = max(abs(self.limit), 1.0)
        return (x - self.limit) / scale if self.op == "<=" else (self.limit - x) / scale


_CONSTRAINT = re.compile(
    r"^\s*([A-Za-z_][\w.]*)\s*(<=|>=)\s*([-+0-9.eE_]+)\s*(?:@\s*([0-9.]+))?\s*$"
)


def parse_constraint(text) -> Constraint:
    if isinstance(text, Constraint):
        return text
    if not isinstance(text, str):
        raise TypeError(
            f"constraints: expected strings such as 'touchpoint_cost<=50000' or "
            f"'conversions>=500@0.9', got {text!r}"
        )
    m = _CONSTRAINT.match(text)
    if not m:
        raise ValueError(
            f"constraint {text!r}: expected METRIC<=VALUE or METRIC>=VALUE, optionally @PROBABILITY "
            "(e.g. 'touchpoint_cost<=50000', 'conversions>=500@0.9')"
        )
    metric, op, limit, prob = m.groups()
    try:
        limit = float(limit.replace("_", ""))
    except ValueError:
        raise ValueError(f"constraint {text!r}: {limit!r} is not a number") from None
    if not math.isfinite(limit):
        raise ValueError(f"constraint {text!r}: the limit must be finite")
    if prob is not None:
        p = float(prob)
        if not 0 < p < 1:
            raise ValueError(
                f"constraint {text!r}: the probability after @ must be between 0 and 1, got {prob}"
            )
        prob = p
    return Constraint(metric, op, limit, prob)


def _number(x) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


# ---- evaluation ------------------------------------------------------------------------------
def _evaluate(
    text: str, file: str, replications: int, seed: int, threads: int, metrics: Sequence[str]
) -> dict:
    """Simulates one plan; returns each metric's values per replication (runs on a Dask worker too)."""
    scenario = Scenario.from_yaml(text, file)
    run = Run(
        _core.simulate(
            scenario._model, replications=replications, seed=seed, threads=threads, name="plan"
        )
    )
    table = run.metrics()
    return {m: table[m].to_numpy(dtype=float) for m in metrics}


def _paired(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Mean of a - b over paired replications and its 95% Student-t CI."""
    d = np.asarray(a, float) - np.asarray(b, float)
    n = len(d)
    mean = float(d.mean())
    if n < 2:
        return mean, math.nan, math.nan
    half = _core.t95_factor(n) * float(d.std(ddof=1)) / math.sqrt(n)
    return mean, mean - half, mean + half


def _wilson(successes: int, n: int) -> tuple[float, float]:
    """Wilson score 95% interval of a proportion."""
    if n == 0:
        return math.nan, math.nan
    z = 1.959963984540054
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


# ---- the search ------------------------------------------------------------------------------
def optimise(
    base: Scenario | str | os.PathLike,
    levers: Mapping[str, Any],
    objective: str = "net_value",
    *,
    direction: str = "maximise",
    constraints: Sequence[str | Constraint] = (),
    budget: float | None = None,
    trials: int = 60,
    replications: int | None = None,
    seed: int | None = None,
    batch: int = 8,
    finalists: int = 3,
    final_replications: int | None = None,
    startup_trials: int | None = None,
    threads: int | None = None,
    client=None,
    progress: Callable[[int, int], None] | None = None,
    tolerance: float = 0.0,
    significant: int | None = 3,
) -> Optimisation:
    """Searches the levers for the plan that maximises (or minimises) ``objective`` subject to
    ``constraints``, then re-evaluates the best few on fresh paired replications.

    Parameters
    ----------
    base : Scenario or path
    levers : dict of path -> (low, high) or [choices]
    objective : str
        A metric of the runs (``net_value``, ``conversions``, ``touchpoint_cost``, ...): its mean per
        replication.
    direction : {"maximise", "minimise"}
        (``"maximize"`` and ``"minimize"`` are aliases.)
    constraints : list of str
        ``"metric<=value"``, ``"metric>=value"`` (on the mean) or ``"metric>=value@p"`` (in at least
        a share ``p`` of the replications).
    budget : float, optional
        Shorthand for ``"touchpoint_cost<=budget"``.
    trials : int
        Plans proposed by the search (repeats of a plan already simulated are not simulated again).
    replications, seed : int, optional
        Per plan during the search (default: the base's); every plan uses the same seed and
        replication numbers as the base (common random numbers).
    batch : int
        Plans proposed at a time (and run in parallel on Dask). The result depends on it, not on
        where the plans run.
    finalists : int
        Plans re-evaluated at the end: the best ones that differ from each other (in a whole-number
        or choice lever, or by more than 5% of a continuous lever's range).
    final_replications : int, optional
        Paired replications of the selection step (default: 4 x replications, at least 40), on seed + 1.
    startup_trials : int, optional
        Random plans before TPE models the results (default: max(8, 2 x levers), at most trials / 2).
    threads : int, optional
        Local threads per plan (default: all cores); with ``client``, threads per task (default 1).
    client : dask.distributed.Client, optional
    progress : callable(trials_done, trials_total), optional
        Called after each batch of the search (``lcsim optimise`` draws its progress bar with it).
    tolerance : float
        In the objective's unit (e.g. ``5000`` for $5,000 of net value): a winner whose lead over
        the runner-up is below it is called *practically the same* as the runner-up, as is one
        whose lead's 95% CI includes 0 (the default 0 leaves that to the CI alone).
    significant : int or None
        The finalists' continuous levers are rounded before the selection step, to this many
        significant digits but at least to 1% of the lever's range (a reach of 0.599068633 in
        0.2 to 0.6 becomes 0.599), inside the range; whole-number and choice levers are kept. The
        selection step simulates the rounded plans, so the verdict, ``opt.best`` and the variant
        file are the same plan. ``None`` keeps the search's values.

    Returns
    -------
    Optimisation
    """
    try:
        import optuna
    except ImportError as e:  # lcsim[optimise]
        raise missing_extra("optimise", e) from e

    started = time.perf_counter()
    if not isinstance(base, Scenario):
        base = Scenario.load(base)
    if direction not in ("maximise", "minimise", "maximize", "minimize"):
        raise ValueError(f"direction: expected 'maximise' or 'minimise', got {direction!r}")
    maximise = direction.startswith("max")
    if not isinstance(objective, str) or not objective:
        raise TypeError(f"objective: expected a metric name such as 'net_value', got {objective!r}")
    parsed = parse_levers(base, levers)
    cons = [
        parse_constraint(c)
        for c in (list(constraints) if not isinstance(constraints, str) else [constraints])
    ]
    if budget is not None:
        if not _is_number(budget) or not math.isfinite(budget) or budget < 0:
            raise ValueError(f"budget: expected a finite number >= 0, got {budget!r}")
        cons.append(Constraint("touchpoint_cost", "<=", float(budget)))
    trials = validate_positive("trials", trials)
    batch = validate_positive("batch", batch)
    finalists = validate_positive("finalists", finalists)
    reps = (
        base.replications
        if replications is None
        else validate_positive("replications", replications)
    )
    if reps < 2:
        raise ValueError("replications: at least 2 per plan, for the paired CIs")
    final_reps = (
        max(4 * reps, 40)
        if final_replications is None
        else validate_positive("final_replications", final_replications)
    )
    if final_reps < 2:
        raise ValueError("final_replications: at least 2")
    seed = base.seed if seed is None else int(seed)
    if seed < 0:
        raise ValueError(f"seed: expected an integer >= 0, got {seed}")
    startup = (
        min(max(8, 2 * len(parsed)), max(1, trials // 2))
        if startup_trials is None
        else validate_positive("startup_trials", startup_trials)
    )
    if threads is not None:
        threads = validate_positive("threads", threads)
    if not _is_number(tolerance) or not math.isfinite(tolerance) or tolerance < 0:
        raise ValueError(
            f"tolerance: expected a finite number >= 0 (in the objective's unit), got {tolerance!r}"
        )
    if significant is not None and (not _is_int(significant) or not 1 <= significant <= 15):
        raise ValueError(
            f"significant: expected a whole number from 1 to 15, or None, got {significant!r}"
        )

    # The base, on the search's replications: its metric names check the objective and constraints.
    base_run = Run(
        _core.simulate(
            base._model, replications=reps, seed=seed, threads=threads or 0, name=base.name
        )
    )
    names = base_run.metric_names
    for metric, what in [(objective, "objective")] + [
        (c.metric, f"constraint {c.label!r}") for c in cons
    ]:
        if metric not in names:
            raise ValueError(f"{what}: unknown metric {metric!r}; the runs have {', '.join(names)}")
    metrics = list(dict.fromkeys([objective, *RECORDED, *(c.metric for c in cons)]))
    base_table = base_run.metrics()
    base_values = {m: base_table[m].to_numpy(dtype=float) for m in metrics}

    sampler = optuna.samplers.TPESampler(
        seed=seed % 2**32, n_startup_trials=startup, multivariate=True
    )
    with _quiet(optuna):
        study = optuna.create_study(
            direction="maximize" if maximise else "minimize", sampler=sampler
        )
    distributions = _distributions(parsed, optuna)

    evaluated: dict[str, dict] = {}  # plan key -> metric values per replication
    rows: list[dict] = []
    evaluations = 0
    with _quiet(optuna):
        while len(rows) < trials:
            asked = [study.ask(distributions) for _ in range(min(batch, trials - len(rows)))]
            plans = [_plan(parsed, t.params) for t in asked]
            keys = [_key(p) for p in plans]
            todo = {k: p for k, p in zip(keys, plans) if k not in evaluated}
            scenarios = {}
            for k, plan in todo.items():
                try:
                    scenarios[k] = base.with_changes(plan)
                except ScenarioError as e:  # a combination of valid values that is invalid together
                    evaluated[k] = {"error": str(e).splitlines()[0]}
            results = _run_plans(
                {k: s for k, s in scenarios.items()}, reps, seed, threads, metrics, client
            )
            evaluations += len(results)
            evaluated.update(results)
            for t, plan, k in zip(asked, plans, keys):
                values = evaluated[k]
                row = {
                    "trial": t.number,
                    "phase": "search",
                    **{lv.path: plan[lv.path] for lv in parsed},
                }
                if "error" in values:
                    study.tell(t, state=optuna.trial.TrialState.FAIL)
                    row.update(_numbers(None, base_values, objective, cons, reps))
                    row["note"] = values["error"]
                else:
                    for c in cons:  # TPE models infeasible plans apart (Optuna's constrained TPE)
                        t.set_constraint(c.label, c.violation(values[c.metric]))
                    row.update(_numbers(values, base_values, objective, cons, reps))
                    study.tell(t, row["objective"])
                rows.append(row)
            if progress is not None:
                progress(len(rows), trials)

    # ---- selection: the best distinct plans on fresh paired replications ---------------------
    search = pd.DataFrame(rows)
    ok = search[search["objective"].notna()].copy()
    if ok.empty:
        raise ScenarioError(
            "optimise: no plan gave a valid scenario; the first error was: "
            + search["note"].iloc[0]
        )
    ok["violation"] = [
        max([0.0] + [c.violation(evaluated[_key(_row_plan(r, parsed))][c.metric]) for c in cons])
        for _, r in ok.iterrows()
    ]
    ok["_key"] = [_key(_row_plan(r, parsed)) for _, r in ok.iterrows()]
    ok = ok.drop_duplicates("_key")
    ok = ok.sort_values(["violation", "objective"], ascending=[True, not maximise], kind="stable")
    ranked = [
        _rounded_plan(base, _row_plan(r, parsed), parsed, significant) for _, r in ok.iterrows()
    ]
    ranked = list({_key(p): p for p in reversed(ranked)}.values())[
        ::-1
    ]  # first of each rounded plan
    final_plans = _distinct(ranked, parsed, finalists)
    final_scenarios = [base.with_changes(p) for p in final_plans]
    named = [
        Scenario.from_yaml(_renamed(s.text, f"{base.name}_plan{i + 1}"), s.file)
        for i, s in enumerate(final_scenarios)
    ]
    final_seed = seed + 1
    selection = compare(
        base,
        *named,
        replications=final_reps,
        seed=final_seed,
        threads=threads,
        independent=False,
        who_changed=True,
    )
    final_rows, winner, runner_up, verdict, same = _select(
        selection,
        final_plans,
        parsed,
        objective,
        maximise,
        cons,
        base_values,
        len(rows),
        evaluations,
        reps,
        final_reps,
        seed,
        tolerance,
    )
    edges = _edges(base, parsed, final_plans[winner])
    verdict[1:1] = [
        edge["text"] for edge in edges
    ]  # right after the winner's line: act on it first
    for i, r in enumerate(final_rows):
        r["trial"] = len(rows) + i
        r["phase"] = "final"
    table = pd.concat([search, pd.DataFrame(final_rows)], ignore_index=True)
    importance = _lever_gains(
        base,
        parsed,
        final_plans[winner],
        selection.variants[winner],
        objective,
        maximise,
        final_reps,
        final_seed,
        threads,
        client,
    )
    settings = {
        "base": base.name,
        "base_file": base.file,
        "objective": objective,
        "direction": "maximise" if maximise else "minimise",
        "levers": [lv.to_json() for lv in parsed],
        "constraints": [c.label for c in cons],
        "trials": trials,
        "evaluations": evaluations,
        "replications": reps,
        "seed": seed,
        "batch": batch,
        "startup_trials": startup,
        "finalists": len(final_plans),
        "final_replications": final_reps,
        "final_seed": final_seed,
        "sampler": f"optuna {optuna.__version__} TPESampler(multivariate=True, seed={seed % 2**32})",
        "winner": winner,
        "runner_up": runner_up,
        "tolerance": float(tolerance),
        "practically_same": same,
        "significant": significant,
        "edges": edges,
        "importance": importance,
        "seconds": round(time.perf_counter() - started, 3),
        "lcsim": _core.__version__,
    }
    chosen_plan = final_plans[winner]
    chosen = _chosen_text(base, chosen_plan, f"{base.name}_optimised", verdict[0])
    return Optimisation(settings, [lv.path for lv in parsed], table, chosen, verdict, selection)


#: American spelling of :func:`optimise` (the canonical name, as the ``lcsim optimise`` command,
#: whose ``lcsim optimize`` is an alias too): the same function.
optimize = optimise


@contextlib.contextmanager
def _quiet(optuna):
    """Optuna's INFO lines ("A new study created in memory ...") off, the caller's level kept."""
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(level)


def _distributions(levers: Sequence[SearchLever], optuna) -> dict:
    out = {}
    for lv in levers:
        if lv.kind == "float":
            out[lv.path] = optuna.distributions.FloatDistribution(lv.low, lv.high)
        elif lv.kind == "int":
            out[lv.path] = optuna.distributions.IntDistribution(lv.low, lv.high)
        else:  # choices by index: Optuna's categorical values must be plain scalars
            out[lv.path] = optuna.distributions.CategoricalDistribution(
                list(range(len(lv.choices)))
            )
    return out


def _plan(levers: Sequence[SearchLever], params: Mapping[str, Any]) -> dict:
    plan = {}
    for lv in levers:
        v = params[lv.path]
        plan[lv.path] = (
            lv.choices[int(v)]
            if lv.kind == "choice"
            else (int(v) if lv.kind == "int" else float(v))
        )
    return plan


def _row_plan(row, levers: Sequence[SearchLever]) -> dict:
    return {lv.path: row[lv.path] for lv in levers}


def _distinct(
    ranked: Sequence[dict], levers: Sequence[SearchLever], n: int, closeness: float = 0.05
) -> list[dict]:
    """The first ``n`` plans of ``ranked`` that differ from every plan kept before: in a whole-number
    or choice lever, or by more than ``closeness`` of its range in a continuous one (so the
    finalists are alternatives, not the same plan twice). Near-duplicates fill up if too few differ."""

    def close(a, b):
        for lv in levers:
            if lv.kind == "float":
                if abs(a[lv.path] - b[lv.path]) > closeness * (lv.high - lv.low):
                    return False
            elif _key({"v": a[lv.path]}) != _key({"v": b[lv.path]}):
                return False
        return True

    kept = []
    for plan in ranked:
        if len(kept) == n:
            break
        if not any(close(plan, k) for k in kept):
            kept.append(plan)
    for plan in ranked:  # fewer distinct plans than n: the best of the rest
        if len(kept) == n:
            break
        if plan not in kept:
            kept.append(plan)
    return kept


def _key(plan: Mapping[str, Any]) -> str:
    return json.dumps({k: _plain(v) for k, v in plan.items()}, sort_keys=True)


def _renamed(text: str, name: str) -> str:
    return _core.apply_changes(text, [("name", json.dumps(name))], "<plan>")


def _run_plans(scenarios: Mapping[str, Scenario], reps, seed, threads, metrics, client) -> dict:
    if not scenarios:
        return {}
    if client is None:
        return {
            k: _evaluate(s.text, s.file, reps, seed, threads or 0, metrics)
            for k, s in scenarios.items()
        }
    tag = uuid.uuid4().hex[:8]
    futures = {
        k: client.submit(
            _evaluate,
            s.text,
            s.file,
            reps,
            seed,
            threads or 1,
            list(metrics),
            key=f"lcsim-optimise-{tag}-{i}",
            pure=False,
        )
        for i, (k, s) in enumerate(scenarios.items())
    }
    try:
        return {k: f.result() for k, f in futures.items()}
    except BaseException:
        client.cancel(list(futures.values()))
        raise


def _numbers(values, base_values, objective, cons, reps) -> dict:
    """A trial's numbers: objective (mean), its paired delta vs the base with 95% CI, the recorded
    metrics' means, each constraint's measure, feasibility and the replications."""
    out = {}
    if values is None:
        out.update(
            {
                "objective": math.nan,
                "delta": math.nan,
                "delta_ci_low": math.nan,
                "delta_ci_high": math.nan,
            }
        )
        out.update({m: math.nan for m in RECORDED})
        out.update({c.label: math.nan for c in cons})
        out.update({"feasible": 0.0, "replications": float(reps)})
        return out
    out["objective"] = float(np.mean(values[objective]))
    out["delta"], out["delta_ci_low"], out["delta_ci_high"] = _paired(
        values[objective], base_values[objective]
    )
    out.update({m: float(np.mean(values[m])) for m in RECORDED})
    out.update({c.label: c.measure(values[c.metric]) for c in cons})
    out["feasible"] = float(all(c.violation(values[c.metric]) <= 0 for c in cons))
    out["replications"] = float(len(values[objective]))
    return out


def _describe_plan(plan: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} = {_fmt_value(v)}" for k, v in plan.items())


def _fmt_value(v) -> str:
    if isinstance(v, float):  # the finalists' values are rounded (significant=): shown as they are
        return f"{v:.12g}"
    return json.dumps(v) if not isinstance(v, str) else v


def _short_paths(paths: Sequence[str]) -> dict:
    """Row labels for lever paths: without the leading container (``touchpoints.``, ``resources.``,
    ``segments.``, ...) where a path has three parts or more and the labels stay distinct, so the
    touchpoint's or team's name leads: touchpoints.nurture_email.reach -> nurture_email.reach."""
    short = {p: p.split(".", 1)[1] if p.count(".") >= 2 else p for p in paths}
    return short if len(set(short.values())) == len(short) else {p: p for p in paths}


def _rounded(value: float, lever: SearchLever, significant: int) -> float:
    """``value`` to ``significant`` significant digits, but at least to 1% of the lever's range,
    and inside the range (a digit more where rounding would leave it)."""
    if value == 0 or not math.isfinite(value):
        return value
    by_value = significant - 1 - math.floor(math.log10(abs(value)))
    by_range = -math.floor(math.log10((lever.high - lever.low) / 100))
    digits = max(by_value, by_range)
    for extra in range(12):
        out = round(value, digits + extra)
        if lever.low <= out <= lever.high:
            return float(out)
    return value


def _rounded_plan(
    base: Scenario, plan: Mapping[str, Any], levers: Sequence[SearchLever], significant: int | None
) -> dict:
    """The plan with its continuous levers rounded (_rounded); the plan as it was where the rounded
    one is not a valid scenario (shares that summed to 1 before rounding)."""
    if significant is None or all(lv.kind != "float" for lv in levers):
        return dict(plan)
    out = {
        lv.path: _rounded(float(plan[lv.path]), lv, significant)
        if lv.kind == "float"
        else plan[lv.path]
        for lv in levers
    }
    try:
        base.with_changes(out)
    except ScenarioError:
        return dict(plan)
    return out


#: A winner within this share of a range lever's width from one of its ends is "at the edge".
EDGE = 0.02


def _edges(base: Scenario, levers: Sequence[SearchLever], plan: Mapping[str, Any]) -> list[dict]:
    """The range levers whose chosen value is at (within 2% of the range of) one of its ends: the
    best plan may lie beyond. Each: lever, side ("top"/"bottom"), value, low, high, widen (a wider
    range to try, as LOW:HIGH; None where the field stops there or only a smaller step is valid),
    limit (True where the field allows nothing beyond) and the verdict's sentence."""
    out = []
    for lv in levers:
        if lv.kind == "choice":
            continue
        value, width = plan[lv.path], lv.high - lv.low
        if value >= lv.high - EDGE * width:
            side, end, sign = "top", lv.high, 1
        elif value <= lv.low + EDGE * width:
            side, end, sign = "bottom", lv.low, -1
        else:
            continue

        def valid(
            x, path=lv.path
        ) -> bool:  # the chosen plan with this lever moved (other levers may be needed)
            try:
                base.with_changes({**plan, path: x})
                return True
            except ScenarioError:
                return False

        step = max(1, round(width / 2)) if lv.kind == "int" else width / 2
        tiny = 1 if lv.kind == "int" else width * 1e-6
        wider = end + sign * step if lv.kind == "int" else round(end + sign * step, 10)
        limit = not valid(end + sign * tiny)
        widen = None
        if not limit and valid(wider):
            low, high = (lv.low, wider) if side == "top" else (wider, lv.high)
            widen = f"{_fmt_value(low)}:{_fmt_value(high)}"
        where = (
            f"{lv.path} = {_fmt_value(value)} is at the {side} of its range "
            f"{_fmt_value(lv.low)} to {_fmt_value(lv.high)}"
        )
        if limit:
            text = (
                f"Edge of range: {where}, which is as far as the field allows; the search could not go "
                "further, so the best value may be this limit."
            )
        else:
            text = (
                f"Edge of range: {where} (within {EDGE:.0%} of the range); the best plan may lie beyond it: "
                + (
                    f"widen the range (e.g. --lever {lv.path}={widen}) and run again."
                    if widen
                    else "widen the range as far as the field allows and run again."
                )
            )
        out.append(
            {
                "lever": lv.path,
                "side": side,
                "value": _plain(value),
                "low": lv.low,
                "high": lv.high,
                "widen": widen,
                "limit": limit,
                "text": text,
            }
        )
    return out


def _fmt(metric: str, x: float, signed: bool = False) -> str:
    money = metric in (
        "revenue",
        "touchpoint_cost",
        "net_value",
        "discounted_revenue",
        "discounted_cost",
        "value_per_conversion",
        "cost_per_conversion",
    ) or metric.endswith("cost")
    sign = "+" if signed and x > 0 else ("-" if x < 0 else "")
    a = abs(x)
    body = f"{a:,.0f}" if a >= 100 else f"{a:,.3g}"
    return f"{sign}${body}" if money else f"{sign}{body}"


def _select(
    selection: Comparison,
    plans,
    levers,
    objective,
    maximise,
    cons,
    base_values,
    n_trials,
    evaluations,
    reps,
    final_reps,
    seed,
    tolerance=0.0,
):
    """The selection step's rows, the winner and runner-up (indices into plans), the verdict and
    whether the top two are practically the same (lead's CI includes 0, or lead under ``tolerance``)."""
    base_table = selection.base.metrics()
    finals = []
    for run in selection.variants:
        t = run.metrics()
        finals.append({m: t[m].to_numpy(dtype=float) for m in t.columns if m != "replication"})
    fbase = {
        m: base_table[m].to_numpy(dtype=float) for m in base_table.columns if m != "replication"
    }
    rows = []
    for plan, values in zip(plans, finals):
        row = {lv.path: plan[lv.path] for lv in levers}
        row.update(_numbers(values, fbase, objective, cons, final_reps))
        rows.append(row)
    violation = [max([0.0] + [c.violation(v[c.metric]) for c in cons]) for v in finals]
    order = sorted(
        range(len(plans)),
        key=lambda i: (violation[i], -rows[i]["objective"] if maximise else rows[i]["objective"]),
    )
    winner = order[0]
    runner_up = order[1] if len(order) > 1 else None
    w = finals[winner]

    lines = []
    same = False
    mean = rows[winner]["objective"]
    d, lo, hi = _paired(w[objective], fbase[objective])
    feasible = violation[winner] <= 0
    head = "Best plan" if feasible else "No plan tried meets every constraint; the closest"
    lines.append(
        f"{head}: {_describe_plan(plans[winner])}: {objective} {_fmt(objective, mean)} per replication, "
        f"{_fmt(objective, d, True)} against the base (95% CI {_fmt(objective, lo, True)} to "
        f"{_fmt(objective, hi, True)})."
    )
    if all(
        _key({"v": plan_value}) == _key({"v": base_value})
        for plan_value, base_value in ((plans[winner][lv.path], lv.base) for lv in levers)
    ):
        lines.append(
            "This is the base's own plan: no plan tried does better on these replications."
        )
    elif lo <= 0 <= hi:
        lines.append(
            "Against the base the difference is within the noise (its 95% CI includes 0): "
            "keeping the base is as defensible as this plan."
        )
    for m in RECORDED:
        if m == objective:
            continue
        dm, lm, hm = _paired(w[m], fbase[m])
        lines.append(
            f"{m}: {_fmt(m, float(np.mean(w[m])))} ({_fmt(m, dm, True)} vs base, 95% CI "
            f"{_fmt(m, lm, True)} to {_fmt(m, hm, True)})"
        )
    if runner_up is not None:
        r = finals[runner_up]
        dr, lr, hr = _paired(w[objective], r[objective])
        better = "ahead of" if (dr > 0) == maximise else "behind"
        lines.append(
            f"Against the runner-up ({_describe_plan(plans[runner_up])}): {objective} "
            f"{_fmt(objective, dr, True)} (95% CI {_fmt(objective, lr, True)} to {_fmt(objective, hr, True)}), "
            f"{better} it."
        )
        if lr <= 0 <= hr:
            same = True
            lines.append(
                f"The data cannot separate the top plans: they are practically the same. After {final_reps} "
                "paired replications the winner's lead over the runner-up is within the noise (its 95% CI "
                "includes 0); either is a defensible choice, or re-run with more final_replications."
            )
        elif abs(dr) < tolerance:
            same = True
            lines.append(
                f"The top plans are practically the same: the winner's lead over the runner-up "
                f"({_fmt(objective, abs(dr))}) is under the tolerance you set ({_fmt(objective, tolerance)}); "
                "choose between them on what the model leaves out."
            )
    for c in cons:
        x = w[c.metric]
        if c.probability is not None:
            k = int(np.sum(c.met_by(x)))
            plo, phi = _wilson(k, len(x))
            sure = (
                "holds"
                if plo >= c.probability
                else "is not certain (its 95% interval reaches below the target)"
                if k / len(x) >= c.probability
                else "does not hold"
            )
            lines.append(
                f"P({c.metric} {c.op} {_number(c.limit)}) = {k / len(x):.2f} (95% CI {plo:.3f} to {phi:.3f}, "
                f"{k} of {len(x)} replications): the chance constraint (>= {_number(c.probability)}) {sure}."
            )
        else:
            cm, clo, chi = _paired(x, np.zeros_like(x))
            holds = c.met_by(np.array([chi if c.op == "<=" else clo]))[0]
            met = c.met_by(np.array([cm]))[0]
            state = (
                "holds"
                if holds
                else (
                    "holds on average but its 95% CI crosses the limit" if met else "does not hold"
                )
            )
            lines.append(
                f"{c.metric} {c.op} {_number(c.limit)}: mean {_fmt(c.metric, cm)} (95% CI "
                f"{_fmt(c.metric, clo)} to {_fmt(c.metric, chi)}): {state}."
            )
    lines.append(
        f"Searched {n_trials} plans ({evaluations} simulated, {reps} replications each, on the base's "
        f"common random numbers, seed {seed}); the best {len(plans)} re-evaluated on {final_reps} fresh "
        f"paired replications (seed {seed + 1})."
    )
    return rows, winner, runner_up, lines, same


def _lever_gains(
    base, levers, plan, winner_run, objective, maximise, reps, seed, threads, client
) -> list[list]:
    """For each lever, the chosen plan with that lever alone back at the base's value, on the
    selection's seed and replications (so paired with the winner's run): [lever, base value, chosen
    value, gain, ci_low, ci_high], the gain in the objective's direction."""
    d = base.to_dict()
    won = winner_run.metrics()[objective].to_numpy(dtype=float)
    todo, out = {}, []
    for lv in levers:
        at_base = lookup(d, lv.path)
        at_base = None if at_base is MISSING else _plain(at_base)
        if _key({"v": at_base}) == _key({"v": plan[lv.path]}):
            out.append([lv.path, at_base, plan[lv.path], 0.0, math.nan, math.nan])
            continue
        back = dict(plan)
        back[lv.path] = at_base  # None removes the field: the base's default
        try:
            todo[lv.path] = base.with_changes(back)
        except ScenarioError:  # only valid together with the other levers (segment shares)
            out.append([lv.path, at_base, plan[lv.path], math.nan, math.nan, math.nan])
            continue
        out.append([lv.path, at_base, plan[lv.path], None, None, None])
    results = _run_plans(todo, reps, seed, threads, [objective], client)
    for row in out:
        if row[3] is None:
            one_back = results[row[0]][objective]
            gain, lo, hi = _paired(won, one_back) if maximise else _paired(one_back, won)
            row[3:] = [gain, lo, hi]
    finite = lambda x: float(x) if x is not None and math.isfinite(x) else None  # noqa: E731 - JSON keeps no NaN
    return [[r[0], r[1], r[2], finite(r[3]), finite(r[4]), finite(r[5])] for r in out]


def _chosen_text(base: Scenario, plan: Mapping[str, Any], name: str, description: str) -> str:
    """The chosen plan as an ``extends:`` file beside the base, else (a base without a file) in full."""
    base_path = Path(base.file)
    if base_path.is_file():
        return variant_text(
            base_path,
            base_path.parent / f"{name}.yaml",
            dict(plan),
            name,
            description=description,
            tool="lcsim optimise",
        )
    return _renamed(base.with_changes(plan).text, name)


# ---- results ---------------------------------------------------------------------------------
class Optimisation:
    """An optimisation's result.

    Attributes
    ----------
    settings : dict
        Objective, direction, levers, constraints, seeds, replications, the sampler, winner index.
    levers : list of str
    trials : pandas.DataFrame
        One row per plan: trial, phase ("search" or "final"), one column per lever, objective (mean
        per replication), delta, delta_ci_low, delta_ci_high (paired, against the base), the means of
        conversions, revenue, touchpoint_cost and net_value, one column per constraint (its mean, or
        for a chance constraint the share of replications meeting it), feasible (1/0), replications.
    chosen : str
        The chosen plan as an ``extends:`` variant file (a full scenario if the base has no file).
    verdict : list of str
    selection : lcsim.Comparison
        The finalists against the base on the final replications (stored as a comparison).
    """

    def __init__(
        self,
        settings: dict,
        levers: Sequence[str],
        trials: pd.DataFrame,
        chosen: str,
        verdict: Sequence[str],
        selection: Comparison,
    ):
        self.settings = dict(settings)
        self.levers = list(levers)
        self.trials = trials.reset_index(drop=True)
        self.chosen = chosen
        self.verdict = list(verdict)
        self.selection = selection

    @property
    def objective(self) -> str:
        return self.settings["objective"]

    @property
    def maximise(self) -> bool:
        return self.settings["direction"] == "maximise"

    @property
    def final(self) -> pd.DataFrame:
        """The selection step's rows (phase "final"), in finalist order."""
        return self.trials[self.trials["phase"] == "final"].reset_index(drop=True)

    @property
    def best(self) -> dict:
        """The chosen plan: lever path -> value."""
        row = self.final.iloc[self.settings["winner"]]
        return {p: _plain(row[p]) for p in self.levers}

    @property
    def scenario(self) -> Scenario:
        """The chosen plan as a scenario (resolved)."""
        return self.selection.variants[self.settings["winner"]].scenario

    def table(self) -> str:
        """The finalists as a plain-text table for people: one column per finalist (the chosen one
        marked), one row per lever and per number: money with thousands separators, deltas signed,
        the 95% CI as "from to", each constraint's measure (the share of replications meeting a
        chance constraint, else the mean) and "meets every constraint" yes/no."""
        final = self.final
        cons = self.settings.get("constraints", [])
        names = _short_paths(self.levers)
        header = [
            f"plan {i + 1}" + (" (chosen)" if i == self.settings["winner"] else "")
            for i in range(len(final))
        ]
        obj = self.objective
        rows: list[tuple[str, list[str]]] = []
        for path in self.levers:
            rows.append((names[path], [_fmt_value(_plain(v)) for v in final[path]]))
        rows.append((f"{obj} (mean)", [_fmt(obj, x) for x in final["objective"]]))
        rows.append(("vs base", [_fmt(obj, x, True) for x in final["delta"]]))
        rows.append(
            (
                "vs base, 95% CI",
                [
                    f"{_fmt(obj, lo, True)} to {_fmt(obj, hi, True)}"
                    for lo, hi in zip(final["delta_ci_low"], final["delta_ci_high"])
                ],
            )
        )
        for m in RECORDED:
            if m != obj:
                rows.append((m, [_fmt(m, x) for x in final[m]]))
        for label in cons:
            c = parse_constraint(label)
            shown = [
                f"{x:.0%}" if c.probability is not None else _fmt(c.metric, x) for x in final[label]
            ]
            rows.append((label, shown))
        if cons:
            rows.append(
                ("meets every constraint", ["yes" if f == 1.0 else "no" for f in final["feasible"]])
            )
        label_width = max(len(r[0]) for r in rows)
        widths = [max(len(header[i]), *(len(r[1][i]) for r in rows)) for i in range(len(final))]
        lines = [" " * label_width + "".join(f"  {h:>{w}}" for h, w in zip(header, widths))]
        lines += [
            f"{label:<{label_width}}" + "".join(f"  {v:>{w}}" for v, w in zip(values, widths))
            for label, values in rows
        ]
        return "\n".join(lines)

    def pareto(self, x: str = "touchpoint_cost", y: str | None = None) -> pd.DataFrame:
        """The search's plans that no other plan beats on both ``x`` (lower is better; default the
        touchpoint and staff cost) and ``y`` (higher is better; default the objective, in its
        direction), sorted by ``x``: the value-against-cost front."""
        y = y or "objective"
        df = self.trials[(self.trials["phase"] == "search") & self.trials["objective"].notna()]
        better_y = (
            (lambda a, b: a >= b) if (self.maximise or y != "objective") else (lambda a, b: a <= b)
        )
        keep = []
        vals = df[[x, y]].to_numpy()
        for _i, (xi, yi) in enumerate(vals):
            dominated = any(
                xj <= xi and better_y(yj, yi) and (xj < xi or yj != yi) for xj, yj in vals
            )
            keep.append(not dominated)
        return df[keep].sort_values(x).reset_index(drop=True)

    def importance(self) -> pd.DataFrame:
        """What each lever brings to the chosen plan: the objective with that lever alone put back
        to the base's value, simulated on the selection's paired replications. One row per lever,
        largest gain first: lever, base (its value in the base; None where the base leaves it to
        the default), chosen, gain (the chosen plan's improvement in the objective's direction over
        the plan with this lever at the base), gain_ci_low, gain_ci_high (paired 95% CI), share
        (gain / sum of the gains' absolute values). A gain of 0 with no CI: the chosen value is the
        base's; no gain (NaN): the lever cannot go back alone (the plan would be invalid)."""
        df = pd.DataFrame(
            self.settings["importance"],
            columns=["lever", "base", "chosen", "gain", "gain_ci_low", "gain_ci_high"],
        )
        for c in ("gain", "gain_ci_low", "gain_ci_high"):
            df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
        total = float(df["gain"].abs().sum(skipna=True))
        df["share"] = df["gain"].abs() / total if total > 0 else 0.0
        return df.sort_values("gain", ascending=False, kind="stable").reset_index(drop=True)

    def save(self, path, name: str = "optimisation") -> None:
        """Adds the optimisation to a study in one atomic write: ``/optimisations/<name>`` (settings,
        every trial, the chosen plan, the verdict) and its selection step as the comparison
        ``/comparisons/<name>`` with its runs."""
        numbers = [
            c for c in self.trials.columns if c not in ("trial", "phase", "note", *self.levers)
        ]
        trials = []
        for _, r in self.trials.iterrows():
            trials.append(
                (
                    int(r["trial"]),
                    str(r["phase"]),
                    [json.dumps(_plain(r[p])) for p in self.levers],
                    [float(r[c]) for c in numbers],
                )
            )
        _core.study_append_optimisation(
            str(path),
            name,
            json.dumps(self.settings),
            self.levers,
            numbers,
            trials,
            self.chosen,
            self.verdict,
            self.selection._core,
        )

    @classmethod
    def load(cls, path, name: str = "optimisation") -> Optimisation:
        settings, levers, columns, trials, chosen, verdict, selection = (
            _core.study_read_optimisation(str(path), name)
        )
        rows = []
        for number, phase, values, numbers in trials:
            row = {"trial": number, "phase": phase}
            row.update({p: json.loads(v) for p, v in zip(levers, values)})
            row.update(dict(zip(columns, numbers)))
            rows.append(row)
        return cls(
            json.loads(settings), levers, pd.DataFrame(rows), chosen, verdict, Comparison(selection)
        )

    def save_variant(self, path) -> Path:
        """Writes the chosen plan as an ``extends:`` file at ``path`` (its base path relative to it)."""
        path = Path(path)
        base_file = Path(self.settings.get("base_file", ""))
        if base_file.is_file():
            text = variant_text(
                base_file,
                path,
                self.best,
                path.stem,
                description=self.verdict[0],
                tool="lcsim optimise",
            )
        else:
            text = self.chosen
        path.write_text(text)
        return path

    def __str__(self) -> str:
        return "\n".join(self.verdict)

    def __repr__(self) -> str:
        n = int((self.trials["phase"] == "search").sum())
        return (
            f"Optimisation({self.objective!r}, levers={self.levers}, trials={n}, best={self.best})"
        )
