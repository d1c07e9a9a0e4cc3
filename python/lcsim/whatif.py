"""Paired what-if comparisons with common random numbers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Callable

import numpy as np
import pandas as pd

from . import _core
from ._validators import validate_positive, validate_progress, validate_scenario, validate_seed
from .run import Run
from .scenario import Scenario
from .uncertainty import UncertainComparison, simulate_uncertain

__all__ = ["Comparison", "compare"]


def _scenario(s, what: str = "base") -> Scenario:
    return validate_scenario("compare", what, s)


def compare(
    base: Scenario | str,
    *variants: Scenario | str,
    replications: int | None = None,
    precision: float | None = None,
    precision_metrics: Sequence[str] = ("conversions",),
    precision_on: str = "delta",
    batch: int = 10,
    max_replications: int = 1000,
    seed: int | None = None,
    threads: int | None = None,
    independent: bool = True,
    who_changed: bool = True,
    progress: Callable[[int, int], None] | None = None,
    uncertainty=None,
    inner: int = 1,
):
    """Compares variants with a base on paired replications (common random numbers).

    Every arm uses the same seed and replication numbers, so each simulated customer exists in every
    arm and draws the same random numbers until a change reaches it: differences are the change's
    effect, not noise.

    Parameters
    ----------
    base, *variants : Scenario or path
    replications : int, optional
        A fixed count per arm (default: the base scenario's); with ``precision``, the first batch.
    precision : float, optional
        Relative target, e.g. 0.02: replications are added in batches of ``batch`` until the 95% CI
        half-width of each of ``precision_metrics`` is below ``precision`` x |base mean|, for the
        paired deltas (``precision_on="delta"``) or each arm's mean (``"mean"``), or
        ``max_replications`` is reached (``Comparison.precision_met`` tells).
    seed, threads : int, optional
    independent : bool
        Also run each variant on independent streams to *measure* the variance reduction that
        pairing buys (column ``variance_reduction``).
    who_changed : bool
        Count, per segment and stage where a changed touchpoint first reached them, the customers
        who converted only in the variant (gained) or only in the base (lost).
    uncertainty : lcsim.Calibration, optional
        Draw the calibrated parameters from their posterior per replication (see
        :func:`lcsim.simulate`); both arms of a replication use the same draw (paired) and the
        same random streams. A path a variant changes keeps the variant's value (for
        next-probabilities: the whole stage's). Returns an :class:`lcsim.UncertainComparison`
        (no ``precision``, ``independent`` or ``who_changed`` then).
    inner : int
        With ``uncertainty``: replications per draw.
    """
    if not variants:
        raise TypeError("compare() needs at least one variant")
    base = _scenario(base)
    variants = tuple(_scenario(v, f"variants[{i}]") for i, v in enumerate(variants))
    seed = validate_seed("seed", seed)
    validate_progress("progress", progress)
    batch = validate_positive("batch", batch)
    max_replications = validate_positive("max_replications", max_replications)
    if precision is not None:
        if isinstance(precision, bool) or not isinstance(
            precision, (int, float, np.floating, np.integer)
        ):
            raise TypeError(
                f"precision: expected a number > 0 or None, got {type(precision).__name__} {precision!r}"
            )
        if not np.isfinite(precision) or precision <= 0:
            raise ValueError(f"precision: expected a number > 0, got {precision!r}")
    if isinstance(precision_metrics, str) or not all(isinstance(m, str) for m in precision_metrics):
        raise TypeError(
            f"precision_metrics: expected a list of metric names, got {precision_metrics!r}"
        )
    if precision_on not in ("delta", "mean"):
        raise ValueError(f"precision_on must be 'delta' or 'mean', got {precision_on!r}")
    if uncertainty is not None:
        if precision is not None:
            raise TypeError("compare(): precision is not available with uncertainty=")
        scenarios = [_scenario(base)] + [_scenario(v) for v in variants]
        reps = (
            scenarios[0].replications
            if replications is None
            else validate_positive("replications", replications)
        )
        names = [s.name for s in scenarios]
        runs = simulate_uncertain(
            scenarios,
            uncertainty,
            reps,
            inner,
            seed,
            None if threads is None else validate_positive("threads", threads),
            False,
            names,
            progress,
        )
        return UncertainComparison(runs[0], runs[1:])
    core = _core.compare(
        _scenario(base)._model,
        [_scenario(v)._model for v in variants],
        replications=0 if replications is None else validate_positive("replications", replications),
        precision=0.0 if precision is None else float(precision),
        precision_metrics=list(precision_metrics),
        precision_on_delta=precision_on == "delta",
        batch=batch,
        max_replications=max_replications,
        seed=seed,
        threads=0 if threads is None else validate_positive("threads", threads),
        independent=independent,
        who_changed=who_changed,
        progress=progress,
    )
    return Comparison(core)


class Comparison:
    """Variants against a base over paired replications.

    ``deltas()`` has, per variant and metric, the means of both arms, the paired difference with its
    95% CI, the relative lift with its CI, and the measured variance-reduction factor;
    ``who_changed()`` has the customers whose outcome changed; ``verdicts`` one plain line each.
    """

    def __init__(self, core):
        self._core = core
        self.base = Run(core.base)
        self.variants = [Run(v.run) for v in core.variants]

    @property
    def replications(self) -> int:
        """Replications per arm."""
        return self._core.replications

    @property
    def precision_met(self) -> bool:
        return self._core.precision_met

    @property
    def verdicts(self) -> list[str]:
        return [v.verdict for v in self._core.variants]

    @property
    def changed_touchpoints(self) -> list[list[str]]:
        return [list(v.changed_touchpoints) for v in self._core.variants]

    def deltas(self) -> pd.DataFrame:
        """Per variant and metric: base_mean, variant_mean, delta, delta_std, ci_low, ci_high, lift,
        lift_ci_low, lift_ci_high, variance_reduction, n."""
        frames = []
        for i, v in enumerate(self._core.variants):
            df = pd.DataFrame(v.deltas())
            df.insert(0, "variant", self.variants[i].name)
            frames.append(df)
        return pd.concat(frames, ignore_index=True)

    def who_changed(self) -> pd.DataFrame:
        """Per variant, segment and stage where a changed touchpoint first reached the customers
        (None: never reached): customers, converted_base, converted_variant, gained, lost."""
        frames = []
        for i, v in enumerate(self._core.variants):
            df = pd.DataFrame(v.changes())
            df.insert(0, "variant", self.variants[i].name)
            frames.append(df)
        return pd.concat(frames, ignore_index=True)

    def save(self, path, name: str = "comparison") -> None:
        """Adds the comparison (runs, deltas, who changed) to a study in one atomic write."""
        _core.study_append_comparison(str(path), self._core, name)

    def __str__(self) -> str:
        return "\n".join(self.verdicts)

    def __repr__(self) -> str:
        return (
            f"Comparison(base={self.base.name!r}, variants={[v.name for v in self.variants]}, "
            f"replications={self.replications})"
        )
