"""The SRE code cache behind ``lazy`` and ``compile_cached``: same patterns as ``re.compile``, read back by the
next process, and never a failure when the file is missing, corrupt, foreign or switched off."""

from __future__ import annotations

import marshal
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from digest.condense import lazyre

# Patterns with the parts whose compiled form is least trivial: named groups, back-references, look-arounds,
# case-folding, verbose mode, a class with a non-Latin-1 character, CJK ranges (a 64K-entry table), emoji.
PATTERNS: list[tuple[str, int]] = [
    (r"(?P<label>[\w&'’-]+(?:\s[\w&'’-]+){0,3}?)\s(?P<day>\d{1,2})\.", 0),
    (r"\b(\w+)\s+\1\b", re.I),
    (r"(?<![\w.])(?:Mr|Mrs|Dr)\.?\s[A-Z][\w'’-]+(?=\s(?:said|says)\b)", 0),
    (r"^(?:advertisement|sponsored(?: content)?|read more)[\s.:!]*$", re.I | re.M),
    (r"""
        (?P<num> \d+ (?:[.,]\d+)? )   # a number
        \s* (?P<unit> %|km|kg )       # and its unit
     """, re.X),
    (r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]+", 0),
    (r"[.!?…]+[\"'”’»)\]]*(?:[ \t]*[\u2600-\u27bf\U0001f300-\U0001faff]+)?\s+", 0),
    (r"straße|STRASSE", re.I),
]
SAMPLES = [
    "Berlin 29. November: the the council met. Mr. O’Brien said it was over.",
    "ADVERTISEMENT\nRead more:\nThe growth was 12,5 % and 30 km. 東京で会議が開かれた。",
    "Summer is here! 🌞 The council voted. Die Straße ist zu, die STRASSE auch.",
]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh cache object writing under tmp_path; returns the file it uses."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("DIGEST_REGEX_CACHE", raising=False)
    monkeypatch.setattr(lazyre, "_CACHE", lazyre._CodeCache())
    path = lazyre._CACHE.path()
    if path is None:
        pytest.skip("the SRE code cache works on CPython only")
    return path


def _same(got: re.Pattern[str], want: re.Pattern[str]) -> None:
    assert (got.pattern, got.flags, got.groups, got.groupindex) == (want.pattern, want.flags, want.groups,
                                                                     want.groupindex)
    for text in SAMPLES:
        assert [m.span() for m in got.finditer(text)] == [m.span() for m in want.finditer(text)]
        assert [m.groupdict() for m in got.finditer(text)] == [m.groupdict() for m in want.finditer(text)]
        assert got.sub("<\\g<0>>", text) == want.sub("<\\g<0>>", text)


def _fresh_process_cache(monkeypatch: pytest.MonkeyPatch) -> lazyre._CodeCache:
    """What the next process starts with: nothing in memory, the file on disk."""
    fresh = lazyre._CodeCache()
    monkeypatch.setattr(lazyre, "_CACHE", fresh)
    return fresh


def test_cached_patterns_match_like_re_compile_cold_and_warm(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for pattern, flags in PATTERNS:
        _same(lazyre.compile_cached(pattern, flags), re.compile(pattern, flags))
    lazyre._CACHE.save()
    assert cache.is_file()

    _fresh_process_cache(monkeypatch)

    def no_compiling(*_: object) -> None:
        raise AssertionError("the pattern was compiled again instead of read from the cache")

    monkeypatch.setattr(lazyre, "_sre_args", no_compiling)
    for pattern, flags in PATTERNS:
        _same(lazyre.compile_cached(pattern, flags), re.compile(pattern, flags))


def test_lazy_patterns_go_through_the_cache(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pattern = lazyre.lazy(r"(?P<who>[A-Z]\w+) (?:said|says)", re.I)
    assert pattern.search("then ALDEN said so").group("who") == "ALDEN"
    lazyre._CACHE.save()
    entries = marshal.loads(cache.read_bytes())
    assert (r"(?P<who>[A-Z]\w+) (?:said|says)", int(re.I)) in entries


def test_a_corrupt_file_costs_nothing_and_is_replaced(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache.parent.mkdir(parents=True)
    cache.write_bytes(b"\x00not marshal at all")
    pattern, flags = PATTERNS[0]
    _same(lazyre.compile_cached(pattern, flags), re.compile(pattern, flags))
    lazyre._CACHE.save()
    assert (pattern, flags) in marshal.loads(cache.read_bytes())


def test_a_bad_entry_falls_back_to_re_compile_and_is_dropped(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pattern, flags = PATTERNS[1]
    other = lazyre._sre_args(r"(a)", 0)
    bogus = (other[0], [999, 1, 2, 3], other[2], other[3], other[4])  # code _sre refuses to run
    cache.parent.mkdir(parents=True)
    cache.write_bytes(marshal.dumps({(pattern, int(flags)): bogus}))

    _same(lazyre.compile_cached(pattern, flags), re.compile(pattern, flags))
    lazyre._CACHE.save()
    assert (pattern, int(flags)) not in marshal.loads(cache.read_bytes())


def test_switched_off_it_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("DIGEST_REGEX_CACHE", "0")
    monkeypatch.setattr(lazyre, "_CACHE", lazyre._CodeCache())
    pattern, flags = PATTERNS[2]
    _same(lazyre.compile_cached(pattern, flags), re.compile(pattern, flags))
    lazyre._CACHE.save()
    assert not any(tmp_path.rglob("*"))


def test_a_grown_file_keeps_only_what_was_used(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = {(f"old pattern {i}", 0): lazyre._sre_args(f"old pattern {i}", 0) for i in range(5)}
    cache.parent.mkdir(parents=True)
    cache.write_bytes(marshal.dumps(old))
    fresh = _fresh_process_cache(monkeypatch)
    fresh.MAX_ENTRIES = 3
    lazyre.compile_cached("old pattern 1")
    lazyre.compile_cached("a new one")
    fresh.save()
    assert set(marshal.loads(cache.read_bytes())) == {("old pattern 1", 0), ("a new one", 0)}


def test_compile_all_leaves_no_pattern_to_compile_in_a_worker() -> None:
    lazyre.compile_all()
    assert all("search" in vars(p) for p in lazyre._ALL)


def test_a_teaser_process_writes_the_cache_and_the_next_one_reads_it(tmp_path: Path) -> None:
    article = tmp_path / "a.txt"
    article.write_text("Residents of Millbrook voted on Tuesday to keep the town's only library open, reversing a "
                       "decision made in March. The vote was 212 to 40.\n", encoding="utf-8")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("DIGEST_REGEX_CACHE", None)
    run = [sys.executable, "-m", "digest", "teaser", "--json", str(article)]
    first = subprocess.run(run, env=env, capture_output=True, text=True, check=True)
    files = list((tmp_path / "cache").rglob("sre-*.marshal"))
    assert len(files) == 1
    written = files[0].stat().st_mtime_ns, files[0].read_bytes()
    entries = marshal.loads(written[1])
    assert len(entries) >= 10  # the cleaning rules this article needed

    second = subprocess.run(run, env=env, capture_output=True, text=True, check=True)
    assert second.stdout == first.stdout
    assert (files[0].stat().st_mtime_ns, files[0].read_bytes()) == written  # nothing new: not rewritten
    off = subprocess.run(run, env={**env, "DIGEST_REGEX_CACHE": "0"}, capture_output=True, text=True, check=True)
    assert off.stdout == first.stdout
