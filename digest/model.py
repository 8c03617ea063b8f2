"""The data that flows through the pipeline: small dataclasses, no I/O."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, overload

WORDS_PER_MINUTE = 230
_WORD = re.compile(r"\w+(?:[-'’]\w+)*")


@functools.lru_cache(maxsize=64)  # asked more than once of the same article text
def count_words(text: str) -> int:
    return len(_WORD.findall(text))


@dataclass
class Article:
    """One article as read from its source (sources.load) and before condensing.

    ``text`` is the article body only, paragraphs separated by a blank line; ``source`` is the
    SOURCE exactly as the user gave it (path, URL, or ``-``).
    """

    source: str
    title: str
    text: str
    kind: str  # "text" | "html" | "markdown" | "feed"
    url: str | None = None
    image: str | None = None
    image_alt: str | None = None
    description: str | None = None  # publisher's excerpt (meta/og description, feed summary)
    author: str | None = None
    published: str | None = None  # ISO 8601 when known
    lang: str | None = None
    site_name: str | None = None
    teaser_override: str | None = None  # Markdown front matter `teaser:`; always wins
    warnings: list[str] = field(default_factory=list)
    # what the source parser dropped (boilerplate paragraphs, page furniture) and why: for --explain only,
    # never written to the article cache (to_dict leaves it out)
    removed: list[Removed] = field(default_factory=list, repr=False, compare=False)

    @property
    def words(self) -> int:
        return count_words(self.text)

    @property
    def reading_minutes(self) -> int:
        return max(1, math.ceil(self.words / WORDS_PER_MINUTE)) if self.text.strip() else 0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("removed", None)
        d["words"] = self.words
        d["reading_minutes"] = self.reading_minutes
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Article:
        names = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass
class Removed:
    """A span the cleaner dropped: where, what, and the rule that fired (for ``--explain``)."""

    start: int
    end: int
    text: str
    rule: str


@dataclass
class Teaser:
    """The blurb for one article. ``shortened`` is True when a sentence was cut at a clause with an ellipsis."""

    text: str
    sentences: list[str] = field(default_factory=list)
    shortened: bool = False
    method: str = "lead"  # lead | description | centrality | override | ...
    reasons: list[str] = field(default_factory=list)  # why each sentence was picked (for --explain)
    removed: list[Removed] = field(default_factory=list)
    cleaned_text: str = ""


@dataclass
class Recipient:
    """One subscriber from the recipients CSV: ``fields`` are the other columns (merge fields)."""

    email: str
    fields: dict[str, str] = field(default_factory=dict)
    line: int = 0  # line number in the CSV (1 = header)


# --- delivery: what a backend is handed per recipient and what it answers ---------------------------------


@dataclass
class Personal:
    """One recipient's per-message data: token → value (``digest.merge.values``) and own header values."""

    email: str
    values: dict[str, str] = field(default_factory=dict)
    unsubscribe_url: str | None = None  # https one-click URL with the recipient's signed token
    unsubscribe_mailto: str | None = None


@dataclass
class Outcome:
    """What happened to one recipient in a batch. ``permanent`` failures are not retried."""

    email: str
    ok: bool
    message_id: str | None = None
    error: str | None = None
    permanent: bool = False
    unknown: bool = False  # the request left but no answer came (e.g. connection lost after DATA): may be delivered


class AllAccepted(Sequence[Outcome]):
    """Every address of a batch accepted under one message id, in batch order: the usual answer of a batch
    request, as a sequence of ``Outcome`` made only when someone looks at one (a million recipients are a
    thousand of these, not a million objects)."""

    __slots__ = ("emails", "message_id")

    def __init__(self, emails: Sequence[str], message_id: str | None) -> None:
        self.emails = emails
        self.message_id = message_id

    def __len__(self) -> int:
        return len(self.emails)

    @overload
    def __getitem__(self, index: int) -> Outcome: ...

    @overload
    def __getitem__(self, index: slice) -> list[Outcome]: ...

    def __getitem__(self, index: int | slice) -> Outcome | list[Outcome]:
        if isinstance(index, slice):
            return [Outcome(e, True, self.message_id) for e in self.emails[index]]
        return Outcome(self.emails[index], True, self.message_id)
