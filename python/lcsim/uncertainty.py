"""Parameter uncertainty in what-if runs (probabilistic sensitivity analysis) and its variance split.

>>> cal = lcsim.calibrate(events, censor_at=..., absorbing=["won", "lost"])
>>> run = lcsim.simulate(cal.scenario, replications=200, uncertainty=cal)   # a parameter draw per replication
>>> run.summary()                      # intervals include estimation uncertainty (summary().attrs say so)
>>> nested = lcsim.simulate(cal.scenario, replications=40 * 5, uncertainty=cal, inner=5)
>>> lcsim.variance_split(nested)       # metric, total_var, parameter_var, noise_var, shares

**Draws.** Replication ``r`` simulates the scenario with parameters drawn from the calibration's
posterior with ``numpy.random.default_rng([seed, r // inner])`` (``seed``: the run's seed), so a
draw is a pure function of (seed, draw number), the same on every machine and thread count, and the
``inner`` replications of one draw share it. The draw is applied with
:meth:`Scenario.with_changes` at the estimate rows' scenario paths:

- next-probabilities of a stage (``...next.<to>``): Dirichlet posterior, counts + the calibration's
  ``transition_prior`` (the same posterior as the intervals of the estimates);
- segment shares: Dirichlet, counts + 1/2;
- dwell parameters (``...dwell.<name>``, all positive): normal on the log scale with the standard
  error read from the 95% interval, (log high - log low) / (2 * 1.96), independently (the
  calibration reports intervals, not the covariance of shape and scale);
- arrival streams (``arrivals.streams[i].rate_per_day``): Gamma(count + 1/2, exposure), the
  Jeffreys posterior of a Poisson rate;
- funnel-count fits: multivariate normal on the fitted log means and logits, with their covariance.

Everything else (weekly profile, the initial cohort, touchpoints, money) stays as it is. A
scenario that differs from the calibrated one at a drawn path keeps its own value there (for
next-probabilities and segment shares: the whole group), in every draw: a value you set is not
estimated. In :func:`lcsim.compare` the same holds for the paths a variant changes.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Callable

import numpy as np
import pandas as pd

from . import _core
from ._paths import lookup
from ._validators import validate_positive
from .errors import ScenarioError
from .run import Run
from .scenario import Scenario

__all__ = [
    "Posterior",
    "UncertainComparison",
    "UncertainRun",
    "variance_components",
    "variance_split",
]

_Z95 = 1.959963984540054
_NEXT = re.compile(r"^(?P<group>.+)\.next\.(?P<to>[^.]+)$")
_DWELL = re.compile(r"^.+\.dwell\.[^.]+$")
_EXIT = re.compile(r"^.+\.dwell\.exit\[\d+\]$")  # a coxian's exit probability: logit-normal
_SHARE = re.compile(r"^segments\.[^.]+\.share$")
_STREAM = re.compile(r"^arrivals\.streams\[\d+\]\.rate_per_day$")


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


class Posterior:
    """Draws of a calibration's parameters, as ``{scenario path: value}``.

    Parameters
    ----------
    calibration : lcsim.Calibration
        An event-log or funnel-count calibration (snapshot fits have no scenario to draw into).

    Notes
    -----
    See the module docstring for the distribution of each kind of parameter.
    """

    def __init__(self, calibration):
        if (
            getattr(calibration, "scenario", None) is None
            or getattr(calibration, "kind", "") == "snapshots"
        ):
            raise TypeError(
                "uncertainty needs a Calibration with a scenario from an event-log or funnel fit "
                "(parameter draws of snapshot fits are not supported yet)"
            )
        self.calibration = calibration
        self._mvn = calibration.data.get(
            "posterior_mvn"
        )  # funnel fits: (paths, mean, cov, transform)
        prior = float(calibration.data.get("transition_prior", 0.5))
        est = calibration.estimates
        self._dirichlet: list[tuple[list[str], np.ndarray]] = []
        self._lognormal: list[tuple[str, float, float]] = []
        self._gamma: list[tuple[str, float, float]] = []
        self._logit: list[tuple[str, float, float]] = []
        if self._mvn is not None:
            if self._mvn["unidentified"]:
                raise ValueError(
                    "uncertainty: the counts do not identify "
                    + ", ".join(self._mvn["unidentified"])
                    + " (see the fit's warnings), so the parameters cannot be drawn"
                )
            return
        groups: dict[str, list[tuple[str, float, int]]] = {}
        shares: list[tuple[str, float, int]] = []
        for row in est.itertuples(index=False):
            path, value, low, high, n = (
                row.parameter,
                float(row.estimate),
                float(row.ci_low),
                float(row.ci_high),
                int(row.n),
            )
            if _NEXT.match(path):
                groups.setdefault(_NEXT.match(path)["group"], []).append((path, value, n))
            elif _SHARE.match(path):
                shares.append((path, value, n))
            elif _EXIT.match(path):
                if 0 < low < value < high < 1:
                    self._logit.append(
                        (path, _logit(value), (_logit(high) - _logit(low)) / (2 * _Z95))
                    )
            elif _DWELL.match(path):
                if value > 0 and low > 0 and math.isfinite(high) and high > low:
                    self._lognormal.append(
                        (path, math.log(value), (math.log(high) - math.log(low)) / (2 * _Z95))
                    )
            elif _STREAM.match(path) and n > 0 and value > 0:
                self._gamma.append((path, n + 0.5, value / n))  # shape, scale = 1 / exposure
        for rows in groups.values():
            if len(rows) > 1:
                self._dirichlet.append(
                    ([p for p, _, _ in rows], np.array([v * n + prior for _, v, n in rows]))
                )
        if len(shares) > 1:
            self._dirichlet.append(
                ([p for p, _, _ in shares], np.array([v * n + 0.5 for _, v, n in shares]))
            )

    @property
    def paths(self) -> list[str]:
        """Every scenario path a draw sets."""
        if self._mvn is not None:
            return list(self._mvn["paths"])
        return (
            [p for paths, _ in self._dirichlet for p in paths]
            + [p for p, *_ in self._lognormal]
            + [p for p, *_ in self._gamma]
            + [p for p, *_ in self._logit]
        )

    @property
    def groups(self) -> list[list[str]]:
        """Paths that must change together (next-probabilities of a stage, segment shares)."""
        if self._mvn is not None:
            return [list(g) for g in self._mvn["groups"]]
        return (
            [list(paths) for paths, _ in self._dirichlet]
            + [[p] for p, *_ in self._lognormal]
            + [[p] for p, *_ in self._gamma]
            + [[p] for p, *_ in self._logit]
        )

    def draw(self, seed: int, index: int) -> dict[str, float]:
        """The parameter draw number ``index`` for run seed ``seed``: ``{path: value}``."""
        rng = np.random.default_rng([int(seed) & 0xFFFFFFFFFFFFFFFF, int(index)])
        if self._mvn is not None:
            theta = rng.multivariate_normal(self._mvn["mean"], self._mvn["cov"], method="eigh")
            return self._mvn["transform"](theta)
        out: dict[str, float] = {}
        for paths, alpha in self._dirichlet:
            p = rng.dirichlet(alpha)
            out.update(zip(paths, exact_sum(p)))
        for path, mu, se in self._lognormal:
            out[path] = float(math.exp(mu + se * rng.standard_normal()))
        for path, shape, scale in self._gamma:
            out[path] = float(rng.gamma(shape, scale))
        for path, mu, se in self._logit:
            out[path] = float(1.0 / (1.0 + math.exp(-(mu + se * rng.standard_normal()))))
        return out

    def apply(
        self, scenario: Scenario, draw: dict[str, float], keep: Sequence[str] = ()
    ) -> Scenario:
        """``scenario`` with the drawn values, except the groups that contain a path in ``keep``."""
        kept = self.kept(keep)
        changes = {p: draw[p] for group in self.groups for p in group if p not in kept}
        return scenario.with_changes(changes) if changes else scenario

    def kept(self, keep: Sequence[str]) -> set[str]:
        """The paths :meth:`apply` leaves at the scenario's value: every group with a path in ``keep``."""
        keep = set(keep)
        return {p for group in self.groups if not keep.isdisjoint(group) for p in group}


def exact_sum(p: np.ndarray) -> list[float]:
    """Probabilities rounded to 12 digits whose sum, taken in order, is exactly 1 (the last makes up)."""
    q = [round(float(x), 12) for x in p[:-1]]
    return q + [max(0.0, 1.0 - math.fsum(q))]


def changed_paths(base: Scenario, variant: Scenario, paths: Sequence[str]) -> list[str]:
    """The paths whose value differs between two scenarios (missing in one counts as different)."""
    a, b = base.to_dict(), variant.to_dict()
    return [p for p in paths if lookup(a, p, None) != lookup(b, p, None)]


# ---- runs --------------------------------------------------------------------------------------
class _JoinedCore:
    """Stands in for a C++ run: per-replication runs of different (drawn) scenarios, joined, with
    the parameter draw of each replication (``parameter_draws``, as the C++ run has it)."""

    def __init__(self, runs, scenario: Scenario, name: str, draws: dict):
        self.runs = list(runs)
        self.parameter_draws = draws
        first = self.runs[0].info
        fields = (
            "scenario_name",
            "scenario_file",
            "seed",
            "lcsim_version",
            "boost_version",
            "created",
            "stage_names",
            "segment_names",
            "touchpoint_names",
            "resource_names",
            "metric_names",
            "cause_names",
            "report_times",
            "won",
        )
        self.info = SimpleNamespace(**{f: getattr(first, f) for f in fields})
        self.info.name = name
        self.info.scenario_text = scenario.text
        self.info.scenario_file = scenario.file
        self.info.replications = len(self.runs)
        self.has_events = all(r.has_events for r in self.runs)

    def __reduce__(self):
        return (
            _JoinedCore,
            (
                self.runs,
                Scenario(self.info.scenario_text, self.info.scenario_file),
                self.info.name,
                self.parameter_draws,
            ),
        )

    def to_run(self):
        """One C++ run of the scenario's labels holding every replication and its draw (for a study)."""
        scenario = Scenario(self.info.scenario_text, self.info.scenario_file)
        return _core.assemble_drawn_run(
            scenario._model, self.runs, self.info.name, self.info.seed, self.parameter_draws
        )

    def arrays(self) -> dict:
        parts = [r.arrays() for r in self.runs]
        return {k: np.concatenate([p[k] for p in parts], axis=0) for k in parts[0]}

    def events(self) -> dict:
        parts = [r.events() for r in self.runs]
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


class UncertainRun(Run):
    """A run whose replications each simulate their own parameter draw (:func:`lcsim.simulate` with
    ``uncertainty=``). Everything a :class:`lcsim.Run` has; :meth:`save` stores it in a study with
    the draw of each replication, and the study gives back an ``UncertainRun`` with the same summary.

    Attributes
    ----------
    draws : int
        Parameter draws (``replications // inner``).
    inner : int
        Replications per draw.
    source : str
        Where the posterior came from ("calibration of <file>").
    """

    def __init__(self, core, inner: int | None = None, source: str | None = None):
        super().__init__(core)
        stored = core.parameter_draws
        if stored is None:
            raise TypeError("UncertainRun: the run has no parameter draws")
        self.inner = int(stored["inner"] if inner is None else inner)
        self.draws = core.info.replications // self.inner
        self.source = str(stored["source"] if source is None else source)

    def __reduce__(self):
        return (UncertainRun, (self._run, self.inner, self.source))

    def parameter_draws(self) -> pd.DataFrame:
        """The parameter values each replication simulated: replication, draw, then one column per
        drawn scenario path (a path the scenario kept at its own value shows that value)."""
        d = self._run.parameter_draws
        df = pd.DataFrame(
            np.asarray(d["values"], dtype=float).reshape(self.replications, -1),
            columns=list(d["parameters"]),
        )
        df.insert(0, "draw", np.arange(self.replications) // self.inner)
        df.insert(0, "replication", self.arrays["replication"])
        return df

    @property
    def note(self) -> str:
        """One line saying how the intervals were made."""
        return _note(self.source, self.draws, self.inner)

    def draw_means(self) -> pd.DataFrame:
        """Per draw, the mean of its ``inner`` replications of each metric (columns: draw, metrics...)."""
        m = self.arrays["metrics"].reshape(self.draws, self.inner, -1)
        with _quiet():
            means = np.nanmean(m, axis=1)
        df = pd.DataFrame(means, columns=self.metric_names)
        df.insert(0, "draw", np.arange(self.draws))
        return df

    def summary(self) -> pd.DataFrame:
        """One row per metric: metric, mean, std (over replications), ci_low, ci_high (2.5% and
        97.5% quantiles of the draw means: an interval that includes parameter uncertainty), n.
        ``.attrs["uncertainty"]`` says so."""
        values = self.arrays["metrics"]
        means = self.draw_means()[self.metric_names].to_numpy()
        rows = []
        for j, name in enumerate(self.metric_names):
            x = values[:, j][~np.isnan(values[:, j])]
            d = means[:, j][~np.isnan(means[:, j])]
            rows.append(
                {
                    "metric": name,
                    "mean": float(x.mean()) if x.size else math.nan,
                    "std": float(x.std(ddof=1)) if x.size > 1 else math.nan,
                    "ci_low": float(np.quantile(d, 0.025)) if d.size > 1 else math.nan,
                    "ci_high": float(np.quantile(d, 0.975)) if d.size > 1 else math.nan,
                    "n": int(x.size),
                }
            )
        df = pd.DataFrame(rows, columns=["metric", "mean", "std", "ci_low", "ci_high", "n"])
        df.attrs["uncertainty"] = self.note
        return df

    def _core_run(self):
        """The C++ run to store: joined from the per-replication runs, or the one read from a study."""
        return self._run.to_run() if isinstance(self._run, _JoinedCore) else self._run

    def save(self, path, name: str | None = None) -> None:
        """Adds this run to the study at ``path`` as ``/runs/<name>``: its replications as a normal
        run (scenario = the undrawn one) plus ``parameter_draws`` [R, P] and the ``uncertainty``
        attributes (docs/format.md). Atomic, like :meth:`lcsim.Run.save`; ``lcsim.open(path)[name]``
        is an ``UncertainRun`` again, whose :meth:`summary` has the same numbers."""
        _core.study_append(str(path), self._core_run(), self.name if name is None else name)

    def __repr__(self) -> str:
        return (
            f"UncertainRun({self.name!r}, replications={self.replications}, draws={self.draws}, "
            f"inner={self.inner}, parameter uncertainty from {self.source})"
        )


def _note(source: str, draws: int, inner: int) -> str:
    return (
        f"parameter uncertainty from {source}: {draws} posterior draws x {inner} "
        f"replication(s); ci_low/ci_high are the 2.5%/97.5% quantiles over draws of the draw means, "
        f"so they include estimation uncertainty"
    )


@contextmanager
def _quiet():
    """Means of all-NaN slices are NaN, without a RuntimeWarning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _check_inner(replications: int, inner: int) -> int:
    inner = validate_positive("inner", inner)
    if replications % inner:
        msg = f"expected a multiple of inner = {inner}, got {replications}"
        raise ScenarioError(f"replications: {msg}", [("<arguments>", 0, "replications", msg)])
    return inner


def _source_name(calibration) -> str:
    return f"calibration of {calibration.file}"


def kept_paths(posterior: Posterior, scenarios: Sequence[Scenario]) -> list[list[str]]:
    """Per scenario, the drawn paths it keeps at its own value: those where the first scenario
    differs from the calibrated one and, for the others, also those where they differ from the first."""
    calibrated = posterior.calibration.scenario
    own = changed_paths(calibrated, scenarios[0], posterior.paths)
    return [own] + [
        sorted(set(own) | set(changed_paths(scenarios[0], v, posterior.paths)))
        for v in scenarios[1:]
    ]


def _draw_scenarios(
    posterior: Posterior,
    scenarios: Sequence[Scenario],
    seed: int,
    draw: int,
    keep: Sequence[Sequence[str]] | None = None,
) -> list[Scenario]:
    """The scenarios of one draw: the same drawn values in every scenario, except at kept paths."""
    keep = kept_paths(posterior, scenarios) if keep is None else keep
    values = posterior.draw(seed, draw)
    return [posterior.apply(s, values, keep=k) for s, k in zip(scenarios, keep)]


def simulate_uncertain(
    scenarios: Sequence[Scenario],
    calibration,
    replications: int,
    inner: int,
    seed: int | None,
    threads: int | None,
    events: bool,
    names: Sequence[str],
    progress: Callable[[int, int], None] | None = None,
) -> list[UncertainRun]:
    """Simulates every scenario on the same draws and replication numbers (paired): one run each."""
    inner = _check_inner(replications, inner)
    posterior = Posterior(calibration)
    seed = scenarios[0].seed if seed is None else int(seed)
    draws = replications // inner
    keep = kept_paths(posterior, scenarios)

    paths = posterior.paths
    kept = [posterior.kept(k) for k in keep]
    own = []  # per scenario: the values it keeps at the kept paths
    for s, k in zip(scenarios, kept):
        tree = s.to_dict() if k else {}
        own.append({p: _number(lookup(tree, p, None)) for p in k})

    def one(p: int):
        values = posterior.draw(seed, p)
        models = [posterior.apply(s, values, keep=k)._model for s, k in zip(scenarios, keep)]
        applied = [
            [own[k][path] if path in kept[k] else values[path] for path in paths]
            for k in range(len(scenarios))
        ]
        return [
            [
                _core.simulate(
                    m,
                    replications=1,
                    first_replication=p * inner + i,
                    seed=seed,
                    threads=1,
                    events=events,
                    name=names[k],
                )
                for i in range(inner)
            ]
            for k, m in enumerate(models)
        ], applied

    workers = threads or None
    done = 0
    results = []
    applied = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for res, values in pool.map(
            one, range(draws)
        ):  # in draw order: deterministic at any thread count
            results.append(res)
            applied.append(values)
            done += inner
            if progress is not None:
                progress(0, done)
    source = _source_name(calibration)
    out = []
    for k in range(len(scenarios)):
        values = np.repeat(
            np.asarray([a[k] for a in applied], dtype=float).reshape(draws, len(paths)),
            inner,
            axis=0,
        )
        note = _note(source, draws, inner)
        core = _JoinedCore(
            [r for res in results for r in res[k]],
            scenarios[k],
            names[k],
            {
                "parameters": list(paths),
                "values": values,
                "inner": inner,
                "source": source,
                "note": note,
            },
        )
        out.append(UncertainRun(core, inner, source))
    return out


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


class UncertainComparison:
    """Variants against a base with parameter uncertainty (:func:`lcsim.compare` with ``uncertainty=``).

    Both arms of a replication simulate the same parameter draw and the same random streams (paired).
    :meth:`deltas` has the columns of :meth:`lcsim.Comparison.deltas`; its intervals are quantiles over
    draws and include estimation uncertainty (``.attrs["uncertainty"]``); ``variance_reduction`` is NaN.
    """

    def __init__(self, base: UncertainRun, variants: Sequence[UncertainRun]):
        self.base = base
        self.variants = list(variants)

    @property
    def replications(self) -> int:
        return self.base.replications

    precision_met = False

    @property
    def note(self) -> str:
        return self.base.note.replace("draw means", "draw means of the paired deltas")

    def deltas(self) -> pd.DataFrame:
        """Per variant and metric: base_mean, variant_mean, delta, delta_std, ci_low, ci_high, lift,
        lift_ci_low, lift_ci_high, variance_reduction (NaN), n."""
        b = self.base.arrays["metrics"]
        g, inner = self.base.draws, self.base.inner
        rows = []
        for v in self.variants:
            x = v.arrays["metrics"]
            for j, name in enumerate(self.base.metric_names):
                ok = ~(np.isnan(b[:, j]) | np.isnan(x[:, j]))
                d = x[:, j] - b[:, j]
                with _quiet():
                    db = np.nanmean(np.where(ok, b[:, j], np.nan).reshape(g, inner), axis=1)
                    dd = np.nanmean(np.where(ok, d, np.nan).reshape(g, inner), axis=1)
                good = ~np.isnan(dd) & (db != 0)
                lift = dd[good] / db[good]
                base_mean = float(b[ok, j].mean()) if ok.any() else math.nan
                delta = float(d[ok].mean()) if ok.any() else math.nan
                rows.append(
                    {
                        "variant": v.name,
                        "metric": name,
                        "base_mean": base_mean,
                        "variant_mean": float(x[ok, j].mean()) if ok.any() else math.nan,
                        "delta": delta,
                        "delta_std": float(d[ok].std(ddof=1)) if ok.sum() > 1 else math.nan,
                        "ci_low": _q(dd[~np.isnan(dd)], 0.025),
                        "ci_high": _q(dd[~np.isnan(dd)], 0.975),
                        "lift": delta / base_mean if base_mean != 0 else math.nan,
                        "lift_ci_low": _q(lift, 0.025),
                        "lift_ci_high": _q(lift, 0.975),
                        "variance_reduction": math.nan,
                        "n": int(ok.sum()),
                    }
                )
        df = pd.DataFrame(rows)
        df.attrs["uncertainty"] = self.note
        return df

    @property
    def verdicts(self) -> list[str]:
        """One line per variant: the change in conversions with its interval over draws."""
        rows = self.deltas()
        rows = rows[rows["metric"] == "conversions"]
        out = []
        for v, (_, r) in zip(self.variants, rows.iterrows()):
            sure = (
                "better" if r.ci_low > 0 else "worse" if r.ci_high < 0 else "not clearly different"
            )
            out.append(
                f"{v.name}: conversions {r.delta:+.1f} [{r.ci_low:+.1f}, {r.ci_high:+.1f}] "
                f"with parameter uncertainty: {sure}"
            )
        return out

    def who_changed(self):
        raise TypeError("who_changed() is not available with parameter uncertainty")

    def save(self, path, name: str = "comparison") -> None:
        """Adds the comparison to a study in one atomic write, as :meth:`lcsim.Comparison.save` does:
        its runs (with each replication's parameter draw) as ``/runs/<name>.base``, ``<name>.v1``, ...
        and ``/comparisons/<name>`` with the deltas of :meth:`deltas` (intervals over draws) and the
        verdicts. ``lcsim.open(path).comparison(name)`` is an ``UncertainComparison`` again."""
        table = self.deltas()
        deltas = []
        per = len(
            self.base.metric_names
        )  # deltas() has one row per metric for each variant, in order
        for k, _ in enumerate(self.variants):
            rows = table.iloc[k * per : (k + 1) * per]
            cols = {
                c: rows[c].to_numpy(dtype=float).tolist()
                for c in rows.columns
                if c not in ("variant", "metric", "n")
            }
            cols["metric"] = rows["metric"].tolist()
            cols["n"] = rows["n"].astype("int64").tolist()
            deltas.append(cols)
        core = _core.make_comparison(
            self.base._core_run(),
            [v._core_run() for v in self.variants],
            deltas,
            self.verdicts,
            [[] for _ in self.variants],
        )
        _core.study_append_comparison(str(path), core, name)

    def __str__(self) -> str:
        return "\n".join(self.verdicts)

    def __repr__(self) -> str:
        return (
            f"UncertainComparison(base={self.base.name!r}, variants={[v.name for v in self.variants]}, "
            f"replications={self.replications}, parameter uncertainty from {self.base.source})"
        )


def _q(x: np.ndarray, q: float) -> float:
    return float(np.quantile(x, q)) if x.size > 1 else math.nan


# ---- variance split ----------------------------------------------------------------------------
def variance_components(values) -> tuple[float, float]:
    """Between-group and within-group variance components of a balanced one-way random-effects model.

    Parameters
    ----------
    values : array_like, shape (P, M)
        P groups (parameter draws) of M observations (replications), M >= 2, P >= 2.

    Returns
    -------
    between, within : float
        ANOVA (method-of-moments) estimates: within = MSW, between = max(0, (MSB - MSW) / M), with
        MSB = M * sum((mean_p - mean)^2) / (P - 1) and MSW = sum((y_pm - mean_p)^2) / (P (M - 1)).
        Both unbiased before the truncation at 0.
    """
    y = np.asarray(values, dtype=float)
    if y.ndim != 2 or y.shape[0] < 2 or y.shape[1] < 2:
        raise ValueError(
            f"variance_components: expected a (P, M) array with P, M >= 2, got shape {y.shape}"
        )
    p, m = y.shape
    group = y.mean(axis=1)
    msb = m * ((group - group.mean()) ** 2).sum() / (p - 1)
    msw = ((y - group[:, None]) ** 2).sum() / (p * (m - 1))
    return max(0.0, (msb - msw) / m), float(msw)


def variance_split(run: UncertainRun, metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """Splits each metric's variance into parameter uncertainty and simulation noise.

    Parameters
    ----------
    run : UncertainRun
        From ``lcsim.simulate(..., uncertainty=cal, inner=M)`` with M >= 2 (P = replications / M
        draws, P >= 2): the nested design one-way ANOVA needs.
    metrics : list of str, optional
        Default: every metric.

    Returns
    -------
    DataFrame
        metric, total_var (= parameter_var + noise_var, of one replication), parameter_var,
        noise_var, parameter_share, noise_share, draws, inner, and ``advice``: ``"more data"`` when
        the parameter share is above 1/2 (more replications would not narrow the interval much),
        else ``"more replications"``. Metrics with a NaN replication get NaN.
    """
    if not isinstance(run, UncertainRun):
        raise TypeError(
            "variance_split() needs a run from lcsim.simulate(..., uncertainty=calibration, inner=M)"
        )
    if run.inner < 2 or run.draws < 2:
        raise ValueError(
            f"variance_split() needs at least 2 draws of at least 2 replications; "
            f"got {run.draws} draws x {run.inner}: simulate with inner=M >= 2"
        )
    names = list(metrics) if metrics is not None else run.metric_names
    index = {m: i for i, m in enumerate(run.metric_names)}
    unknown = [m for m in names if m not in index]
    if unknown:
        raise KeyError(f"unknown metric(s) {unknown}; known: {run.metric_names}")
    values = run.arrays["metrics"]
    rows = []
    for m in names:
        y = values[:, index[m]].reshape(run.draws, run.inner)
        if np.isnan(y).any():
            between = within = math.nan
        else:
            between, within = variance_components(y)
        total = between + within
        share = between / total if total > 0 else math.nan
        rows.append(
            {
                "metric": m,
                "total_var": total,
                "parameter_var": between,
                "noise_var": within,
                "parameter_share": share,
                "noise_share": 1 - share if not math.isnan(share) else math.nan,
                "draws": run.draws,
                "inner": run.inner,
                "advice": ""
                if math.isnan(share)
                else ("more data" if share > 0.5 else "more replications"),
            }
        )
    df = pd.DataFrame(rows)
    df.attrs["uncertainty"] = run.note
    return df
