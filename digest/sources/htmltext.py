"""HTML primitives every HTML reader shares: parse a page once into plain lxml elements, collapse whitespace,
remove an element keeping its tail, and turn any HTML fragment into paragraphs (``html_to_text``).
"""

from __future__ import annotations

import re
from typing import Any

from ..condense.lazyre import compile_cached

_BLOCKS = frozenset(
    ["address", "article", "aside", "blockquote", "body", "br", "dd", "details", "div", "dl", "dt", "fieldset",
     "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol",
     "p", "pre", "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul"]
)
_DROP = frozenset(
    ["script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "canvas", "video", "audio",
     "figure", "figcaption", "img", "picture", "button", "form", "input", "select", "textarea", "nav", "aside"]
)
# Whole paragraphs that are page furniture, never article text.
_FURNITURE = compile_cached(
    r"^(?:advertisement|advertising|sponsored(?: content)?|story continues below(?: advertisement)?|"
    r"continue reading(?: the main story| below)?|read more(?: here)?|share(?: this(?: article| story)?)?|"
    r"(?:share|follow us) on (?:facebook|twitter|linkedin|whatsapp|email)|tweet|email|print|"
    r"(?:image|photo|picture) (?:copyright|caption|credit)\b.*|(?:related|see also|more on this|read next)\s*:?.*|"
    r"(?:sign up|subscribe) (?:for|to) (?:our|the) .{0,60}newsletter.*|click here .{0,80}|"
    r"this article (?:originally )?appeared (?:in|on) .{0,120}|comments?|\d+ comments?|"
    r"(?:getty images|ap photo|reuters|afp)(?:/.{0,40})?)[\s.:!]*$",
    re.I,
)


def norm(text: str | None) -> str:
    """Collapse whitespace (including no-break spaces); drop soft hyphens (invisible on the page, "die\u00adsem"
    would show up in a plain-text teaser and break word matching)."""
    text = text or ""
    if "\u00ad" in text:
        text = text.replace("\u00ad", "")
    return " ".join(text.split())


def parse_document(markup: str) -> Any:
    """A whole page → lxml tree of plain elements (comments and processing instructions dropped while parsing).

    Plain ``lxml.etree`` elements, not ``lxml.html`` ones: lxml.html looks up a Python class for every element
    it hands out, which costs more than the rest of the extraction. Raises ValueError on an empty document.
    """
    from lxml import etree

    if markup.lstrip().startswith("<?xml"):  # an encoding declaration in a str is an error to lxml
        markup = markup.split("?>", 1)[-1]
    root = etree.fromstring(markup, _html_parser()) if markup.strip() else None
    if root is None:
        raise ValueError("empty document")
    return root


def _html_parser() -> Any:
    global _PARSER
    if _PARSER is None:
        from lxml import etree

        _PARSER = etree.HTMLParser(remove_comments=True, remove_pis=True)
    return _PARSER


_PARSER: Any = None


def _drop(el: Any) -> None:
    """Remove an element and its children, keeping its tail text in place."""
    parent = el.getparent()
    if parent is None:
        return
    tail = el.tail
    if tail:
        prev = el.getprevious()
        if prev is None:
            parent.text = (parent.text or "") + tail
        else:
            prev.tail = (prev.tail or "") + tail
    parent.remove(el)


# ---------------------------------------------------------------- HTML → text


def html_to_text(markup: str | Any) -> str:
    """An HTML fragment or lxml element → paragraphs separated by blank lines (no images, captions, scripts)."""
    import lxml.html

    if isinstance(markup, str):
        if not markup.strip():
            return ""
        if "<" not in markup:
            return "\n\n".join(p for p in (norm(x) for x in re.split(r"\n\s*\n", markup)) if p)
        try:
            root = lxml.html.fragment_fromstring(markup, create_parent="div")
        except Exception:  # noqa: BLE001 - lxml raises several types on broken fragments
            return norm(re.sub(r"<[^>]+>", " ", markup))
    else:
        root = markup
    paras: list[str] = []
    buf: list[str] = []

    def flush() -> None:
        text = norm("".join(buf))
        buf.clear()
        if text:
            paras.append(text)

    def walk(el: Any) -> None:
        tag = el.tag if isinstance(el.tag, str) else ""
        tag = tag.lower()
        if tag in _DROP or not isinstance(el.tag, str):
            if el.tail:
                buf.append(el.tail)
            return
        block = tag in _BLOCKS
        if block:
            flush()
        if el.text:
            buf.append(el.text)
        for child in el:
            walk(child)
        if block:
            flush()
        if el.tail:
            buf.append(el.tail)

    walk(root)
    flush()
    return "\n\n".join(p for p in paras if not _FURNITURE.match(p))


def _text_len(el: Any) -> int:
    return len(" ".join("".join(el.itertext()).split()))
