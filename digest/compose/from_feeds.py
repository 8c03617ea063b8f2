"""Draft an issue from the feeds listed in digest.toml (``digest new DIR --subject S --from-feeds``).

The draft takes the entries published since the previous issue and skips every entry already used in an
earlier issue: a newsletter-wide seen list (``.digest-seen.json`` beside digest.toml, like rss2email's) plus
the entries written in the other issue folders. Entries are grouped by the feed's ``section``. A feed that
fails to load is named in a warning; the others still come in. The editor then edits issue.toml.

digest.toml::

    [[feeds]]
    url = "https://example.com/feed.xml"
    section = "From the blog"   # optional
    limit = 5                   # optional: at most this many new entries from this feed
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit

from ..config import Settings
from ..errors import ConfigError, DigestError, SourceError
from ..folder import IssueFolder
from ..model import Article
from . import issue_file as ifile

SEEN_NAME = ".digest-seen.json"
DEFAULT_LIMIT = 10


@dataclass
class FeedDraft:
    path: Path
    added: list[str] = field(default_factory=list)
    skipped_seen: int = 0
    skipped_old: int = 0
    warnings: list[str] = field(default_factory=list)


def _home(settings: Settings, directory: Path) -> Path:
    """The newsletter's folder: where digest.toml is, else the issue folder's parent."""
    return settings.root or directory.resolve().parent


def seen_path(settings: Settings, directory: Path) -> Path:
    return _home(settings, directory) / SEEN_NAME


def _read_seen(path: Path) -> set[str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return set()
    except (OSError, ValueError) as exc:
        raise DigestError(f"{path}: the seen list cannot be read ({exc})", "fix or delete it") from None
    return {str(x) for x in data.get("seen", [])} if isinstance(data, dict) else set()


def _write_seen(path: Path, seen: set[str]) -> None:
    ifile._atomic_write(path, json.dumps({"seen": sorted(seen)}, indent=1) + "\n")


def _earlier_issues(home: Path, directory: Path) -> list[ifile.IssueFile]:
    """Every other issue folder below the newsletter's folder."""
    out = []
    me = directory.resolve()
    for folder in ifile.find_issue_dirs(home):
        if folder.resolve() == me:
            continue
        try:
            out.append(ifile.read_issue(folder))
        except DigestError:
            continue  # an unreadable issue file elsewhere does not block a new draft
    return out


def _entry_key(article: Article) -> str:
    return article.url or f"{article.source}#{article.title}"


def _feed_list(settings: Settings) -> list[dict[str, Any]]:
    feeds = settings.feeds
    where = settings.path or "digest.toml"
    if not feeds:
        raise ConfigError(f"{where}: no [[feeds]] to draft from", 'add [[feeds]] with url = "https://..."')
    for i, feed in enumerate(feeds, start=1):
        if not isinstance(feed, dict) or not str(feed.get("url", "")).strip():
            raise ConfigError(f"{where}: [[feeds]] number {i} needs a url")
        limit = feed.get("limit", DEFAULT_LIMIT)
        if not isinstance(limit, int) or limit < 1:
            raise ConfigError(f"{where}: [[feeds]] number {i}: limit must be a whole number ≥ 1")
    return feeds


def draft_from_feeds(directory: Path | str, subject: str, preheader: str = "") -> FeedDraft:
    """Create DIR/issue.toml holding the feeds' new entries, grouped by section."""
    from ..sources import load

    directory = Path(directory)
    settings = IssueFolder(directory).settings  # digest.toml of the folder-to-be or its nearest parent
    feeds = _feed_list(settings)
    home = _home(settings, directory)
    earlier = _earlier_issues(home, directory)
    used = {e.source for issue in earlier for e in issue.entries}
    seen_file = seen_path(settings, directory)
    seen = _read_seen(seen_file) | used
    since = max((i.date for i in earlier if i.date), default="")

    picked: list[tuple[str | None, str, Article]] = []  # (section, feed url, article)
    warnings: list[str] = []
    skipped_seen = skipped_old = 0
    for feed in feeds:
        url = str(feed["url"]).strip()
        try:
            entries = load(url, allow_hosts=settings.allow_hosts())
        except SourceError as exc:
            warnings.append(f"feed not loaded: {exc.message}")
            continue
        except Exception as exc:  # noqa: BLE001 - one broken feed never stops the others
            warnings.append(f"feed not loaded: {url}: {type(exc).__name__}: {exc}")
            continue
        taken = 0
        for article in entries:
            if taken >= feed.get("limit", DEFAULT_LIMIT):
                break
            if not ifile.is_url(article.url or ""):
                warnings.append(f"{url}: entry {(article.title or '(untitled)')[:80]!r} has no http(s) link "
                                f"({(article.url or 'none')[:80]}): skipped")
                continue
            key = _entry_key(article)
            if key in seen:
                skipped_seen += 1
                continue
            if since and article.published and article.published[:10] < since[:10]:
                skipped_old += 1
                continue
            seen.add(key)
            picked.append((feed.get("section"), url, article))
            taken += 1

    path = ifile.new_issue(directory, subject, preheader)
    result = FeedDraft(path, warnings=warnings, skipped_seen=skipped_seen, skipped_old=skipped_old)
    doc = ifile._load_doc(directory)
    sections = [s for s in dict.fromkeys(sec for sec, _, _ in picked if sec)]
    if sections:
        aot = tomlkit.aot()
        for title in sections:
            aot.append(tomlkit.table().add("title", title))  # type: ignore[arg-type]
        doc.append("sections", aot)
    articles = tomlkit.aot()
    for section in [*sections, None]:  # grouped by section, in the feeds' order; unsectioned last
        for sec, feed_url, article in picked:
            if sec != section:
                continue
            table = tomlkit.table()
            ref = article.url or article.title
            table["source"] = ref
            table["feed"] = feed_url
            if sec:
                table["section"] = sec
            ifile.write_cache(directory, ifile.cache_key(ref, feed_url), article)
            articles.append(table)
            result.added.append(article.title or ref)
    if len(articles):
        doc.append("articles", articles)
    ifile._atomic_write(path, tomlkit.dumps(doc))
    _write_seen(seen_file, {k for k in seen})
    return result
