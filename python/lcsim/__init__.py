"""lcsim: discrete-event simulation of customer lifecycles for what-if analysis.

>>> import lcsim
>>> base = lcsim.Scenario.load("scenarios/b2b_saas/baseline.yaml")
>>> run = lcsim.simulate(base, replications=20)
>>> run.summary()                     # metric, mean, std, ci_low, ci_high, n
>>> run.save("study.h5"); lcsim.open("study.h5")[run.name] == run
True

The simulation core is C++ (``lcsim._core``); this package adds pandas/xarray views, plots
(:mod:`lcsim.plot`) and scenario editing. The ``lcsim`` command line program is installed with it.
"""

from __future__ import annotations

import sys
import warnings

from . import _core
from .analysis import Analysis, analyse, analyze
from .backtest import Backtest
from .calibration import Calibration, LogCheck, backtest, calibrate, check_events, synth
from .errors import Problem, ScenarioError, StudyError
from .optimise import Optimisation, optimise, optimize
from .run import Run
from .scenario import Scenario, ScenarioChange
from .simulation import simulate
from .study import Study, open
from .sweep import Sweep, sweep
from .uncertainty import UncertainComparison, UncertainRun, variance_components, variance_split
from .whatif import Comparison, compare

__version__ = _core.__version__

__all__ = [
    "Analysis",
    "Backtest",
    "Calibration",
    "Comparison",
    "LogCheck",
    "Optimisation",
    "Problem",
    "Run",
    "Scenario",
    "ScenarioChange",
    "ScenarioError",
    "Study",
    "StudyError",
    "Sweep",
    "UncertainComparison",
    "UncertainRun",
    "__version__",
    "analyse",  # alias of analyze
    "analyze",
    "backtest",
    "calibrate",
    "check_events",
    "compare",
    "hdf5_version",
    "open",
    "optimise",
    "optimize",  # alias of optimise
    "plot",
    "report",
    "simulate",
    "sweep",
    "synth",
    "variance_components",
    "variance_split",
]


def hdf5_version() -> str:
    """Version of the HDF5 library the core reads and writes studies with."""
    return _core.hdf5_version()


def _warn_if_two_hdf5_libraries() -> None:
    """h5py wheels bundle their own HDF5; two HDF5 libraries in one process can corrupt files."""
    h5py = sys.modules.get("h5py")
    if h5py is None:
        return
    theirs = getattr(getattr(h5py, "version", None), "hdf5_version", None)
    if theirs and theirs != hdf5_version():
        warnings.warn(
            f"h5py uses HDF5 {theirs} but lcsim uses {hdf5_version()}: two HDF5 libraries in one process. "
            "Build h5py against the system HDF5: HDF5_DIR=/usr/lib/x86_64-linux-gnu/hdf5/serial "
            "pip install --no-binary h5py h5py",
            RuntimeWarning,
            stacklevel=2,
        )


_warn_if_two_hdf5_libraries()


def __getattr__(name):  # lazy: matplotlib, Plotly and Dash are imported only when used
    import importlib

    if name == "plot":
        return importlib.import_module(".plot", __name__)
    if name == "report":  # lcsim.report(study, out): the study as a self-contained HTML page
        return importlib.import_module(".htmlreport", __name__).report
    raise AttributeError(f"module 'lcsim' has no attribute {name!r}")
