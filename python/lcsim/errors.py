"""Exceptions raised by lcsim (the C++ core's errors arrive as these classes)."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Problem", "ScenarioError", "StudyError"]


class Problem(NamedTuple):
    """One problem in user input, as the CLI prints it: ``file:line: field: message``."""

    file: str
    line: int
    field: str
    message: str
    warning: bool = False

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line > 0 else self.file
        kind = "warning: " if self.warning else ""
        field = f"{self.field}: " if self.field else ""
        return f"{where}: {kind}{field}{self.message}"


class ScenarioError(ValueError):
    """A scenario (or another input) is invalid.

    ``str(error)`` holds one line per problem, exactly as ``lcsim validate`` prints them;
    ``error.problems`` lists them as :class:`Problem` tuples (file, line, field, message, warning).
    """

    def __init__(self, message: str, problems=()):
        super().__init__(message)
        self.problems = [p if isinstance(p, Problem) else Problem(*p) for p in problems]

    @classmethod
    def of(cls, problems) -> ScenarioError:
        """The error of (file, line, field, message) tuples, one ``file:line: field: message`` line each."""
        problems = [p if isinstance(p, Problem) else Problem(*p) for p in problems]
        return cls("\n".join(str(p) for p in problems), problems)


class StudyError(OSError):
    """A study file could not be read or written (missing, not an lcsim study, HDF5 failure)."""
