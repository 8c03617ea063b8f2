"""``issue.toml``: the editor's file for one issue, and the article cache beside it.

An issue folder holds ``issue.toml`` (written by ``digest new``, appended to by ``digest add``, edited by
hand) and ``.cache/`` with one JSON file per extracted article, so that ``build`` works from any working
directory and never refetches a URL. The file is edited with tomlkit, so the editor's comments, order and
formatting survive every ``add``.

issue.toml holds::

    subject, preheader, intro (Markdown), date, slug (optional; default: the folder's name), publish,
    subject_variants (optional: the subjects an A/B test compares, see ``deliver/abtest.py``)
    [[sections]]  title                                   (optional, in order)
    [[articles]]  source, feed (for a feed entry), section,
                  title / teaser / image / image_alt / url (editor overrides: they always win)

``source`` (and ``feed``) is stored relative to the issue folder for a path (so the newsletter folder can
move, or go into git) and as given for a URL; an absolute path still reads. The article cache is keyed by
the value as written, so a moved folder keeps its cache.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError

from ..errors import ConfigError, DigestError, SourceError
from ..folder import ISSUE_NAME, NOT_ISSUES, IssueFolder
from ..model import Article

OVERRIDES = ("title", "teaser", "image", "image_alt", "url")

_TEMPLATE = '''\
# digest issue file. Edit freely: `digest add` keeps your comments and edits.
# Overrides in an [[articles]] entry (title, teaser, image, image_alt, url) always win over what
# was extracted from the source. Reorder the [[articles]] blocks to reorder the email.

subject = ""
preheader = ""
date = ""
# slug = "my-issue"         # defaults to this folder's name
publish = false            # true: the archive publishes this issue

# The intro is Markdown; raw HTML in it is shown as text.
intro = """
"""

# Optional sections, in order; give an article `section = "Title"` to place it.
# [[sections]]
# title = "Top stories"
'''


@dataclass
class AddResult:
    """What ``add_sources`` did: the titles added, and one SourceError per source that failed."""

    added: list[str] = field(default_factory=list)
    errors: list[SourceError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class Entry:
    """One ``[[articles]]`` entry as written in issue.toml, with its source resolved."""

    index: int
    source: str
    feed: str | None = None
    section: str | None = None
    cache: str | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    written: tuple[str, str | None] | None = None  # (source, feed) as written in issue.toml: the cache key

    @property
    def cache_key(self) -> str:
        if self.cache:
            return self.cache
        source, feed = self.written or (self.source, self.feed)
        return cache_key(source, feed)


@dataclass
class IssueFile:
    """issue.toml parsed into plain values (the build reads this; edits go through tomlkit)."""

    dir: Path
    subject: str
    preheader: str
    intro: str
    date: str
    slug: str
    publish: bool
    sections: list[str]
    entries: list[Entry]
    subject_variants: list[str] = field(default_factory=list)


# --- helpers ---------------------------------------------------------------------------------------


def is_url(source: str) -> bool:
    return source.lower().startswith(("http://", "https://"))


def resolve_source(source: str, base: Path | None = None) -> str:
    """A URL as given; ``-`` as is; a path made absolute (against ``base`` when relative and given)."""
    if is_url(source) or source == "-":
        return source
    path = Path(source).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    return str(path.resolve())


def stored_source(source: str, directory: Path) -> str:
    """How issue.toml stores ``source``: a URL or ``-`` as is, a path relative to the issue folder (``/``)."""
    if is_url(source) or source == "-":
        return source
    path = Path(resolve_source(source))
    try:
        return Path(os.path.relpath(path, Path(directory).resolve())).as_posix()
    except ValueError:  # another drive (Windows): only an absolute path reaches it
        return str(path)


def cache_key(source: str, feed: str | None = None) -> str:
    raw = f"{feed}\n{source}" if feed else source
    return hashlib.sha1(raw.encode("utf-8")).hexdigest()


def find_issue_dirs(root: Path) -> list[Path]:
    """Issue folders (holding issue.toml) at any depth below ``root``, skipping hidden, build and outbox folders."""
    found = []
    for path in sorted(Path(root).rglob(ISSUE_NAME)):
        parts = path.relative_to(root).parts[:-1]
        if not any(p.startswith(".") or p in NOT_ISSUES for p in parts):
            found.append(path.parent)
    return found


def issue_path(directory: IssueFolder | Path | str) -> Path:
    return IssueFolder.of(directory).issue_file


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_LINE_BREAKS = "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # every break str.splitlines knows


def _no_newline(value: str, what: str) -> str:
    found = next((c for c in value if c in _LINE_BREAKS or c == "\x00"), None)
    if found is not None:
        raise DigestError(f"the {what} must be a single line (it holds U+{ord(found):04X}, a line break)",
                          "remove the line break")
    return value.strip()


# --- new --------------------------------------------------------------------------------------------


def new_issue(directory: Path | str, subject: str, preheader: str = "") -> Path:
    """Create ``DIR/issue.toml`` (and DIR). Refuses to overwrite an existing issue file."""
    directory = Path(directory)
    path = issue_path(directory)
    if path.exists():
        raise DigestError(f"{path} already exists", "edit it, or choose another folder")
    if directory.exists() and not directory.is_dir():
        raise DigestError(f"{directory} exists and is not a folder")
    subject = _no_newline(subject, "subject")
    if not subject:
        raise DigestError("the subject is empty", "pass --subject TEXT")
    doc = tomlkit.parse(_TEMPLATE)
    doc["subject"] = subject
    doc["preheader"] = _no_newline(preheader or "", "preheader")
    doc["date"] = _dt.date.today().isoformat()
    directory.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, tomlkit.dumps(doc))
    return path


# --- reading ----------------------------------------------------------------------------------------


def _load_doc(directory: Path) -> tomlkit.TOMLDocument:
    path = issue_path(directory)
    if not path.is_file():
        raise DigestError(f"{path} not found", f"create it with: digest new {directory} --subject TEXT")
    try:
        return tomlkit.parse(path.read_text(encoding="utf-8"))
    except (TOMLKitError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def _str(value: Any, where: str) -> str:
    if value is None:
        return ""
    if isinstance(value, _dt.date | _dt.datetime):
        return value.isoformat()
    if not isinstance(value, str | int | float):
        raise ConfigError(f"{where} must be a string")
    return str(value)


def read_issue(directory: IssueFolder | Path | str) -> IssueFile:
    """Parse ``DIR/issue.toml`` into plain values; bad values raise ConfigError naming the field."""
    directory = Path(directory).resolve()
    doc = _load_doc(directory).unwrap()
    name = issue_path(directory)
    sections: list[str] = []
    for i, sec in enumerate(doc.get("sections", []) or [], start=1):
        if not isinstance(sec, dict) or not _str(sec.get("title"), f"{name}: sections[{i}].title").strip():
            raise ConfigError(f"{name}: [[sections]] number {i} needs a title")
        sections.append(str(sec["title"]).strip())
    entries: list[Entry] = []
    for i, art in enumerate(doc.get("articles", []) or [], start=1):
        where = f"{name}: articles[{i}]"
        if not isinstance(art, dict):
            raise ConfigError(f"{where} must be a table ([[articles]])")
        source = _str(art.get("source"), f"{where}.source").strip()
        if not source:
            raise ConfigError(f"{where} has no source")
        feed = _str(art.get("feed"), f"{where}.feed").strip() or None
        overrides = {k: _str(art[k], f"{where}.{k}") for k in OVERRIDES if art.get(k) not in (None, "")}
        if "image" in overrides and not is_url(overrides["image"]):
            overrides["image"] = resolve_source(overrides["image"], directory)
        entries.append(Entry(
            index=i,
            source=resolve_source(source, directory),
            feed=resolve_source(feed, directory) if feed else None,
            section=_str(art.get("section"), f"{where}.section").strip() or None,
            cache=_str(art.get("cache"), f"{where}.cache").strip() or None,
            overrides=overrides,
            written=(source, feed),
        ))
    publish = doc.get("publish", False)
    if not isinstance(publish, bool):
        raise ConfigError(f"{name}: publish must be true or false")
    variants = doc.get("subject_variants", [])
    if not isinstance(variants, list):
        raise ConfigError(f"{name}: subject_variants must be a list of subjects: [\"...\", \"...\"]")
    subject_variants = [_no_newline(_str(v, f"{name}: subject_variants[{i}]"), f"subject_variants[{i}] in {name}")
                        for i, v in enumerate(variants, start=1)]
    return IssueFile(
        dir=directory,
        subject=_no_newline(_str(doc.get("subject"), f"{name}: subject"), f"subject in {name}"),
        preheader=_str(doc.get("preheader"), f"{name}: preheader").strip(),
        intro=_str(doc.get("intro"), f"{name}: intro"),
        date=_str(doc.get("date"), f"{name}: date").strip(),
        slug=_str(doc.get("slug"), f"{name}: slug").strip() or directory.name,
        publish=publish,
        sections=sections,
        entries=entries,
        subject_variants=subject_variants,
    )


# --- the article cache ------------------------------------------------------------------------------


def cache_file(directory: IssueFolder | Path | str, key: str) -> Path:
    return IssueFolder.of(directory).cache_file(key)


def write_cache(directory: Path, key: str, article: Article) -> Path:
    path = cache_file(directory, key)
    _atomic_write(path, json.dumps(article.to_dict(), ensure_ascii=False, indent=1))
    return path


def read_cache(directory: Path, key: str) -> Article | None:
    path = cache_file(directory, key)
    try:
        return Article.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError):
        return None  # a damaged cache entry is re-extracted, never fatal


def load_entry(directory: IssueFolder | Path, entry: Entry) -> Article:
    """The article for one entry: from the cache, else (re-)extracted and cached.

    A URL that is cached is never refetched; a local file newer than its cache entry is re-read so that
    an edit to the article file shows in the next build. Raises SourceError when it cannot be read.
    """
    from ..sources import load  # imported here: sources may pull heavy extractors

    folder = IssueFolder.of(directory)  # its settings (allow_hosts) read once per build
    directory = folder.path
    key = entry.cache_key
    cached = read_cache(directory, key)
    local = entry.feed or entry.source
    if cached is not None:
        if is_url(local) or local == "-":
            return cached
        try:
            if Path(local).stat().st_mtime <= cache_file(directory, key).stat().st_mtime:
                return cached
        except OSError:
            return cached  # the file went away: the cached copy still builds
    if entry.source == "-" and not entry.feed:
        raise SourceError("-", "standard input was not cached", "add the article again")
    if entry.feed:
        articles = load(entry.feed, allow_hosts=_allow_hosts(folder))
        match = [a for a in articles if a.url == entry.source] or [a for a in articles if a.title == entry.source]
        if match:
            article = match[0]
        elif is_url(entry.source):
            # The entry's link came from the feed (content): no local or private address, unless allowed.
            article = load(entry.source, trusted=False, allow_hosts=_allow_hosts(folder))[0]
        else:
            raise SourceError(entry.feed, f"no entry {entry.source} in the feed any more")
    else:
        found = load(entry.source, allow_hosts=_allow_hosts(folder))
        if not found:
            raise SourceError(entry.source, "holds no article")
        article = found[0]
    write_cache(directory, key, article)
    return article


def _allow_hosts(directory: IssueFolder | Path) -> list[str]:
    """``[fetch] allow_hosts`` of the newsletter holding ``directory`` (a folder not made yet: its parents')."""
    return IssueFolder.of(directory).settings.allow_hosts()


# --- add --------------------------------------------------------------------------------------------


def _load_one(given: str, limit: int | None, **options: Any) -> list[Article]:
    """The articles of one source (``options`` go to ``sources.load``); SourceError names ``given``."""
    from ..sources import load  # imported here: sources may pull heavy extractors

    source = resolve_source(given)
    try:
        found = load(given if source == "-" else source, limit=limit, **options)
    except SourceError as exc:
        raise SourceError(given, exc.message.removeprefix(f"{source}: ").removeprefix(f"{given}: "),
                          exc.hint) from None
    except Exception as exc:  # noqa: BLE001 - one broken source never stops the others
        raise SourceError(given, f"could not be read: {type(exc).__name__}: {exc}") from None
    if not found:
        raise SourceError(given, "holds no article")
    return found


FETCH_THREADS = 4


def add_sources(directory: Path | str, sources: list[str], limit: int | None = None,
                on_added: Callable[[str], None] | None = None,
                on_warning: Callable[[str], None] | None = None) -> AddResult:
    """Append one ``[[articles]]`` entry per article of each source, caching each article.

    Sources are fetched in parallel (a small thread pool); ``on_added`` is called with each title as its
    source lands (so in the order they finish), and issue.toml lists them in the order given. A feed adds its
    newest ``limit`` entries (each stored with its entry URL and ``feed``). A source already in the issue is
    skipped with a warning. A source that fails is reported in ``errors`` and the others are still added;
    the file is written once at the end.
    """
    directory = Path(directory)
    doc = _load_doc(directory)
    result = AddResult()
    if "articles" not in doc:
        doc.add(tomlkit.nl())
        doc.append("articles", tomlkit.aot())
    articles = doc["articles"]
    allow = _allow_hosts(directory)
    present = {(resolve_source(str(a.get("source", "")), directory),
                resolve_source(str(a["feed"]), directory) if a.get("feed") else None)
               for a in articles if isinstance(a, dict)}

    def warn(message: str) -> None:
        result.warnings.append(message)
        if on_warning is not None:
            on_warning(message)

    unique: list[str] = []
    for given in sources:
        resolved = resolve_source(given)
        if given != "-" and (resolved, None) in present:  # a feed may be added again for its new entries
            warn(f"{given}: already in the issue: not added again")
        elif given in unique:
            warn(f"{given}: given twice: added once")
        else:
            unique.append(given)

    outcomes: dict[int, tuple[list[Article], bool] | SourceError] = {}
    if len(unique) > 1:
        from ..sources import import_parsers

        import_parsers()
    with ThreadPoolExecutor(max_workers=min(FETCH_THREADS, max(1, len(unique)))) as pool:
        futures = {pool.submit(_load_one, given, limit, allow_hosts=allow): i for i, given in enumerate(unique)}
        for future in as_completed(futures):
            i = futures[future]
            try:
                found = future.result()
            except SourceError as exc:
                outcomes[i] = exc
                continue
            is_feed = len(found) > 1 or any(a.kind == "feed" for a in found)
            if is_feed and limit:
                found = _newest(found, limit)
            if is_feed:
                feed = resolve_source(unique[i])
                fresh = []
                for article in found:
                    ref = article.url or article.title
                    if (resolve_source(ref, directory), feed) in present:
                        warn(f"{unique[i]}: entry {ref} already in the issue: not added again")
                    else:
                        fresh.append(article)
                found = fresh
            outcomes[i] = (found, is_feed)
            if on_added is not None:
                for article in found:
                    on_added(article.title or unique[i])

    for i, given in enumerate(unique):
        outcome = outcomes[i]
        if isinstance(outcome, SourceError):
            result.errors.append(outcome)
            continue
        source = resolve_source(given)
        stored = stored_source(source, directory)
        found, is_feed = outcome
        for article in found:
            table = tomlkit.table()
            if is_feed and not is_url(article.url or ""):
                # Never stored as a source a later build would read as a file path.
                title = (article.title or "(untitled)")[:80]
                result.errors.append(SourceError(given, f"feed entry {title!r} has no http(s) link "
                                                        f"({(article.url or 'none')[:80]}): skipped"))
                continue
            if is_feed:
                entry_ref = article.url or article.title
                table["source"] = entry_ref
                table["feed"] = stored
                key = cache_key(entry_ref, stored)
            elif source == "-":
                key = hashlib.sha1(f"-\n{article.title}\n{article.text}".encode()).hexdigest()
                table["source"] = "-"
                table["cache"] = key
            else:
                table["source"] = stored
                key = cache_key(stored)
            write_cache(directory, key, article)
            articles.append(table)
            result.added.append(article.title or given)
    if result.added:
        _atomic_write(issue_path(directory), tomlkit.dumps(doc))
    return result


def _newest(articles: list[Article], limit: int) -> list[Article]:
    """The newest ``limit`` entries (by published date when every entry has one, else feed order)."""
    if all(a.published for a in articles):
        return sorted(articles, key=lambda a: a.published or "", reverse=True)[:limit]
    return articles[:limit]
