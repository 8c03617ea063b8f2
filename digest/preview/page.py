"""Pure helpers behind the preview: request paths, colour schemes, merge fields, error locations.

Nothing here touches the network or the disk; the server (``server.py``) and the screenshot tool
(``screenshot.py``) call these with strings and data they read themselves.
"""

from __future__ import annotations

import html
import re
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from .. import merge

# --- request paths --------------------------------------------------------------------------------

_MAX_DECODES = 4


def clean_path(target: str) -> str | None:
    """A request target (``/a/b?x``) as a relative POSIX path, or None when it must be answered 404.

    Refused: any ``..`` or ``.`` segment, backslashes and NUL bytes, hidden names (``.cache``, ``.git``),
    also when they only show after decoding the path several times (``%2e%2e%2f``, ``%252e%252e``),
    because some other layer (a proxy, a browser, a later join) might decode once more. Empty segments
    (``//``) are dropped, so the result never starts with ``/`` and always stays below the served root.
    """
    path = target.split("#", 1)[0].split("?", 1)[0]
    stage = path
    for _ in range(_MAX_DECODES):
        if "\\" in stage or "\x00" in stage:
            return None
        if any(seg in ("..", ".") or seg.startswith(".") for seg in stage.split("/")):
            return None
        decoded = unquote(stage)
        if decoded == stage:
            break
        stage = decoded
    else:
        return None  # still changing after several decodes: nobody needs that
    once = unquote(path)
    return "/".join(seg for seg in once.split("/") if seg)


# --- light and dark -------------------------------------------------------------------------------

_STYLE = re.compile(r"(<style\b[^>]*>)(.*?)(</style\s*>)", re.I | re.S)
_MEDIA_ATTR = re.compile(r"""(\smedia\s*=\s*)("[^"]*"|'[^']*')""", re.I)
_AT_MEDIA = re.compile(r"@media\b[^{;]*", re.I)
_FEATURE = re.compile(r"\(\s*prefers-color-scheme\s*:\s*(dark|light)\s*\)", re.I)
_HEAD_OPEN = re.compile(r"<head\b[^>]*>", re.I)
_DECLARES_DARK = re.compile(r"color-scheme[\"']?\s*(?:content\s*=\s*[\"'][^\"']*|:[^;}\"']*)\bdark\b", re.I)

ALWAYS = "(min-width: 0px)"
NEVER = "(max-width: 0px)"


def _fix_features(text: str, scheme: str) -> str:
    def repl(m: re.Match[str]) -> str:
        return ALWAYS if m.group(1).lower() == scheme else NEVER

    return _FEATURE.sub(repl, text)


def force_scheme(doc: str, scheme: str) -> str:
    """The email as a reader whose system is set to ``scheme`` ("light" or "dark") would see it.

    A browser frame cannot be told to prefer dark, so the theme's own ``@media (prefers-color-scheme: …)``
    rules are rewritten: the chosen scheme's feature becomes always true, the other always false. Only
    ``<style>`` blocks and ``media="…"`` attributes (``<picture><source media>``, ``<link media>``) are
    touched, never the text of the articles. An email that declares ``color-scheme: light dark`` also gets
    its canvas and form controls in that scheme, as in a mail app that honours the declaration.
    """
    if scheme not in ("light", "dark"):
        raise ValueError(f"scheme must be light or dark, not {scheme!r}")

    def style(m: re.Match[str]) -> str:
        body = _AT_MEDIA.sub(lambda q: _fix_features(q.group(0), scheme), m.group(2))
        return m.group(1) + body + m.group(3)

    out = _STYLE.sub(style, doc)
    out = _MEDIA_ATTR.sub(lambda m: m.group(1) + _fix_features(m.group(2), scheme), out)
    used = scheme if (scheme == "light" or _DECLARES_DARK.search(doc)) else "light"
    return inject_head(out, f'<style data-digest-preview="scheme">:root{{color-scheme:{used} !important}}</style>')


def inject_head(doc: str, snippet: str) -> str:
    """``snippet`` right after ``<head>`` (or at the very start when the document has none)."""
    m = _HEAD_OPEN.search(doc)
    if m:
        return doc[: m.end()] + snippet + doc[m.end():]
    return snippet + doc


def text_page(text: str, scheme: str) -> str:
    """The plain-text part as a small HTML page, wrapped like a mail app shows it, in ``scheme``."""
    fg, bg = ("#e8e8e8", "#1e1e1e") if scheme == "dark" else ("#1a1a1a", "#ffffff")
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<style>:root{{color-scheme:{scheme}}}body{{margin:0;padding:16px;background:{bg};color:{fg}}}"
        "pre{margin:0;font:14px/1.5 ui-monospace,Menlo,Consolas,monospace;white-space:pre-wrap;"
        "overflow-wrap:anywhere}</style></head>"
        f"<body><pre id='text'>{html.escape(text)}</pre></body></html>"
    )


def local_images(doc: str, images_base_url: str, available: set[str]) -> str:
    """Image URLs under ``images_base_url`` that the build copied into build/images/ → ``/images/NAME``.

    The email points at where the images *will* be published; the preview shows the copies the build
    made, so a new issue looks right before anything is uploaded. Other URLs are left alone.
    """
    base = images_base_url.strip().rstrip("/")
    if not base or not available:
        return doc
    pattern = re.compile(re.escape(base) + r"/([A-Za-z0-9._-]+)")

    def repl(m: re.Match[str]) -> str:
        return f"/images/{m.group(1)}" if m.group(1) in available else m.group(0)

    return pattern.sub(repl, doc)


# --- merge fields ---------------------------------------------------------------------------------

EXAMPLE_FIELDS: dict[str, str] = {
    "email": "reader@example.com",
    "first_name": "Alex",
    "last_name": "Example",
    "name": "Alex Example",
}


@dataclass
class Reader:
    """One choice in the recipient selector: a label and the merge fields to fill in."""

    label: str
    email: str
    fields: dict[str, str] = field(default_factory=dict)


def example_readers(defaults: Mapping[str, str]) -> list[Reader]:
    """Without ``--recipients``: an example reader, and one with every field empty (shows the defaults)."""
    empty = {k: "" for k in (set(EXAMPLE_FIELDS) | set(defaults)) if k != "email"}
    return [
        Reader("Example reader", EXAMPLE_FIELDS["email"], {k: v for k, v in EXAMPLE_FIELDS.items() if k != "email"}),
        Reader("Empty fields (defaults)", "someone@example.com", empty),
    ]


def fill(text: str, values: Mapping[str, str], key: str | None = None) -> str:
    """``text`` with every merge token (of build ``key`` when given, as a send does) replaced from
    ``values``; a token without a value shows ``[name]``."""
    used = merge.fields_in(text, key)
    if not used:
        return text
    visible = merge.values({name: f"[{name}]" for name in used}, {}, wanted=used, key=key or "")
    return merge.substitute(text, values, visible, key=key)


def reader_values(draft: Any, reader: Reader) -> dict[str, str]:
    """Token → value for ``reader``, computed exactly as a send does (``compose.message.token_values``).

    The unsubscribe link is the configured URL with an example token (the real one is signed per
    recipient at send time), else the mailto link.
    """
    from ..compose.message import sample_unsubscribe_url, token_values
    from ..model import Personal

    fields = {"email": reader.email, **reader.fields}
    personal = Personal(email=reader.email, values=merge.values(fields, draft.merge_defaults,
                                                                key=getattr(draft, "merge_key", "")),
                        unsubscribe_url=sample_unsubscribe_url(draft, reader.email),
                        unsubscribe_mailto=draft.unsubscribe_mailto or None)
    return token_values(draft, personal)


# --- build errors ---------------------------------------------------------------------------------

_TEMPLATE_EXT = (".html", ".txt", ".j2", ".jinja", ".css", ".toml")
_FILE_LINE = re.compile(
    r"(?P<file>(?:[A-Za-z]:)?[^\s:'\"]+\.(?:toml|html|txt|md|markdown|css|csv|xml|j2|jinja))"
    r"(?:[:, ]+(?:line\s+)?(?P<line>\d+))?",
    re.I,
)
_LINE = re.compile(r"\bline\s+(\d+)", re.I)


def error_info(exc: BaseException) -> dict[str, Any]:
    """A build failure as {message, file, line} for the page: the file and line the editor must fix."""
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    file: str | None = None
    line: int | None = None
    lineno = getattr(exc, "lineno", None)
    if isinstance(lineno, int):  # Jinja2 TemplateSyntaxError / TOMLDecodeError-like errors
        line = lineno
        file = getattr(exc, "filename", None) or getattr(exc, "name", None)
    if file is None:
        m = _FILE_LINE.search(message)
        if m:
            file = m.group("file")
            if line is None and m.group("line"):
                line = int(m.group("line"))
    if line is None:
        m2 = _LINE.search(message)
        if m2:
            line = int(m2.group(1))
    if file is None or line is None:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.endswith(_TEMPLATE_EXT)]
        if frames:  # a Jinja2 runtime error: the template frame nearest to the failure
            file = file or frames[-1].filename
            line = line if line is not None else frames[-1].lineno
    if not isinstance(exc, Exception) or type(exc).__module__.startswith("digest"):
        kind = ""
    else:
        kind = f"{type(exc).__name__}: "
    return {"message": f"{kind}{message}", "file": file, "line": line}


# --- the side panel -------------------------------------------------------------------------------

_ONE = re.compile(r"^article (\d+) \(")
_PAIR = re.compile(r"^articles (\d+) \(.*\) and (\d+) \(")


def _strip_label(warning: str) -> str:
    """``article 3 (Title): teaser shortened`` → ``teaser shortened`` (the row already names the article)."""
    m = _ONE.match(warning)
    if not m:
        return warning
    depth, i = 0, m.end() - 1
    for i in range(m.end() - 1, len(warning)):
        depth += {"(": 1, ")": -1}.get(warning[i], 0)
        if depth == 0:
            break
    rest = warning[i + 1:]
    return rest.removeprefix(":").strip() or warning


def panel_rows(entries: Sequence[Any], articles: Mapping[int, Any], items: Sequence[Any],
               warnings: Sequence[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """The side panel: one row per ``[[articles]]`` entry, in issue.toml order, and the other warnings.

    ``entries`` are issue.toml entries (index, source, section, overrides); ``articles`` maps an entry's
    index to its extracted Article (None when it could not be read); ``items`` are the blocks of the built
    email (title, teaser, url, source); ``warnings`` the build's warnings. A warning that names an article
    ("article 3 (...): ...", or a duplicate pair "articles 1 (...) and 4 (...)", numbered among the
    articles that made it into the email) goes to that article's row; the rest are returned as general.
    """
    rows: list[dict[str, Any]] = []
    by_index: dict[int, dict[str, Any]] = {}
    unused = list(items)
    placed: list[dict[str, Any]] = []
    for entry in entries:
        article = articles.get(entry.index)
        row: dict[str, Any] = {
            "index": entry.index,
            "title": (entry.overrides.get("title") or (article.title if article else "") or entry.source),
            "teaser": "",
            "words": article.words if article is not None else None,
            "minutes": article.reading_minutes if article is not None else None,
            "url": None,
            "source": entry.source,
            "section": entry.section,
            "in_email": False,
            "warnings": [],
        }
        if article is not None:
            for k, item in enumerate(unused):
                if getattr(item, "source", None) == article.source and (
                        not entry.overrides.get("title") or item.title == entry.overrides["title"]):
                    row.update(title=item.title, teaser=item.teaser, url=item.url, in_email=True)
                    del unused[k]
                    placed.append(row)
                    break
        rows.append(row)
        by_index[entry.index] = row
    general: list[str] = []
    for w in warnings:
        one, pair = _ONE.match(w), _PAIR.match(w)
        if pair and all(0 < int(n) <= len(placed) for n in pair.groups()):
            a, b = (placed[int(n) - 1] for n in pair.groups())
            a["warnings"].append(f"may be the same story as #{b['index']} ({b['title']})")
            b["warnings"].append(f"may be the same story as #{a['index']} ({a['title']})")
        elif one and int(one.group(1)) in by_index:
            by_index[int(one.group(1))]["warnings"].append(_strip_label(w))
        else:
            general.append(w)
    for row in rows:
        if row["in_email"] and row["teaser"].rstrip().endswith(("…", "...")) and not any(
                "shortened" in w for w in row["warnings"]):
            row["warnings"].append("teaser ends with an ellipsis (shortened)")
    return rows, general
