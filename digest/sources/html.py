"""HTML pages → Article: the body text from digest's own extractor, metadata from the page's own tags.

The page is parsed once (plain ``lxml.etree`` elements: ``htmltext.parse_document``). The body comes from our
readability-style extractor (``readable._own_paragraphs``): drop scripts, media, nav/aside/footer/figure and
elements hidden or named like furniture (comments, related, share, promo, ad, cookie, newsletter ...); score
paragraph blocks by length and commas into their ancestors, weigh by class names and link density, take the best
container and its good siblings, drop link lists and empty shells inside it, and keep its paragraphs and headings
in document order. When the first pass
finds less than MIN_OWN_CHARS it runs again without the by-name rules; when that still gives fewer than
MIN_OWN_WORDS words, readability-lxml runs, then trafilatura (precision settings) when readability finds nothing.
``benchmarks/extractors.py`` measures all three against the html-dev gold texts; figures in ``docs/extractors.md``.

Metadata (title, description, image, canonical URL, author, date, language, site name) is read with lxml from
JSON-LD, Open Graph / Twitter / Dublin Core ``<meta>`` tags and ``<html lang>``: cheap and predictable.
``htmltext.html_to_text`` turns any HTML fragment (feed content, an extracted container) into paragraphs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urljoin, urlparse

from ..condense.lazyre import compile_cached
from ..condense.sentences import n_words
from ..errors import SourceError
from ..model import Article
from .htmltext import _FURNITURE, _text_len, html_to_text, norm, parse_document
from .readable import COUNTS, MIN_OWN_CHARS, MIN_OWN_WORDS, _own_paragraphs, unwrap_noscript_text

ENGINES = ("digest", "readability", "trafilatura")
MIN_WORDS = 5  # fewer words than this in the body: the page holds no article

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
            if not seen_lead and items and all(n_words(i) <= 6 for i in items):
                continue  # date / section / "941 comments" / byline lists above the story
            out.extend(items)
            continue
        text = norm("".join(el.itertext()))
        if not text:
            continue
        if tag == "head" and (_key(text) == key_title or (not seen_lead and n_words(text) <= 3)):
            continue
        if n_words(text) >= 12:
            seen_lead = True
        out.append(text)
    return out


_SENTENCE_END = compile_cached(r"[.!?…:;。！？।][\"'”’»)\]」』]*$")


def _clean_paragraphs(paras: Iterable[str], title: str = "") -> list[str]:
    """Drop furniture paragraphs, repeats, the short unpunctuated lines (bylines, dates, kickers) above the lead, and
    the headline repeated above it."""
    out: list[str] = []
    lead_seen = False
    key_title = _key(title)
    for p in paras:
        p = norm(re.sub(r"^[-•*·]\s+", "", p))
        if not p or _FURNITURE.match(p) or "{{" in p and "}}" in p:
            continue  # furniture; a client-side template's placeholders ("{{content.status === …}}")
        words = n_words(p)
        if not lead_seen:
            if (words <= 8 and not _SENTENCE_END.search(p)) or (key_title and _key(p) == key_title):
                continue
            lead_seen = words >= 12
        if out and out[-1] == p:
            continue
        out.append(p)
    return out


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

    unwrap_noscript_text(doc)
    etree.strip_elements(doc, "script", "style", "noscript", "template", "svg", "iframe", "link", "meta", "object",
                         "embed", etree.Comment, etree.ProcessingInstruction, with_tail=False)
    return doc


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


_SEP = compile_cached(r"(\s+(?:\||-|–|—|·|»|::|/)\s+)")


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
        if n_words(got) > n_words(text):
            text = got
        if eng != engine:
            COUNTS[f"fallback {eng}"] += 1
        if n_words(got) >= need:
            if eng != engine:
                warnings.append(f"body from {eng} ({engine} found too little)")
            break
    if n_words(text) < MIN_WORDS:
        raise SourceError(source, "no article text found in the page")
    return Article(source=source, text=text, kind="html", warnings=warnings, **meta)
