"""The names ``lcsim.results`` held before runs, studies and :func:`simulate` got their own modules.

Kept so that ``from lcsim.results import Run, Study, open, simulate`` goes on working; new code
imports them from :mod:`lcsim` (or :mod:`lcsim.run`, :mod:`lcsim.study`, :mod:`lcsim.simulation`).
Nothing inside the package imports this module.
"""

from __future__ import annotations

from .run import Run
from .simulation import simulate
from .study import Study, open

__all__ = ["Run", "Study", "open", "simulate"]
