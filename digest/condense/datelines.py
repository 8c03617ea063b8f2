"""What stands before a text's first sentence, and where the sentence starts after it.

- A news agency or station in brackets: "LONDON (Reuters) - ", "(CNN)", "AUSTIN (KXAN) — " (``bureau``, the
  ``accept`` check of ``clean``'s ``bureau_prefix`` rule, which runs on every paragraph).
- In the text's first paragraph only (``FIRST_PARAGRAPH_CUTS``, tried in order by ``clean.clean_text``): a place
  dateline in mixed case ("Indianapolis – Several thousand …"), a headline run into an agency's mark ("… financial
  documents (CNN)President Donald Trump …") or into the lede that restates it.

One list of agencies (``AGENCIES``) serves all three forms. All patterns are written for linear-time matching.
"""

from __future__ import annotations

import re

from .lazyre import lazy
from .pleas import TERMINAL


def _r(p: str, flags: int = 0) -> re.Pattern[str]:
    return lazy(p, flags)


# News agencies and the outlets whose copy opens on their name in brackets. A bracketed capitalised name followed by
# a dash or colon is a bureau too ("AUSTIN (KXAN) — "); these are the ones known without that dash.
AGENCIES = ("CNN", "CNN Money", "CNN Business", "Reuters", "AP", "AFP", "UPI", "PA", "EFE", "dpa", "ANSA", "Xinhua",
            "Bloomberg", "The Hollywood Reporter", "SID", "KNA", "epd", "APA", "SDA")
_AGENCY_NAMES = "|".join(re.escape(a) for a in sorted(AGENCIES, key=len, reverse=True))
# in the bureau rule's pattern: a known agency, or any capitalised name (``bureau`` decides)
AGENCY = rf"(?:{_AGENCY_NAMES}|[A-Z][\w&.'’ -]{{1,30}})"
_KNOWN_AGENCY = frozenset(AGENCIES)


def bureau(prefix: str) -> bool:
    """``prefix`` ("LONDON (Reuters) - ", "(CNN)", "AUSTIN (KXAN) — ") names a news agency or station, not a word's
    own brackets: an abbreviation of the words before it ("British Virgin Islands (BVI) Governor …", "Common Rail
    (CR) …"), a German word part ("(Ständer-) Bohrmaschine"), or a name's aside with no dash after it ("Kauri (Te
    Kaurinui Robert) Parata")."""
    head, _, rest = prefix.partition("(")
    agency, _, after = rest.partition(")")
    if agency.endswith("-") or not agency:
        return False
    initials = "".join(w[0] for w in head.split() if w[:1].isupper())
    if len(agency) >= 2 and agency.isupper() and initials.endswith(agency):
        return False
    if after.strip():  # a dash or colon follows: the form of a dateline
        return True
    return agency in _KNOWN_AGENCY or agency.isupper() or "CNN" in head


# Words after which "Mr Name" continues the sentence ("told Mr Smith", "that Ms Kunis"): no run-in there.
NAME_LEAD = frozenset(str.split(
    "a an the that to by with and or of for from at in on as than like about after before against between "
    "because if when while where whom who which told tells telling said says asked asks ask thanked thanks "
    "praised blamed accused joined met meet saw see called call named name described describe sued visited "
    "helped help hit beat is was are were be been being has have had but nor so yet not also including "
    "whether how what why unlike behind alongside under over into onto toward towards through during via"))

# Words a caption or a headline never ends on: the sentence goes on ("… achieved or If you …", "… for diese
# These sind …").
FUNCTION_END = frozenset(str.split(
    "a an the and or but nor of to for with by from in on at as than that which who whose "
    "its their his her our my your only also"))


# A headline run into the lede without a full stop, which the lede then restates: "Germans now think of themselves
# as the victims of Hitler and his Nazi Regime Germans no longer see the Second World War as a defeat and now think
# of themselves as victims of the Nazis, it has been claimed." Boundaries: a capitalised word after a word that is
# not a function word, with no sentence end, colon, quote or bracket in the head.
_HEAD_BOUNDARY = _r(r"(?<=[A-Za-z0-9%])\s(?=[A-Z][a-z'’-]+\s)")
_HEAD_WORD = _r(r"[a-z][a-z'’-]{3,}")
HEADLINE_MIN_WORDS, HEADLINE_MAX_WORDS = 5, 25
_AND = frozenset(("and", "und", "et", "y", "e", "&"))


def _head_stems(s: str) -> set[str]:
    return {w[:-1] if w.endswith("s") else w for w in _HEAD_WORD.findall(s.lower())} - NAME_LEAD


# A place before the first sentence of the text: "Indianapolis – Several thousand …", "Dekalb, Ill. — Mike Glass …",
# "New York, NY – With …", "Washington, DC, United States: Getting …", "NEW DELHI: Their …", "München / Berlin - Bayerns
# …", "Washington.- El senador …" (wire copy in mixed case; the all-capitals "WASHINGTON — " form is the ``dateline``
# rule, on every paragraph).
_PLACE = r"[A-Z][\w.'’-]*(?: [A-Z][\w.'’-]*){0,2}"
_PLACE_DATELINE = lazy(rf"^{_PLACE}(?P<region>(?:(?:, ?| / ){_PLACE}){{0,2}})(?P<sep> [–—-]{{1,2}} |: |\.[–—-] ?)"
                       r"(?=[\"“„‘A-Z])")
_SECOND_DASH = lazy(r"\s[–—-]\s")


def place_dateline(line: str) -> int:
    """Where the body starts after a dateline at the start of the text's first paragraph (0: none). A dash after
    one to three capitalised words, or a colon after "City, State" or an all-capitals place; the rest must be a
    sentence of 12+ words without a second dash soon after ("Messi — Barcelona's forward — scored …" is an
    aside, not a dateline)."""
    m = _PLACE_DATELINE.match(line)
    if not m:
        return 0
    rest = line[m.end():]
    if m.group("sep") == ": " and not m.group("region") and not line[:m.start("sep")].isupper():
        return 0  # "Summary: …", "Claim: …" are labels, not places
    if len(rest.split()) < 12 or _SECOND_DASH.search(rest[:80]) or not TERMINAL.search(rest.split("\n")[0]):
        return 0
    return m.end()


def headline_runin(line: str) -> int:
    """Where the lede starts when the first paragraph opens with its headline run in (0 when it does not): the
    latest boundary (a headline may hold capitalised words) whose head has 5-25 words, no punctuation that ends or
    opens anything, and >= 60 % (and >= 3) of its content words restated in the rest of the lede's sentence, which
    has >= 8 words and ends with a full stop."""
    if len(line) < 80 or line[0] in "\"“‘'(":
        return 0
    best = 0
    for m in _HEAD_BOUNDARY.finditer(line, 0, 300):
        head = line[:m.start()]
        words = head.split()
        if len(words) < HEADLINE_MIN_WORDS:
            continue
        if len(words) > HEADLINE_MAX_WORDS or any(ch in head for ch in ".!?:;\"“”‘()[]|"):
            break
        if words[-1].lower() in NAME_LEAD or words[-1][:1].isupper() and words[-2].lower() in _AND:
            continue  # "Die ifzw impulsstiftung und Dago | Leukefeld besiegeln …": a name, not a boundary
        rest = line[m.end():]
        end = _SENT_END.search(rest)
        if end is None:
            break
        lede = rest[: end.end()]
        if len(lede.split()) < 8:
            continue
        hs = _head_stems(head)
        shared = hs & _head_stems(lede)
        if len(shared) >= 3 and len(shared) >= 0.6 * len(hs):
            best = m.end()
    return best


_AGENCY_MARK = _r(rf"\((?:{_AGENCY_NAMES}|AFP/Getty)\)\s{{0,2}}(?:[-—–]{{1,2}}\s{{1,2}})?(?=[\"“A-Z])")


def agency_runin(line: str) -> int:
    """Where the lede starts after a headline run into a news agency's mark ("Supreme Court halts subpoena for Trump
    financial documents (CNN)President Donald Trump …"), 0 when there is none: the mark within the first 200
    characters, after a head of 3-25 words with no sentence end in it (a place before the mark is bureau_prefix's)."""
    m = _AGENCY_MARK.search(line, 0, 220) if "(" in line[:200] else None
    if m is None or m.start() == 0:
        return 0
    head = line[:m.start()].split()
    if not 3 <= len(head) <= HEADLINE_MAX_WORDS or _SENT_END.search(line, 0, m.start()) or \
            head[-1].lower() in FUNCTION_END:
        return 0
    return m.end()


# What may precede the text's first sentence in its first paragraph, removed in this order (each returns where the
# text starts, 0 for nothing): a place dateline, a headline run into an agency's mark or into the lede.
FIRST_PARAGRAPH_CUTS = ((place_dateline, "dateline"), (agency_runin, "headline_runin"),
                         (headline_runin, "headline_runin"))


_SENT_END = _r(r"[.!?][\"'”’)]*(?=\s|$)")
