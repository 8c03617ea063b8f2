"""Condense an article into a teaser: clean the text, split sentences, select within a budget.

Public API: ``make_teaser(article, max_chars=300) -> Teaser``, ``explain(article, max_chars=300) -> str``,
``find_duplicates(items) -> [(i, j, score)]``. Kept import-light: the CLI imports this for every run.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..model import Article, Teaser
from .teaser import explain, make_teaser


def find_duplicates(items: Sequence[tuple[str, str]], threshold: float = 0.5) -> list[tuple[int, int, float]]:
    """Index pairs of (title, text) items that tell the same story (TF-IDF cosine >= threshold)."""
    from .duplicates import find_duplicates as _find

    return _find(items, threshold)


__all__ = ["Article", "Teaser", "explain", "find_duplicates", "make_teaser"]
