"""Teasers for many sources: read (sources) → condense, in order, spread over worker processes when it pays.

``teasers(sources, max_chars)`` yields one ``Result`` per article (or per source that failed), in the order of
``sources``, whatever the worker that made it. Reading and condensing are CPU-bound pure Python, so threads
would not help; from ``MIN_PARALLEL`` sources on, with more than one CPU, the work goes to forked workers.
The first source is done in the parent before the fork, so the workers inherit its compiled patterns and warm
caches instead of each paying for them again. Standard input (``-``) is always read in the parent.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .model import Article, Teaser

MIN_PARALLEL = 8  # below this the fork and the pipes cost about what the second core gives back (measured)
MAX_JOBS = 8


@dataclass
class Result:
    """One article's teaser, or why a source (``article`` None) or an article could not be condensed."""

    source: str
    article: Article | None = None
    teaser: Teaser | None = None
    error: str = ""


def _one(args: tuple[str, int]) -> list[Result]:
    """Every article of one source with its teaser; a failure is a Result with ``error``, never an exception."""
    from .condense import make_teaser
    from .errors import SourceError
    from .sources import load

    source, max_chars = args
    try:
        articles = load(source)
    except SourceError as exc:
        return [Result(source, error=exc.message)]
    out: list[Result] = []
    for article in articles:
        try:
            out.append(Result(source, article, make_teaser(article, max_chars=max_chars)))
        except Exception as exc:  # noqa: BLE001 - one bad article never stops the others
            out.append(Result(source, article, error=f"{source}: could not condense: {exc}"))
    return out


def _quiet_interrupt() -> None:
    """Workers leave Ctrl-C to the parent, which stops the pool: one clean message, no traceback per worker."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def default_jobs() -> int:
    """The CPUs this process may run on (its affinity, not the machine's count), at most ``MAX_JOBS``."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    return max(1, min(MAX_JOBS, n))


def teasers(sources: Iterable[str], max_chars: int = 300, jobs: int | None = None) -> Iterator[Result]:
    """Results for ``sources`` in their order; ``jobs`` worker processes (None: one per CPU; 1: none)."""
    todo = list(sources)
    jobs = default_jobs() if jobs is None else max(1, jobs)
    fork = "fork" in multiprocessing.get_all_start_methods()
    if jobs == 1 or len(todo) < MIN_PARALLEL or not fork or "-" in todo:
        for source in todo:
            yield from _one((source, max_chars))
        return
    yield from _one((todo[0], max_chars))  # warms the parent: the workers inherit it
    from .condense.lazyre import compile_all

    compile_all()  # and every pattern, which the first source may not have needed (from the cache: ~1 ms)
    rest = todo[1:]
    ctx = multiprocessing.get_context("fork")
    chunk = max(1, len(rest) // (jobs * 4))
    with ctx.Pool(min(jobs, len(rest)), initializer=_quiet_interrupt) as pool:
        for results in pool.imap(_one, [(s, max_chars) for s in rest], chunksize=chunk):
            yield from results
