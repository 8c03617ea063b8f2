"""Duplicate stories: TF-IDF cosine over title + text, pure Python (an issue holds tens of articles)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from .select import _stem, tokens


def _vectors(items: Sequence[tuple[str, str]]) -> list[dict[str, float]]:
    docs = []
    for title, text in items:
        # the title counts twice: it names the story
        docs.append(Counter(_stem(t) for t in tokens(f"{title} {title} {text}")))
    n = len(docs)
    df: Counter[str] = Counter()
    for d in docs:
        df.update(d.keys())
    vecs = []
    for d in docs:
        v = {t: (1 + math.log(c)) * math.log((1 + n) / (1 + df[t]) + 1) for t, c in d.items()}
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        vecs.append({t: x / norm for t, x in v.items()})
    return vecs


def similarity_matrix(items: Sequence[tuple[str, str]]) -> list[list[float]]:
    vecs = _vectors(items)
    return [[_dot(a, b) for b in vecs] for a in vecs]


def _dot(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(x * b.get(t, 0.0) for t, x in a.items())


def find_duplicates(items: Sequence[tuple[str, str]], threshold: float = 0.5) -> list[tuple[int, int, float]]:
    """(i, j, score) for i < j whose cosine similarity is at least ``threshold``, most similar first."""
    vecs = _vectors(items)
    out = []
    for i in range(len(vecs)):
        for j in range(i + 1, len(vecs)):
            s = _dot(vecs[i], vecs[j])
            if s >= threshold and vecs[i] and vecs[j]:
                out.append((i, j, round(s, 3)))
    return sorted(out, key=lambda x: -x[2])
