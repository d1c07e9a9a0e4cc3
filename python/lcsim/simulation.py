"""lcsim.simulate: a scenario's replications on threads, with or without parameter draws.

Above :mod:`lcsim.run` and :mod:`lcsim.uncertainty` (``uncertainty=`` hands the run to
:func:`lcsim.uncertainty.simulate_uncertain`, whose :class:`~lcsim.UncertainRun` is a Run).
"""

from __future__ import annotations

import os
from typing import Callable

from . import _core
from ._validators import (
    validate_optional,
    validate_positive,
    validate_progress,
    validate_scenario,
    validate_seed,
)
from .run import Run
from .scenario import Scenario
from .uncertainty import simulate_uncertain

__all__ = ["simulate"]


def simulate(
    scenario: Scenario | str | os.PathLike,
    replications: int | None = None,
    seed: int | None = None,
    threads: int | None = None,
    events: bool = False,
    name: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    uncertainty=None,
    inner: int = 1,
) -> Run:
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
    scenario = validate_scenario("simulate", "scenario", scenario)
    seed = validate_seed("seed", seed)
    validate_optional("name", name, str, "a run name (str)")
    validate_progress("progress", progress)
    if uncertainty is not None:
        reps = (
            scenario.replications
            if replications is None
            else validate_positive("replications", replications)
        )
        return simulate_uncertain(
            [scenario],
            uncertainty,
            reps,
            inner,
            seed,
            None if threads is None else validate_positive("threads", threads),
            events,
            [name or scenario.name],
            progress,
        )[0]
    if inner != 1:
        raise TypeError("simulate(): inner is for runs with uncertainty=")
    core = _core.simulate(
        scenario._model,
        replications=0 if replications is None else validate_positive("replications", replications),
        seed=seed,
        threads=0 if threads is None else validate_positive("threads", threads),
        events=events,
        name=name or "",
        progress=progress,
    )
    return Run(core)
