"""Regular expressions compiled on first use.

A short ``digest teaser`` run pays for every ``re.compile`` at import time, and the cleaning rules are many
(≈ 40 patterns, several of them case-insensitive alternations that take milliseconds each to compile).
Most rules sit behind a cheap literal pre-filter and never run on a given article, so compiling them lazily
takes their cost off the start-up of every process.
"""

from __future__ import annotations

import re
from typing import Any, cast

_METHODS = ("search", "match", "fullmatch", "sub", "subn", "findall", "finditer", "split", "pattern", "flags",
            "groups", "groupindex")


class _Lazy:
    def __init__(self, pattern: str, flags: int) -> None:
        self._src = (pattern, flags)

    def __getattr__(self, name: str) -> Any:  # only called for attributes not yet set
        if name.startswith("__") or name == "_src":
            raise AttributeError(name)
        compiled = re.compile(*self._src)
        for n in _METHODS:  # later look-ups are plain instance attributes: no per-call overhead
            setattr(self, n, getattr(compiled, n))
        return getattr(compiled, name)

    def __repr__(self) -> str:
        return f"lazy({self._src[0][:40]!r})"


def lazy(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """A pattern that behaves like ``re.compile(pattern, flags)`` but compiles when first used."""
    return cast("re.Pattern[str]", _Lazy(pattern, flags))
