"""HTML pages → Article: the body text from digest's own extractor, metadata from the page's own tags.

The page is parsed once (plain ``lxml.etree`` elements). The body comes from our readability-style extractor
(``_own_paragraphs``): drop scripts, media, nav/aside/footer/figure and elements hidden or named like furniture
(comments, related, share, promo, ad, cookie, newsletter ...); score paragraph blocks by length and commas into
their ancestors, weigh by class names and link density, take the best container and its good siblings, drop link
lists and empty shells inside it, and keep its paragraphs and headings in document order. When the first pass
finds less than MIN_OWN_CHARS it runs again without the by-name rules; when that still gives fewer than
MIN_OWN_WORDS words, readability-lxml runs, then trafilatura (precision settings) when readability finds nothing.
``benchmarks/extractors.py`` measures all three against the html-dev gold texts; figures in ``docs/extractors.md``.

Metadata (title, description, image, canonical URL, author, date, language, site name) is read with lxml from
JSON-LD, Open Graph / Twitter / Dublin Core ``<meta>`` tags and ``<html lang>``: cheap and predictable.
``html_to_text`` turns any HTML fragment (feed content, an extracted container) into paragraphs.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any
from urllib.parse import urljoin, urlparse

from ..errors import SourceError
from ..model import Article

ENGINES = ("digest", "readability", "trafilatura")
MIN_WORDS = 5  # fewer words than this in the body: the page holds no article

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
_FURNITURE = re.compile(
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
    """Collapse whitespace (including no-break spaces)."""
    return " ".join((text or "").split())


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


# ---------------------------------------------------------------- body extraction


def _xml_to_paragraphs(xml: str, title: str) -> list[str]:
    """trafilatura's XML output → paragraphs; drops a heading that repeats the title and short pre-lead lists."""
    from lxml import etree

    try:
        root = etree.fromstring(xml.encode("utf-8"), etree.XMLParser(recover=True))
    except etree.XMLSyntaxError:
        return []
    main = root.find("main") if root is not None else None
    if main is None:
        return []
    out: list[str] = []
    seen_lead = False  # a real paragraph (>= 12 words) has been seen
    key_title = _key(title)
    for el in main:
        tag = el.tag
        if tag == "list":
            items = [norm("".join(i.itertext())) for i in el.iter("item")]
            items = [i for i in items if i]
            if not seen_lead and items and all(len(i.split()) <= 6 for i in items):
                continue  # date / section / "941 comments" / byline lists above the story
            out.extend(items)
            continue
        text = norm("".join(el.itertext()))
        if not text:
            continue
        if tag == "head" and (_key(text) == key_title or (not seen_lead and len(text.split()) <= 3)):
            continue
        if len(text.split()) >= 12:
            seen_lead = True
        out.append(text)
    return out


_SENTENCE_END = re.compile(r"[.!?…:;][\"'”’»)\]]*$")


def _clean_paragraphs(paras: Iterable[str], title: str = "") -> list[str]:
    """Drop furniture paragraphs, repeats, the short unpunctuated lines (bylines, dates, kickers) above the lead, and
    the headline repeated above it."""
    out: list[str] = []
    lead_seen = False
    key_title = _key(title)
    for p in paras:
        p = norm(re.sub(r"^[-•*·]\s+", "", p))
        if not p or _FURNITURE.match(p):
            continue
        n_words = len(p.split())
        if not lead_seen:
            if (n_words <= 8 and not _SENTENCE_END.search(p)) or (key_title and _key(p) == key_title):
                continue
            lead_seen = n_words >= 12
        if out and out[-1] == p:
            continue
        out.append(p)
    return out


def _text_len(el: Any) -> int:
    return len(" ".join("".join(el.itertext()).split()))


def _readability_paragraphs(doc: Any) -> list[str]:
    """readability-lxml on an already parsed (and pruned) tree; each pass works on a fresh copy of it."""
    import copy

    from readability import Document
    from readability.readability import REGEXES

    class _TreeDocument(Document):  # type: ignore[misc]
        # readability re-parses its input on a retry pass; hand it a fresh copy of our tree instead of
        # re-parsing the page (its own lxml-html-clean pass is replaced by prune() below).
        def _parse(self, input: Any) -> Any:  # noqa: A002 - readability's signature
            tree = copy.deepcopy(input)
            for elem in tree.xpath("//*[@hidden]"):
                elem.drop_tree()
            for elem in tree.xpath("//*[@style]"):
                if REGEXES["displayNoneRe"].search(elem.get("style")):
                    elem.drop_tree()
            return tree

        def get_link_density(self, elem: Any) -> float:
            # Same measure as readability's, with whitespace collapsed by str.split instead of two regex passes
            # per element (those passes were a third of the extraction time on news pages).
            links = sum(_text_len(a) for a in elem.iterfind(".//a"))
            return links / max(_text_len(elem), 1)

    return html_to_text(_TreeDocument(doc).summary(html_partial=True)).split("\n\n")


def prune(doc: Any) -> Any:
    """Remove what never holds article text (scripts, styles, comments, embeds) from a parsed page, in place."""
    from lxml import etree

    etree.strip_elements(doc, "script", "style", "noscript", "template", "svg", "iframe", "link", "meta", "object",
                         "embed", etree.Comment, etree.ProcessingInstruction, with_tail=False)
    return doc


# Tags that never hold article text, removed before scoring (their tails are kept).
_JUNK_TAGS = ("script", "style", "noscript", "template", "svg", "iframe", "link", "meta", "object", "embed",
              "canvas", "video", "audio", "picture", "img", "source", "button", "select", "input", "textarea",
              "label", "nav", "aside", "footer", "figure", "figcaption", "dialog", "menu")
# class/id fragments of page furniture (Mozilla Readability's "unlikely candidates" plus a few more) ...
_UNLIKELY_WORDS = (
    "-ad-", "ad-break", "agegate", "ai2html", "author", "banner", "breadcrumb", "byline", "caption", "combx",
    "comment", "communit", "consent", "cookie", "cover-wrap", "credit", "dateline", "disqus", "extra", "foot",
    "further-reading", "gdpr", "header", "keywords", "legends", "masthead", "menu", "modal", "more-stories",
    "most-popular", "mostpopular", "navbar", "newsletter", "outbrain", "overlay", "pager", "pagination", "paywall",
    "popup", "print", "promo", "rating", "recommend", "screen-reader", "screenreader", "visually-hidden",
    "visuallyhidden", "offscreen", "related", "remark", "replies", "rss",
    "share", "sharing", "shoutbox", "sidebar", "signup", "skyscraper", "social", "sponsor", "subscri",
    "supplemental", "taboola", "tags", "toolbar", "trending", "yom-remote",
)


def _trie_regex(words: Iterable[str]) -> re.Pattern[str]:
    """One regex for a set of literal words, as a trie (Python's re tries every branch of a flat alternation at
    every position: a trie is ~3x faster on long class lists)."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        alts = [re.escape(ch) + build(sub) for ch, sub in sorted(node.items()) if ch]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        return f"(?:{body})?" if "" in node else body

    return re.compile(build(trie))


_UNLIKELY = _trie_regex(_UNLIKELY_WORDS)  # searched in lower-cased "class id"
# ... unless they also look like the main column.
_MAYBE = re.compile(r"and|article|body|column|content|main|shadow|story|entry|post-?text")
# Whole class/id words (not parts of words) for an advertisement ("ad", "ads", "ad-slot", "adContainer",
# "advert...", but not "header", "shadow" or "load"), an author's bio, screen-reader-only text.
_AD_WORDS = re.compile(r"(?:ad(?:s|v|vert[a-z]*|slot|unit|container|wrapper|box|block|banner|zone|\d+)?|bio|sr-only)"
                       r"(?![a-z0-9])")
_NEVER_DROP = frozenset(["html", "body", "a", "main", "article"])
_UNLIKELY_ROLES = frozenset(["menu", "menubar", "complementary", "navigation", "alert", "alertdialog", "dialog",
                             "banner", "contentinfo", "search"])
# Readability's class weights (searched in the lower-cased attribute; "hid" must be a whole word).
_POSITIVE = _trie_regex(["article", "body", "content", "entry", "hentry", "h-entry", "main", "page", "post", "text",
                         "blog", "story"])
_NEGATIVE = _trie_regex(["-ad-", "hidden", "banner", "combx", "comment", "com-", "contact", "foot", "footnote",
                         "gdpr", "masthead", "media", "meta", "outbrain", "promo", "related", "scroll", "share",
                         "shoutbox", "sidebar", "skyscraper", "sponsor", "shopping", "tags", "tool", "widget"])
_WEIGHTS: dict[str, int] = {}  # attribute value → weight, for this process (class lists repeat a lot)
_DISPLAY_NONE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
# A <div> holding none of these is a paragraph in disguise.
_DIV_BLOCKS = frozenset(["blockquote", "dl", "div", "img", "ol", "p", "pre", "table", "ul", "section", "article",
                         "h1", "h2", "h3", "h4", "h5", "h6", "header", "main", "figure", "form", "li"])
_SCORE_TAGS = frozenset(["p", "pre", "td", "h2", "h3", "h4", "h5", "h6", "section", "div"])
_TAG_BASE = {"div": 5, "pre": 3, "td": 3, "blockquote": 3, "address": -3, "ol": -3, "ul": -3, "dl": -3, "dd": -3,
             "dt": -3, "li": -3, "form": -3, "h1": -5, "h2": -5, "h3": -5, "h4": -5, "h5": -5, "h6": -5, "th": -5}
_AD_TEXT = re.compile(r"^(?:ad(?:vertising|vertisement)?|sponsored|pub(?:licité)?|werb(?:ung)?|anuncio|loading…?|"
                      r"loading\.\.\.)$", re.I)
MIN_OWN_CHARS = 500  # a first pass finding less text than this is retried without the by-name rules (Readability's)
MIN_OWN_WORDS = 40  # fewer words than this from our extractor: ask readability-lxml instead
# How often the second pass and the fallbacks ran in this process (read by benchmarks/extractors.py).
COUNTS: Counter[str] = Counter()


def _attrs(el: Any) -> str:
    return f"{el.get('class') or ''} {el.get('id') or ''}"


def _class_weight(el: Any) -> int:
    """Mozilla Readability's class/id weight: +25 for a content-like name, -25 for furniture, per attribute."""
    return _name_weight(el.get("class")) + _name_weight(el.get("id"))


def _name_weight(value: str | None) -> int:
    if not value:
        return 0
    weight = _WEIGHTS.get(value)
    if weight is None:
        low = value.lower()
        weight = 0
        if _NEGATIVE.search(low) or " hid " in f" {low} ":
            weight -= 25
        if _POSITIVE.search(low):
            weight += 25
        if len(_WEIGHTS) > 50_000:
            _WEIGHTS.clear()
        _WEIGHTS[value] = weight
    return weight


def _text(el: Any) -> str:
    return " ".join("".join(el.itertext()).split())


def _link_density(el: Any, length: int | None = None) -> float:
    length = _text_len(el) if length is None else length
    if not length:
        return 0.0
    return sum(_text_len(a) for a in el.iter("a")) / length


def _is_ad_name(names: str) -> bool:
    """A lower-cased class/id string holds one of the _AD_WORDS as a whole word."""
    for m in _AD_WORDS.finditer(names):
        start = m.start()
        if start == 0 or not names[start - 1].isalnum():
            return True
    return False


def _unlikely(el: Any, by_name: bool = True, seen: dict[str, bool] | None = None) -> bool:
    """Hidden, or named (class/id/role) like page furniture rather than like the article."""
    get = el.get
    if get("hidden") is not None or get("aria-hidden") == "true":
        return True
    role = get("role")
    if role and role.lower() in _UNLIKELY_ROLES:
        return True
    style = get("style")
    if style and ("none" in style or "hidden" in style) and _DISPLAY_NONE.search(style):
        return True
    if not by_name:
        return False
    names = f"{get('class') or ''} {get('id') or ''}"
    if len(names) > 1:
        verdict = seen.get(names) if seen is not None else None
        if verdict is None:  # menus repeat one class list on every item: judge each list once
            low = names.lower()
            verdict = bool((_UNLIKELY.search(low) and not _MAYBE.search(low)) or _is_ad_name(low))
            if seen is not None:
                seen[names] = verdict
        if verdict:
            return True
    if get("rel") == "author" or "author" in (get("itemprop") or ""):
        return _text_len(el) < 100
    return False


def _drop_furniture(doc: Any, by_name: bool = True) -> None:
    """Remove what never holds article text: scripts, media, navigation, hidden elements, furniture by name."""
    from lxml import etree

    etree.strip_elements(doc, *_JUNK_TAGS, etree.Comment, etree.ProcessingInstruction, with_tail=False)
    seen: dict[str, bool] = {}
    drop = [el for el in doc.iter() if el.attrib and el.tag not in _NEVER_DROP and _unlikely(el, by_name, seen)]
    for el in drop:
        _drop(el)


# Per-element numbers gathered by _measure (indices into its lists).
_TEXT, _LINKS, _COMMAS_N, _HAS_BLOCK, _LOOSE, _LOOSE_COMMAS, _N_P, _N_LI, _LI_TEXT, _HEAD_TEXT = range(10)
_HEADINGS = frozenset(["h1", "h2", "h3", "h4", "h5", "h6"])
_CLEAN_TAGS = frozenset(["div", "section", "ul", "ol", "table", "form", "fieldset", "header"])


def _len_commas(s: str | None) -> tuple[int, int]:
    """Length of a text node with its whitespace collapsed (approximately: words plus one space each), commas."""
    if not s or s.isspace():
        return 0, 0
    words = s.split()
    commas = s.count(",") + s.count("，") + s.count("、") + s.count("،") if "," in s or not s.isascii() else 0
    return sum(map(len, words)) + len(words), commas


def _measure(root: Any, judge: Any = None) -> dict[Any, list[int]]:
    """One post-order walk: per element, text length, link text length, commas, whether a block element is
    inside, its loose text (own text and children's tails) length and commas, <p> and <li> counts, <li> text
    and heading text lengths.

    ``judge(el, numbers)`` is asked about every _CLEAN_TAGS element below ``root`` once its subtree is measured
    (inner blocks first); True removes it, and then its numbers do not count in its ancestors.
    """
    from lxml import etree

    stats: dict[Any, list[int]] = {}
    stack: list[list[int]] = []
    removed: list[Any] = []
    for event, el in etree.iterwalk(root, events=("start", "end")):
        if event == "start":
            n, c = _len_commas(el.text)
            stack.append([n, 0, c, 0, n, c, 0, 0, 0, 0])
            continue
        s = stack.pop()
        tag = el.tag
        if tag == "a":
            s[_LINKS] = s[_TEXT]
        elif tag == "p":
            s[_N_P] += 1
        elif tag == "li":
            s[_N_LI] += 1
            s[_LI_TEXT] = s[_TEXT]
        elif tag in _HEADINGS:
            s[_HEAD_TEXT] = s[_TEXT]
        stats[el] = s
        drop = judge is not None and tag in _CLEAN_TAGS and el is not root and judge(el, s)
        if drop:
            removed.append(el)
        if stack:
            p = stack[-1]
            n, c = _len_commas(el.tail)
            p[_TEXT] += n
            p[_COMMAS_N] += c
            p[_LOOSE] += n
            p[_LOOSE_COMMAS] += c
            if not drop:
                p[_TEXT] += s[_TEXT]
                p[_LINKS] += s[_LINKS]
                p[_COMMAS_N] += s[_COMMAS_N]
                p[_HAS_BLOCK] = p[_HAS_BLOCK] or s[_HAS_BLOCK] or tag in _DIV_BLOCKS
                p[_N_P] += s[_N_P]
                p[_N_LI] += s[_N_LI]
                p[_LI_TEXT] += s[_LI_TEXT]
                p[_HEAD_TEXT] += s[_HEAD_TEXT]
    for el in removed:
        _drop(el)
    return stats


def _density(s: list[int]) -> float:
    return s[_LINKS] / s[_TEXT] if s[_TEXT] else 0.0


def _top_candidate(body: Any) -> tuple[Any, dict[Any, float], dict[Any, list[int]]] | None:
    """Score paragraphs into their ancestors (Readability's method); the best container, the scores, the numbers."""
    stats = _measure(body)
    scores: dict[Any, float] = {}
    for el, s in stats.items():
        tag = el.tag
        if tag not in _SCORE_TAGS:
            continue
        if tag in ("div", "section") and s[_HAS_BLOCK]:
            # A container: only its own loose text counts as a paragraph, scored into itself and up.
            length, commas, node = s[_LOOSE], s[_LOOSE_COMMAS], el
        else:  # <p>, <pre>, <td>, a heading, or a <div> without blocks inside: a paragraph
            length, commas, node = s[_TEXT], s[_COMMAS_N], el.getparent()
        if length < 25:
            continue
        score = 1 + commas + min(length // 100, 3)
        level = 0
        while node is not None and level < 5:
            if level and node.tag in ("html", "body"):
                break
            if node not in scores:
                scores[node] = _TAG_BASE.get(node.tag, 0) + _class_weight(node)
            scores[node] += score / (1 if level == 0 else 2 if level == 1 else level * 3)
            node = node.getparent()
            level += 1
    if not scores:
        return None
    final = {el: raw * (1 - _density(stats[el])) for el, raw in scores.items()}
    top = max(final, key=final.__getitem__)
    best_score = final[top]
    # Several near-best candidates under one ancestor: the article is that ancestor.
    alternatives = [el for el, sc in final.items() if el is not top and sc >= 0.75 * best_score]
    if len(alternatives) >= 3:
        parent = top.getparent()
        while parent is not None and parent.tag not in ("body", "html"):
            if sum(1 for alt in alternatives if _is_ancestor(parent, alt)) >= 3:
                top = parent
                break
            parent = parent.getparent()
    if top not in final:
        final[top] = _TAG_BASE.get(top.tag, 0) + _class_weight(top)
    # Climb while the parent scores higher (the story may be split into several sibling blocks).
    parent = top.getparent()
    last = final[top]
    threshold = last / 3
    while parent is not None and parent.tag not in ("body", "html"):
        if parent not in final:
            parent = parent.getparent()
            continue
        if final[parent] < threshold:
            break
        if final[parent] > last:
            top = parent
            break
        last = final[parent]
        parent = parent.getparent()
    parent = top.getparent()
    while parent is not None and parent.tag not in ("body", "html") and len(parent) == 1:
        final.setdefault(parent, final[top])
        top = parent
        parent = top.getparent()
    return top, final, stats


def _is_ancestor(anc: Any, el: Any) -> bool:
    node = el.getparent()
    while node is not None:
        if node is anc:
            return True
        node = node.getparent()
    return False


def _looks_like_furniture(el: Any, s: list[int]) -> bool:
    """Readability's "clean conditionally" test for a block inside the article: link lists, empty shells."""
    weight = _class_weight(el)
    if weight < 0:
        return True
    if s[_COMMAS_N] >= 10:
        return False
    length = s[_TEXT]
    if 0 < length < 30 and _AD_TEXT.match(_text(el)):
        return True
    is_list = el.tag in ("ul", "ol") or (length > 0 and s[_LI_TEXT] / length > 0.9)
    density = _density(s)
    heading_density = s[_HEAD_TEXT] / length if length else 0.0
    return ((not is_list and s[_N_LI] - 100 > s[_N_P])
            or (not is_list and heading_density < 0.9 and length < 25)
            or (not is_list and weight < 25 and density > 0.2)
            or (weight >= 25 and density > 0.5)
            or (is_list and density > 0.5))


def _own_paragraphs(doc: Any, *, by_name: bool = True) -> list[str]:
    """digest's extractor: one pass over a parsed page, which it changes (Readability's scoring, simplified).

    ``by_name=False`` keeps the elements whose class/id only *name* furniture (the retry pass: some pages wrap
    the story in a "site_header" or a "modal" block).
    """
    body = doc.find("body")
    if body is None:
        body = doc
    _drop_furniture(body, by_name=by_name)
    found = _top_candidate(body)
    if found is None:
        return []
    top, final, stats = found
    # Siblings of the best block that score well too, or are plain paragraphs of prose, belong to the article.
    parent = top.getparent()
    if parent is None or top.tag in ("body", "html"):
        article = top
    else:
        threshold = max(10.0, final[top] * 0.2)
        top_class = top.get("class") or ""
        article = parent.makeelement("div", {})
        keep = []
        for sib in parent:
            if not isinstance(sib.tag, str):
                continue
            if sib is top:
                keep.append(sib)
                continue
            bonus = final[top] * 0.2 if top_class and sib.get("class") == top_class else 0.0
            if sib in final and final[sib] + bonus >= threshold:
                keep.append(sib)
            elif sib.tag == "p" and sib in stats:
                length = stats[sib][_TEXT]
                density = _density(stats[sib])
                if (length > 80 and density < 0.25) or (0 < length <= 80 and density == 0 and re.search(
                        r"\.( |$)", _text(sib))):
                    keep.append(sib)
        for sib in keep:  # moved, not copied: the tree is ours to change
            tail = sib.tail
            article.append(sib)
            sib.tail = tail
    _measure(article, judge=_looks_like_furniture)
    return html_to_text(article).split("\n\n")



def _own_attempts(markup: str | Any, tree: Any = None) -> list[str]:
    """Our extractor on ``tree`` (changed in place) or on ``markup``; a second pass without the by-name rules when
    the first finds less than MIN_OWN_CHARS of text (it needs the markup to start from a fresh tree)."""
    first = _own_paragraphs(tree if tree is not None else parse_document(markup))
    if sum(len(p) for p in first) >= MIN_OWN_CHARS or not isinstance(markup, str):
        return first
    COUNTS["second pass"] += 1
    second = _own_paragraphs(parse_document(markup), by_name=False)
    return second if sum(len(p) for p in second) > sum(len(p) for p in first) else first


def extract_body(markup: str | Any, engine: str = "digest", *, title: str = "", tree: Any = None,
                 **options: Any) -> str:
    """The article text of a page (markup or parsed tree) with one engine: paragraphs separated by blank lines.

    ``digest`` (our own extractor) changes the tree it is given; pass the markup as well (``tree=`` a parsed
    copy) so that its retry pass can start from a fresh tree.
    """
    if engine == "digest":
        if tree is None and not isinstance(markup, str):
            tree = markup
        paras = _own_attempts(markup, tree)
        if paras and _key(paras[0]) == _key(title):
            paras = paras[1:]
    elif engine == "trafilatura":
        import trafilatura

        opts: dict[str, Any] = {
            "include_comments": False,
            "include_tables": False,
            "include_images": False,
            "include_links": False,
            "favor_precision": True,
            "deduplicate": False,
        }
        opts.update(options)
        if not isinstance(markup, str):
            import copy

            markup = copy.deepcopy(markup)  # trafilatura prunes the tree it is given
        xml = trafilatura.extract(markup, output_format="xml", with_metadata=False, **opts)
        paras = _xml_to_paragraphs(xml, title) if xml else []
    elif engine == "readability":
        import lxml.html

        if not isinstance(markup, lxml.html.HtmlElement):  # readability needs lxml.html's element classes
            if not isinstance(markup, str):
                from lxml import etree

                markup = etree.tostring(markup, encoding="unicode", method="html")
            markup = lxml.html.document_fromstring(markup)
        paras = _readability_paragraphs(prune(markup))
        if paras and _key(paras[0]) == _key(title):
            paras = paras[1:]
    else:
        raise ValueError(f"unknown engine {engine!r}")
    return "\n\n".join(_clean_paragraphs(paras, title))


# ---------------------------------------------------------------- metadata


def _key(text: str | None) -> str:
    """A loose comparison key: lower case, letters and digits only (quotes and dashes unified away)."""
    return re.sub(r"[\W_]+", " ", norm(text).lower()).strip()


def _metas(doc: Any) -> dict[str, str]:
    """First non-empty ``<meta>`` content per lower-cased property/name/itemprop/http-equiv."""
    found: dict[str, str] = {}
    for m in doc.iter("meta"):
        content = m.get("content")
        if content is None or not content.strip():
            continue
        for attr in ("property", "name", "itemprop", "http-equiv"):
            key = (m.get(attr) or "").strip().lower()
            if key and key not in found:
                found[key] = content.strip()
    return found


def _jsonld(doc: Any) -> dict[str, Any]:
    """The first JSON-LD object that looks like an article (or the first object at all)."""
    first: dict[str, Any] = {}
    for script in doc.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text or "")
        except (ValueError, TypeError):
            continue
        stack = [data]
        while stack:
            item = stack.pop(0)
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                if "@graph" in item:
                    stack.extend(item["@graph"] if isinstance(item["@graph"], list) else [item["@graph"]])
                kind = item.get("@type")
                kinds = kind if isinstance(kind, list) else [kind]
                if any(isinstance(k, str) and ("Article" in k or k in ("Report", "BlogPosting")) for k in kinds):
                    return item
                first = first or item
    return first


def _ld_name(value: Any) -> str | None:
    if isinstance(value, str):
        return norm(value) or None
    if isinstance(value, dict):
        return _ld_name(value.get("name"))
    if isinstance(value, list):
        names = [n for n in (_ld_name(v) for v in value) if n]
        return ", ".join(dict.fromkeys(names)) or None
    return None


_SEP = re.compile(r"(\s+(?:\||-|–|—|·|»|::|/)\s+)")


def clean_title(title: str, site_name: str | None = None) -> str:
    """Drop a trailing (or leading) " | Site Name" / " - Site Name" part."""
    title = norm(title)
    bits = _SEP.split(title)  # part, separator, part, separator, part ...
    parts, seps = bits[0::2], bits[1::2]
    site = _key(site_name)

    def words(ps: list[str]) -> int:
        return len(" ".join(ps).split())

    # The site's name, or a short part (<= 3 words) beside a long one, is the site, not the headline.
    def site_like(part: str) -> bool:  # "BBC News", "Ars Technica", "TMZ.com"; not "for now"
        return len(part.split()) <= 3 and (part[:1].isupper() or part[:1].isdigit() or "." in part)

    while len(parts) > 1 and (_key(parts[-1]) == site or (site_like(parts[-1]) and words(parts[:-1]) >= 4)):
        parts.pop()
        seps.pop()
    while len(parts) > 1 and (_key(parts[0]) == site or (
            bool(site) and len(parts[0].split()) <= 2 and words(parts[1:]) >= 4 and _key(parts[0]) in site)):
        parts.pop(0)
        seps.pop(0)
    out = parts[0]
    for sep, part in zip(seps, parts[1:], strict=True):
        out += sep + part
    return out


def pick_title(doc: Any, meta: dict[str, str], ld: dict[str, Any], site_name: str | None) -> str:
    """The headline: a page title that agrees with an <h1> wins; else JSON-LD/og:title/<title>, cleaned."""
    h1s = [norm("".join(h.itertext())) for h in doc.iter("h1")]
    h1s = [h for h in h1s if h]
    raw_title = norm(doc.findtext(".//title"))
    candidates = [c for c in (
        _ld_name(ld.get("headline")), meta.get("og:title"), meta.get("twitter:title"), raw_title,
    ) if c]
    cleaned = [clean_title(c, site_name) for c in candidates]
    keys = {_key(c) for c in candidates + cleaned}
    # An <h1> that is a page title (or the start of one, before a " | Site" suffix) is the cleanest form.
    for h in h1s:
        kh = _key(h)
        if len(kh.split()) >= 2 and (kh in keys or any(k.startswith(kh + " ") and len(kh) > 0.5 * len(k)
                                                        for k in keys)):
            return h
    if cleaned:
        return cleaned[0]
    return h1s[0] if h1s else ""


def _absolute(url: str | None, base: str | None) -> str | None:
    url = norm(url)
    if not url or url.startswith(("data:", "javascript:")):
        return None
    if url.startswith("//"):
        return "https:" + url
    if urlparse(url).scheme in ("http", "https"):
        return url
    if base and urlparse(base).scheme in ("http", "https"):
        return urljoin(base, url)
    return None


def _iso_date(value: str | None) -> str | None:
    value = norm(value)
    if not value:
        return None
    from datetime import datetime
    from email.utils import parsedate_to_datetime

    candidate = value.replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(candidate).isoformat()
    except ValueError:
        pass
    m = re.match(r"(\d{4})-?(\d{2})-?(\d{2})(?:[T ](\d{2}):?(\d{2})(?::?(\d{2}))?)?", value)
    if m:
        y, mo, d, h, mi, s = m.groups()
        try:
            return datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0)).isoformat()
        except ValueError:
            return None
    try:
        return parsedate_to_datetime(value).isoformat()
    except (TypeError, ValueError, IndexError):
        return None


def _lang(value: str | None) -> str | None:
    value = norm(value).replace("_", "-").split(",")[0].strip()
    if not re.fullmatch(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*", value):
        return None
    head, *rest = value.split("-")
    return "-".join([head.lower(), *[r.upper() if len(r) == 2 else r for r in rest]])


def page_metadata(doc: Any, page_url: str | None = None, content_language: str | None = None) -> dict[str, Any]:
    """Title, description, image, canonical URL, author, date, language and site name of a parsed page."""
    meta = _metas(doc)
    ld = _jsonld(doc)
    base = page_url
    base_el = doc.find(".//base")
    if base_el is not None and base_el.get("href"):
        base = _absolute(base_el.get("href"), page_url) or base
    canonical = None
    for link in doc.iter("link"):
        if "canonical" in (link.get("rel") or "").lower().split():
            canonical = _absolute(link.get("href"), base)
            break
    canonical = canonical or _absolute(meta.get("og:url"), base) or _absolute(
        ld.get("url") if isinstance(ld.get("url"), str) else None, base)
    base = base or canonical
    site_name = meta.get("og:site_name") or _ld_name(ld.get("publisher")) or meta.get("application-name")
    image = meta.get("og:image") or meta.get("og:image:url") or meta.get("og:image:secure_url") or meta.get(
        "twitter:image") or meta.get("twitter:image:src")
    if not image:
        ld_image = ld.get("image")
        if isinstance(ld_image, list) and ld_image:
            ld_image = ld_image[0]
        image = ld_image.get("url") if isinstance(ld_image, dict) else ld_image if isinstance(ld_image, str) else None
    if not image:
        for link in doc.iter("link"):
            if (link.get("rel") or "").lower() == "image_src":
                image = link.get("href")
                break
    author = meta.get("author") or _ld_name(ld.get("author")) or meta.get("article:author") or meta.get(
        "dc.creator") or meta.get("byl") or meta.get("parsely-author")
    if author and author.startswith(("http://", "https://")):
        author = None
    if author:
        author = re.sub(r"^by\s+", "", norm(author), flags=re.I) or None
    date = None
    for key in ("article:published_time", "og:published_time", "datepublished", "date", "pubdate",
                "publishdate", "dc.date", "dc.date.issued", "dcterms.created", "sailthru.date", "parsely-pub-date"):
        date = _iso_date(meta.get(key))
        if date:
            break
    if not date and isinstance(ld.get("datePublished"), str):
        date = _iso_date(ld["datePublished"])
    if not date:
        for t in doc.iter("time"):
            date = _iso_date(t.get("datetime"))
            if date:
                break
    html_el = doc if doc.tag == "html" else doc.find(".//html")
    lang = None
    for cand in (
        html_el.get("lang") if html_el is not None else None,
        html_el.get("{http://www.w3.org/XML/1998/namespace}lang") if html_el is not None else None,
        meta.get("content-language"), meta.get("og:locale"), ld.get("inLanguage") if isinstance(
            ld.get("inLanguage"), str) else None, content_language,
    ):
        lang = _lang(cand)
        if lang:
            break
    alt = meta.get("og:image:alt") or meta.get("twitter:image:alt")
    return {
        "title": pick_title(doc, meta, ld, site_name),
        "description": norm(meta.get("og:description") or meta.get("description") or meta.get(
            "twitter:description") or (ld.get("description") if isinstance(ld.get("description"), str) else None))
        or None,
        "image": _absolute(image, base),
        "image_alt": norm(alt) or None,
        "url": canonical or (page_url if page_url and page_url.startswith(("http://", "https://")) else None),
        "author": author,
        "published": date,
        "lang": lang,
        "site_name": norm(site_name) or None,
    }


# ---------------------------------------------------------------- the whole page


def parse_html(
    markup: str,
    source: str,
    *,
    url: str | None = None,
    content_language: str | None = None,
    engine: str = "digest",
) -> Article:
    """A decoded HTML page → Article (raises SourceError when the page holds no article text)."""
    try:
        doc = parse_document(markup)
    except Exception as exc:  # noqa: BLE001 - ParserError, ValueError on empty/odd documents
        raise SourceError(source, f"not readable as HTML ({type(exc).__name__})") from None
    meta = page_metadata(doc, url, content_language)
    text = ""
    warnings: list[str] = []
    # Our extractor first; readability-lxml when it finds too little, trafilatura when that finds nothing.
    order = [engine] + [e for e in ENGINES if e != engine]
    for eng in order:
        need = MIN_OWN_WORDS if eng == "digest" else MIN_WORDS
        try:
            got = extract_body(markup, eng, title=meta["title"], tree=doc if eng == "digest" else None)
        except Exception as exc:  # noqa: BLE001 - an extractor crash is a reason to try the next one
            warnings.append(f"{eng} failed: {type(exc).__name__}")
            got = ""
        if len(got.split()) > len(text.split()):
            text = got
        if eng != engine:
            COUNTS[f"fallback {eng}"] += 1
        if len(got.split()) >= need:
            if eng != engine:
                warnings.append(f"body from {eng} ({engine} found too little)")
            break
    if len(text.split()) < MIN_WORDS:
        raise SourceError(source, "no article text found in the page")
    return Article(source=source, text=text, kind="html", warnings=warnings, **meta)
