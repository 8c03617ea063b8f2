"""Sentence compression by deletion: fit more of the story into the teaser budget.

Each rule deletes a span that carries little of the story and leaves a grammatical sentence:
- ``attribution_tail``: ", police said." / ", the report said on Tuesday." / ", according to officials." / " ... TMZ
  has learned." → "."
- ``lead_time``: a leading time adverbial ("On Tuesday, ", "Earlier this week, ", "Last month, ");
- ``age_apposition``: a bare age between commas after a name ("Leon Yeaman, 55, was" → "Leon Yeaman was");
- ``dash_tail``: a trailing elaboration after a dash when the head is a full sentence ("… on Friday - exactly
  eight weeks after …" → "… on Friday.").

Safety, checked after every deletion: never inside a quotation (a span that overlaps a quote, or a sentence
that would end on a bare quotation); the result starts with a capital letter or an opening quote, ends a
sentence, keeps quotes and brackets balanced, keeps at least ``MIN_WORDS`` words, and at least 85 % of its
word 4-grams occur in the original sentence (the teaser stays text from the article: deletions, no rewording).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .lazyre import lazy
from .style import balanced, ends_sentence

MIN_WORDS = 8

_DAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_PART = r"(?:\s(?:morning|afternoon|evening|night))?"
_WHEN = (rf"(?:(?:on|last|this|late on|early on|late|early)\s{_DAY}{_PART}|{_DAY}{_PART}|yesterday{_PART}|today|"
         r"tonight|last\s(?:week|month|year|night|weekend)|this\s(?:week|month|year|weekend)|"
         r"earlier\s(?:this|last)\s(?:week|month|year)|earlier\stoday|on\s\w+\s\d{1,2}|in\sa\sstatement|"
         r"in\sa\s(?:news\s)?(?:release|report|press\sconference|statement\son\s\w+))")
_VERB = (r"(?:said|says|(?:has|have)\slearned|"
         r"told\s(?:the\s)?[A-Z][\w'’.&-]*(?:\s[A-Z0-9][\w'’.&-]*){0,4}|added|reported|reports|announced|"
         r"confirmed|explained|stated|wrote|writes|noted)")
_SUBJECT = r"(?:[A-Za-z][\w'’.&-]*)(?:\s[A-Za-z0-9][\w'’.&-]*){0,5}"

_ATTRIBUTION = lazy(
    rf"(?:,|\s\.\.\.)\s(?:{_SUBJECT}\s{_VERB}(?:\s{_WHEN}){{0,2}}|according\sto\s[^,;:\"“”‘’()]{{2,60}})"
    r"(?P<end>[.!])$")
_LEAD_TIME = lazy(
    rf"^(?:{_WHEN}|(?:earlier|later)(?:\s(?:this|last|that|on)\s(?:week|month|year|day|{_DAY}))?|"
    rf"(?:on|by|in)\s(?:the\s)?(?:{_DAY}|weekend)(?:\s(?:morning|afternoon|evening|night))?|"
    r"(?:last|this|next)\s(?:week|month|year|weekend|summer|winter|spring|autumn)|meanwhile|overnight|"
    r"at\sthe\stime|in\srecent\s(?:days|weeks|months|years)),\s(?=[A-Za-z\"“‘'])",
    re.I)
_AGE = lazy(r"(?<=[A-Za-z.)]),\s\d{1,3},(?=\s[a-z])")
_DASH_TAIL = lazy(r"\s[-–—]\s(?P<tail>[^-–—\"“”‘’()\[\]]{8,200}?)(?P<end>[.!])$")
_QUOTE_SPANS = lazy(r"„[^„“”]{0,600}[“”]|[\"“][^\"“”]{0,600}[\"”]|(?<!\w)['‘][^'‘’]{0,600}['’](?!\w)")
_TOKENS = lazy(r"[0-9a-z]+")
_GENERIC_DASH_OPENERS = lazy(r"(?:and|but|or|which|who|while|with|as|including|exactly|just|only|the|a|an|"
                             r"his|her|their|its|after|before|despite|although|though|even|almost|nearly|"
                             r"more|less|up|down|a\sday|the\sday|days|weeks|months|years)\b", re.I)


@dataclass(frozen=True)
class Compression:
    text: str
    rules: tuple[str, ...]


def compress(sentence: str, rules: frozenset[str] | None = None) -> Compression:
    """Apply the deletion rules (all, or those named in ``rules``) that keep ``sentence`` a clean sentence."""
    text, fired = sentence, []
    for name, fn in _RULES:
        if rules is not None and name not in rules:
            continue
        out = fn(text)
        if out is not None and out != text and _safe(sentence, text, out):
            text = out
            fired.append(name)
    return Compression(text, tuple(fired))


def _attribution_tail(s: str) -> str | None:
    if "," not in s and "..." not in s:
        return None
    m = _ATTRIBUTION.search(s)  # also "… out of her hotel room ... TMZ has learned."
    if not m:
        return None
    head = s[: m.start()]
    if head[-1:] in "\"'”’" or _in_quote(s, m.start(), m.end()):
        return None  # a quotation before the attribution would be left unattributed
    return head + m.group("end")


def _lead_time(s: str) -> str | None:
    m = _LEAD_TIME.match(s)
    if not m:
        return None
    rest = s[m.end():]
    return rest[0].upper() + rest[1:] if rest[:1].islower() else rest


def _age_apposition(s: str) -> str | None:
    if "," not in s:
        return None
    m = _AGE.search(s)
    if not m or _in_quote(s, m.start(), m.end()):
        return None
    return s[: m.start()] + s[m.end():]


def _dash_tail(s: str) -> str | None:
    if not any(d in s for d in (" - ", " – ", " — ")):
        return None
    m = _DASH_TAIL.search(s)
    if not m or not _GENERIC_DASH_OPENERS.match(m.group("tail")):
        return None
    head = s[: m.start()].rstrip(" ,;:")
    if len(head.split()) < 10 or any(d in head for d in (" - ", " – ", " — ")) or head[-1:] in "\"'”’" \
            or _in_quote(s, m.start(), m.end()):
        return None
    return head + m.group("end")


# A short aside in brackets: an acronym ("British Geological Survey (BGS)"), a conversion ("15.5km (9.6 miles)"),
# a clock time ("(0900 GMT)"); not a caption pointer (removed elsewhere) and never a quotation
_PAREN = lazy(r"\s\((?P<inside>[^()\"“”‘’]{1,40})\)(?=[\s,.;:!?])")
_LOCAL_TIME = lazy(r",?\s(?:at\s)?\d{1,2}(?::\d\d)?\s?(?:[ap]\.?m\.?\s)?(?:local time|GMT|BST|ET|EST|EDT|PT|PST)\b"
                   r"(?:\s\(\d{1,2}(?::\d\d)?\s?(?:GMT|BST|ET|EST|EDT|PT|PST|UTC)\))?|\slocal time\b")
_MID_DAY = lazy(r"\s(?:on|last|this)\s(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
                r"(?:\s(?:morning|afternoon|evening|night))?(?=[\s,.;:!?])")


def _paren_aside(s: str) -> str | None:
    if "(" not in s:
        return None
    out, last = [], 0
    for m in _PAREN.finditer(s):
        if len(m.group("inside").split()) > 5 or _in_quote(s, m.start(), m.end()):
            continue
        out.append(s[last: m.start()])
        last = m.end()
    return "".join(out) + s[last:] if out else None


def _local_time(s: str) -> str | None:
    if "local time" not in s and "GMT" not in s and "BST" not in s and " ET" not in s and " PT" not in s:
        return None
    m = _LOCAL_TIME.search(s)
    if not m or _in_quote(s, m.start(), m.end()):
        return None
    return s[: m.start()] + s[m.end():]


def _mid_day(s: str) -> str | None:
    if "day" not in s:
        return None
    m = _MID_DAY.search(s)
    if not m or m.start() < 12 or _in_quote(s, m.start(), m.end()):
        return None  # only inside the sentence ("… at Augusta on Friday to watch …"), never its opening words
    return s[: m.start()] + s[m.end():]


_RULES = (("attribution_tail", _attribution_tail), ("lead_time", _lead_time), ("age_apposition", _age_apposition),
          ("dash_tail", _dash_tail), ("paren_aside", _paren_aside), ("local_time", _local_time),
          ("mid_day", _mid_day))
RULE_NAMES = tuple(n for n, _ in _RULES)


def _in_quote(s: str, start: int, end: int) -> bool:
    """The span [start, end) overlaps a quotation, or the sentence has an unclosed quote."""
    if not any(q in s for q in "\"“”‘’'"):
        return False
    for m in _QUOTE_SPANS.finditer(s):
        if m.start() < end and start < m.end():
            return True
    return s.count("“") != s.count("”") or s.count('"') % 2 == 1


def _safe(original: str, before: str, after: str) -> bool:
    after = after.strip()
    if not after or not ends_sentence(after) or not balanced(after):
        return False
    c0 = after[0]
    if c0.islower() or not (c0.isalnum() or c0 in "\"“‘'("):
        return False
    if len(after.split()) < MIN_WORDS:
        return False
    if bare_quote(after) and not bare_quote(before):
        return False
    return _support(after, original) >= 0.85


def bare_quote(s: str) -> bool:
    """The sentence is nothing but a quotation (no attribution left)."""
    s = s.strip()
    return s[:1] in "\"“‘'„" and s.rstrip(".!?…")[-1:] in "\"”’'“" and len(_QUOTE_SPANS.findall(s)) == 1


def _support(sentence: str, source: str) -> float:
    w = _TOKENS.findall(sentence.lower())
    g = {tuple(w[i:i + 4]) for i in range(len(w) - 3)}
    if not g:
        return 1.0
    b = _TOKENS.findall(source.lower())
    bg = {tuple(b[i:i + 4]) for i in range(len(b) - 3)}
    return len(g & bg) / len(g)
