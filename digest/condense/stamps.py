"""Date and time stamps in copied text: the vocabulary (months, times, dates) the cleaning rules share, and the
stamps a copied page runs into an article's first sentence, with the byline and the comment counter around them
("November 18, 2019 7:45 am PST by Joe Rossignol Following …"), or a label before them ("CAR REVIEWS 2018 Lexus ES
350 October 19, 2018 Earlier this year …")."""

from __future__ import annotations

from .lazyre import lazy

MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
TIME = r"\d{1,2}[:.]\d{2}\s*(?:[AaPp]\.?[Mm]\.?)?\s*(?:GMT|BST|UTC|CET|CEST|EST|EDT|CST|CDT|PST|PDT|ET|PT)?"
DATE = rf"(?:\d{{1,2}}\s+{MONTH},?\s+\d{{4}}|{MONTH}\s+\d{{1,2}},?\s+\d{{4}}|\d{{1,2}}[./-]\d{{1,2}}[./-]\d{{2,4}})"

_WEEKDAY = r"(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day"
# Months of the five languages digest splits (and Italian), abbreviated or whole: "02 Ago 2017", "3. März 2021",
# "12 de agosto de 2019", "5 févr. 2020".
_ANY_MONTH = (r"(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|mär|mai|okt|dez|janv|févr|fév|avr|juil|"
              r"août|déc|ene|abr|ago|dic|gen|mag|giu|lug|set|ott|fev|out)[a-zäéû]*\.?")
_STAMP_DATE = rf"(?:{_ANY_MONTH}\s+\d{{1,2}},?\s+\d{{4}}|\d{{1,2}}\.?\s+(?:de\s)?{_ANY_MONTH},?\s+(?:de\s)?\d{{4}}|" \
              r"\d{4}-\d{2}-\d{2}|\d{1,2}[./]\d{1,2}[./]\d{4})"
_STAMP_NAME = r"(?:[A-Z][\w'’-]+\.?(?:\s[A-Z][\w'’-]+\.?){0,3}|admin)"
_STAMP_TIMES = rf"(?:\s{{0,2}}(?:,|\s(?:at|um|à|a las))?\s{{0,2}}{TIME}(?:\s?Uhr)?)"
_COUNTER = r"(?:\s(?:Kommentare|Comments?|Kommentar|Commentaires?|Comentarios?)?\s?\d{1,4}(?=\s[A-Z]))"
# A date (and time) stamp run into the first sentence of a paragraph, with the byline around it: "November 18, 2019
# 7:45 am PST by Joe Rossignol Following the …", "Wednesday, November 20, 2019 LOS ANGELES (AP) — …", "Written by
# Rachael Link, MS, RD on November 14, 2019 Binge eating …", "By admin - 2018-09-16 As of …", "Debbie White 18 Nov
# 2019, 19:09 , 19:11 A HUNTER who …", "Moritz Bachmann publiziert am 25. September 2018 Die …". After a time, a
# lone number is the comment counter ("Nov 19, 2019, 10:31 pm CST 0 Volkswagen’s …").
DATE_STAMP = (
    rf"^(?:(?:(?:Written|Posted|Published|Posted on)\s)?[Bb]y\s{_STAMP_NAME}(?:,\s[A-Z]{{2,5}}\.?){{0,3}}"
    rf"(?:\s{{1,2}}(?:[-–—|·•]\s{{1,2}}|on\s)|,\s|\s)|"
    rf"{_STAMP_NAME}\s(?:(?:publiziert|veröffentlicht|geschrieben|publié|publicado) (?:am|le|el|em)\s|"
    rf"(?:[-–—|·•]\s)?(?={_STAMP_DATE}{_STAMP_TIMES})))?"
    rf"(?:{_WEEKDAY},?\s)?{_STAMP_DATE}(?:{_STAMP_TIMES}(?:\s{{0,2}},\s{{0,2}}{TIME})*{_COUNTER}?)?"
    rf"(?:\s(?:by|By|von|par|por)\s{_STAMP_NAME}{_COUNTER}?)?(?:\s(?:Kommentare|Comments?)\s\d{{1,4}})?"
    rf"\s{{0,2}}(?:[-–—|·•]\s{{1,2}})?"
    r"(?=[\"“‘]?[A-Z]\S*(?:\s\S+){5})"
)

# A label or a linked headline run into a date stamp before the first sentence: "CAR REVIEWS 2018 Lexus ES 350
# October 19, 2018 Earlier this year, Lexus revealed …" (lines of a copied page joined into one paragraph). What comes
# before the date ("Cartoni 02 Ago 2017 E’ stato …") has no lower-case word and is no preposition (label_before_stamp).
_LABEL_STAMP = (rf"^(?P<label>[\w&'’-]+(?:\s[\w&'’-]+){{0,9}}?)\s{_STAMP_DATE}(?:{_STAMP_TIMES})?\s{{1,2}}"
                r"(?=[\"“‘]?[A-Z][a-z'’]*\s(?:\S+\s){3})")
LABEL_STAMP_RULE = lazy(_LABEL_STAMP)
_STAMP_AT = lazy(rf"\s{_STAMP_DATE}")
_PREPOSITIONS = frozenset(("On", "In", "At", "By", "Since", "Until", "From", "Before", "After", "For", "Through",
                           "Am", "Im", "Seit", "Bis", "Vom", "Le", "Depuis", "El", "Desde", "Hasta"))


def label_before_stamp(prefix: str) -> bool:
    """``prefix`` ("CAR REVIEWS 2018 Lexus ES 350 October 19, 2018 ") is a label or a headline in title case, not the
    start of a sentence that names its date ("On October 19, 2018 Lexus …", "Since March 3, 2020 the …")."""
    m = _STAMP_AT.search(prefix)
    toks = (prefix[: m.start()] if m else prefix).split()
    return bool(toks) and toks[0] not in _PREPOSITIONS and all(not t[:1].islower() for t in toks)


# "Updated on September 19 at 3:15 p.m." between two sentences of a paragraph (a page's stamp in the text)
UPDATED_ON = (rf"(?:^|(?<=[.!?”\"])\s)(?:Updated|Published|Last updated|Posted)\s+on\s+(?:{_WEEKDAY},?\s+)?"
              rf"{MONTH}\s+\d{{1,2}}(?:,?\s+\d{{4}})?(?:,?\s+at\s+{TIME})?\.?(?=\s|$)")


# A date that labels the paragraph, then a colon or dash: "December 28, 2014: Markets opened lower …",
# "Monday, 3 March 2025 — The council …", "28. Dezember 2014: Die Börsen …", "Lundi 3 mars 2025 - Le conseil …"
# (the sentence after it starts in upper case). Weekdays and months of the languages the stamps know.
_ANY_WEEKDAY = (r"(?:(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day|(?:Mon|Diens|Donners|Frei|Sams|Sonn)tag|Mittwoch|"
                r"[Ll]undi|[Mm]ardi|[Mm]ercredi|[Jj]eudi|[Vv]endredi|[Ss]amedi|[Dd]imanche|[Ll]unes|[Mm]artes|"
                r"[Mm]i[ée]rcoles|[Jj]ueves|[Vv]iernes|[Ss][áa]bado|[Dd]omingo)")
DATE_LABEL = (rf"^(?:{_ANY_WEEKDAY},?\s{{1,2}})?(?:{DATE}|{_STAMP_DATE})\s{{0,2}}(?:[-—–]{{1,2}}|:)\s{{1,3}}"
              r"(?=[\"“‘„«A-ZÄÖÜÉÈÀÁÍÓÚÑ])")
