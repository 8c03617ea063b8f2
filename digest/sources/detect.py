"""Which parser a source needs: by extension, by HTTP Content-Type, then by sniffing the first bytes."""

from __future__ import annotations

import re

EXTENSIONS = {
    ".txt": "text", ".text": "text",
    ".md": "markdown", ".markdown": "markdown", ".mdown": "markdown", ".mkd": "markdown",
    ".html": "html", ".htm": "html", ".xhtml": "html",
    ".xml": "feed", ".rss": "feed", ".atom": "feed", ".rdf": "feed",
}

_FEED_ROOT = re.compile(rb"<(?:rss|feed|rdf:RDF|RDF)\b", re.I)
_HTML_START = re.compile(rb"<(?:!doctype\s+html|html|head|body|meta|title|article)\b", re.I)
# An HTML fragment (no <html>/<body>): a page part served without a type, e.g. only a menu and a footer.
_HTML_FRAGMENT = re.compile(rb"<(?:div|p|nav|section|main|header|footer|aside|ul|ol|table|h[1-6]|a|span|form|"
                            rb"script|style|link|img|figure|blockquote)\b[^>]*>", re.I)
_MD_HINT = re.compile(rb"\A(?:\xef\xbb\xbf)?---[ \t]*\r?\n.*?\n(?:---|\.\.\.)[ \t]*\r?\n", re.S)


def by_extension(name: str) -> str | None:
    """``"page.HTML"`` → ``"html"``; None when the extension says nothing."""
    dot = name.rfind(".")
    slash = max(name.rfind("/"), name.rfind("\\"))
    if dot <= slash + 1:
        return None
    return EXTENSIONS.get(name[dot:].lower())


def by_content_type(media: str) -> str | None:
    """An HTTP media type → a kind, ``"binary"`` for types that are never articles, None when unsure."""
    media = media.lower()
    if media in ("text/html", "application/xhtml+xml"):
        return "html"
    if media in ("application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/feed+json"):
        return "feed"
    if media in ("text/markdown", "text/x-markdown"):
        return "markdown"
    if media.startswith(("image/", "audio/", "video/", "font/")) or media in (
            "application/pdf", "application/zip", "application/octet-stream", "application/gzip"):
        return "binary"
    return None


def sniff(raw: bytes) -> str:
    """Guess from the content: a feed root element, an HTML document, Markdown front matter, else text."""
    head = raw[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        # The first element that is not a declaration, comment or processing instruction decides.
        body = re.sub(rb"<\?.*?\?>|<!--.*?-->|<!(?!doctype\s+html)[^>]*>", b"", head, flags=re.S | re.I).lstrip()
        if _FEED_ROOT.match(body):
            return "feed"
        if _HTML_START.match(body) or _HTML_START.search(head[:1024]) or _HTML_FRAGMENT.match(body):
            return "html"
    if _MD_HINT.match(raw[:4096]):
        return "markdown"
    if re.search(rb"<(?:!doctype\s+html|html)\b", head[:1024], re.I):
        return "html"
    return "text"
