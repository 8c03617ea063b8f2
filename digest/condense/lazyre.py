"""Regular expressions compiled on first use, and compiled once per machine rather than once per process.

A short ``digest teaser`` run pays for every pattern it compiles, and the cleaning rules are many (≈ 170
patterns; case-insensitive alternations and classes with a non-Latin-1 character such as ``’`` or ``…`` take
0.3–3 ms each, about 45 ms for all of them, in Python code). Two things take that off each process:

- ``lazy(pattern)`` compiles when first used. Most rules sit behind a cheap literal pre-filter and never run on
  a given article.
- What Python's pattern compiler produces (the SRE code) is kept in a file in the user's cache folder, keyed by
  the interpreter's version and the SRE engine's magic number, and read back by the next process:
  ``_sre.compile`` builds the pattern object from it without parsing again. The SRE code is an internal format
  of CPython, so any surprise (another interpreter, a changed signature, a corrupt or foreign file) falls back to
  ``re.compile``, and ``_sre`` validates the code it is given. ``DIGEST_REGEX_CACHE=0`` turns it off.
"""

from __future__ import annotations

import atexit
import marshal
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any, cast

_METHODS = ("search", "match", "fullmatch", "sub", "subn", "findall", "finditer", "split", "pattern", "flags",
            "groups", "groupindex")

_Args = tuple[int, list[int], int, dict[str, int], tuple[str | None, ...]]


class _CodeCache:
    """SRE code by (pattern, flags), loaded from one file on first use and written back at exit if it grew."""

    # past this, a save keeps only what this process used (old versions' patterns go); 200 entries load in 1.5 ms
    MAX_ENTRIES = 500

    def __init__(self) -> None:
        self.entries: dict[tuple[str, int], _Args] | None = None
        self.added = 0
        self.used: set[tuple[str, int]] = set()
        self.off = False

    def path(self) -> Path | None:
        if os.environ.get("DIGEST_REGEX_CACHE", "1") == "0" or sys.implementation.name != "cpython":
            return None
        try:
            import _sre  # type: ignore[import-not-found]
        except ImportError:
            return None
        from ..paths import cache_home

        tag = f"{sys.implementation.cache_tag}-{'.'.join(map(str, sys.version_info[:3]))}-{_sre.MAGIC}"
        return cache_home() / "regex" / f"sre-{tag}.marshal"

    def load(self) -> dict[tuple[str, int], _Args] | None:
        """The entries (read from the file the first time), or None when the cache is off or cannot work here."""
        if self.entries is None and not self.off:
            path = self.path()
            if path is None:
                self.off = True
                return None
            self.entries = {}
            try:
                data = marshal.loads(path.read_bytes())
            except (OSError, EOFError, ValueError, TypeError):
                data = None
            if isinstance(data, dict):
                self.entries = data
            atexit.register(self.save)
        return self.entries

    def save(self) -> None:
        """Write the file if this process compiled something new (atomically; a failure costs nothing)."""
        path = self.path()
        if not self.added or self.entries is None or path is None:
            return
        if len(self.entries) > self.MAX_ENTRIES:
            self.entries = {key: args for key, args in self.entries.items() if key in self.used}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            data = marshal.dumps(self.entries)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".sre-")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                os.replace(tmp, path)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
            self.added = 0
        except (OSError, ValueError):
            pass


_CACHE = _CodeCache()


def _sre_args(pattern: str, flags: int) -> _Args:
    """What ``re._compiler.compile`` hands to ``_sre.compile``, after the pattern itself."""
    from re import _compiler, _parser  # type: ignore[attr-defined]

    parsed = _parser.parse(pattern, flags)
    code = _compiler._code(parsed, flags)
    groupindex = dict(parsed.state.groupdict)
    indexgroup: list[str | None] = [None] * parsed.state.groups
    for name, i in groupindex.items():
        indexgroup[i] = name
    # plain ints: the code holds named int constants and the flags a RegexFlag, which marshal cannot write
    return (int(flags | parsed.state.flags), [int(c) for c in code], parsed.state.groups - 1, groupindex,
            tuple(indexgroup))


def compile_cached(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """``re.compile(pattern, flags)``, from the SRE code cache when it holds the pattern."""
    flags = int(flags)
    entries = _CACHE.load()
    if entries is None:
        return re.compile(pattern, flags)
    key = (pattern, flags)
    _CACHE.used.add(key)
    try:
        import _sre

        args = entries.get(key)
        if args is None:
            args = _sre_args(pattern, flags)
            entries[key] = args
            _CACHE.added += 1
        return cast("re.Pattern[str]", _sre.compile(pattern, *args))
    except Exception:  # noqa: BLE001 - an internal format: whatever goes wrong, Python's compiler still works
        entries.pop(key, None)  # a bad entry is not kept: the next save writes the file without it
        _CACHE.added += 1
        return re.compile(pattern, flags)


class _Lazy:
    def __init__(self, pattern: str, flags: int) -> None:
        self._src = (pattern, flags)
        _ALL.append(self)

    def __getattr__(self, name: str) -> Any:  # only called for attributes not yet set
        if name.startswith("__") or name == "_src":
            raise AttributeError(name)
        compiled = compile_cached(*self._src)
        for n in _METHODS:  # later look-ups are plain instance attributes: no per-call overhead
            setattr(self, n, getattr(compiled, n))
        return getattr(compiled, name)

    def __repr__(self) -> str:
        return f"lazy({self._src[0][:40]!r})"


_ALL: list[_Lazy] = []


def compile_all() -> None:
    """Compile every lazy pattern not compiled yet: before forking workers, so that they inherit the patterns
    (and the parent saves their code) instead of each compiling its own."""
    for pattern in _ALL:
        if "search" not in vars(pattern):
            pattern.search  # noqa: B018 - the look-up compiles


def lazy(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """A pattern that behaves like ``re.compile(pattern, flags)`` but compiles when first used."""
    return cast("re.Pattern[str]", _Lazy(pattern, flags))
