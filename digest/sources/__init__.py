"""Read articles from a SOURCE: a file path, an http(s) URL, or ``-`` for stdin.

``load(source)`` picks the parser by scheme (http/https), ``-`` (stdin), the file extension (.txt/.text, .md/
.markdown, .html/.htm, .xml/.rss/.atom), a URL's Content-Type, then by sniffing the content (a feed root element,
an HTML document, else plain text). A feed gives one Article per entry, newest first. Every failure a user can
cause (missing file, directory, empty, binary, too large, unreachable URL, HTTP error, a page without article
text) raises ``SourceError(source, reason)``; nothing else escapes. Heavy libraries load only when needed.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from ..errors import SourceError
from ..model import Article
from . import detect
from .decoding import FetchError, decode, human_size, looks_binary, max_bytes

__all__ = ["load", "import_parsers", "SourceError"]

log = logging.getLogger(__name__)


def load(source: str, *, limit: int | None = None, max_size: int | None = None, trusted: bool = True,
         allow_hosts: list[str] | None = None) -> list[Article]:
    """The articles in ``source`` (several for a feed: the ``limit`` newest). Raises SourceError.

    ``trusted``: the editor named ``source`` (the default); pass False for a URL that came from content (a feed
    entry's link): it may then be no file and no local or private address (see ``fetch``). ``allow_hosts``:
    ``[fetch] allow_hosts`` (None: read from the digest.toml of the working folder)."""
    cap = max_bytes() if max_size is None else max_size
    lowered = source.lower() if isinstance(source, str) else ""
    if not trusted and not lowered.startswith(("http://", "https://")):
        raise SourceError(source, "not an http(s) URL (a link from content is never read as a file)")
    try:
        return _load(source, limit, cap, trusted, allow_hosts)
    except SourceError:
        raise
    except Exception as exc:  # noqa: BLE001 - a parser bug must still be one line naming the source
        log.debug("reading %s failed", source, exc_info=True)
        raise SourceError(source, f"could not read it ({type(exc).__name__}: {str(exc)[:160]})") from None


def _load(source: str, limit: int | None, cap: int, trusted: bool = True,
          allow_hosts: list[str] | None = None) -> list[Article]:
    if not source or not source.strip():
        raise SourceError(repr(source), "empty SOURCE argument")
    lowered = source.lower()
    if lowered.startswith(("http://", "https://")):
        return _load_url(source, limit, cap, trusted, allow_hosts)
    if source == "-":
        return _parse(_read_stdin(cap), source, None, limit, charset=None)
    if lowered.startswith("file://"):
        from urllib.parse import unquote, urlparse

        path = Path(unquote(urlparse(source).path))
    elif "://" in source[:12]:
        raise SourceError(source, f"unsupported address scheme {source.split('://', 1)[0]!r} (use http or https)")
    else:
        path = Path(source).expanduser()
    raw = _read_file(path, source, cap)
    return _parse(raw, source, detect.by_extension(path.name), limit, charset=None)


def _read_stdin(cap: int) -> bytes:
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        raise SourceError("-", "no standard input to read")
    raw = stream.read(cap + 1)
    if len(raw) > cap:
        raise SourceError("-", f"too large: more than {human_size(cap)} on standard input (limit {human_size(cap)})")
    return raw


def _read_file(path: Path, source: str, cap: int) -> bytes:
    try:
        if not path.exists():
            raise SourceError(source, "no such file")
        if path.is_dir():
            raise SourceError(source, "is a directory, not an article file")
        size = path.stat().st_size
        if size > cap:
            raise SourceError(source, f"too large: {human_size(size)} (limit {human_size(cap)}; "
                                      "set DIGEST_MAX_SOURCE_BYTES to change it)")
        with path.open("rb") as fh:
            raw = fh.read(cap + 1)
    except PermissionError:
        raise SourceError(source, "permission denied") from None
    except OSError as exc:
        raise SourceError(source, f"cannot read it ({exc.strerror or type(exc).__name__})") from None
    if len(raw) > cap:  # grew while we looked, or a special file
        raise SourceError(source, f"too large: more than {human_size(cap)}")
    return raw


def _load_url(url: str, limit: int | None, cap: int, trusted: bool = True,
              allow_hosts: list[str] | None = None) -> list[Article]:
    from .fetch import fetch

    try:
        got = fetch(url, limit=cap, trusted=trusted, allow_hosts=allow_hosts)
    except FetchError as exc:
        raise SourceError(url, str(exc)) from None
    kind = detect.by_content_type(got.content_type)
    if kind == "binary":
        raise SourceError(url, f"not an article page (Content-Type {got.content_type})")
    if kind is None:
        from urllib.parse import urlparse

        kind = detect.by_extension(urlparse(got.url).path)
        if kind == "text" and got.content_type not in ("", "text/plain"):
            kind = None
    return _parse(got.body, url, kind, limit, charset=got.charset, page_url=got.url,
                  content_language=got.content_language)


def _parse(
    raw: bytes,
    source: str,
    kind: str | None,
    limit: int | None,
    *,
    charset: str | None,
    page_url: str | None = None,
    content_language: str | None = None,
) -> list[Article]:
    if not raw.strip():
        raise SourceError(source, "empty (no text at all)")
    if looks_binary(raw):
        raise SourceError(source, "a binary file, not text (NUL or control bytes)")
    kind = kind or detect.sniff(raw)
    if kind == "feed":
        from .feed import parse_feed

        entries = parse_feed(raw, source, limit=limit, base_url=page_url)
        if page_url:
            _follow_short_entries(entries, page_url, max_bytes())
        return _with_lang(entries)
    text, _encoding = decode(raw, charset)
    if "\ufffd" in text and text.count("\ufffd") > max(8, len(text) // 50):
        raise SourceError(source, "not decodable as text (binary or unknown encoding)")
    if not text.strip():
        raise SourceError(source, "empty (no text at all)")
    if kind == "html":
        from .html import parse_html

        article = parse_html(text, source, url=page_url, content_language=content_language)
    elif kind == "markdown":
        from .markdown import parse_markdown

        article = parse_markdown(text, source)
        if page_url and not article.url:
            article.url = page_url
    else:
        article = _parse_text(text, source)
        if page_url and not article.url:
            article.url = page_url
    if not (article.text or "").strip():
        raise SourceError(source, "no article text found (only navigation, markup or boilerplate)",
                          "point at the article itself, or save its text as a .md or .txt file")
    return _with_lang([article])


FOLLOW_MAX = 10  # entry pages fetched per feed at most
_FOLLOWED: dict[str, Article | None] = {}  # entry URL → its page's article (None: could not be used), per process


def short_summary(text: str) -> bool:
    """Under about two sentences: too little for a teaser, so the entry's page is read instead."""
    from ..condense.sentences import split_sentences

    return len(split_sentences(text[:2000])) < 2


def _follow_short_entries(entries: list[Article], feed_url: str, cap: int) -> None:
    """A feed entry whose summary is short takes its text from its page (the same site as the feed only;
    each page fetched once per process, and the entry is cached with its issue). A page that cannot be read
    leaves the summary, with a warning."""
    from urllib.parse import urlparse

    host = urlparse(feed_url).netloc.lower()
    todo = [a for a in entries if a.url and short_summary(a.text or "") and urlparse(a.url).netloc.lower() == host
            and a.url.lower().startswith(("http://", "https://"))][:FOLLOW_MAX]
    for article in todo:
        url = article.url or ""
        if url not in _FOLLOWED:
            _FOLLOWED[url] = _page_article(url, cap)
        page = _FOLLOWED[url]
        if page is None:
            article.warnings.append(f"{url}: the entry's page could not be read; the teaser uses the feed summary")
            continue
        if len(page.text) <= len(article.text or ""):
            continue
        summary = (article.text or "").strip()
        article.text = page.text
        article.description = page.description or article.description or summary or None
        article.lang = article.lang or page.lang
        article.image = article.image or page.image


def _page_article(url: str, cap: int) -> Article | None:
    from .fetch import fetch
    from .html import parse_html

    try:
        got = fetch(url, limit=cap)
        if detect.by_content_type(got.content_type) not in ("html", None):
            return None
        text, _ = decode(got.body, got.charset)
        return parse_html(text, url, url=got.url, content_language=got.content_language)
    except (FetchError, SourceError):
        return None
    except Exception:  # noqa: BLE001 - a page that breaks the parser leaves the summary
        log.debug("following %s failed", url, exc_info=True)
        return None


def import_parsers() -> None:
    """Import every parser now, on the calling thread, before threads call ``load``: the parsers import their
    modules lazily, and two threads that import one package for the first time at once can each be handed it
    half-initialised (CPython breaks the lock cycle that way): "cannot import name 'n_words' from partially
    initialized module"."""
    import importlib

    for name in ("digest.condense", "digest.sources.text", "digest.sources.html", "digest.sources.markdown",
                 "digest.sources.feed", "digest.sources.fetch"):
        importlib.import_module(name)


def _with_lang(articles: list[Article]) -> list[Article]:
    """Articles whose source declares no language get a guess from their text (None when unsure); a declared
    language that the text clearly contradicts (a German article on a page marked ``lang="en"``, a template's
    default) gives way to the guess, so the sentence splitter uses the right abbreviations."""
    for article in articles:
        if article.text:
            from ..condense.lang import guess_lang

            guess = article.lang if article.kind == "text" else guess_lang(article.text)  # text: guessed already
            if not article.lang or guess and guess != article.lang.split("-")[0].lower():
                article.lang = guess or article.lang
    return articles


def _parse_text(text: str, source: str) -> Article:
    from .text import parse_text

    article = parse_text(text, source)
    article.source = source
    return article
