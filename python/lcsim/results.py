"""Runs and studies: simulate, look at results as pandas/xarray, save to and load from HDF5."""

from __future__ import annotations

import math
import numbers
import os
from pathlib import Path
from typing import Callable, Iterator, Optional, Union

import numpy as np
import pandas as pd

from . import _core
from .scenario import Scenario

__all__ = ["Run", "Study", "open", "simulate"]

_TOUCHPOINT_COLUMNS = ["contacts", "reached", "moves", "cost"]


def simulate(
    scenario: Union[Scenario, str, os.PathLike],
    replications: Optional[int] = None,
    seed: Optional[int] = None,
    threads: Optional[int] = None,
    events: bool = False,
    name: Optional[str] = None,
    progress: Optional[Callable[[int, int], None]] = None,
    uncertainty=None,
    inner: int = 1,
) -> "Run":
    """Simulates a scenario for R replications in parallel threads (a large replication's
    customers split over the threads too).

    Parameters
    ----------
    scenario : Scenario or path to a YAML file
    replications, seed : int, optional
        Default to the scenario's.
    threads : int, optional
        Default: all cores. Results are identical bit for bit at any thread count. A replication
        of more than 131,072 customers is split into parts of its customers that the threads
        share (customers are independent until they meet a resource, whose queue runs after
        the parts are joined), so one big replication uses every core too.
    events : bool
        Keep the per-customer event log (:meth:`Run.events`).
    name : str, optional
        Run name (default: the scenario's name).
    progress : callable(customers_done, replications_done), optional
        Called about ten times a second (with ``uncertainty``: after each draw, customers 0).
    uncertainty : lcsim.Calibration, optional
        Probabilistic sensitivity analysis: each replication simulates the scenario with the
        calibrated parameters drawn from their posterior (:mod:`lcsim.uncertainty`), so intervals
        include estimation uncertainty. Returns an :class:`lcsim.UncertainRun`, whose ``summary()``
        intervals are quantiles over draws and say so in ``.attrs["uncertainty"]``. The scenario
        should be the calibration's or one made from it with :meth:`Scenario.with_changes`: the
        draws replace the values at the calibration's parameter paths, except where the scenario
        differs from the calibrated one (those keep the scenario's value).
    inner : int
        With ``uncertainty``: replications per parameter draw (a nested design of
        ``replications / inner`` draws, for :func:`lcsim.variance_split`). Replication r uses draw
        r // inner.

    The GIL is released while simulating; Ctrl-C (KeyboardInterrupt) stops within a second and
    returns nothing.
    """
    scenario = _scenario_arg("simulate", "scenario", scenario)
    seed = _seed("seed", seed)
    _optional("name", name, str, "a run name (str)")
    _progress("progress", progress)
    if uncertainty is not None:
        from .uncertainty import simulate_uncertain

        reps = scenario.replications if replications is None else _positive("replications", replications)
        return simulate_uncertain([scenario], uncertainty, reps, inner, seed,
                                  None if threads is None else _positive("threads", threads), events,
                                  [name or scenario.name], progress)[0]
    if inner != 1:
        raise TypeError("simulate(): inner is for runs with uncertainty=")
    core = _core.simulate(
        scenario._model,
        replications=0 if replications is None else _positive("replications", replications),
        seed=seed,
        threads=0 if threads is None else _positive("threads", threads),
        events=events,
        name=name or "",
        progress=progress,
    )
    return Run(core)


def _positive(what: str, value: int) -> int:
    """A whole-number argument >= 1: TypeError naming it for anything but a number (bool, str,
    None, ...), lcsim.ScenarioError (a ValueError) naming it for a number that is not a whole
    number >= 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{what}: expected an integer >= 1, got {type(value).__name__} {value!r}")
    if not math.isfinite(float(value)) or int(value) != value or value < 1:
        from .errors import ScenarioError

        raise ScenarioError(f"{what}: expected an integer >= 1, got {value!r}", [("<arguments>", 0, what, f"expected an integer >= 1, got {value!r}")])
    return int(value)


def _seed(what: str, value) -> Optional[int]:
    """None or a whole number in [0, 2**64): TypeError naming the argument for another type,
    ValueError for a number out of range."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{what}: expected an integer seed or None, got {type(value).__name__} {value!r}")
    if not 0 <= int(value) < 2**64:
        raise ValueError(f"{what}: expected a seed in [0, 2**64), got {value!r}")
    return int(value)


def _scenario_arg(function: str, what: str, value) -> Scenario:
    """A Scenario, or one loaded from a path (str or os.PathLike); TypeError naming the argument
    for anything else."""
    if isinstance(value, Scenario):
        return value
    if isinstance(value, (str, os.PathLike)):
        return Scenario.load(value)
    raise TypeError(f"{function}(): {what}: expected an lcsim.Scenario or the path of a scenario YAML file, "
                    f"got {type(value).__name__}")


def _optional(what: str, value, kind: type, description: str):
    """None or an instance of `kind`; TypeError naming the argument otherwise."""
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool) and kind is not bool):
        raise TypeError(f"{what}: expected {description} or None, got {type(value).__name__} {value!r}")
    return value


def _progress(what: str, value):
    if value is not None and not callable(value):
        raise TypeError(f"{what}: expected a callable (customers_done, replications_done) or None, got {type(value).__name__}")
    return value


class Run:
    """Results of R replications of one scenario.

    Arrays are replication-major numpy arrays owned by the C++ results (no copy beyond packing);
    the table methods return tidy pandas DataFrames.
    """

    def __init__(self, core_run):
        self._run = core_run
        self._arrays = None

    def __reduce__(self):  # picklable (Dask): the C++ run pickles as its arrays
        return (Run, (self._run,))

    # ---- labels and provenance -------------------------------------------------------------
    @property
    def info(self):
        """Provenance: name, scenario_text, seed, replications, lcsim_version, created, ..."""
        return self._run.info

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def scenario(self) -> Scenario:
        """The scenario this run simulated (from the recorded YAML text)."""
        return Scenario.from_yaml(self.info.scenario_text, self.info.scenario_file or "<run>")

    @property
    def stages(self) -> list[str]:
        return list(self.info.stage_names)

    @property
    def touchpoint_names(self) -> list[str]:
        return list(self.info.touchpoint_names)

    @property
    def resource_names(self) -> list[str]:
        """Teams with limited capacity (the ``resource`` values of :meth:`resources` and :meth:`queue`)."""
        return list(self.info.resource_names)

    @property
    def metric_names(self) -> list[str]:
        return list(self.info.metric_names)

    @property
    def report_times(self) -> np.ndarray:
        return np.asarray(self.info.report_times)

    @property
    def replications(self) -> int:
        return self.info.replications

    @property
    def has_events(self) -> bool:
        return self._run.has_events

    @property
    def arrays(self) -> dict:
        """numpy arrays: replication [R], occupancy [R,T,S], transitions [R,S,S], reached [R,S],
        touchpoints [R,K,4] (contacts, reached, moves, cost), metrics [R,M], queue_length [R,T,Q]
        (customers waiting for each resource at each report time) and queue_wait [R,T,Q] (mean wait
        in days of the services started in the period ending at each report time, NaN if none)."""
        if self._arrays is None:
            self._arrays = self._run.arrays()
        return self._arrays

    # ---- tables ----------------------------------------------------------------------------
    def summary(self) -> pd.DataFrame:
        """One row per metric: metric, mean, std, ci_low, ci_high (95%, Student t), n.

        Metrics of a resource (team) are named ``resource.<name>.<metric>``; :meth:`resource_summary`
        gives the same rows with ``resource`` and ``metric`` columns.
        """
        return pd.DataFrame(self._run.summary())

    def metrics(self) -> pd.DataFrame:
        """One row per replication, one column per metric."""
        df = pd.DataFrame(self.arrays["metrics"], columns=self.metric_names)
        df.insert(0, "replication", self.arrays["replication"])
        return df

    def occupancy(self, as_xarray: bool = False):
        """Customers per stage at each report time.

        Returns a long DataFrame (replication, day, stage, count), or with ``as_xarray=True`` an
        ``xarray.DataArray`` with dims (replication, day, stage).
        """
        occ = self.arrays["occupancy"]
        if as_xarray:
            import xarray as xr

            return xr.DataArray(
                occ,
                dims=("replication", "day", "stage"),
                coords={"replication": self.arrays["replication"], "day": self.report_times, "stage": self.stages},
                name="occupancy",
            )
        r, t, s = occ.shape
        return pd.DataFrame(
            {
                "replication": np.repeat(self.arrays["replication"], t * s),
                "day": np.tile(np.repeat(self.report_times, s), r),
                "stage": pd.Categorical(np.tile(self.stages, r * t), categories=self.stages),
                "count": occ.reshape(-1),
            }
        )

    def transitions(self) -> pd.DataFrame:
        """Moves between stages per replication (long: replication, from, to, count)."""
        tr = self.arrays["transitions"]
        r, s, _ = tr.shape
        cats = self.stages
        return pd.DataFrame(
            {
                "replication": np.repeat(self.arrays["replication"], s * s),
                "from": pd.Categorical(np.tile(np.repeat(cats, s), r), categories=cats),
                "to": pd.Categorical(np.tile(cats, r * s), categories=cats),
                "count": tr.reshape(-1),
            }
        )

    def reached(self) -> pd.DataFrame:
        """Customers who were in each stage at least once (long: replication, stage, customers)."""
        re = self.arrays["reached"]
        r, s = re.shape
        return pd.DataFrame(
            {
                "replication": np.repeat(self.arrays["replication"], s),
                "stage": pd.Categorical(np.tile(self.stages, r), categories=self.stages),
                "customers": re.reshape(-1),
            }
        )

    def touchpoints(self) -> pd.DataFrame:
        """Per replication and touchpoint: contacts, reached, moves, cost."""
        tp = self.arrays["touchpoints"]
        r, k, _ = tp.shape
        df = pd.DataFrame(tp.reshape(r * k, 4), columns=_TOUCHPOINT_COLUMNS)
        df.insert(0, "touchpoint", pd.Categorical(np.tile(self.touchpoint_names, r), categories=self.touchpoint_names))
        df.insert(0, "replication", np.repeat(self.arrays["replication"], k))
        return df

    def resources(self) -> pd.DataFrame:
        """Per replication and resource (team): one column per resource metric.

        Columns: replication, resource, then joined, served, abandoned, waited (fraction of joiners
        who found every server busy), wait_mean, wait_p95, queue_time_mean (days), queue_mean
        (time-averaged number waiting), utilisation, staff_cost. The values are the run's
        ``resource.<name>.<metric>`` metrics (:meth:`metrics`); their means and 95% intervals are
        the same rows of :meth:`summary`, reshaped by :meth:`resource_summary`. A run without
        resources gives these columns and no rows.
        """
        columns = list(_core.resource_metric_names())
        names = self.resource_names
        metrics = self.arrays["metrics"]
        index = {m: i for i, m in enumerate(self.metric_names)}
        q, r = len(names), metrics.shape[0]
        table = {
            "replication": np.repeat(self.arrays["replication"], q),
            "resource": pd.Categorical(np.tile(np.asarray(names, dtype=object), r), categories=names),
        }
        for m in columns:
            picks = [index[f"resource.{name}.{m}"] for name in names]
            table[m] = metrics[:, picks].reshape(-1) if q else np.empty(0, dtype=float)
        return pd.DataFrame(table)

    def resource_summary(self) -> pd.DataFrame:
        """The resource rows of :meth:`summary`, one per (resource, metric): resource, metric, mean,
        std, ci_low, ci_high, n. ``summary()`` has them too, named ``resource.<name>.<metric>``."""
        summary = self.summary().set_index("metric")
        rows = [(name, m) for name in self.resource_names for m in _core.resource_metric_names()]
        keys = [f"resource.{name}.{m}" for name, m in rows]
        stats = summary.loc[keys].reset_index(drop=True) if rows else summary.iloc[0:0].reset_index(drop=True)
        stats.insert(0, "metric", [m for _, m in rows])
        stats.insert(0, "resource", pd.Categorical([name for name, _ in rows], categories=self.resource_names))
        return stats

    def queue(self, as_xarray: bool = False):
        """Each resource's queue at each report time.

        Returns a long DataFrame (replication, time, resource, queue_length, wait_mean):
        ``queue_length`` customers waiting at report time ``time`` (days), ``wait_mean`` the mean wait
        in days of the services that started in the period ending then (NaN when none did). With
        ``as_xarray=True``, an ``xarray.Dataset`` of the two with dims (replication, time, resource).
        """
        length = self.arrays["queue_length"]
        wait = self.arrays["queue_wait"]
        names = self.resource_names
        if as_xarray:
            import xarray as xr

            coords = {"replication": self.arrays["replication"], "time": self.report_times, "resource": names}
            dims = ("replication", "time", "resource")
            return xr.Dataset(
                {"queue_length": (dims, length), "wait_mean": (dims, wait)}, coords=coords
            )
        r, t, q = length.shape
        return pd.DataFrame(
            {
                "replication": np.repeat(self.arrays["replication"], t * q),
                "time": np.tile(np.repeat(self.report_times, q), r),
                "resource": pd.Categorical(np.tile(np.asarray(names, dtype=object), r * t), categories=names),
                "queue_length": length.reshape(-1),
                "wait_mean": wait.reshape(-1),
            }
        )

    def events(self) -> pd.DataFrame:
        """The event log: replication, customer, time, from, to, cause (arrivals have from = NaN)."""
        if not self.has_events:
            raise ValueError(f"run '{self.name}' has no event log: simulate(..., events=True)")
        cols = self._run.events()
        stages = np.asarray(self.stages + [None], dtype=object)
        causes = list(self.info.cause_names)
        return pd.DataFrame(
            {
                "replication": cols["replication"],
                "customer": cols["customer"],
                "time": cols["time"],
                "from": pd.Categorical(stages[cols["from"]], categories=self.stages),
                "to": pd.Categorical(stages[cols["to"]], categories=self.stages),
                "cause": pd.Categorical(np.asarray(causes, dtype=object)[cols["cause"]], categories=causes),
            }
        )

    # ---- storage ---------------------------------------------------------------------------
    def save(self, path, name: Optional[str] = None) -> None:
        """Adds this run to the study at ``path`` (created if needed) as ``/runs/<name>``.

        The write is atomic: an interrupted save leaves the study as it was.
        """
        _core.study_append(str(path), self._run, self.name if name is None else name)

    # ---- comparison ------------------------------------------------------------------------
    def __eq__(self, other) -> bool:
        if not isinstance(other, Run):
            return NotImplemented
        a, b = self.info, other.info
        fields = ("name", "scenario_text", "seed", "replications", "lcsim_version", "created", "stage_names",
                  "segment_names", "touchpoint_names", "resource_names", "metric_names", "cause_names",
                  "report_times", "won")
        if any(getattr(a, f) != getattr(b, f) for f in fields) or self.has_events != other.has_events:
            return False
        for key, value in self.arrays.items():
            if value.shape != other.arrays[key].shape or value.tobytes() != other.arrays[key].tobytes():
                return False
        if not self.summary().equals(other.summary()):
            return False
        if self.has_events:
            mine, theirs = self._run.events(), other._run.events()
            return all(mine[k].tobytes() == theirs[k].tobytes() for k in mine)
        return True

    __hash__ = None

    def __repr__(self) -> str:
        return f"Run({self.name!r}, replications={self.replications}, stages={len(self.stages)})"


class Study:
    """An HDF5 study file of runs (layout: docs/format.md). Runs load identical to what was saved."""

    def __init__(self, path):
        self.path = Path(path)
        self.runs()  # fail early on a missing file or a file that is not a study

    def runs(self) -> list[str]:
        """Names of the complete runs, sorted."""
        return list(_core.study_runs(str(self.path)))

    def __getitem__(self, name: str) -> Run:
        """The run ``name``: an :class:`lcsim.UncertainRun` when it was saved with parameter draws."""
        core = _core.study_read(str(self.path), name)
        if core.parameter_draws is not None:
            from .uncertainty import UncertainRun

            return UncertainRun(core)
        return Run(core)

    load = __getitem__

    def __contains__(self, name: str) -> bool:
        return name in self.runs()

    def __iter__(self) -> Iterator[str]:
        return iter(self.runs())

    def __len__(self) -> int:
        return len(self.runs())

    def comparisons(self) -> list[str]:
        """Names of the comparisons (``/comparisons``), sorted."""
        return list(_core.study_comparisons(str(self.path)))

    def comparison(self, name: str):
        """A stored comparison, as :class:`lcsim.Comparison` (an :class:`lcsim.UncertainComparison`
        when its runs were saved with parameter draws)."""
        from .whatif import Comparison

        core = _core.study_read_comparison(str(self.path), name)
        if core.base.parameter_draws is not None:
            from .uncertainty import UncertainComparison, UncertainRun

            return UncertainComparison(UncertainRun(core.base), [UncertainRun(v.run) for v in core.variants])
        return Comparison(core)

    def sweeps(self) -> list[str]:
        """Names of the sweeps (``/sweeps``), sorted."""
        return list(_core.study_sweeps(str(self.path)))

    def sweep(self, name: str):
        """A stored sweep, as :class:`lcsim.Sweep`."""
        from .sweep import Sweep

        return Sweep.load(self.path, name)

    def optimisations(self) -> list[str]:
        """Names of the optimisations (``/optimisations``), sorted."""
        return list(_core.study_optimisations(str(self.path)))

    def optimisation(self, name: str):
        """A stored optimisation, as :class:`lcsim.Optimisation`."""
        from .optimise import Optimisation

        return Optimisation.load(self.path, name)

    def __repr__(self) -> str:
        return (f"Study({str(self.path)!r}, runs={self.runs()}, comparisons={self.comparisons()}, sweeps={self.sweeps()}, "
                f"optimisations={self.optimisations()})")


def open(path) -> Study:  # noqa: A001 - lcsim.open mirrors h5py.File / xarray.open_dataset
    """Opens a study file for reading (:class:`lcsim.StudyError` if it is not one)."""
    return Study(path)
