"""Dotted scenario paths (``stages.lead.next.mql``, ``arrivals.streams[0].rate_per_day``): the one
lookup of a path's value in a scenario's plain dict (:meth:`lcsim.Scenario.to_dict`). Private."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

#: Returned by :func:`lookup` (as its default) where the path is not written.
MISSING: Any = object()


def split(path: str) -> list[str]:
    """The keys of a dotted path: ``a.b[2].c`` -> ``["a", "b", "2", "c"]``."""
    return [part for part in re.split(r"\.|\[(\d+)\]", path) if part]


def lookup(tree: Any, path: str | Sequence[str], default: Any = MISSING) -> Any:
    """The value at a dotted path (or at a sequence of keys) of nested dicts and lists, or
    ``default`` where a key is missing, a list index is not a whole number in range, or a value
    on the way is neither a mapping nor a list."""
    for key in split(path) if isinstance(path, str) else path:
        if isinstance(tree, Mapping) and key in tree:
            tree = tree[key]
        elif isinstance(tree, list) and key.isdigit() and int(key) < len(tree):
            tree = tree[int(key)]
        else:
            return default
    return tree
