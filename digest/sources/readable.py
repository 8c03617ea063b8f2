"""digest's own readability-style extractor: the page's main column as paragraphs (``_own_paragraphs``).

Drop scripts, media, nav/aside/footer/figure and elements hidden or named like furniture (comments, related,
share, promo, ad, cookie, newsletter ...); score paragraph blocks by length and commas into their ancestors,
weigh by class names and link density, take the best container and its good siblings, drop link lists and
empty shells inside it, and keep its paragraphs and headings in document order. ``html.extract_body`` runs it
(and a second pass, and the fallbacks); see the module doc there.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

from ..condense.lazyre import compile_cached
from .htmltext import _drop, _text_len, html_to_text

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

    return compile_cached(build(trie))


_UNLIKELY = _trie_regex(_UNLIKELY_WORDS)  # searched in lower-cased "class id"
# ... unless they also look like the main column.
_MAYBE = compile_cached(r"and|article|body|column|content|main|shadow|story|entry|post-?text")
# Whole class/id words (not parts of words) for an advertisement ("ad", "ads", "ad-slot", "adContainer",
# "advert...", but not "header", "shadow" or "load"), an author's bio, screen-reader-only text.
_AD_WORDS = compile_cached(
    r"(?:ad(?:s|v|vert[a-z]*|slot|unit|container|wrapper|box|block|banner|zone|\d+)?|bio|sr-only)(?![a-z0-9])"
)
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
_DISPLAY_NONE = compile_cached(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
# A <div> holding none of these is a paragraph in disguise.
_DIV_BLOCKS = frozenset(["blockquote", "dl", "div", "img", "ol", "p", "pre", "table", "ul", "section", "article",
                         "h1", "h2", "h3", "h4", "h5", "h6", "header", "main", "figure", "form", "li"])
_SCORE_TAGS = frozenset(["p", "pre", "td", "h2", "h3", "h4", "h5", "h6", "section", "div"])
_TAG_BASE = {"div": 5, "pre": 3, "td": 3, "blockquote": 3, "address": -3, "ol": -3, "ul": -3, "dl": -3, "dd": -3,
             "dt": -3, "li": -3, "form": -3, "h1": -5, "h2": -5, "h3": -5, "h4": -5, "h5": -5, "h6": -5, "th": -5}
_AD_TEXT = compile_cached(r"^(?:ad(?:vertising|vertisement)?|sponsored|pub(?:licité)?|werb(?:ung)?|anuncio|loading…?|"
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


NOSCRIPT_MIN_P, NOSCRIPT_MIN_CHARS = 2, 200


def unwrap_noscript_text(doc: Any) -> None:
    """Keep the article a page shows only without JavaScript: a ``<noscript>`` holding paragraphs of text (Blogger
    and Google's *.googleblog.com put the post in a ``<script type="text/template">`` and copy it into one) is
    replaced by its children, and so is one holding more text than the rest of a page that script renders. A
    ``<noscript>`` with a tracking pixel, a lazy image or a "please enable JavaScript" line stays junk."""
    outside = -1
    for ns in list(doc.iter("noscript")):
        paras = list(ns.iter("p"))
        inside = sum(_text_len(p) for p in paras)
        if len(paras) < NOSCRIPT_MIN_P or inside < NOSCRIPT_MIN_CHARS:
            continue
        if "javascript" in "".join(ns.itertext()).lower():
            continue  # "For full functionality, it is necessary to enable JavaScript." and a privacy notice
        if _template_twin(ns) or any(_ARTICLE_BODY.search(f"{a.get('itemprop')} {a.get('class')}")
                                     for a in ns.iterancestors()):
            _unwrap(ns)
            continue
        if outside < 0:  # a page rendered by script, with its whole text in a <noscript> copy
            outside = sum(len(t.strip()) for t in doc.xpath(
                "//text()[not(ancestor::script or ancestor::style or ancestor::noscript or ancestor::template)]"))
        if inside > outside:
            _unwrap(ns)


_ARTICLE_BODY = compile_cached(
    r"articleBody|post-body|entry-content|article-body|article__body|story-body|post-content"
)


def _template_twin(ns: Any) -> bool:
    """``ns`` follows a ``<script>`` that holds HTML, not code (``type="text/template"``): the same article."""
    prev = ns.getprevious()
    return prev is not None and prev.tag == "script" and (prev.get("type") or "").lower() in (
        "text/template", "text/x-template", "text/html")


def _unwrap(el: Any) -> None:
    """Replace ``el`` by its text and children (what lxml.html's ``drop_tag`` does, for plain etree elements)."""
    parent = el.getparent()
    if parent is None:
        return
    if el.text:  # the text before its first child goes where a tail before it would
        prev = el.getprevious()
        if prev is None:
            parent.text = (parent.text or "") + el.text
        else:
            prev.tail = (prev.tail or "") + el.text
    for child in list(el):
        el.addprevious(child)  # moved with its tail
    _drop(el)  # empty now; its tail stays in place


def _drop_furniture(doc: Any, by_name: bool = True) -> None:
    """Remove what never holds article text: scripts, media, navigation, hidden elements, furniture by name."""
    from lxml import etree

    unwrap_noscript_text(doc)
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
