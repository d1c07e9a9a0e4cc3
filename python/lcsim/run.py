"""A run: the results of R replications of one scenario, as numpy arrays and pandas tables.

:func:`lcsim.simulate` (:mod:`lcsim.simulation`) makes one; :class:`lcsim.Study`
(:mod:`lcsim.study`) reads saved ones back. Only the core and :mod:`lcsim.scenario` below it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import _core
from .scenario import Scenario

__all__ = ["Run"]

_TOUCHPOINT_COLUMNS = ["contacts", "reached", "moves", "cost"]


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
                coords={
                    "replication": self.arrays["replication"],
                    "day": self.report_times,
                    "stage": self.stages,
                },
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
        df.insert(
            0,
            "touchpoint",
            pd.Categorical(np.tile(self.touchpoint_names, r), categories=self.touchpoint_names),
        )
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
            "resource": pd.Categorical(
                np.tile(np.asarray(names, dtype=object), r), categories=names
            ),
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
        stats = (
            summary.loc[keys].reset_index(drop=True)
            if rows
            else summary.iloc[0:0].reset_index(drop=True)
        )
        stats.insert(0, "metric", [m for _, m in rows])
        stats.insert(
            0,
            "resource",
            pd.Categorical([name for name, _ in rows], categories=self.resource_names),
        )
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

            coords = {
                "replication": self.arrays["replication"],
                "time": self.report_times,
                "resource": names,
            }
            dims = ("replication", "time", "resource")
            return xr.Dataset(
                {"queue_length": (dims, length), "wait_mean": (dims, wait)}, coords=coords
            )
        r, t, q = length.shape
        return pd.DataFrame(
            {
                "replication": np.repeat(self.arrays["replication"], t * q),
                "time": np.tile(np.repeat(self.report_times, q), r),
                "resource": pd.Categorical(
                    np.tile(np.asarray(names, dtype=object), r * t), categories=names
                ),
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
                "cause": pd.Categorical(
                    np.asarray(causes, dtype=object)[cols["cause"]], categories=causes
                ),
            }
        )

    # ---- storage ---------------------------------------------------------------------------
    def save(self, path, name: str | None = None) -> None:
        """Adds this run to the study at ``path`` (created if needed) as ``/runs/<name>``.

        The write is atomic: an interrupted save leaves the study as it was.
        """
        _core.study_append(str(path), self._run, self.name if name is None else name)

    # ---- comparison ------------------------------------------------------------------------
    def __eq__(self, other) -> bool:
        if not isinstance(other, Run):
            return NotImplemented
        a, b = self.info, other.info
        fields = (
            "name",
            "scenario_text",
            "seed",
            "replications",
            "lcsim_version",
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
        if (
            any(getattr(a, f) != getattr(b, f) for f in fields)
            or self.has_events != other.has_events
        ):
            return False
        for key, value in self.arrays.items():
            if (
                value.shape != other.arrays[key].shape
                or value.tobytes() != other.arrays[key].tobytes()
            ):
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
