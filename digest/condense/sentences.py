"""A sentence splitter for news text, in pure Python, linear in the input size.

Why our own and not pysbd/syntok: pysbd costs ~20 ms to import and several ms per article, and its
regexes are known to backtrack badly on long numbered lists and HTML remnants; syntok costs ~55 ms to
import. This splitter scans candidate boundaries with one regex that has no nested quantifiers, then
decides each candidate with a few look-ups (abbreviations, initials, decimals, acronyms), so its time
is bounded by O(n) whatever the input. Paragraph breaks (newlines) are always boundaries.

Handles: abbreviations (Mr., Dr., Gen., Jan., U.S.), initials (J. K. Rowling), decimals (3.5),
ellipses, closing quotes and brackets after the full stop (``."`` ``.)``), and a missing space after
a full stop (``in the US.Authorities said``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from .lazyre import compile_cached, lazy

# Abbreviations that are normally followed by a name or a number, not by a new sentence.
TITLES = frozenset(
    [
        "mr", "mrs", "ms", "mx", "dr", "prof", "sen", "rep", "gov", "gen", "col", "lt", "sgt", "capt", "cpl", "maj",
        "adm", "cmdr", "st", "mt", "ft", "rev", "fr", "sr", "jr", "hon", "pres", "supt", "insp", "det", "atty",
        "messrs", "mme", "mlle", "mgr"
    ]
)
OTHER_ABBREVIATIONS = frozenset(
    [
        "inc", "ltd", "co", "corp", "bros", "plc", "llc", "vs", "v", "etc", "al", "approx", "dept", "est", "fig",
        "figs", "no", "nos", "vol", "vols", "pp", "ed", "eds", "op", "cit", "jan", "feb", "mar", "apr", "jun", "jul",
        "aug", "sep", "sept", "oct", "nov", "dec", "mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri", "sat",
        "sun", "e.g", "i.e", "cf", "ca", "c", "viz", "ave", "blvd", "rd", "hwy", "univ", "assn", "intl", "natl",
        "govt", "ft.lb", "p.m", "a.m"
    ]
)
# Abbreviations of other languages (and the language code that uses them). Without a known language the union is
# used: a German "Nr." or a Spanish "Sra." is never a word that ends an English sentence.
LANG_ABBREVIATIONS = {
    "de": frozenset(["nr", "bzw", "ca", "vgl", "usw", "evtl", "ggf", "inkl", "zzgl", "hr", "fr", "frl", "str", "abs",
                     "bd", "jh", "jhd", "mio", "mrd", "tel", "dt", "sog", "u.a", "z.b", "d.h", "s.o", "u.u", "o.ä",
                     "max", "mind", "bspw", "lt", "gem", "hl"]),
    "fr": frozenset(["mm", "mme", "mmes", "mlle", "mlles", "me", "dr", "pr", "st", "ste", "av", "bd", "cf", "env",
                     "etc", "p.ex", "n°", "no", "janv", "févr", "avr", "juil", "déc"]),
    "es": frozenset(["sr", "sra", "sras", "sres", "srta", "dra", "dña", "d", "ud", "uds", "lic", "ing", "arq", "avda",
                     "núm", "pág", "aprox", "ee.uu", "etc", "p.ej", "ene", "abr", "ago", "dic"]),
    "pt": frozenset(["sr", "sra", "srs", "sras", "srta", "dra", "exa", "exmo", "prof", "profa", "av", "núm", "pág",
                     "aprox", "etc", "p.ex", "fev", "abr", "mai", "ago", "set", "out", "dez"]),
}
# Without a language: the other languages' abbreviations that are not also English words ("me", "set", "out").
_ANY_LANG_ABBREVIATIONS = frozenset().union(*LANG_ABBREVIATIONS.values()) - frozenset(
    ["me", "set", "out", "d", "ing", "env", "tel", "mal", "str", "abs", "mai", "ene", "ago", "exa", "pr", "av", "max",
     "mind", "gem"])


def _abbreviations(lang: str | None) -> frozenset[str]:
    code = (lang or "").lower()[:2]
    return LANG_ABBREVIATIONS.get(code, _ANY_LANG_ABBREVIATIONS if not code else frozenset())
# "3. Oktober", "1. Mai", "20. Jahrhundert", "2. Weltkriegs", "1. FC Köln": an ordinal number before a month, a
# century or another noun that counts is no sentence end.
_ORDINAL_NEXT = frozenset(
    [
        "januar", "jänner", "februar", "märz", "april", "mai", "juni", "juli", "august", "september", "oktober",
        "november", "dezember", "jahrhundert", "jahrestag", "platz", "runde", "spieltag", "liga", "klasse",
        "stock", "etage", "mal", "weltkrieg", "weltkriegs", "weltkrieges", "jahrhunderts", "bundesliga", "quartal",
        "quartals", "halbjahr", "lebensjahr", "geburtstag", "advent", "auflage", "kapitel", "staffel", "generation",
        "semester", "woche", "fc",
        "bis"  # "am 12. bis 13. September" (a range, sometimes typed "12. Bis")
    ]
)
# Words that abbreviate a numbered part of a text, before its number (in any language: "Art." is also the German
# word for "kind", so only a number after it makes it an abbreviation)
_BEFORE_NUMBER = frozenset(["art", "abs", "ziff", "kap", "bd", "sec", "ch", "chap", "para", "pt", "tab", "anm", "rn",
                            "rz", "lit", "al", "cap", "núm"])
# Initials and acronyms that do end a sentence when a typical opener follows ("… in the U.S. The …").
_SENTENCE_FINAL_ACRONYMS = frozenset(["u.s", "u.k", "u.n", "e.u", "d.c", "a.m", "p.m", "u.s.a", "n.y", "l.a"])
_MONTH_ABBREVIATIONS = frozenset(["jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov",
                                  "dec"])
# After an acronym like "U.S." a capitalised word starts a new sentence only if it is a typical opener.
SENTENCE_OPENERS = frozenset(
    [
        "the", "a", "an", "he", "she", "it", "they", "we", "i", "you", "this", "that", "these", "those", "there",
        "his", "her", "its", "their", "our", "my", "but", "and", "so", "yet", "in", "on", "at", "for", "if", "when",
        "while", "after", "before", "as", "however", "meanwhile", "officials", "police"
    ]
)

# A candidate boundary: terminal punctuation, optional closing quotes/brackets, then either whitespace or
# (missing space) directly an upper-case letter followed by a lower-case one. No nested quantifiers.
# Emoji after the stop belong to the sentence they close: "Summer is here! 🌞 The council voted …".
_EMOJI = "\u2600-\u27bf\ufe0f\u200d\U0001f300-\U0001faff"
_EMOJI_OR_SPACE = compile_cached(r"[\s" + _EMOJI + "]")
_STOP_CLOSERS = ".!?…\"'”’»)]“"
_CANDIDATE = compile_cached(r"[.!?…]+[\"'”’»)\]]*(?:“(?=\s))?(?:[ \t]*[" + _EMOJI + r"]+)?(?:\s+|(?=[A-Z][a-z]))|"
                            r"[。！？।]+[」』）)\"”’]*\s*")
# Chinese and Japanese write no spaces between words: kana and ideographs count as half a word each. Compiled
# on first use (its ranges make re build a 64K-entry table: ~2 ms), and only asked of text that has a character
# at or above its lowest one.
_CJK = lazy(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_CJK_LOWEST = "\u3040"


def n_words(text: str) -> int:
    """Words in ``text``: whitespace-separated tokens, plus half a word per Chinese/Japanese character."""
    n = len(text.split())
    if text.isascii() or max(text) < _CJK_LOWEST:
        return n
    cjk = len(_CJK.findall(text))
    return n + cjk // 2 if cjk else n


_OPEN_MARKS = "\"'“‘«([¿¡„"


def _opens_sentence(nxt: str) -> bool:
    """``nxt`` starts like a sentence: opening marks, then a digit or an upper-case letter of any script
    ("Тогда", "Η", "Über"), not only A-Z, or a letter of a script without case ("시작은", "وقال", "והוא")."""
    i = 0
    while i < len(nxt) and nxt[i] in _OPEN_MARKS:
        i += 1
    c = nxt[i:i + 1]
    if c.isupper() or c in "0123456789" and c != "":
        return True
    return c > "\u02ff" and c.isalpha() and not c.islower()  # past Latin: Hangul, Arabic, Hebrew, Thai …
# A name and a verb of saying after a quotation that ends on "?" or "!": the sentence goes on.
_ATTRIBUTION = lazy(r"[A-Z][a-z'’-]+(?:\s[A-Z][a-z'’-]+)?\s(?:asked|asks|said|says|replied|replies|shouted|shouts|"
                    r"yelled|whispered|wondered|cried|exclaimed|added|answered|demanded|laughed)\b")
_WORD_BEFORE = compile_cached(r"[\w.'’-]+\Z")  # \w is exactly str.isalnum() or "_"
MAX_SENTENCE_CHARS = 2000  # beyond this a "sentence" is a list or a dump: cut it at whitespace


def split_sentences(text: str, lang: str | None = None, limit: int | None = None) -> list[str]:
    """Split ``text`` into sentences; newlines are hard boundaries. Never returns empty strings. With ``limit``,
    at most that many (the rest of the text is not split)."""
    out: list[str] = []
    for para in text.split("\n"):
        para = para.strip()
        if para:
            out.extend(_split_paragraph(para, lang))
            if limit is not None and len(out) >= limit:
                return out[:limit]
    return out


def sentence_spans(para: str, lang: str | None = None) -> list[tuple[int, int]]:
    """Start/end offsets of the sentences in one paragraph (no newlines); ``lang`` picks the abbreviations
    ("de": "z. B.", "Nr. 5"; "fr": "M.", "Mme"; "es"/"pt": "Sr.", "Sra."), None: those of all five languages
    that are not English words."""
    return list(_iter_spans(para, _abbreviations(lang)))


def first_sentence(text: str) -> str:
    """``split_sentences(text)[0]`` (or ""), without splitting the rest of the text."""
    for line in text.split("\n"):
        line = line.strip()
        if line:
            for s, e in _iter_spans(line, _ANY_LANG_ABBREVIATIONS):
                got = line[s:e].strip()
                if got:
                    return got
    return ""


def _iter_spans(para: str, abbr: frozenset[str] = frozenset()) -> Iterator[tuple[int, int]]:
    """The sentence spans of ``para`` in order, lengths bounded by ``MAX_SENTENCE_CHARS`` (lazy)."""
    start = 0
    n = len(para)
    for m in _CANDIDATE.finditer(para):
        end = m.end()
        if end >= n:
            break
        if not _is_boundary(para, m.start(), end, abbr):
            continue
        if _inside_embedded_quote(para, start, m.start(), end):
            continue
        sent_end = _trim_end(para, start, end)
        if sent_end > start:
            yield from _bounded(para, start, sent_end)
        start = end
    if start < n:
        yield from _bounded(para, start, _trim_end(para, start, n))


def _trim_end(para: str, start: int, end: int) -> int:
    """``end`` moved back over trailing whitespace and over emoji after a sentence's stop: the sentence keeps its
    full stop as its last character ("… weekdays. 🌞" ends at "weekdays.")."""
    e = end
    while e > start and para[e - 1].isspace():
        e -= 1
    if para[e - 1:e] in _STOP_CLOSERS:
        return e  # the common case: the sentence ends on its stop or a closing mark
    t = e
    while t > start and _EMOJI_OR_SPACE.match(para, t - 1):
        t -= 1
    return t if t < e and para[t - 1:t] in _STOP_CLOSERS else e


EMBEDDED_QUOTE_CHARS = 80


def _inside_embedded_quote(para: str, start: int, punct: int, after: int) -> bool:
    """The full stop sits in a short quotation (a slogan, a title: at most ``EMBEDDED_QUOTE_CHARS``) that opened
    inside the sentence and that the sentence goes on after, in lower case: "South Dakota's viral “Meth. We're on
    it.” campaign has been facing backlash …" is one sentence. A long quotation is speech: its sentences split."""
    head = para[start:punct]
    if "„" in head:  # German: „ opens, “ (or ”) closes
        q, opened = head.rfind("„"), head.count("„") > head.count("“") + head.count("”")
        closes = [c for c in (para.find("“", after, after + 120), para.find("”", after, after + 120)) if c >= 0]
    else:
        q, opened = head.rfind("“"), head.count("“") > head.count("”")
        closes = [c for c in (para.find("”", after, after + 120),) if c >= 0]
    if q <= 0 or not opened or not closes:
        return False
    close = min(closes)
    if close - (start + q) > EMBEDDED_QUOTE_CHARS:
        return False
    rest = para[close + 1: close + 3].lstrip()
    return bool(rest) and (rest[0].islower() or rest[0] in ",;")


def _bounded(para: str, s: int, e: int) -> Iterator[tuple[int, int]]:
    """Cut a pathologically long span (a list without punctuation, a dump) at whitespace."""
    while e - s > MAX_SENTENCE_CHARS:
        cut = para.rfind(" ", s, s + MAX_SENTENCE_CHARS)
        cut = cut if cut > s else s + MAX_SENTENCE_CHARS
        yield s, cut
        s = cut + 1 if para[cut:cut + 1] == " " else cut
    if e > s:
        yield s, e


def _split_paragraph(para: str, lang: str | None = None) -> list[str]:
    return [para[s:e].strip() for s, e in sentence_spans(para, lang) if para[s:e].strip()]


def _is_boundary(text: str, punct_start: int, after: int, abbr: frozenset[str] = frozenset()) -> bool:
    """Decide whether the punctuation at ``punct_start`` (candidate ending at ``after``) ends a sentence."""
    punct = text[punct_start]
    if punct in "。！？।":
        return True  # Chinese/Japanese full stops and the Bengali/Hindi danda end a sentence, space or not
    nxt = text[after:after + 40]
    if not _opens_sentence(nxt):
        return False
    if punct_start and text[punct_start - 1] == " " and (punct == "…" or text.startswith("...", punct_start)):
        return False  # a spaced ellipsis is a pause: "… out of her hotel room ... TMZ has learned."
    if punct in "!?…":
        # '“Were you expecting …?” Alden asked Haoyu …': a quotation's own question mark, then its attribution
        return not (text[after - 2: after - 1] in "”\"’»" and _ATTRIBUTION.match(nxt))
    # full stop: look at the word before it
    word = _word_before(text, punct_start)
    core = word.strip("'’-")
    low = core.lower()
    missing_space = not text[after - 1].isspace() and text[punct_start + 1:after].strip() == ""
    if missing_space:
        # "word.Word": accept only for real words / acronyms, never for URLs or file names
        return bool(re.fullmatch(r"[a-z]{2,}|[A-Z]{2,}|[a-z]+[0-9%)]|\d{1,4}", core)) and low not in {"www", "com"}
    if not core:
        return True  # e.g. a full stop after a closing bracket or quote
    if low in TITLES or low in _MONTH_ABBREVIATIONS:
        return False  # "Sen. Warren", "Nov. The" is "Nov. 5" with the day lost: never an end
    if len(core) == 1 and core.islower():
        return False  # "z. B.", "d. h.", "u. a.": German abbreviations of single letters
    if low in abbr:
        return False
    if low in _BEFORE_NUMBER and nxt[:1].isdigit():
        return False  # a numbered part of a text: "Art. 90 Abs. 3 SVG", "Sec. 5", "Ziff. 2", "ch. 4"
    if core.isdigit() and len(core) <= 2 and _next_word(nxt).lower() in _ORDINAL_NEXT:
        return False  # "am 3. Oktober", "im 20. Jahrhundert"
    if low in OTHER_ABBREVIATIONS:
        # "Jan. 5", "Inc. said": an abbreviation; but "... in Jan. The ..." is ambiguous: treat openers as new
        if nxt[:1].isdigit():
            return False
        return _next_word(nxt).lower() in SENTENCE_OPENERS and low not in {"no", "vs", "v", "fig", "figs"}
    if len(core) == 1 and core.isalpha() and core.isupper():
        return False  # an initial: "J. K. Rowling", "George W. Bush"
    if "." in core and core[-1:].isdigit() and core.replace(".", "").replace(",", "").isdigit():
        return True  # a decimal number ends the sentence: "… for just $3.00. Myer have …"
    if "." in core:  # acronym with inner dots: "U.S.", "a.m."
        if low not in _SENTENCE_FINAL_ACRONYMS and all(len(x) == 1 for x in low.split(".")):
            return False  # initials: "J.P. \"The Big Bopper\" Richardson", "J.R.R. Tolkien"
        return _next_word(nxt).lower() in SENTENCE_OPENERS
    return True


def _word_before(text: str, end: int) -> str:
    """The run of word characters, dots, apostrophes and hyphens that ends at ``end`` (at most 40)."""
    m = _WORD_BEFORE.search(text, max(0, end - 40), end)
    return m.group(0) if m else ""


def _next_word(s: str) -> str:
    m = re.match(r"[\"'“‘«(\[]*([\w'’-]+)", s)
    return m.group(1) if m else ""
