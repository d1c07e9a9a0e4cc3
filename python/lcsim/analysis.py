"""Closed-form answers for the Markov part of a scenario, and where nurture effort moves the needle.

>>> import lcsim
>>> a = lcsim.analyze("scenarios/b2b_saas/baseline.yaml")
>>> a.summary                # quantity, value: P(convert), E[days to convert | convert], ...
>>> a.stages                 # stage, reach_probability, expected_visits, expected_days, mean_dwell
>>> a.sensitivity.head(10)   # ranked elasticities of P(convert) and of the time to convert
>>> a.check(replications=20) # the closed form beside a simulation of the same stage rules

The closed form follows each customer's jump chain (next-probabilities) until an absorbing stage;
expected times add expected visits x mean dwell, exact for every dwell family. Touchpoints and
resource capacity are left out, and the horizon is infinite: :attr:`Analysis.notes` says so.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from . import _core
from ._validators import validate_positive
from .run import Run
from .scenario import Scenario

__all__ = ["Analysis", "analyse", "analyze"]


def analyze(
    scenario: Scenario | str | os.PathLike,
    segment: str | None = None,
    start: str | None = None,
) -> Analysis:
    """Closed form of a scenario's Markov part, with ranked elasticities.

    Parameters
    ----------
    scenario : Scenario or path to a YAML file
    segment : str, optional
        Only this segment's customers (its initial cohorts and arrivals, or with ``start`` the
        customers of this segment who start there).
    start : str, optional
        Customers who start in this stage; without ``segment``, segments are weighted by share.

    Neither given: the population, weighted as customers arrive (initial cohorts plus arrival
    rate x horizon per segment and start stage).

    Returns
    -------
    Analysis

    Raises
    ------
    lcsim.ScenarioError
        For an invalid scenario, an unknown segment or stage, or a segment nobody arrives in.
    """
    if not isinstance(scenario, Scenario):
        scenario = Scenario.load(scenario)
    core = _core.analyze_markov(scenario._model, segment=segment or "", start=start or "")
    return Analysis(core, scenario, population=not segment and not start)


#: British spelling of :func:`analyze` (the canonical name, as the ``lcsim analyze`` command and the
#: core's ``analyze``): the same function.
analyse = analyze


class Analysis:
    """The closed form of one mix of customers (population, segment or start stage).

    Attributes
    ----------
    stages : pandas.DataFrame
        One row per stage: stage, absorbing, reach_probability (P the stage is ever entered),
        expected_visits, expected_days (visits x mean dwell), mean_dwell. Absorbing stages have
        NaN days; stages no customer ever leaves for an absorbing stage have infinite visits.
    summary : pandas.DataFrame
        quantity, value: conversion_probability, time_to_convert (days, given conversion),
        time_to_absorption (days), customers and expected_conversions (population mixes).
    sensitivity : pandas.DataFrame
        One row per next-probability (< 1) and dwell mean of the segments in the mix: parameter,
        kind ('next' or 'dwell_mean'), segment, stage, target, value, elasticity_conversion,
        elasticity_time, rank (1 = largest |elasticity_conversion|, ties by |elasticity_time|).
        Elasticity = (dY/dθ)(θ/Y); a next-probability moves with the rest of its row rescaled
        proportionally so the row still sums to 1.
    starts : pandas.DataFrame
        The mix: segment, start, weight (sums to 1), conversion_probability, time_to_convert,
        time_to_absorption.
    notes : list of str
        What the closed form leaves out or assumes.
    """

    def __init__(self, core, scenario: Scenario, population: bool = True):
        self._core = core
        self._scenario = scenario
        self._population = population
        self._stages = None
        self._sensitivity = None
        self._starts = None

    # ---- scalars ---------------------------------------------------------------------------
    @property
    def conversion_probability(self) -> float:
        """P(a customer's first entry into the won stage)."""
        return self._core.conversion_probability

    @property
    def time_to_convert(self) -> float:
        """Expected days from arrival to conversion, given conversion (NaN if nobody converts)."""
        return self._core.time_to_convert

    @property
    def time_to_absorption(self) -> float:
        """Expected days until an absorbing stage (inf if some customers never get there)."""
        return self._core.time_to_absorption

    @property
    def customers(self) -> float:
        """Expected customers of a population mix (NaN for a start stage)."""
        return self._core.customers

    @property
    def won(self) -> str:
        return self._core.won

    @property
    def description(self) -> str:
        """What the mix is, e.g. ``population: initial cohorts + arrival rate x horizon``."""
        return self._core.description

    @property
    def notes(self) -> list[str]:
        return list(self._core.notes)

    @property
    def scenario(self) -> Scenario:
        return self._scenario

    # ---- tables ----------------------------------------------------------------------------
    @property
    def stages(self) -> pd.DataFrame:
        if self._stages is None:
            c = self._core
            absorbing = np.isnan(c.mean_dwell)
            self._stages = pd.DataFrame(
                {
                    "stage": list(c.stage_names),
                    "absorbing": absorbing,
                    "reach_probability": c.reach_probability,
                    "expected_visits": c.expected_visits,
                    "expected_days": c.expected_days,
                    "mean_dwell": c.mean_dwell,
                }
            )
        return self._stages

    @property
    def summary(self) -> pd.DataFrame:
        c = self._core
        rows = [
            ("conversion_probability", c.conversion_probability),
            ("time_to_convert", c.time_to_convert),
            ("time_to_absorption", c.time_to_absorption),
        ]
        if not np.isnan(c.customers):
            rows += [
                ("customers", c.customers),
                ("expected_conversions", c.customers * c.conversion_probability),
            ]
        return pd.DataFrame(rows, columns=["quantity", "value"])

    @property
    def sensitivity(self) -> pd.DataFrame:
        if self._sensitivity is None:
            self._sensitivity = pd.DataFrame(self._core.sensitivity())
        return self._sensitivity

    @property
    def starts(self) -> pd.DataFrame:
        if self._starts is None:
            self._starts = pd.DataFrame(self._core.starts())
        return self._starts

    # ---- beside a simulation ---------------------------------------------------------------
    def check(
        self,
        replications: int = 20,
        seed: int | None = None,
        threads: int | None = None,
        keep_touchpoints: bool = False,
    ) -> pd.DataFrame:
        """The closed form beside a simulation of the same stage rules (whole population only).

        Parameters
        ----------
        replications : int
        seed : int, optional
            Default: the scenario's.
        threads : int, optional
            Default: all cores.
        keep_touchpoints : bool
            Simulate the scenario as it is, to see what its touchpoints add to the closed form.
            By default they are removed, so both sides describe the same model.

        Returns
        -------
        pandas.DataFrame
            quantity, closed_form, simulated, ci_low, ci_high (95%), z (simulated minus closed
            form in standard errors of the simulated mean). The simulation stops at the horizon,
            so customers still on their way have not converted: compare on long horizons.
        """
        if not self._population:
            raise ValueError(
                "check() simulates the whole population: use lcsim.analyze(scenario) without segment= "
                "and start="
            )
        model = self._scenario._model
        if not keep_touchpoints:
            model = _core.without_touchpoints(model)
        run = Run(
            _core.simulate(
                model,
                replications=validate_positive("replications", replications),
                seed=seed,
                threads=0 if threads is None else validate_positive("threads", threads),
            )
        )
        summary = run.summary().set_index("metric")
        pairs = [
            ("conversion_probability", self.conversion_probability, "conversion_rate"),
            ("time_to_convert", self.time_to_convert, "time_to_convert_mean"),
            ("customers", self.customers, "customers"),
            ("expected_conversions", self.customers * self.conversion_probability, "conversions"),
        ]
        rows = []
        for quantity, closed, metric in pairs:
            row = summary.loc[metric]
            se = row["std"] / np.sqrt(row["n"]) if row["n"] > 1 else np.nan
            z = (row["mean"] - closed) / se if se and np.isfinite(se) and se > 0 else np.nan
            rows.append((quantity, closed, row["mean"], row["ci_low"], row["ci_high"], z))
        return pd.DataFrame(
            rows, columns=["quantity", "closed_form", "simulated", "ci_low", "ci_high", "z"]
        )

    def __repr__(self) -> str:
        return (
            f"Analysis({self._scenario.name!r}, {self.description}: P(convert)={self.conversion_probability:.4g}, "
            f"time_to_convert={self.time_to_convert:.4g} days)"
        )
