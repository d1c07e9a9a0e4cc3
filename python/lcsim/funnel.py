"""Calibration from aggregate funnel counts (stage entries per period), fitted by matching.

>>> cal = lcsim.calibrate(funnel=counts, transitions={"lead": ["mql", "lost"], "mql": ["won", "lost"]})
>>> cal.estimates          # stages.<s>.dwell.mean, stages.<s>.next.<t>, arrivals.streams[i].rate_per_day

The fit is the C++ core's (``include/lcsim/calibrate/funnel_fit.hpp``; ``lcsim calibrate --funnel``
runs the same code): a continuous-time Markov model with exponential dwells whose expected stage
entries per period (Van Loan block matrix exponentials) are matched to the counts by minimising the
Poisson deviance (Fisher scoring with Levenberg-Marquardt damping), with a quasi-Poisson covariance
of theta = (log dwell means, logits of next-probabilities against each stage's first target) and a
warning naming the parameters the counts do not identify. This module only turns the core's plain
data into what :class:`lcsim.Calibration` and :mod:`lcsim.uncertainty` use: the counts table and
the multivariate normal posterior of theta (and of the log arrival rates) with the map from a draw
to scenario values.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from . import _core
from .errors import ScenarioError
from .uncertainty import exact_sum as _exact

__all__ = ["fit_funnel"]


def _transitions(transitions, file: str) -> list[tuple[str, list[str]]]:
    if not isinstance(transitions, Mapping) or not transitions:
        raise ScenarioError.of(
            [
                (
                    file,
                    0,
                    "transitions",
                    "expected a mapping {stage: [targets]} with at least one stage",
                )
            ]
        )
    out = []
    for s, ts in transitions.items():
        if isinstance(ts, str) or not isinstance(ts, Sequence):
            raise ScenarioError.of(
                [(file, 0, f"transitions.{s}", f"expected a list of target stages, got {ts!r}")]
            )
        out.append((str(s), [str(t) for t in ts]))
    return out


def fit_funnel(
    funnel,
    transitions: Mapping[str, Sequence[str]],
    *,
    won: str | None = None,
    start: str = "steady",
    period_days: float | None = None,
    level: float = 0.95,
    name: str = "calibrated",
    seed: int = 1,
    replications: int = 10,
    file: str | None = None,
) -> dict:
    """Fits the funnel model to counts; the data dict of a :class:`lcsim.Calibration` (kind "funnel").

    ``funnel`` is a path or a DataFrame with columns ``period, stage, entries`` (a DataFrame is
    written to CSV text and read like a file named ``"<funnel>"``: line = row position + 2). See
    :func:`lcsim.calibrate` (``funnel=``) for the parameters.
    """
    if isinstance(funnel, pd.DataFrame):
        source, is_text = funnel.to_csv(index=False, lineterminator="\n"), True
        file = file or "<funnel>"
    elif isinstance(funnel, (str, os.PathLike)):
        source, is_text = os.fspath(funnel), False
        file = source
    else:
        raise TypeError(
            f"funnel: expected a path or a pandas DataFrame, got {type(funnel).__name__}"
        )
    if start not in ("steady", "empty"):
        raise ScenarioError.of([(file, 0, "start", f"expected 'steady' or 'empty', got {start!r}")])
    if period_days is not None and not (
        float(period_days) > 0 and math.isfinite(float(period_days))
    ):
        raise ScenarioError.of(
            [(file, 0, "period_days", f"expected a number of days > 0, got {period_days!r}")]
        )
    data = _core.calibrate_funnel(
        source,
        is_text,
        file,
        _transitions(transitions, file),
        won=won or "",
        start=start,
        period_days=0.0 if period_days is None else float(period_days),
        level=float(level),
        name=str(name),
        seed=int(seed),
        replications=int(replications),
    )
    counts = pd.DataFrame(
        data.pop("cells"), columns=["period", "stage", "observed", "expected", "fitted"]
    )
    data["counts"] = counts.astype({"fitted": bool})
    data["families"] = []
    data["posterior_mvn"] = _posterior(data)
    return data


def _posterior(data: dict) -> dict:
    """The multivariate normal of theta (log means, logits) and of the finite log arrival rates
    (variance 1/n each), with the scenario paths a draw sets and its transform to values."""
    layout = [(str(s), list(ts), int(k)) for s, ts, k in data["parameters"]]
    theta = np.asarray(data["theta"], dtype=float)
    size = theta.size
    cov = np.asarray(data["covariance"], dtype=float).reshape(size, size)
    paths, groups = [], []
    for s, ts, _ in layout:
        paths.append(f"stages.{s}.dwell.mean")
        groups.append([f"stages.{s}.dwell.mean"])
        if len(ts) > 1:
            nexts = [f"stages.{s}.next.{t}" for t in ts]
            paths += nexts
            groups.append(nexts)
    streams = [
        (p, n)
        for p, value, _, _, n, *_ in data["estimates"]
        if p.startswith("arrivals.streams[") and value > 0
    ]
    mean = np.concatenate(
        [
            theta,
            [
                math.log(v)
                for p, v, _, _, n, *_ in data["estimates"]
                if p.startswith("arrivals.streams[") and v > 0
            ],
        ]
    )
    cov_all = np.zeros((mean.size, mean.size))
    cov_all[:size, :size] = cov
    for j, (_, n) in enumerate(streams):
        cov_all[size + j, size + j] = 1.0 / max(int(n), 1)
    stream_paths = [p for p, _ in streams]

    def transform(draw: np.ndarray) -> dict:
        out = {}
        for s, ts, k in layout:
            out[f"stages.{s}.dwell.mean"] = float(math.exp(draw[k]))
            if len(ts) > 1:
                z = np.concatenate([[0.0], draw[k + 1 : k + len(ts)]])
                z = np.exp(z - z.max())
                out.update(zip([f"stages.{s}.next.{t}" for t in ts], _exact(z / z.sum())))
        for j, p in enumerate(stream_paths):
            out[p] = float(math.exp(draw[size + j]))
        return out

    return {
        "paths": paths + stream_paths,
        "unidentified": list(data["unidentified"]),
        "groups": groups + [[p] for p in stream_paths],
        "mean": mean,
        "cov": cov_all,
        "transform": transform,
    }
