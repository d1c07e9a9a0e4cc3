"""Optional dependencies: the error that names the extra to install. Private.

The core (simulate, compare, sweep, calibrate, studies, plots) needs numpy, pandas, matplotlib and
PyYAML only. The HTML report needs Jinja2 and Plotly (``lcsim[report]``), the optimiser Optuna and
tqdm (``lcsim[optimise]``), the app Dash and the report's (``lcsim[app]``). Each is imported where
its feature starts, never by ``import lcsim``.
"""

from __future__ import annotations

#: extra -> (what needs it, the packages it installs)
EXTRAS = {
    "report": ("the HTML report (lcsim.report, lcsim report)", ("jinja2", "plotly")),
    "optimise": ("the optimiser (lcsim.optimise, lcsim optimise)", ("optuna", "tqdm")),
    "app": ("the what-if app (lcsim app)", ("dash", "jinja2", "plotly")),
}


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message names the extra that installs it."""


def missing_extra(extra: str, error: ImportError) -> MissingExtraError:
    """The ImportError to raise (``from error``) when ``error`` says a package of ``extra`` is missing."""
    feature, packages = EXTRAS[extra]
    module = (error.name or str(error)).split(".")[0]  # the package, not plotly.graph_objects
    return MissingExtraError(
        f"{feature} needs {module}, which is not installed: pip install 'lcsim[{extra}]' "
        f"(or: pip install {' '.join(packages)})",
        name=module,
    )
