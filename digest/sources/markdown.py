"""Markdown with optional front matter → Article.

Front matter is a block of ``key: value`` lines between ``---`` lines at the very top (title, url, image, teaser,
description, date, author, lang, site_name). It is parsed without a YAML dependency: one value per key, quotes
stripped, ``#`` comments and list items ignored, indented lines continue the previous value. The body is rendered
with Python-Markdown and turned into plain paragraphs (links keep their text, images and code blocks are dropped,
headings stay as paragraphs). The title comes from the front matter, else from the first ``# heading`` (which then
leaves the body).
"""

from __future__ import annotations

import re

from ..errors import SourceError
from ..model import Article

_FRONT = re.compile(r"\A(?:\ufeff)?---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S)
_KEY = re.compile(r"^([A-Za-z_][\w-]*)\s*:\s*(.*)$")
_ATX_H1 = re.compile(r"^#[ \t]+(.+?)[ \t#]*$", re.M)
_SETEXT_H1 = re.compile(r"^(?!\s*$)([^\n]+)\n=+[ \t]*$", re.M)
ALIASES = {"link": "url", "canonical": "url", "summary": "description", "excerpt": "description",
           "cover": "image", "cover_image": "image", "published": "date", "language": "lang",
           "teaser_override": "teaser", "site": "site_name"}


# YAML double-quoted escapes (YAML 1.2, 5.7): a front-matter value "Line one\r\nLine two" means a line break,
# never the four characters backslash, r, backslash, n.
_ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "t": "\t", "\t": "\t", "n": "\n", "v": "\v", "f": "\f", "r": "\r",
            "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\", "N": "\x85", "_": "\xa0", "L": "\u2028",
            "P": "\u2029"}
_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)", re.S)
_BREAKS = re.compile("[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]+")


def _unescape(inner: str) -> str:
    def one(m: re.Match[str]) -> str:
        code = m.group(1)
        if code[0] in "xuU" and len(code) > 1:
            try:
                return chr(int(code[1:], 16))
            except (ValueError, OverflowError):
                return m.group(0)
        return _ESCAPES.get(code, m.group(0))  # an unknown escape stays as written

    return _ESCAPE.sub(one, inner)


def _unquote(value: str) -> str:
    """A front-matter scalar: double quotes with YAML's escapes, single quotes with ``''``, or plain. Every
    value is one line: line breaks (typed as escapes) become a space."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        inner = value[1:-1]
        text = _unescape(inner) if value[0] == '"' else inner.replace("''", "'")
        return _BREAKS.sub(" ", text).strip()
    return re.sub(r"\s+#.*$", "", value)  # trailing comment on an unquoted value


def parse_front_matter(text: str) -> tuple[dict[str, str], str]:
    """Split ``text`` into (front matter keys → values, body). No front matter: ({}, text)."""
    m = _FRONT.match(text)
    if not m:
        return {}, text
    data: dict[str, str] = {}
    last: str | None = None
    for line in m.group(1).splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        km = _KEY.match(line) if not line[:1].isspace() else None
        if km:
            key = km.group(1).lower().replace("-", "_")
            key = ALIASES.get(key, key)
            value = km.group(2).strip()
            last = key
            if value in ("|", ">", "|-", ">-", "|+", ">+"):
                data[key] = ""
            else:
                data[key] = _unquote(value)
        elif last and line[:1].isspace() and not line.strip().startswith("- "):
            data[last] = (data[last] + " " + line.strip()).strip()
    return {k: v for k, v in data.items() if v}, text[m.end():]


def markdown_to_text(body: str) -> str:
    """Markdown → plain paragraphs separated by blank lines."""
    import markdown as md

    from .html import html_to_text

    rendered = md.markdown(body, extensions=["extra", "sane_lists"], output_format="html")
    rendered = re.sub(r"<pre\b.*?</pre>", "", rendered, flags=re.S | re.I)  # code blocks are not prose
    return html_to_text(rendered)


def parse_markdown(raw: str, source: str) -> Article:
    """Markdown text (already decoded) → Article; raises SourceError when there is no body text."""
    meta, body = parse_front_matter(raw)
    from .html import _key, norm

    title = meta.get("title", "")
    first = min((m for m in (_ATX_H1.search(body), _SETEXT_H1.search(body)) if m),
                key=lambda m: m.start(), default=None)
    # The first level-1 heading is the title (unless the front matter has one); it leaves the body either way
    # when it repeats the title, so the teaser does not start with the headline.
    if first is not None and (not title or _key(first.group(1)) == _key(title)):
        title = title or first.group(1).strip()
        body = body[: first.start()] + body[first.end():]
    text = markdown_to_text(body)
    if not text.strip() and not meta.get("teaser"):
        raise SourceError(source, "no article text in the Markdown file")

    return Article(
        source=source,
        title=norm(re.sub(r"[*_`]+", "", title)),
        text=text,
        kind="markdown",
        url=meta.get("url"),
        image=meta.get("image"),
        image_alt=meta.get("image_alt"),
        description=meta.get("description"),
        author=meta.get("author"),
        published=meta.get("date"),
        lang=meta.get("lang"),
        site_name=meta.get("site_name"),
        teaser_override=meta.get("teaser"),
    )
