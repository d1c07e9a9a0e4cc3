"""Studies: HDF5 files of runs, comparisons, sweeps and optimisations (layout: docs/format.md).

On top of the result types: a study gives back each kind of result it stores, so this module
imports :mod:`lcsim.run`, :mod:`lcsim.uncertainty`, :mod:`lcsim.whatif`, :mod:`lcsim.sweep` and
:mod:`lcsim.optimise`, and none of them imports it (as xarray's backends import Dataset, not the
reverse).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from . import _core
from .optimise import Optimisation
from .run import Run
from .sweep import Sweep
from .uncertainty import UncertainComparison, UncertainRun
from .whatif import Comparison

__all__ = ["Study", "open"]


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
        core = _core.study_read_comparison(str(self.path), name)
        if core.base.parameter_draws is not None:
            return UncertainComparison(
                UncertainRun(core.base), [UncertainRun(v.run) for v in core.variants]
            )
        return Comparison(core)

    def sweeps(self) -> list[str]:
        """Names of the sweeps (``/sweeps``), sorted."""
        return list(_core.study_sweeps(str(self.path)))

    def sweep(self, name: str):
        """A stored sweep, as :class:`lcsim.Sweep`."""
        return Sweep.load(self.path, name)

    def optimisations(self) -> list[str]:
        """Names of the optimisations (``/optimisations``), sorted."""
        return list(_core.study_optimisations(str(self.path)))

    def optimisation(self, name: str):
        """A stored optimisation, as :class:`lcsim.Optimisation`."""
        return Optimisation.load(self.path, name)

    def __repr__(self) -> str:
        return (
            f"Study({str(self.path)!r}, runs={self.runs()}, comparisons={self.comparisons()}, sweeps={self.sweeps()}, "
            f"optimisations={self.optimisations()})"
        )


def open(path) -> Study:  # noqa: A001 - lcsim.open mirrors h5py.File / xarray.open_dataset
    """Opens a study file for reading (:class:`lcsim.StudyError` if it is not one)."""
    return Study(path)
