"""Scenarios: load, build from dicts, change, and write back as YAML."""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from . import _core
from .errors import Problem, ScenarioError

__all__ = ["Scenario", "ScenarioChange"]

# As the C++ core's kMaxScenarioBytes (include/lcsim/core/input_file.hpp).
_MAX_SCENARIO_BYTES = 64 << 20


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 floats (``1e-05`` is a number, as lcsim's parser reads it)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


class Scenario:
    """A validated scenario (see docs/scenario.md for the YAML schema).

    Build one with :meth:`load`, :meth:`from_yaml` or :meth:`from_dict`; invalid input raises
    :class:`lcsim.ScenarioError` with the same messages as ``lcsim validate``. Scenarios are
    immutable: :meth:`with_changes` returns a new, validated one.
    """

    def __init__(self, text: str, file: str = "<string>", _sources: tuple | None = None):
        # A variant (``extends: base.yaml``, resolved relative to ``file``) is kept as its resolved
        # text, so that it stays self-contained (pickling, with_changes, studies); `_sources` =
        # (extends, own_text) restores its provenance when rebuilt from that text.
        extends, own_text = _sources if _sources else ([], "")
        self._file = file
        self._model = _core.compile_yaml(text, file, list(extends), own_text)
        self.warnings = [Problem(*p) for p in _core.check_yaml(text, file) if p[4]]
        self._text = self._model.scenario_text
        self._extends = list(self._model.scenario_extends)
        self._own_text = self._model.scenario_own_text if self._extends else text

    # ---- construction ----------------------------------------------------------------------
    @classmethod
    def load(cls, path) -> Scenario:
        """Reads a YAML scenario file."""
        path = Path(path)
        try:
            info = path.stat()
            if not stat.S_ISREG(info.st_mode):  # a device (/dev/zero) never ends, a FIFO can block
                why = (
                    "a directory, not a file"
                    if stat.S_ISDIR(info.st_mode)
                    else "not a regular file"
                )
                raise ScenarioError(
                    f"{path}: cannot read file: {why}",
                    [(str(path), 0, "", f"cannot read file: {why}")],
                )
            if info.st_size > _MAX_SCENARIO_BYTES:
                why = f"larger than {_MAX_SCENARIO_BYTES >> 20} MiB ({info.st_size} bytes)"
                raise ScenarioError(
                    f"{path}: cannot read file: {why}",
                    [(str(path), 0, "", f"cannot read file: {why}")],
                )
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise ScenarioError(
                f"{path}: cannot read file: {e.strerror}", [(str(path), 0, "", "cannot read file")]
            ) from e
        return cls(text, str(path))

    @classmethod
    def from_yaml(cls, text: str, file: str = "<string>") -> Scenario:
        """Parses YAML text; ``file`` names it in messages."""
        return cls(text, file)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], file: str = "<dict>") -> Scenario:
        """Builds a scenario from nested dicts and lists shaped like the YAML."""
        return cls(yaml.safe_dump(_plain(data), sort_keys=False), file)

    # ---- views -----------------------------------------------------------------------------
    def to_yaml(self) -> str:
        """The scenario in lcsim's canonical YAML (comments dropped, every field explicit)."""
        return _core.canonical_yaml(self._text, self._file)

    def to_dict(self) -> dict:
        """The scenario as nested dicts and lists (from :meth:`to_yaml`)."""
        return yaml.load(self.to_yaml(), Loader=_Loader)

    @property
    def text(self) -> str:
        """The YAML text of the whole scenario (recorded with every run): for a variant, its base
        with the variant's changes applied (no ``extends:``)."""
        return self._text

    @property
    def own_text(self) -> str:
        """The text of this scenario's own file: for a variant, only what it changes."""
        return self._own_text

    @property
    def extends(self) -> list[str]:
        """A variant's base files, nearest first (empty for a scenario written in one file)."""
        return list(self._extends)

    @property
    def file(self) -> str:
        return self._file

    @property
    def name(self) -> str:
        return self._model.name

    @property
    def stages(self) -> list[str]:
        return list(self._model.stage_names)

    @property
    def segments(self) -> list[str]:
        return list(self._model.segment_names)

    @property
    def touchpoints(self) -> list[str]:
        return list(self._model.touchpoint_names)

    @property
    def replications(self) -> int:
        return self._model.replications

    @property
    def seed(self) -> int:
        return self._model.seed

    # ---- what-if ---------------------------------------------------------------------------
    def with_changes(self, changes: Mapping[str, Any]) -> Scenario:
        """A new scenario with values replaced at dotted paths, validated.

        Paths address any field: ``"touchpoints.webinar.reach"``, ``"stages.sql.next.customer"``,
        ``"segments.icp.share"``, ``"arrivals.streams.0.rate_per_day"`` (list items by index).
        ``"arrivals.initial[0].count"`` also works. A value of ``None`` removes the field; a new key
        may be added under an existing mapping (a misspelt one is caught by validation). An unknown
        path raises :class:`ScenarioError` listing the closest existing paths. The changes are made
        on the scenario's YAML text, in order (comments are not kept).

        >>> variant = base.with_changes({"touchpoints.webinar.reach": 0.3})
        """
        pairs = [(str(path), _yaml_value(value)) for path, value in changes.items()]
        text = _core.apply_changes(self._text, pairs, self._file)
        return Scenario.from_yaml(text, file=f"{self._file} (with changes)")

    def diff(self, other: Scenario) -> list[ScenarioChange]:
        """What ``other`` changes relative to this scenario: one :class:`ScenarioChange` per
        changed field, in this scenario's field order (fields only ``other`` has come last).

        Fields are compared in the canonical form (:meth:`to_dict`), so a default written out
        and a default left implicit are the same; mappings are compared key by key, lists and
        values as a whole. Paths are those :meth:`with_changes` takes; ``old`` is ``None`` for a
        field only ``other`` has, ``new`` is ``None`` for one it removed.

        >>> base.diff(variant)
        [ScenarioChange(path='touchpoints.first_call.schedule.after_entry.days', old=[2], new=[0.1667])]
        """
        out: list[ScenarioChange] = []
        _diff(self.to_dict(), other.to_dict(), "", out)
        return out

    def __reduce__(self):  # picklable (for Dask workers): rebuilt and re-validated from its text
        sources = (self._extends, self._own_text) if self._extends else None
        return (Scenario, (self._text, self._file, sources))

    def __repr__(self) -> str:
        return f"Scenario({self.name!r}, stages={len(self.stages)}, touchpoints={len(self.touchpoints)})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Scenario) and self.to_yaml() == other.to_yaml()

    __hash__ = None


class ScenarioChange(NamedTuple):
    """One field a variant changes (:meth:`Scenario.diff`)."""

    path: str
    old: Any
    new: Any


_MISSING = object()


def _diff(old, new, prefix: str, out: list) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in list(old) + [k for k in new if k not in old]:
            path = f"{prefix}.{key}" if prefix else str(key)
            _diff(old.get(key, _MISSING), new.get(key, _MISSING), path, out)
    elif old is _MISSING or new is _MISSING or old != new:
        out.append(
            ScenarioChange(
                prefix, None if old is _MISSING else old, None if new is _MISSING else new
            )
        )


def _plain(value):
    """Mappings and sequences as plain dicts and lists (numpy scalars as Python numbers)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return value.item()
    return value


def _yaml_value(value) -> str:
    """A Python value as YAML text for _core.apply_changes (None: "null", which removes the field)."""
    value = _plain(value)
    if value is None:
        return "null"
    if isinstance(value, float):  # JSON would write NaN / Infinity, which YAML reads as strings
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
    if isinstance(value, (dict, list)):
        return yaml.safe_dump(
            value, default_flow_style=True, sort_keys=False, width=float("inf")
        ).strip()
    return json.dumps(value)


def variant_text(
    base_file,
    at,
    changes: Mapping[str, Any],
    name: str,
    description: str = "",
    tool: str = "lcsim app",
) -> str:
    """The ``extends:`` file of a variant saved at ``at``: its base (relative to ``at``'s folder)
    and its changes, one dotted path per line."""
    base_file = Path(base_file).resolve()
    relative = os.path.relpath(base_file, Path(at).resolve().parent)
    lines = [
        f"# Variant of {base_file.name}, made by {tool} on {_dt.date.today().isoformat()}.",
        f"extends: {_yaml_value(relative)}",
        f"name: {_yaml_value(name)}",
    ]
    if description:
        lines.append(f"description: {_yaml_value(description)}")
    if changes:
        lines.append("changes:")
        lines += [f"  {path}: {_yaml_value(value)}" for path, value in changes.items()]
    return "\n".join(lines) + "\n"
