"""The argument checks shared by the public functions (as pandas' ``util/_validators.py``).

Private: every check raises TypeError naming the argument for a value of the wrong type, and
ValueError (:class:`lcsim.ScenarioError` where the message has a field) for a value out of range.
Only :mod:`lcsim.errors` and :mod:`lcsim.scenario` below it.
"""

from __future__ import annotations

import math
import numbers
import os

from .errors import ScenarioError
from .scenario import Scenario


def validate_positive(what: str, value: int) -> int:
    """A whole-number argument >= 1: TypeError naming it for anything but a number (bool, str,
    None, ...), lcsim.ScenarioError (a ValueError) naming it for a number that is not a whole
    number >= 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{what}: expected an integer >= 1, got {type(value).__name__} {value!r}")
    if not math.isfinite(float(value)) or int(value) != value or value < 1:
        raise ScenarioError(
            f"{what}: expected an integer >= 1, got {value!r}",
            [("<arguments>", 0, what, f"expected an integer >= 1, got {value!r}")],
        )
    return int(value)


def validate_seed(what: str, value) -> int | None:
    """None or a whole number in [0, 2**64): TypeError naming the argument for another type,
    ValueError for a number out of range."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{what}: expected an integer seed or None, got {type(value).__name__} {value!r}"
        )
    if not 0 <= int(value) < 2**64:
        raise ValueError(f"{what}: expected a seed in [0, 2**64), got {value!r}")
    return int(value)


def validate_scenario(function: str, what: str, value) -> Scenario:
    """A Scenario, or one loaded from a path (str or os.PathLike); TypeError naming the argument
    for anything else."""
    if isinstance(value, Scenario):
        return value
    if isinstance(value, (str, os.PathLike)):
        return Scenario.load(value)
    raise TypeError(
        f"{function}(): {what}: expected an lcsim.Scenario or the path of a scenario YAML file, "
        f"got {type(value).__name__}"
    )


def validate_optional(what: str, value, kind: type, description: str):
    """None or an instance of `kind`; TypeError naming the argument otherwise."""
    if value is not None and (
        not isinstance(value, kind) or isinstance(value, bool) and kind is not bool
    ):
        raise TypeError(
            f"{what}: expected {description} or None, got {type(value).__name__} {value!r}"
        )
    return value


def validate_progress(what: str, value):
    """None or a callable (customers_done, replications_done); TypeError naming the argument otherwise."""
    if value is not None and not callable(value):
        raise TypeError(
            f"{what}: expected a callable (customers_done, replications_done) or None, "
            f"got {type(value).__name__}"
        )
    return value
