"""RSS / Atom / RDF feeds → one Article per entry (feedparser), newest first.

Each entry gives its link (``url``), title, and text from its full content when present, else its summary; HTML
is turned into paragraphs by ``html.html_to_text``. The summary also becomes the article's description when it
is shorter than the content. ``source`` is the feed's SOURCE as given, ``kind`` is ``"feed"``.
"""

from __future__ import annotations

import calendar
import time
from typing import Any

from ..errors import SourceError
from ..model import Article
from .html import html_to_text, norm


def _to_text(value: str | None, content_type: str | None) -> str:
    if not value:
        return ""
    if content_type and "html" not in content_type and "<" not in value:
        return "\n\n".join(p for p in (norm(x) for x in value.split("\n\n")) if p)
    return html_to_text(value)


def _when(entry: Any) -> tuple[float | None, str | None]:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(key)
        if parsed:
            stamp = calendar.timegm(parsed)
            return stamp, time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(stamp))
    return None, None


def _image(entry: Any) -> str | None:
    for key in ("media_thumbnail", "media_content"):
        for item in entry.get(key) or []:
            url = item.get("url")
            medium = item.get("medium") or item.get("type") or "image"
            if url and "image" in medium:
                return url
    for link in entry.get("links") or []:
        if link.get("rel") == "enclosure" and str(link.get("type", "")).startswith("image/"):
            return link.get("href")
    image = entry.get("image")
    return image.get("href") if isinstance(image, dict) else None


def parse_feed(
    raw: bytes | str, source: str, *, limit: int | None = None, base_url: str | None = None
) -> list[Article]:
    """Parse a feed document; the ``limit`` newest entries (all when None). Raises SourceError when not a feed."""
    import feedparser

    parsed = feedparser.parse(raw, response_headers={"content-location": base_url} if base_url else None)
    entries = list(parsed.entries)
    version = parsed.get("version") or ""
    if not entries:
        if not version:
            reason = str(parsed.get("bozo_exception") or "no RSS/Atom root").splitlines()[0][:120]
            raise SourceError(source, f"not a valid RSS/Atom feed ({reason})")
        raise SourceError(source, "the feed has no entries")
    feed = parsed.feed
    lang = norm(feed.get("language")) or None
    site = norm(feed.get("title")) or None

    dated = []
    for order, entry in enumerate(entries):
        stamp, iso = _when(entry)
        dated.append((stamp, order, iso, entry))
    # Newest first; entries without a date keep their feed order after the dated ones.
    dated.sort(key=lambda t: (t[0] is None, -(t[0] or 0), t[1]))
    if limit is not None:
        dated = dated[: max(0, limit)]

    articles: list[Article] = []
    for _, _, iso, entry in dated:
        content = ""
        for c in entry.get("content") or []:
            text = _to_text(c.get("value"), c.get("type"))
            if len(text) > len(content):
                content = text
        detail = entry.get("summary_detail") or {}
        summary = _to_text(entry.get("summary"), detail.get("type"))
        text = content if len(content) >= len(summary) else summary
        title = norm(html_to_text(entry.get("title", ""))) if "<" in entry.get("title", "") else norm(
            entry.get("title"))
        if not text and not title:
            continue
        articles.append(Article(
            source=source,
            title=title or text.split("\n\n")[0][:80],
            text=text or title,
            kind="feed",
            url=entry.get("link") or None,
            image=_image(entry),
            description=(summary if summary and summary != text else None),
            author=norm(entry.get("author")) or None,
            published=iso,
            lang=norm(entry.get("language")) or lang,
            site_name=site,
        ))
    if not articles:
        raise SourceError(source, "the feed's entries hold no title or text")
    return articles
