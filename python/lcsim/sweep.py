"""Parameter sweeps: many variants of one scenario, on local threads or on a Dask cluster.

>>> import lcsim
>>> base = lcsim.Scenario.load("scenarios/b2b_saas/webinar_for_mqls.yaml")
>>> sw = lcsim.sweep(base, {"touchpoints.webinar.reach": [0.1, 0.25, 0.4],
...                         "touchpoints.webinar.schedule.calendar.every": [7, 14]}, replications=10)
>>> sw.results()                 # point, <one column per parameter>, metric, mean, std, ci_low, ci_high, n
>>> sw.save("study.h5", "webinar_grid"); lcsim.Sweep.load("study.h5", "webinar_grid")

Three designs:

- a full grid: ``lcsim.sweep(base, {path: [values], ...})``, the cartesian product of the value
  lists in the dict's order (the last path varies fastest);
- explicit points: ``lcsim.sweep(base, points=[{path: value, ...}, ...])``, every point setting the
  same paths;
- a Latin hypercube: ``lcsim.sweep(base, latin_hypercube={path: (low, high)}, samples=n)``; each
  range is cut into ``n`` equal bins and every bin of every path is used by exactly one point.

Every point is simulated with the same seed and replication numbers (common random numbers): the
differences between points are the parameters' effect, not noise. Paths are those of
:meth:`lcsim.Scenario.with_changes` and address any scenario field; an unknown path raises
:class:`lcsim.ScenarioError` listing the closest existing paths.

With ``client=`` (a ``dask.distributed.Client``), the points and batches of their replications run
as Dask tasks on the cluster's workers; the results come back to the calling process, which is the
only one that writes the study. A replication's result depends only on (scenario, seed, replication),
so threads and Dask give the same numbers bit for bit.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Callable

import numpy as np
import pandas as pd

from . import _core
from ._validators import validate_positive, validate_progress, validate_scenario, validate_seed
from .errors import ScenarioError
from .run import Run
from .scenario import Scenario, _plain
from .simulation import simulate

__all__ = ["Sweep", "sweep"]


def sweep(
    base: Scenario | str | os.PathLike,
    parameters: Mapping[str, Sequence[Any]] | None = None,
    *,
    points: Sequence[Mapping[str, Any]] | None = None,
    latin_hypercube: Mapping[str, Sequence[float]] | None = None,
    samples: int | None = None,
    replications: int | None = None,
    seed: int | None = None,
    threads: int | None = None,
    client=None,
    batch: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Sweep:
    """Simulates variants of ``base`` at each point of a design.

    Parameters
    ----------
    base : Scenario or path to a YAML file
    parameters : dict of path -> list of values
        A full grid: every combination of the values, in the dict's order (the last path varies
        fastest). ``{"a": [1, 2], "b": [10, 20]}`` gives (1, 10), (1, 20), (2, 10), (2, 20).
    points : list of dicts path -> value
        Explicit points instead of a grid; each sets the same paths.
    latin_hypercube : dict of path -> (low, high)
        A Latin hypercube of ``samples`` points instead: each range is split into ``samples``
        equal bins, and each bin of each path holds exactly one point (at a uniform position inside
        the bin); the bins are paired at random across paths. Values are floats. The design is drawn
        with ``numpy.random.default_rng(seed)`` (``seed``: this function's, else the scenario's), so
        the same seed gives the same points.
    samples : int
        Number of Latin hypercube points.
    replications, seed : int, optional
        Per point; default: the base scenario's. Every point uses the same seed and replication
        numbers (common random numbers).
    threads : int, optional
        Local threads per point (default: all cores); with ``client``, threads per Dask task
        (default 1).
    client : dask.distributed.Client, optional
        Run on a Dask cluster: one task per point and batch of replications. The workers need lcsim
        installed (the same version); only this process writes studies.
    batch : int, optional
        With ``client``: replications per task. Default: ceil(replications / worker threads), so
        that even a single point keeps every worker busy.
    progress : callable(replications_done, replications_total), optional
        Called as replications finish, summed over all points.

    Returns
    -------
    Sweep

    Raises
    ------
    ScenarioError
        An unknown path (with the closest existing paths) or a value that makes the scenario
        invalid; the message names the point.
    """
    base = validate_scenario("sweep", "base", base)
    seed = validate_seed("seed", seed)
    validate_progress("progress", progress)
    design, names, values = _design(
        parameters, points, latin_hypercube, samples, seed if seed is not None else base.seed
    )
    scenarios = [_point_scenario(base, i, names, v) for i, v in enumerate(values)]
    reps = (
        base.replications
        if replications is None
        else validate_positive("replications", replications)
    )
    seed = base.seed if seed is None else int(seed)
    run_names = [f"{base.name}.p{i}" for i in range(len(scenarios))]
    if client is None:
        if batch is not None:
            raise ValueError(
                "batch= is for Dask (client=); local threads share each point's replications"
            )
        runs = _on_threads(scenarios, run_names, reps, seed, threads, progress)
    else:
        runs = _on_dask(client, scenarios, run_names, reps, seed, threads, batch, progress)
    return Sweep(design, names, values, runs)


# ---- designs ---------------------------------------------------------------------------------
def _design(parameters, points, latin_hypercube, samples, seed):
    given = [
        k
        for k, v in (
            ("parameters", parameters),
            ("points", points),
            ("latin_hypercube", latin_hypercube),
        )
        if v is not None
    ]
    if len(given) != 1:
        raise TypeError(
            f"sweep() needs exactly one of parameters (a grid), points or latin_hypercube; got {given or 'none'}"
        )
    if samples is not None and latin_hypercube is None:
        raise TypeError("samples= goes with latin_hypercube=")

    if parameters is not None:
        if not isinstance(parameters, Mapping) or not parameters:
            raise ValueError("parameters: expected a non-empty dict of path -> list of values")
        names = [_path(p) for p in parameters]
        lists = []
        for name, vals in parameters.items():
            if (
                isinstance(vals, (str, bytes))
                or not isinstance(vals, Sequence)
                and not isinstance(vals, np.ndarray)
            ):
                raise ValueError(f"parameters[{name!r}]: expected a list of values, got {vals!r}")
            vals = [_plain(v) for v in vals]
            if not vals:
                raise ValueError(f"parameters[{name!r}]: no values")
            lists.append(vals)
        return "grid", names, [list(combo) for combo in itertools.product(*lists)]

    if points is not None:
        points = list(points)
        if not points:
            raise ValueError("points: no points")
        if not all(isinstance(p, Mapping) and p for p in points):
            raise ValueError("points: expected a list of non-empty dicts of path -> value")
        names = [_path(p) for p in points[0]]
        for i, p in enumerate(points):
            if set(p) != set(names):
                raise ValueError(
                    f"points: point {i} sets {sorted(p)} but point 0 sets {sorted(names)}; "
                    "every point must set the same paths"
                )
        return "points", names, [[_plain(p[n]) for n in names] for p in points]

    if not isinstance(latin_hypercube, Mapping) or not latin_hypercube:
        raise ValueError("latin_hypercube: expected a non-empty dict of path -> (low, high)")
    if samples is None:
        raise TypeError("latin_hypercube needs samples= (the number of points)")
    n = validate_positive("samples", samples)
    names = [_path(p) for p in latin_hypercube]
    rng = np.random.default_rng(seed)
    columns = []
    for name, bounds in latin_hypercube.items():
        try:
            low, high = (float(b) for b in bounds)
        except (TypeError, ValueError):
            raise ValueError(
                f"latin_hypercube[{name!r}]: expected (low, high), got {bounds!r}"
            ) from None
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ValueError(
                f"latin_hypercube[{name!r}]: expected finite low < high, got {bounds!r}"
            )
        # One point in each of the n equal bins, at a uniform position inside it; bins shuffled.
        u = (rng.permutation(n) + rng.random(n)) / n
        columns.append(low + u * (high - low))
    return "latin_hypercube", names, [[float(c[i]) for c in columns] for i in range(n)]


def _path(p) -> str:
    if not isinstance(p, str) or not p:
        raise ValueError(
            f"parameter paths are dotted strings such as 'touchpoints.webinar.reach', got {p!r}"
        )
    if p == "point":
        raise ValueError("'point' is not a scenario path (it names the point-number column)")
    return p


def _point_scenario(base: Scenario, i: int, names, values) -> Scenario:
    changes = dict(zip(names, values))
    try:
        return base.with_changes(changes)
    except ScenarioError as e:
        raise ScenarioError(f"sweep point {i} {_describe(changes)}:\n{e}", e.problems) from None


def _describe(changes) -> str:
    return "(" + ", ".join(f"{k}={v!r}" for k, v in changes.items()) + ")"


# ---- execution -------------------------------------------------------------------------------
def _on_threads(scenarios, run_names, reps, seed, threads, progress):
    total = reps * len(scenarios)
    runs = []
    for i, (scenario, name) in enumerate(zip(scenarios, run_names)):
        inner = None
        if progress is not None:
            done_before = i * reps

            def inner(_customers, replications_done, done_before=done_before):
                progress(done_before + replications_done, total)

        runs.append(
            simulate(
                scenario, replications=reps, seed=seed, threads=threads, name=name, progress=inner
            )
        )
        if progress is not None:
            progress((i + 1) * reps, total)
    return runs


def _simulate_batch(
    yaml_text: str, file: str, count: int, first: int, seed: int, threads: int, name: str
) -> Run:
    """Runs on a Dask worker: replications first .. first + count - 1 of one point."""
    scenario = Scenario.from_yaml(yaml_text, file)
    return Run(
        _core.simulate(
            scenario._model,
            replications=count,
            first_replication=first,
            seed=seed,
            threads=threads,
            name=name,
        )
    )


def _worker_threads(client) -> int:
    try:
        return max(1, sum(client.nthreads().values()))
    except Exception:  # noqa: BLE001 - an unusual client: one batch per point is still correct
        return 1


def _on_dask(client, scenarios, run_names, reps, seed, threads, batch, progress):
    from distributed import as_completed

    if batch is None:
        batch = math.ceil(reps / _worker_threads(client))
    batch = validate_positive("batch", batch)
    threads = 1 if threads is None else validate_positive("threads", threads)
    tag = uuid.uuid4().hex[:8]
    futures, where = [], {}
    for i, (scenario, name) in enumerate(zip(scenarios, run_names)):
        for first in range(0, reps, batch):
            count = min(batch, reps - first)
            f = client.submit(
                _simulate_batch,
                scenario.text,
                scenario.file,
                count,
                first,
                seed,
                threads,
                name,
                key=f"lcsim-sweep-{tag}-p{i}-r{first}",
                pure=False,
            )
            futures.append(f)
            where[f.key] = (i, count)
    total, done = reps * len(scenarios), 0
    batches: list[list[Run]] = [[] for _ in scenarios]
    try:
        for f in as_completed(futures):
            i, count = where[f.key]
            batches[i].append(f.result())  # raises the task's exception, if any
            done += count
            if progress is not None:
                progress(done, total)
    except BaseException:
        client.cancel(futures)
        raise
    # join_batches orders the replications by number: the run equals one simulated in one piece.
    return [Run(_core.join_batches([b._run for b in parts])) for parts in batches]


# ---- results ---------------------------------------------------------------------------------
class Sweep:
    """A simulated design: the points, their parameter values and one :class:`lcsim.Run` each.

    Attributes
    ----------
    design : str
        ``"grid"``, ``"points"`` or ``"latin_hypercube"`` (as stored in the study).
    parameters : list of str
        The dotted scenario paths that vary.
    runs : list of lcsim.Run
        One per point, in point order; ``runs[i].scenario`` is point i's scenario.
    """

    def __init__(
        self,
        design: str,
        parameters: Sequence[str],
        values: Sequence[Sequence[Any]],
        runs: Sequence[Run],
    ):
        if len(values) != len(runs):
            raise ValueError(f"{len(values)} points but {len(runs)} runs")
        self.design = design
        self.parameters = list(parameters)
        self._values = [list(v) for v in values]
        self.runs = list(runs)

    @property
    def points(self) -> pd.DataFrame:
        """One row per point: ``point`` and one column per parameter (its value at the point)."""
        df = pd.DataFrame({"point": np.arange(len(self._values))})
        for j, name in enumerate(self.parameters):
            df[name] = _column([v[j] for v in self._values])
        return df

    @property
    def scenarios(self) -> list[Scenario]:
        """Each point's scenario (from its run's recorded YAML)."""
        return [r.scenario for r in self.runs]

    @property
    def replications(self) -> int:
        return self.runs[0].replications if self.runs else 0

    @property
    def seed(self) -> int:
        return self.runs[0].info.seed if self.runs else 0

    def results(self, metrics: Sequence[str] | None = None) -> pd.DataFrame:
        """One row per point and metric (tidy): point, <one column per parameter>, metric, mean,
        std, ci_low, ci_high (95% Student-t interval of the mean over replications), n.

        ``metrics`` keeps only those metrics (in the runs' order).
        """
        frames = []
        for i, run in enumerate(self.runs):
            s = run.summary()
            if metrics is not None:
                unknown = [m for m in metrics if m not in set(s["metric"])]
                if unknown:
                    raise ValueError(
                        f"unknown metric(s) {unknown}; the runs have {list(s['metric'])}"
                    )
                s = s[s["metric"].isin(list(metrics))]
            s = s.reset_index(drop=True)
            s.insert(0, "point", i)
            for j, name in enumerate(self.parameters):
                s.insert(1 + j, name, pd.Series([self._values[i][j]] * len(s), dtype=object))
            frames.append(s)
        if not frames:
            return pd.DataFrame(
                columns=[
                    "point",
                    *self.parameters,
                    "metric",
                    "mean",
                    "std",
                    "ci_low",
                    "ci_high",
                    "n",
                ]
            )
        df = pd.concat(frames, ignore_index=True)
        for name in self.parameters:
            df[name] = _column(list(df[name]))
        return df

    def save(self, path, name: str = "sweep") -> None:
        """Adds the sweep to the study at ``path`` in one atomic write: ``/sweeps/<name>`` (design,
        parameters, one row of values per point as JSON text) and one run per point under
        ``/runs`` (with the point's scenario)."""
        values = [[json.dumps(_plain(v)) for v in row] for row in self._values]
        _core.study_append_sweep(
            str(path), name, self.design, self.parameters, values, [r._run for r in self.runs]
        )

    @classmethod
    def load(cls, path, name: str = "sweep") -> Sweep:
        """Reads a sweep saved with :meth:`save` back from a study."""
        design, parameters, values, runs = _core.study_read_sweep(str(path), name)
        return cls(
            design,
            parameters,
            [[_from_json(v) for v in row] for row in values],
            [Run(r) for r in runs],
        )

    def __len__(self) -> int:
        return len(self.runs)

    def __repr__(self) -> str:
        return (
            f"Sweep({self.design!r}, parameters={self.parameters}, points={len(self)}, "
            f"replications={self.replications})"
        )


def _from_json(text: str):
    """A stored value: JSON text as written by :meth:`Sweep.save`; other text stays a string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _column(values: list) -> pd.Series:
    """Numbers as a numeric column; anything else (lists, strings, mixed) as objects."""
    if values and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return pd.Series(
            values, dtype="int64" if all(isinstance(v, int) for v in values) else "float64"
        )
    return pd.Series(values, dtype=object)
