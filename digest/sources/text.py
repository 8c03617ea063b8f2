"""Plain text as editors paste it: find the headline and the article body, drop the rest.

Three shapes are handled by one procedure:
- a headline, the body, then site boilerplate (support pleas, disclaimers, comment widgets, related
  headlines), possibly after a junk first line;
- a whole-page text dump (menus, cookie notices, captions, comments, related links, footers): the body
  is the densest run of long prose paragraphs;
- the body alone (no headline): the first line is already body text; the title is then derived from the
  first sentence, and the body keeps that sentence.

Steps: normalise; unwrap hard-wrapped lines into paragraphs; score each paragraph (+ its length when it
reads as prose, − a cost when it is short or matches a boilerplate rule, a wall when it opens a comment or
related block); take the maximum-sum run (Kadane) as the body; reach back over a "Related coverage" box set
inside the article (prose above it, short headline lines in it); look just above the body for the headline.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from ..condense.clean import TAG_LABELS
from ..condense.lang import ANY_FUNCTION_WORD, guess_lang
from ..condense.lazyre import lazy
from ..condense.pointers import points_back
from ..model import Article, Removed

_TERMINAL = lazy(r"[.!?…:;][\"'”’»)\]]*$")
_SENT_END = lazy(r"[.!?…。！？।][\"'”’»)\]」』]*$")
_FUNCTION_END = lazy(
    r"\b(?:a|an|the|of|to|in|on|at|for|and|or|but|with|by|from|as|that|which|who|is|was|are|were|be|his|her|"
    r"their|its|le|la|les|de|des|du|et|un|une)$", re.I)
_NAME_CONTINUES = lazy(r"(?:Mr|Mrs|Ms|Miss|Dr)\.?\s[A-Z][\w'’-]+\s(?!said\b|says\b)[a-z]")
_OPEN_QUOTE_END = lazy(r"(?:^|\s)[\"“‘]\w+$")  # a line that ends just after an opening quote: '… "The'
_POSSESSIVE_END = lazy(r"\w[’']s$")  # "… on equal footing with Sony’s" + "PlayStation 4 Pro.": never a line's end
_DASH_ASIDE = lazy(r"(?:--|[–—])\s*[a-z]")  # "… Oscar dress" + "-- adorned in pearls -- was stolen …"
_SITE_SUFFIX = lazy(r"\s+(?:[-|–—:•·]|::)\s+[^-|–—]{2,60}$")
_WORDS = lazy(r"\w+(?:[-'’]\w+)*")
# List separators; a middle dot between two letters is French inclusive writing ("chercheur·euse·s"), not one
_LINKLIST = lazy(r"[▪•|»]|(?<!\w)·|·(?!\w)")
# zero-width characters, soft hyphens, BOM, and control characters other than tab and newline: deleted
_INVISIBLE = lazy(r"[\u00ad\u200b-\u200d\u2060\ufeff\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_WIDE_SPACES = lazy(r"[\u2000-\u200a\u202f\u205f\u3000]")
# UTF-8 read as Windows-1252 ("Â£10m", "â€™", "Ã©"): a lead byte's character and its continuation characters
_CP1252_CONT = "\u0080-\u00bf\u20ac\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u017d" \
    "\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u017e\u0178"
_MOJIBAKE = lazy(rf"[\u00c2-\u00c3][{_CP1252_CONT}]|[\u00e2][{_CP1252_CONT}]{{2}}")


def _unmojibake(m: re.Match[str]) -> str:
    try:
        return m.group(0).encode("cp1252").decode("utf-8")
    except UnicodeError:
        return m.group(0)
_SPACES = lazy(r" {2,}")


def parse_text(raw: str, source: str) -> Article:
    """Parse pasted plain text into an Article (kind="text"): title plus body paragraphs, boilerplate dropped."""
    text = normalize(raw)
    paras = unwrap(text)
    if not paras:
        return Article(source=source, title="", text="", kind="text")
    start, end = find_body(paras)
    start, inset = bridge_related(paras, start)
    if start > 0 and _opens_on_prose(paras, start):
        start = 0
    elif start > 0 and _short_lede_above(paras, start):
        start -= 1
    body: list[str] = []
    dropped: list[tuple[int, Removed]] = []
    for i, p in enumerate(paras[start:end], start):
        rule = (_boilerplate_rule(p) or "related_block") if i in inset else _boilerplate_rule(p)
        if rule is None and _captioned(paras, i):
            rule = "caption_credit"
        if rule is None:
            body.append(p)
        else:
            dropped.append((i, Removed(-1, -1, p, rule.removeprefix("wall:"))))
    title_idx = find_title(paras, start)
    title = ""
    if title_idx is not None:
        title = _clean_title(paras[title_idx], paras[0] if title_idx != 0 else "")
    if not title:
        title = derive_title("\n".join(body))
    for i, p in enumerate(paras):  # what lies outside the body run (page furniture, pleas, comments, links)
        if (i < start or i >= end) and i != title_idx:
            rule = _boilerplate_rule(p)
            dropped.append((i, Removed(-1, -1, p, rule.removeprefix("wall:") if rule else
                                       ("outside_body_before" if i < start else "outside_body_after"))))
    removed = [r for _, r in sorted(dropped, key=lambda x: x[0])]
    warnings: list[str] = []
    if not body:
        warnings.append("no article body found")
    text_out = "\n\n".join(body)
    return Article(source=source, title=title, text=text_out, kind="text", warnings=warnings,
                   lang=guess_lang(text_out), removed=removed)


def normalize(raw: str) -> str:
    """Unify newlines and spaces; drop BOM, zero-width, soft-hyphen and control characters; repair UTF-8 read as
    Windows-1252 ("Â£10m" -> "£10m")."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    if _INVISIBLE.search(text):
        text = _INVISIBLE.sub("", text)
    if ("Â" in text or "Ã" in text or "â" in text) and _MOJIBAKE.search(text):
        text = _MOJIBAKE.sub(_unmojibake, text)
    text = text.replace("\u00a0", " ").replace("\t", " ")
    if not text.isascii():
        text = _WIDE_SPACES.sub(" ", text)
    return _SPACES.sub(" ", text) if "  " in text else text


def unwrap(text: str) -> list[str]:
    """Lines → paragraphs: join a line to the next when it was obviously broken (hard wrap, mid-sentence)."""
    paras: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        lines = [ln.strip() for ln in block.split("\n") if ln.strip()]
        cur = ""
        for ln in lines:
            if cur and _continues(cur, ln):
                cur = cur + " " + ln
            else:
                if cur:
                    paras.append(cur)
                cur = ln
        if cur:
            paras.append(cur)
    return paras


_TAG_LABEL = lazy(rf"(?:{TAG_LABELS})\b")


def _continues(prev: str, nxt: str) -> bool:
    if _TERMINAL.search(prev):
        return False
    first = nxt[0]
    if _TAG_LABEL.match(prev):  # "Tags" + "calendario, stock car, …" + "ATENÇÃO: Comentários …": the list, then stop
        return first.islower() or prev.endswith((":", ",")) or " " not in prev
    if first.islower() or first == "(" or (first.isdigit() and not re.match(r"\d+[.)]\s", nxt)):
        return True
    if len(prev) > 100 and nxt[:1] not in "\"“‘'" and len(nxt) > 60:
        return True  # a long line cut mid-sentence (a line length limit), not a headline
    if prev[-1:].islower() and _NAME_CONTINUES.match(nxt):
        return True  # "… would no doubt toast" + "Mrs May if she abandoned …": a wrap before a name
    if _DASH_ASIDE.match(nxt) or len(prev) > 12 and _POSSESSIVE_END.search(prev):
        return True  # a wrap before a dashed aside, or after a possessive that needs its noun
    return prev.endswith(",") or bool(re.search(r"\d$", prev)) and len(prev) > 12 or \
        bool(_FUNCTION_END.search(prev)) and len(prev) > 12 or bool(_OPEN_QUOTE_END.search(prev))


def _is_prose(p: str) -> bool:
    words = len(_WORDS.findall(p))
    if not p.isascii():  # Chinese/Japanese: no spaces between words
        from ..condense.sentences import n_words

        words = max(words, n_words(p))
    return words >= 10 and bool(_SENT_END.search(p)) and not _is_linklist(p) or words >= 30 and not _is_linklist(p)


def _is_linklist(p: str) -> bool:
    """Three or more list separators ("Home | News | Sport", "» Related"); guillemets that pair up are quotation
    marks («MIRO Analytical», »Zitat«), not separators."""
    return len(_LINKLIST.findall(p)) - min(p.count("«"), p.count("»")) >= 3


@lru_cache(maxsize=4096)
def _boilerplate_rule(p: str) -> str | None:
    """The cleaning rule a paragraph matches ("wall:" prefix for comment/related blocks), memoised."""
    from ..condense.clean import _WIDGET_LEAD, TAIL_RULES, _match_line

    if len(p) <= 80:
        low = p.lower()
        for rule in TAIL_RULES:
            if rule.search(p, low):
                return "wall:" + rule.name
        if _WIDGET_LEAD.match(p):
            return "wall:comment_widget"
    rule = _match_line(p)
    return rule.name if rule else None


def paragraph_score(p: str) -> float:
    """Positive for prose (its length), negative for short lines, very negative for walls (comments, related)."""
    rule = _boilerplate_rule(p)
    if rule and rule.startswith("wall:"):
        return -5000.0
    if rule:
        return -60.0 - 0.5 * len(p)
    if _is_prose(p):
        return float(len(p))
    return -25.0 - 0.4 * len(p)


_QUOTE_CLOSERS = {"„": "“”", "“": "”", "«": "»", '"': '"'}  # an opening mark and the marks that close it
QUOTED_BLOCK_MAX = 24  # lines of verse or a letter quoted line by line inside an article


def quoted_lines(paras: list[str]) -> set[int]:
    """The short lines of a quotation set line by line (lyrics, a poem, a letter): from a line that opens a quote
    it does not close to the line that closes it, at most ``QUOTED_BLOCK_MAX`` lines. They are part of the
    article, not page furniture between two articles."""
    out: set[int] = set()
    i = 0
    while i < len(paras):
        p = paras[i]
        closer = _QUOTE_CLOSERS.get(p[:1])
        if closer and not any(c in p[1:] for c in closer):
            for j in range(i + 1, min(i + 1 + QUOTED_BLOCK_MAX, len(paras))):
                if any(c in paras[j] for c in closer):
                    out.update(range(i, j + 1))
                    i = j
                    break
        i += 1
    return out


def find_body(paras: list[str]) -> tuple[int, int]:
    """The [start, end) run of paragraphs with the maximum total score (the short lines of a quotation set line by
    line count as nothing, neither prose nor furniture)."""
    best, best_span = float("-inf"), (0, 0)
    cur, cur_start = 0.0, 0
    quoted = quoted_lines(paras)
    for i, p in enumerate(paras):
        s = paragraph_score(p)
        if i in quoted and s < 0 and not _boilerplate_rule(p):
            s = 0.0
        if cur <= 0:
            cur, cur_start = s, i
        else:
            cur += s
        if cur > best:
            best, best_span = cur, (cur_start, i + 1)
    start, end = best_span
    if best <= 0:  # nothing reads as prose: keep every non-boilerplate paragraph
        return 0, len(paras)
    return start, end


BRIDGE_MAX_GAP = 20  # paragraphs between the article's two halves (a "Related coverage" box)
BRIDGE_MIN_PROSE = 2  # prose paragraphs above the box that make it an inset, not page furniture


def bridge_related(paras: list[str], start: int) -> tuple[int, set[int]]:
    """Reach back over a "Related coverage" box set inside the article (its wall split the body in two).

    Above ``start``: a gap of at most ``BRIDGE_MAX_GAP`` short lines (headlines, dates, ad markers) holding
    exactly one related-block heading, and above that at least ``BRIDGE_MIN_PROSE`` prose paragraphs in a
    row. Then the body starts at that prose and the gap's paragraphs are dropped (returned as indices)."""
    i, gap, walls = start - 1, [], 0
    while i >= 0 and len(gap) < BRIDGE_MAX_GAP and not _is_prose(paras[i]):
        rule = _boilerplate_rule(paras[i])
        if rule == "wall:comment_widget" or len(paras[i]) > 120:
            return start, set()
        walls += rule == "wall:related_block"
        gap.append(i)
        i -= 1
    if walls != 1:
        return start, set()
    top = i
    while i >= 0 and _is_prose(paras[i]) and _boilerplate_rule(paras[i]) is None:
        i -= 1
    if top - i < BRIDGE_MIN_PROSE:
        return start, set()
    return i + 1, set(gap)


def _opens_on_prose(paras: list[str], start: int) -> bool:
    """The text opens on the article's own lede (an article pasted without its page), and nothing between it and
    the body run is a comment or related block: the short lines in between (a table's cells, a recipe's
    ingredients, an embedded post) belong to the article, and the body starts at the top. The lede is two prose
    paragraphs in a row (a dek and a lede, or the lede and the next), or one of 120 characters or more that tells
    of what the body run tells of (a cookie banner or an author's bio above a page's article shares hardly a word
    with it)."""
    if not _ledeish(paras[0]) or any((_boilerplate_rule(p) or "").startswith("wall:") for p in paras[1:start]):
        return False
    if start > 1 and _ledeish(paras[1]) and len(paras[0]) + len(paras[1]) >= 240:
        return True
    first = paras[0]
    if len(first) < 120:
        return False
    own = set(_LONG_WORD.findall(first.lower()))
    body = set(_LONG_WORD.findall(" ".join(paras[start:start + 8]).lower()[:4000]))
    shared = len(own & body)
    return shared >= 3 and shared >= 0.15 * len(own)


SHORT_LEDE_WORDS = (5, 25)
_NAME_OR_WORD = lazy(r"[^\W\d_]{4,}")
# a definite description with no name in it yet ("The first lady suggested …", "The singer, 34, …")
_LEANS_BACK = lazy(r"^The\s+[a-z][a-z-]+(?:\s+[a-z][a-z-]+)?(?:,|\s+[a-z])")


def _short_lede_above(paras: list[str], start: int) -> bool:
    """The paragraph just above the body run is the article's own short first sentence, which the body's first
    sentence leans on ("Michelle Obama sees despair in America." above "The first lady suggested …"): the body
    opens on a pointer (a pronoun, "The <noun> …", "Diese …") and the line above has 5-25 words ending on a full
    stop (a question, an exclamation or an ellipsis is a headline's or a slogan's), no colon (a label), two
    lower-case words (not a headline in title case), no boilerplate, and two or more of its words (four letters
    or more, not function words) told of again in the body's first three paragraphs."""
    first = paras[start]
    if not (_LEANS_BACK.match(first) or points_back(first, guess_lang(first))):
        return False
    p = paras[start - 1]
    words = p.split()
    low, high = SHORT_LEDE_WORDS
    end = p.rstrip("\"'”’»)")
    if not low <= len(words) <= high or not end.endswith(".") or end.endswith("..") or ":" in p:
        return False
    if not (p[:1].isupper() or p[:1] in "\"“‘„«") or sum(w[:1].islower() for w in words) < 2:
        return False
    if _boilerplate_rule(p) is not None or _is_linklist(p):
        return False
    own = {w.lower() for w in _NAME_OR_WORD.findall(p)} - ANY_FUNCTION_WORD
    body = {w.lower() for w in _NAME_OR_WORD.findall(" ".join(paras[start:start + 3])[:3000])}
    return len(own & body) >= 2


def _ledeish(p: str) -> bool:
    """Prose that is neither boilerplate nor a page's script."""
    return _is_prose(p) and _boilerplate_rule(p) is None and sum(c in "{}();=<>[]" for c in p) <= 0.02 * len(p)


_LONG_WORD = re.compile(r"[^\W\d_]{6,}")  # long enough to skip most function words ("diese", "which")


def keep_in_body(p: str) -> bool:  # kept for callers; parse_text asks _boilerplate_rule directly
    """Inside the body run, keep prose and short structural lines (subheads, list items), drop boilerplate."""
    return _boilerplate_rule(p) is None


def _captioned(paras: list[str], i: int) -> bool:
    """A short paragraph followed by a bare photo credit ("Name/AFP/Getty Images") is a caption."""
    if i + 1 >= len(paras) or len(paras[i]) > 400:
        return False
    nxt = paras[i + 1]
    return len(nxt) <= 80 and len(nxt.split()) <= 8 and not _SENT_END.search(nxt) and bool(
        re.search(r"Getty Images|\bAFP\b|Reuters|Shutterstock|\bAP\b|\w/\w", nxt)) and not re.match(
        r"(?i)(?:image|media|photo|video)\s*caption", nxt)


def _title_like(p: str) -> bool:
    words = _WORDS.findall(p)
    if not 2 <= len(words) <= 30 or len(p) > 220:
        return False
    if _boilerplate_rule(p) or _is_linklist(p):
        return False
    if p[0].islower() or re.match(r"^(?:by|par)\s", p, re.I):
        return False
    if re.search(r"[.;,]$", p) and not p.endswith("..."):
        return False
    letters = sum(c.isalpha() for c in p)
    return letters >= 0.6 * len(p.replace(" ", ""))


def find_title(paras: list[str], body_start: int) -> int | None:
    """Index of the headline: the page title line's match above the body, else the nearest title-like line."""
    page_title = _SITE_SUFFIX.sub("", paras[0]).strip() if paras else ""
    window = range(body_start - 1, max(-1, body_start - 40), -1)
    if page_title and body_start > 1:
        key = _key(page_title)
        for i in window:
            if i > 0 and _key(paras[i]) == key:
                return i
        for i in window:
            k = _key(paras[i])
            if i > 0 and len(k) > 15 and (k in key or key in k) and _title_like(paras[i]):
                return i
    for i in range(body_start - 1, max(-1, body_start - 8), -1):
        if _title_like(paras[i]) and not _is_prose(paras[i]):
            return i
    if body_start > 0 and _title_like(paras[0]):
        return 0
    return None


def _key(s: str) -> str:
    return re.sub(r"\W+", " ", s.lower()).strip()


def _clean_title(line: str, page_title: str) -> str:
    title = line.strip()
    if title == page_title.strip():
        stripped = _SITE_SUFFIX.sub("", title).strip()
        title = stripped or title
    return title


def derive_title(body: str, limit: int = 90) -> str:
    """A title for a headline-less body: its first sentence, shortened at a word boundary."""
    from ..condense.clean import clean_text
    from ..condense.sentences import first_sentence

    first = ""
    for para in body[:3000].split("\n"):  # clean paragraph by paragraph: only the first sentence matters
        first = first_sentence(clean_text(para).text).rstrip()
        if first:
            break
    if not first:
        return ""
    if len(first) > limit:
        cut = first[:limit].rsplit(" ", 1)[0].rstrip(" ,;:–—-")
        return cut + "…"
    return first.rstrip(".")
