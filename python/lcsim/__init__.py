"""lcsim: discrete-event simulation of customer lifecycles for what-if analysis.

The simulation core is C++; this package installs it together with the ``lcsim`` command line
program (see ``lcsim --help``). Notebook-level Python bindings build on the same core.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
