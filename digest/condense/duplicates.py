"""Duplicate stories, pure Python (an issue holds tens of articles).

Two signals: TF-IDF cosine over title + text (near-identical copies, cosine >= threshold), and for rewrites of
one story by two outlets (same event, different wording) the names and numbers of the story's opening: the two
share at least ``REWRITE_SHARED`` of them, most of the smaller set (overlap >= ``REWRITE_OVERLAP``), and some
wording (cosine >= ``REWRITE_COSINE``). The reported score is the cosine, or for a rewrite the mean of cosine and
name overlap.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from .lazyre import lazy
from .select import _STOP, _stem, tokens

REWRITE_SHARED = 3
REWRITE_OVERLAP = 0.5
REWRITE_COSINE = 0.15
OPENING_CHARS = 1200  # the names of the story are in its headline and first paragraphs
_NAME = lazy(r"(?<![\w.])(?:[A-Z][\w'’-]+(?:\s+(?:of\s+|de\s+|the\s+)?[A-Z][\w'’-]+)*|\d[\d,.]*\d%?|\d%?)")
_POSSESSIVE = lazy(r"['’](?:s|ve|m|d|ll|re)$")
_NOT_NAMES = frozenset(str.split(
    "The A An This That These Those It He She They We I In On At For But And Or So As If When While After Before "
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May June July August "
    "September October November December Mr Mrs Ms Dr Sir Today Yesterday Last Next New More Most One Two"))


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


def story_names(title: str, text: str) -> set[str]:
    """The names and numbers of a story's opening ("Port Ellen", "412", "Caledonian MacBrayne")."""
    found = set()
    for m in _NAME.finditer(f"{title}\n{text[:OPENING_CHARS]}"):
        name = m.group(0)
        words = [_POSSESSIVE.sub("", w) for w in name.split() if w not in _NOT_NAMES]
        words = [w for w in words if w.lower() not in _STOP]
        if words and (len(words) > 1 or len(words[0]) > 2 or words[0].isdigit()):
            found.add(" ".join(words).lower())
    return found


def find_duplicates(items: Sequence[tuple[str, str]], threshold: float = 0.5) -> list[tuple[int, int, float]]:
    """(i, j, score) for i < j that tell the same story, most similar first: a near-identical copy (cosine >=
    ``threshold``) or a rewrite (shared names and numbers of the opening, see the module docstring)."""
    vecs = _vectors(items)
    names = [story_names(title, text) for title, text in items]
    out = []
    for i in range(len(vecs)):
        for j in range(i + 1, len(vecs)):
            if not vecs[i] or not vecs[j]:
                continue
            s = _dot(vecs[i], vecs[j])
            if s >= threshold:
                out.append((i, j, round(s, 3)))
                continue
            shared = len(names[i] & names[j])
            if shared >= REWRITE_SHARED and s >= REWRITE_COSINE:
                overlap = shared / min(len(names[i]), len(names[j]))
                if overlap >= REWRITE_OVERLAP:
                    out.append((i, j, round((s + overlap) / 2, 3)))
    return sorted(out, key=lambda x: -x[2])
