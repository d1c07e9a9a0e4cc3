"""Calibration from CRM history, and synthetic CRM history from a scenario.

>>> history = lcsim.synth(truth, observe_until=240, snapshots="monthly")
>>> cal = lcsim.calibrate(history["events"], segment_column="segment", absorbing=["won", "lost"])
>>> cal.estimates                       # parameter, estimate, ci_low, ci_high, n
>>> run = lcsim.simulate(cal.scenario)  # the calibrated scenario replays the observed window

The estimators are the C++ core's (the ``lcsim calibrate`` command uses the same code); see
docs and ``include/lcsim/calibrate/calibrate.hpp`` for the model behind them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from . import _core
from .backtest import Backtest, days_since, read_history, read_timestamps, run_backtest
from .errors import Problem, ScenarioError
from .scenario import Scenario

__all__ = ["Calibration", "LogCheck", "backtest", "calibrate", "check_events", "synth"]

_EVENT_OPTIONS = {
    "epoch": str,
    "min_segment_observations": int,
    "initial_cohort_days": float,
    "transition_prior": float,
    "level": float,
    "horizon": float,
    "report_every": float,
    "seed": int,
    "replications": int,
}
_SNAPSHOT_OPTIONS = {
    "epoch": str,
    "level": float,
    "transitions": list,
    "max_phases": int,
    "phases": dict,
    "entry_stage": str,
    "min_segment_pairs": int,
    "phase_criterion": str,
    "exact_stages": list,
}

_CLEANING_COLUMNS = ["defect", "column", "rows", "customers", "lines", "action", "detail", "error"]
_STAGE_COUNT_COLUMNS = ["stage", "rows", "customers", "rare"]
_EVENT_COLUMN_KEYS = ("customer_id", "timestamp", "stage", "segment")
_SNAPSHOT_COLUMN_KEYS = ("customer_id", "date", "created", "stage", "segment", "entered")
_ESTIMATE_COLUMNS = ["parameter", "estimate", "ci_low", "ci_high", "n", "method", "p_zero", "note"]
_FAMILY_COLUMNS = [
    "stage",
    "segment",
    "family",
    "fitted",
    "loglik",
    "aic",
    "params",
    "chosen",
    "n_events",
    "n_censored",
    "note",
]
_RATE_COLUMNS = ["from", "to", "rate", "se_log", "ci_low", "ci_high", "n", "at_bound"]
_DWELL_COLUMNS = [
    "stage",
    "segment",
    "family",
    "phases",
    "mean",
    "ci_low",
    "ci_high",
    "rates",
    "exit",
    "n",
]
_SEGMENT_FIT_COLUMNS = [
    "segment",
    "customers",
    "own_stages",
    "pooled_stages",
    "loglik_markov",
    "loglik_phase_type",
]
_CANDIDATE_COLUMNS = [
    "model",
    "step",
    "phases",
    "loglik",
    "parameters",
    "aic",
    "bic",
    "lr_statistic",
    "lr_p_value",
    "chosen",
    "edge",
    "converged",
]
_START_COLUMNS = ["start", "loglik", "converged", "best"]


class Calibration:
    """The result of :func:`calibrate`.

    Attributes
    ----------
    estimates : DataFrame
        One row per estimated parameter: ``parameter`` (dotted scenario path such as
        ``"stages.lead.next.mql"``), ``estimate``, ``ci_low``, ``ci_high``, ``n``, and where a fit
        says how it found the interval (snapshot fits): ``method`` ("wald", "profile" for a
        profile-likelihood interval, "boundary" for a probability at or near 0 whose value 0 the
        data do not reject: the interval is [0, upper bound]; "" where the fit does not say),
        ``p_zero`` (the likelihood-ratio test of the value 0 for probabilities near 0, NaN
        elsewhere) and ``note`` (what the data do not bound).
    families : DataFrame
        The dwell family comparison per stage (and segment): ``stage, segment, family, fitted,
        loglik, aic, params`` (dict), ``chosen, n_events, n_censored, note``. Empty for snapshot fits.
    warnings : list of str
        ``file:line: field: message`` lines (the log's, then the calibration's); ``problems`` holds
        them as :class:`lcsim.Problem` tuples.
    scenario : Scenario or None
        The calibrated scenario, ready for :func:`lcsim.simulate` (day 0 is :attr:`epoch`). Snapshot
        fits: the phase-type fit's stages (the Markov fit's with ``max_phases=1``) and the arrivals
        the panel shows (the ``arrivals.*`` rows of :attr:`estimates`, with a warning on what
        snapshots cannot show), when a conversion stage is known (``won``, or a stage named
        "won"); else ``None``.
    epoch : str
        Day 0 as ``"YYYY-MM-DD"``.
    window : tuple of float
        (start, end) of the observation, days since the epoch.
    kind : str
        ``"events"`` (stage-change log), ``"snapshots"`` (continuous-time Markov fit) or
        ``"funnel"`` (aggregate counts fitted by matching; the C++ core's
        ``fit_funnel``, include/lcsim/calibrate/funnel_fit.hpp).
    fit : dict or None
        Funnel fits: ``deviance, pearson, dispersion, cells, parameters, iterations, converged``.
    counts : DataFrame or None
        Funnel fits: ``period, stage, observed, expected, fitted`` (expected entries at the fit;
        entry stages are the arrivals, not fitted).
    cleaning : DataFrame
        Events: what the log needed, one row per class of defect in reading order: ``defect``
        ("missing timestamp", "unknown stage", "duplicate row", "timezone offset", "no time
        zone", "out of order", "not contiguous", "after an absorbing stage", "rare stage", ...),
        ``column``, ``rows``, ``customers`` (distinct ids), ``lines`` (every affected line,
        ascending), ``action`` ("dropped", "converted to UTC", "sorted by timestamp", ...),
        ``detail`` (e.g. the time zones and their rows) and ``error`` (the class stops the fit:
        only :func:`check_events` returns such rows). Empty for a clean log and for other kinds.
    stage_counts : DataFrame
        Events: the stages found in funnel order (``stages=``, else along the customers' paths)
        with ``rows``, ``customers`` and ``rare`` (seen in at most 0.1% of the rows without
        ``stages`` or ``stage_map``: possibly an unmapped CRM stage, with a warning).
    rates : DataFrame or None
        Snapshot fits: the generator's rates (``from, to, rate, se_log, ci_low, ci_high, n,
        at_bound``); the same rates are the ``Q.<from>.<to>`` rows of :attr:`estimates`.
    dwells : DataFrame or None
        Snapshot fits with phases (``max_phases`` > 1, the default 3): the phase-type fit's dwell
        per non-absorbing stage: ``stage, segment`` ("" for all customers, then each segment's
        rows with ``segment_column``), ``family`` ("exponential" or "coxian"), ``phases, mean,
        ci_low, ci_high`` (days), ``rates, exit`` (the Coxian's, per phase) and ``n`` (pairs).
    segment_fits : DataFrame or None
        Snapshot fits: one row per fitted segment (empty without ``segment_column``):
        ``segment, customers, own_stages`` (stages with a segment override in :attr:`scenario`),
        ``pooled_stages``, ``loglik_markov, loglik_phase_type``. The segments' estimates are the
        ``segments.<segment>.stages...`` rows of :attr:`estimates` (Markov),
        :attr:`phase_estimates` and :attr:`markov_estimates`.
    phase_candidates : DataFrame or None
        Every model the phase choice tried: ``model`` ("Markov" or the stage whose phases
        changed), ``step`` ("markov", "screen": one more phase for that stage alone, which orders
        the stages; "add"; "remove": the backward pass), ``phases`` (stage -> phases), ``loglik,
        parameters, aic, bic``, the likelihood-ratio test against the model it changes
        (``lr_statistic, lr_p_value``, chi-square with 2 df), ``chosen``, ``edge`` (kept because
        the stage's Coxian was at the edge of its family, an Erlang) and ``converged``.
    phase_starts : DataFrame or None
        The Markov model's starts (``start``: "markov fit", "floored", "crude", "random 1", ...)
        with the log-likelihood where each ended, ``converged`` and ``best``.
    not_identified : list of str
        Estimate rows whose interval the data leave open on a side, with why.
    phase_estimates : DataFrame or None
        The phase-type fit's ``stages.<s>.dwell.mean``, ``stages.<s>.next.<to>``,
        ``absorption.<absorbing stage>`` (P(convert) for the won stage, from the entry stage) and
        ``occupancy.365.<stage>`` rows (columns as :attr:`estimates`).
    markov_estimates : DataFrame or None
        The same rows for the Markov model (one phase everywhere) fitted to the same likelihood:
        how much the answer moves.
    markov_scenario : Scenario or None
        Snapshot fits: the scenario of the Markov fit (exponential dwells), beside :attr:`scenario`
        (the phase-type fit's, with ``coxian`` dwells where chosen).
    loglik : dict
        Snapshot fits: ``{"markov": ..., "phase_type": ...}`` on the same likelihood (with
        creation times when the snapshots have a ``created`` column), and the AICs as
        ``aic_markov``, ``aic_phase_type``.
    """

    def __init__(self, data: Mapping[str, Any], kind: str):
        self.kind = kind
        self.file: str = data["file"]
        self.epoch: str = data["epoch"]
        self.window: tuple[float, float] = tuple(data["window"])
        self.estimates = pd.DataFrame(data["estimates"], columns=_ESTIMATE_COLUMNS).astype(
            {"n": "int64"}
        )
        self.families = pd.DataFrame(data.get("families", []), columns=_FAMILY_COLUMNS)
        self.cleaning = _cleaning_frame(data.get("cleaning", []))
        self.stage_counts = _stage_count_frame(data.get("stage_counts", []))
        self.problems = [Problem(*p) for p in data["warnings"]]
        self.warnings = [_problem_line(p) for p in self.problems]
        self.data = dict(data)
        self.fit: dict | None = data.get("fit")
        self.counts: pd.DataFrame | None = data.get("counts")
        if kind in ("events", "funnel"):
            self.scenario: Scenario | None = Scenario.from_yaml(
                data["scenario_yaml"], file=f"{self.file} (calibrated)"
            )
            self.rates = None
        else:
            self.rates = pd.DataFrame(data["rates"], columns=_RATE_COLUMNS)
            self.scenario = None
            self.markov_scenario: Scenario | None = None
            if "scenario_yaml" in data:
                self.scenario = Scenario.from_yaml(
                    data["scenario_yaml"], file=f"{self.file} (calibrated)"
                )
                self.markov_scenario = Scenario.from_yaml(
                    data["markov_scenario_yaml"], file=f"{self.file} (calibrated, Markov)"
                )
                self.estimates = pd.concat(
                    [
                        self.estimates,
                        pd.DataFrame(data["arrival_estimates"], columns=_ESTIMATE_COLUMNS),
                    ],
                    ignore_index=True,
                ).astype({"n": "int64"})
        self.segment_fits: pd.DataFrame | None = None
        if kind == "snapshots":
            self.segment_fits = pd.DataFrame(
                [
                    (g, n, list(own), list(pooled), lm, lp)
                    for g, n, own, pooled, lm, lp in data["segments"]
                ],
                columns=_SEGMENT_FIT_COLUMNS,
            )
        phase = data.get("phase_type")
        self.dwells: pd.DataFrame | None = None
        self.phase_candidates: pd.DataFrame | None = None
        self.phase_starts: pd.DataFrame | None = None
        self.not_identified: list = []
        self.phase_estimates: pd.DataFrame | None = None
        self.markov_estimates: pd.DataFrame | None = None
        self.loglik: dict = {}
        if phase is not None:
            self.dwells = pd.DataFrame(
                [
                    (s, g, f, k, m, lo, hi, list(r), list(e), n)
                    for s, g, f, k, m, lo, hi, r, e, n in phase["dwells"]
                ],
                columns=_DWELL_COLUMNS,
            )
            self.phase_candidates = pd.DataFrame(
                [(m, st, dict(k), *rest) for m, st, k, *rest in phase["candidates"]],
                columns=_CANDIDATE_COLUMNS,
            )
            self.phase_starts = pd.DataFrame(phase["starts"], columns=_START_COLUMNS)
            self.not_identified = list(phase["not_identified"])
            self.phase_estimates = pd.DataFrame(
                phase["estimates"], columns=_ESTIMATE_COLUMNS
            ).astype({"n": "int64"})
            self.markov_estimates = pd.DataFrame(
                phase["markov_estimates"], columns=_ESTIMATE_COLUMNS
            ).astype({"n": "int64"})
            self.loglik = {
                "markov": phase["loglik_markov"],
                "phase_type": phase["loglik"],
                "aic_markov": phase["aic_markov"],
                "aic_phase_type": phase["aic"],
            }

    def estimate(self, parameter: str) -> pd.Series:
        """The estimate row of one parameter path (KeyError when there is none)."""
        rows = self.estimates[self.estimates["parameter"] == parameter]
        if rows.empty:
            raise KeyError(parameter)
        return rows.iloc[0]

    def backtest(
        self,
        history,
        holdout: float | None = None,
        replications: int = 20,
        *,
        seed: int | None = None,
        threads: int | None = None,
        period="month",
        scenario=None,
        uncertainty: bool = False,
        stage_map: Mapping[str, str] | None = None,
    ):
        """Simulates the calibrated scenario past the calibration's end and compares with ``history``.

        This calibration should have been fitted on the log up to a cut (``censor_at`` = the cut,
        the end of :attr:`window`); :func:`lcsim.backtest` makes the cut for you.

        Parameters
        ----------
        history : path or DataFrame
            The whole log (at least the rows after the cut): ``customer_id, timestamp, stage``.
        holdout : float, optional
            Days after the cut to compare (default: up to the last row of ``history``).
        replications : int
            Replications of the simulation (the bands are their 2.5%-97.5% quantiles).
        seed, threads : int, optional
        period : "month" or float
            Calendar months or blocks of this many days from the cut.
        scenario : Scenario, optional
            Backtest another scenario instead of :attr:`scenario` (e.g. a rival model), on the
            same day 0.
        uncertainty : bool
            Draw this calibration's parameters per replication (bands with estimation uncertainty).
        stage_map : dict, optional
            CRM stage name -> model stage name, for ``history``.

        Returns
        -------
        lcsim.Backtest
            ``.table`` (period x stage: observed, simulated mean, 95% band, inside), ``.conversions``,
            ``.error`` (MAPE, RMSE and coverage per stage), ``lcsim.plot.backtest(bt)``.

        Raises
        ------
        lcsim.ScenarioError
            Unparseable timestamps or stages the scenario lacks (naming line and column), or no
            history after the cut.
        """
        if self.scenario is None:
            raise TypeError(
                "backtest() needs a calibration with a scenario (an event-log or funnel fit)"
            )
        return run_backtest(
            self,
            history,
            holdout=holdout,
            replications=replications,
            seed=seed,
            threads=threads,
            period=period,
            scenario=scenario,
            uncertainty=uncertainty,
            stage_map=dict(stage_map or {}),
        )

    def __repr__(self) -> str:
        what = (
            f"scenario={self.scenario.name!r}"
            if self.scenario is not None
            else f"rates={len(self.rates)}"
        )
        return (
            f"Calibration({self.kind}, file={self.file!r}, epoch={self.epoch}, "
            f"window=({self.window[0]:g}, {self.window[1]:g}), estimates={len(self.estimates)}, "
            f"warnings={len(self.warnings)}, {what})"
        )


def _cleaning_frame(steps) -> pd.DataFrame:
    return pd.DataFrame(
        [
            (d, c, r, n, list(lines), a, detail, bool(err))
            for d, c, r, n, lines, a, detail, err in steps
        ],
        columns=_CLEANING_COLUMNS,
    ).astype({"rows": "int64", "customers": "int64", "error": "bool"})


def _stage_count_frame(counts) -> pd.DataFrame:
    return pd.DataFrame([tuple(c) for c in counts], columns=_STAGE_COUNT_COLUMNS).astype(
        {"rows": "int64", "customers": "int64", "rare": "bool"}
    )


class LogCheck:
    """What reading a stage-change log found, without fitting: the result of :func:`check_events`
    (``lcsim calibrate EVENTS --dry-run``).

    Attributes
    ----------
    file : str
    rows, rows_used, customers : int
        Data rows read, rows kept in the customers' paths (those without errors), customers.
    epoch : str
        Day 0 (``""`` when no row is usable).
    stages : list of str
        The stages found, in funnel order (``stages=``, else along the customers' paths).
    stage_counts : DataFrame
        ``stage, rows, customers, rare`` (as :attr:`Calibration.stage_counts`).
    cleaning : DataFrame
        Every class of defect, errors included (``error`` True: the class stops
        :func:`calibrate`), with every affected line (as :attr:`Calibration.cleaning`).
    errors, warnings : list of str
        ``file:line: field: message`` lines; ``error_problems`` and ``problems`` hold them as
        :class:`lcsim.Problem` tuples.
    ok : bool
        No errors: :func:`calibrate` with the same options reads the log.
    """

    def __init__(self, data: Mapping[str, Any]):
        self.file: str = data["file"]
        self.rows: int = int(data["rows"])
        self.rows_used: int = int(data["rows_used"])
        self.customers: int = int(data["customers"])
        self.epoch: str = data["epoch"]
        self.stages: list[str] = list(data["stages"])
        self.segments: list[str] = list(data["segments"])
        self.stage_counts = _stage_count_frame(data["stage_counts"])
        self.cleaning = _cleaning_frame(data["cleaning"])
        self.problems = [Problem(*p) for p in data["warnings"]]
        self.warnings = [_problem_line(p) for p in self.problems]
        self.error_problems = [Problem(*p) for p in data["errors"]]
        self.errors = [_problem_line(p) for p in self.error_problems]
        self.ok: bool = not self.errors

    def __repr__(self) -> str:
        return (
            f"LogCheck(file={self.file!r}, rows={self.rows}, usable={self.rows_used}, "
            f"customers={self.customers}, classes={len(self.cleaning)}, errors={len(self.errors)}, "
            f"warnings={len(self.warnings)})"
        )


def _problem_line(p: Problem) -> str:
    """``file:line: field: message`` (the warning flag is implied)."""
    return str(p._replace(warning=False))


def _source(data, default_name: str) -> tuple[str, bool, str]:
    """(path or CSV text, is_text, file name for messages) of a path or a DataFrame."""
    if isinstance(data, pd.DataFrame):
        return data.to_csv(index=False, lineterminator="\n"), True, default_name
    if isinstance(data, (str, os.PathLike)):
        path = os.fspath(data)
        return path, False, path
    # default_name is "<events>", "<snapshots>" or "<funnel>": the argument's name in angle brackets
    raise TypeError(
        f"{default_name.strip('<>')}: expected a path or a pandas DataFrame, got {type(data).__name__}"
    )


def _check_argument_types(**arguments: Any) -> None:
    """TypeError naming the first argument of calibrate() of the wrong type (a str given as
    ``absorbing`` would otherwise be read letter by letter)."""
    text = {"segment_column", "censor_at", "won", "separator"}
    for what, value in arguments.items():
        if what in text and value is not None and not isinstance(value, str):
            raise TypeError(f"{what}: expected a str or None, got {type(value).__name__} {value!r}")
        if what in ("on_invalid", "date_format", "date_means", "name") and not isinstance(
            value, str
        ):
            raise TypeError(f"{what}: expected a str, got {type(value).__name__} {value!r}")
        if (
            what in ("stage_map", "columns")
            and value is not None
            and not isinstance(value, Mapping)
        ):
            raise TypeError(
                f"{what}: expected a dict or None, got {type(value).__name__} {value!r}"
            )
        if (
            what in ("absorbing", "stages")
            and value is not None
            and (isinstance(value, (str, bytes)) or not all(isinstance(v, str) for v in value))
        ):
            raise TypeError(f"{what}: expected a list of stage names or None, got {value!r}")
        if what == "drop_duplicates" and not isinstance(value, (bool, np.bool_)):
            raise TypeError(
                f"drop_duplicates: expected True or False, got {type(value).__name__} {value!r}"
            )


def _options(options: Mapping[str, Any], allowed: Mapping[str, type], what: str) -> dict:
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise TypeError(
            f"{what}: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(allowed))}"
        )
    return {
        k: allowed[k](v) if allowed[k] not in (list, dict) else allowed[k](v)
        for k, v in options.items()
    }


def calibrate(
    events: str | os.PathLike | pd.DataFrame | None = None,
    *,
    snapshots: str | os.PathLike | pd.DataFrame | None = None,
    funnel: str | os.PathLike | pd.DataFrame | None = None,
    segment_column: str | None = None,
    censor_at: str | None = None,
    stage_map: Mapping[str, str] | None = None,
    stages: Sequence[str] | None = None,
    absorbing: Sequence[str] | None = None,
    won: str | None = None,
    drop_duplicates: bool = False,
    on_invalid: str = "error",
    columns: Mapping[str, str] | None = None,
    separator: str | None = None,
    date_format: str = "iso",
    date_means: str = "end-of-day",
    name: str = "calibrated",
    **options: Any,
) -> Calibration:
    """Calibrates a stage model from CRM history.

    Parameters
    ----------
    events : path or DataFrame
        A stage-change log with columns ``customer_id, timestamp, stage`` (and the segment column).
        A DataFrame is written to CSV text in memory and read exactly like a file named
        ``"<events>"``: messages then name **line = DataFrame row position + 2** (the header is line
        1). Timestamps may be strings (``YYYY-MM-DD[THH:MM[:SS]][Z|+HH:MM]``) or pandas datetimes.
    snapshots : path or DataFrame, optional
        With ``events=None``: stage snapshots (``customer_id, date, stage``) fitted by a
        continuous-time Markov model instead (messages name ``"<snapshots>"`` for a DataFrame).
        The result has :attr:`Calibration.rates` and ``Q.<from>.<to>`` estimate rows, no scenario.
    funnel : path or DataFrame, optional
        Alone: aggregate stage entries per period (``period, stage, entries``; period a date such
        as ``2025-03`` / ``2025-03-01`` or consecutive integers) fitted by matching a Markov
        model's expected entries (the C++ core's fit, as ``lcsim calibrate --funnel``; model in
        include/lcsim/calibrate/funnel_fit.hpp). Needs ``transitions={stage: [targets]}``;
        options ``won, start ("steady" or "empty"), period_days, level, seed, replications``.
        Messages name ``"<funnel>"`` for a DataFrame, line = row position + 2.
    segment_column : str, optional
        Name of the segment column of the log (events) or of the snapshots. Snapshots: each
        segment is fitted too (same stage model, own phases), and a segment gets its own dwell and
        next for a stage with at least ``min_segment_pairs`` (option, default 30) observed pairs
        from it, else that stage is pooled with the all-customer fit (a warning says so).
    censor_at : str, optional
        End of observation (a timestamp); default: the log's last timestamp. Give the synthetic
        history's ``censor_at`` when calibrating :func:`synth` output.
    stage_map : dict, optional
        CRM stage name -> model stage name.
    stages : list of str, optional
        The model's stages in funnel order: any other stage name is an error (with "did you
        mean"), and tables and the scenario follow this order. Without it (and without
        ``stage_map``) every name found is a stage, in order along the customers' paths, and a
        name seen in at most 0.1% of the rows is flagged (a warning, :attr:`Calibration.stage_counts`)
        as a possibly unmapped CRM stage.
    absorbing : list of str, optional
        Stages that end a path (won, lost, ...).
    won : str, optional
        The conversion stage; default "won" when the log has it. Snapshots: needed for a scenario
        only; without one the fits come back with ``scenario=None``.
    drop_duplicates : bool
        Drop repeated rows with a warning instead of failing.
    on_invalid : {"error", "drop"}
        Events: ``"error"`` (the default) reports every unusable row of every class in one
        :class:`lcsim.ScenarioError`; ``"drop"`` drops them (missing or unparseable timestamps,
        unknown or empty stages, empty ids, rows of the wrong width, rows after ``censor_at``, and
        duplicates) and lists each class in :attr:`Calibration.cleaning`.
    columns : dict, optional
        The file's column names. Events: e.g. ``{"customer_id": "Deal ID", "timestamp": "Date
        entered", "stage": "Stage"}`` (keys ``customer_id, timestamp, stage, segment``).
        Snapshots: e.g. ``{"date": "month_end", "created": "created_at"}`` (keys ``customer_id,
        date, created, stage, segment``).
    separator : str, optional
        The field separator (one character); default ``,`` unless the header has ``;`` and no
        ``,``.
    date_format : {"iso", "dmy", "mdy"}
        Also accept day-first (``31/12/2025 14:00``) or month-first (``12/31/2025``) dates in
        the timestamps (snapshots: the dates and creation times) and ``censor_at``; ``"iso"``
        (the default) accepts ISO 8601 only.
    date_means : {"end-of-day", "start-of-day"}
        Snapshots: the moment a date without a time of day stands for. ``"end-of-day"`` (the
        default, 23:59:59 UTC): the state as of the close of that day, as month-end exports mean
        it, so an account created on the 31st may appear in the export of the 31st.
        ``"start-of-day"``: 00:00:00 UTC. A creation time given as a date alone always means the
        start of its day.
    name : str
        Name of the calibrated scenario.
    **options
        Events: ``epoch, min_segment_observations, initial_cohort_days, transition_prior, level,
        horizon, report_every, seed, replications``. Snapshots: ``epoch, level,
        transitions`` (list of (from, to) pairs; default inferred), ``max_phases`` (most phases
        of a stage's Coxian dwell in the phase-type fit; default 3, 1 for the Markov fit alone),
        ``phase_criterion`` (how phases are chosen: ``"lr"``, the likelihood-ratio test at 5%, the
        default; ``"aic"``; ``"bic"``), ``exact_stages`` (absorbing stages whose date is the exact
        time of entry: msm's deathexact; a column ``entered`` with the time a customer entered the
        row's stage is used when the snapshots have it), ``phases`` ({stage: k} fixed) and
        ``entry_stage`` (where a customer
        with a ``created`` time entered; default the stage most of them are first seen in) and
        ``min_segment_pairs``.

    Raises
    ------
    lcsim.ScenarioError
        Bad input: every problem found, as ``file:line: field: message`` with ``.problems``.
    lcsim.StudyError
        A file that cannot be read.
    """
    given = [
        k
        for k, v in (("events", events), ("snapshots", snapshots), ("funnel", funnel))
        if v is not None
    ]
    if len(given) != 1:
        raise TypeError(
            f"calibrate() takes one of events, snapshots or funnel, got {given or 'none'}"
        )
    _check_argument_types(
        segment_column=segment_column,
        censor_at=censor_at,
        stage_map=stage_map,
        stages=stages,
        absorbing=absorbing,
        won=won,
        drop_duplicates=drop_duplicates,
        on_invalid=on_invalid,
        columns=columns,
        separator=separator,
        date_format=date_format,
        date_means=date_means,
        name=name,
    )
    if funnel is not None:
        from .funnel import fit_funnel

        allowed = {"transitions", "won", "start", "period_days", "level", "seed", "replications"}
        unknown = sorted(set(options) - allowed)
        if unknown:
            raise TypeError(
                f"calibrate(funnel): unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(allowed))}"
            )
        if "transitions" not in options:
            raise TypeError("calibrate(funnel=...) needs transitions={stage: [targets]}")
        opts = dict(options)
        return Calibration(
            fit_funnel(funnel, opts.pop("transitions"), name=str(name), won=won, **opts), "funnel"
        )
    if date_means not in ("end-of-day", "start-of-day"):
        raise ValueError(f"date_means: expected 'end-of-day' or 'start-of-day', got {date_means!r}")
    if events is not None:
        if date_means != "end-of-day":
            raise ValueError(
                "date_means: applies to snapshots only (a stage-change log's timestamps are the "
                "moments of change)"
            )
        source, is_text, file, reading = _reading(
            events,
            "<events>",
            _EVENT_COLUMN_KEYS,
            segment_column,
            censor_at,
            stage_map,
            stages,
            absorbing,
            drop_duplicates,
            on_invalid,
            columns,
            separator,
            date_format,
        )
        data = _core.calibrate_events(
            source,
            is_text,
            file,
            won=won or "",
            name=str(name),
            **reading,
            **_options(options, _EVENT_OPTIONS, "calibrate(events)"),
        )
        data["transition_prior"] = float(options.get("transition_prior", 0.5))
        return Calibration(data, "events")
    opts = _options(options, _SNAPSHOT_OPTIONS, "calibrate(snapshots)")
    if "transitions" in opts:
        opts["transitions"] = [(str(a), str(b)) for a, b in opts["transitions"]]
    source, is_text, file, reading = _reading(
        snapshots,
        "<snapshots>",
        _SNAPSHOT_COLUMN_KEYS,
        segment_column,
        None,
        stage_map,
        stages,
        absorbing,
        False,
        "error",
        columns,
        separator,
        date_format,
    )
    for events_only in ("censor_at", "drop_duplicates", "drop_invalid"):
        reading.pop(events_only)
    data = _core.calibrate_snapshots(
        source,
        is_text,
        file,
        won=won or "",
        name=str(name),
        date_means=date_means,
        **reading,
        **opts,
    )
    return Calibration(data, "snapshots")


def _reading(
    data,
    default_name: str,
    column_keys: Sequence[str],
    segment_column,
    censor_at,
    stage_map,
    stages,
    absorbing,
    drop_duplicates,
    on_invalid,
    columns,
    separator,
    date_format,
) -> tuple:
    """(source, is_text, file, keyword arguments of the core's readers), the options checked."""
    if on_invalid not in ("error", "drop"):
        raise ValueError(f"on_invalid: expected 'error' or 'drop', got {on_invalid!r}")
    columns = {str(k): str(v) for k, v in (columns or {}).items()}
    unknown_columns = sorted(set(columns) - set(column_keys))
    if unknown_columns:
        raise ValueError(
            f"columns: unknown key(s) {', '.join(unknown_columns)} (expected {', '.join(column_keys)})"
        )
    if date_format not in ("iso", "dmy", "mdy"):
        raise ValueError(f"date_format: expected 'iso', 'dmy' or 'mdy', got {date_format!r}")
    if separator is not None and (len(str(separator)) != 1 or str(separator) in '"\n'):
        raise ValueError(f"separator: expected one character, got {separator!r}")
    source, is_text, file = _source(data, default_name)
    if is_text:  # a DataFrame, written as comma-separated text
        separator = ","
    return (
        source,
        is_text,
        file,
        dict(
            segment_column=segment_column or "",
            censor_at=censor_at or "",
            stage_map={str(k): str(v) for k, v in (stage_map or {}).items()},
            stages=[str(s) for s in (stages or [])],
            absorbing=[str(s) for s in (absorbing or [])],
            drop_duplicates=bool(drop_duplicates),
            drop_invalid=on_invalid == "drop",
            columns=columns,
            separator=separator or "",
            date_format=date_format,
        ),
    )


def check_events(
    events: str | os.PathLike | pd.DataFrame,
    *,
    segment_column: str | None = None,
    censor_at: str | None = None,
    stage_map: Mapping[str, str] | None = None,
    stages: Sequence[str] | None = None,
    absorbing: Sequence[str] | None = None,
    drop_duplicates: bool = False,
    on_invalid: str = "error",
    columns: Mapping[str, str] | None = None,
    separator: str | None = None,
    date_format: str = "iso",
    epoch: str | None = None,
) -> LogCheck:
    """Reads a stage-change log without fitting it, as ``lcsim calibrate EVENTS --dry-run``.

    Takes the reading options of :func:`calibrate` and returns the whole picture, errors
    included (they are returned, not raised): the stages found with their rows, every class of
    defect with every affected line, the warnings and the errors, so an analyst can fix the
    export in one go. ``check.ok`` says whether :func:`calibrate` with the same options reads it.

    Raises
    ------
    lcsim.ScenarioError
        Problems of the file as a whole (an empty file, a missing column) or of the options (an
        unparseable ``censor_at``), without which nothing can be read.
    lcsim.StudyError
        A file that cannot be read.
    """
    _check_argument_types(
        segment_column=segment_column,
        censor_at=censor_at,
        stage_map=stage_map,
        stages=stages,
        absorbing=absorbing,
        drop_duplicates=drop_duplicates,
        on_invalid=on_invalid,
        columns=columns,
        separator=separator,
        date_format=date_format,
    )
    source, is_text, file, reading = _reading(
        events,
        "<events>",
        _EVENT_COLUMN_KEYS,
        segment_column,
        censor_at,
        stage_map,
        stages,
        absorbing,
        drop_duplicates,
        on_invalid,
        columns,
        separator,
        date_format,
    )
    return LogCheck(_core.check_events(source, is_text, file, epoch=str(epoch or ""), **reading))


def synth(
    scenario: Scenario | str | os.PathLike,
    *,
    replication: int = 0,
    seed: int | None = None,
    start_date: str = "2025-01-06",
    observe_until: float | None = None,
    snapshots: str | int | None = None,
    touchpoints: bool = True,
) -> dict:
    """One replication of a scenario as the CRM history an analyst would get.

    Returns a dict of DataFrames with the columns of the ``lcsim synth`` CSV files:
    ``"events"`` (customer_id, timestamp, stage[, segment]), ``"snapshots"`` (customer_id, date,
    stage[, segment], created; empty unless ``snapshots`` is ``"monthly"`` or a number of days) and
    ``"touchpoints"`` (customer_id, timestamp, touchpoint; landed contacts). The segment column is
    present when the scenario has more than one segment. Each frame's ``.attrs`` hold the facts of
    the history (``censor_at``, ``seed``, ``customers``, ``absorbing``, ``won``, ...): calibrate with
    ``censor_at=history["events"].attrs["censor_at"]``.

    Day 0 is ``start_date`` (UTC midnight); nothing after ``observe_until`` days (default: the
    horizon) is recorded. The GIL is released while simulating.
    """
    if not isinstance(scenario, Scenario):
        scenario = Scenario.load(scenario)
    every = "none" if snapshots is None else str(snapshots)
    data = _core.synth(
        scenario._model,
        replication=int(replication),
        seed=None if seed is None else int(seed),
        start_date=str(start_date),
        observe_until=None if observe_until is None else float(observe_until),
        snapshots=every,
        touchpoints=bool(touchpoints),
    )
    keys = ("events", "snapshots", "touchpoints")
    info = {k: v for k, v in data.items() if k not in keys}
    out = {}
    for key in keys:
        frame = pd.DataFrame(data[key])
        frame.attrs.update(info)
        out[key] = frame
    return out


def backtest(
    events,
    *,
    holdout_start,
    holdout_end=None,
    replications: int = 20,
    seed: int | None = None,
    threads: int | None = None,
    period: str | float = "month",
    uncertainty: bool = False,
    **calibrate_options: Any,
) -> Backtest:
    """Calibrates on the log before ``holdout_start``, then backtests on the rest.

    Parameters
    ----------
    events : path or DataFrame
        The whole stage-change log (``customer_id, timestamp, stage[, segment]``).
    holdout_start : str or Timestamp
        The cut: rows before it train the calibration (censored at the cut), rows from it on are the
        holdout.
    holdout_end : str or Timestamp, optional
        End of the holdout (default: the last timestamp of the log; give the export's end when you
        know it).
    replications, seed, threads : int, optional
        Of the simulation of the calibrated scenario.
    period : "month" or float
        Calendar months, or blocks of this many days from the cut.
    uncertainty : bool
        Draw the calibrated parameters per replication (see :func:`lcsim.simulate`): bands that
        include estimation uncertainty.
    **calibrate_options
        Passed to :func:`lcsim.calibrate` (``absorbing``, ``won``, ``segment_column``, ...);
        ``censor_at`` is the cut.

    Returns
    -------
    Backtest

    Raises
    ------
    lcsim.ScenarioError
        Bad input (as :func:`lcsim.calibrate`), an unparseable timestamp (naming line and column), a
        cut outside the log.
    """
    if "censor_at" in calibrate_options:
        raise TypeError(
            "backtest(): the training part is censored at holdout_start; do not pass censor_at"
        )
    frame, file = read_history(events)
    ts = read_timestamps(frame, file)
    cut = pd.Timestamp(holdout_start)
    cut = cut.tz_localize("UTC") if cut.tzinfo is None else cut.tz_convert("UTC")
    train = frame[(ts < cut).to_numpy()]
    if train.empty or len(train) == len(frame):
        msg = f"expected a cut inside the log ({ts.min()} .. {ts.max()}), got {cut}"
        raise ScenarioError.of([(file, 0, "holdout_start", msg)])
    if holdout_end is not None:
        stop = pd.Timestamp(holdout_end)
        stop = stop.tz_localize("UTC") if stop.tzinfo is None else stop.tz_convert("UTC")
        frame = frame[(ts <= stop).to_numpy()]
    cal = calibrate(train, censor_at=cut.strftime("%Y-%m-%dT%H:%M:%SZ"), **calibrate_options)
    holdout = None
    if holdout_end is not None:
        holdout = float(days_since(stop, cal.epoch)) - cal.window[1]
    return run_backtest(
        cal,
        frame,
        holdout=holdout,
        replications=replications,
        seed=seed,
        threads=threads,
        period=period,
        uncertainty=uncertainty,
        stage_map=calibrate_options.get("stage_map"),
    )
