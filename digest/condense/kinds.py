"""Kinds of sentence that look like something else: a wire-photo caption that reads like prose, an "It …" that does
not point back, a stats-table row, a link line, a press release's download note. Seen on pages we had never seen
(issue 18, "Unseen pages" and "Round 8" in docs/teasers.md)."""

from __future__ import annotations

import re

from .lang import ANY_FUNCTION_WORD
from .lazyre import lazy

# A wire-photo caption: present tense or a position marker ("Deval Patrick, left, speaks with …"), dated at its end
# ("…, Tuesday, Nov. 19, 2019, in Columbia, S.C."); news prose does not date a present-tense scene to the day.
_WIRE_DATE_END = lazy(r"(?P<lead>(?:,|day,?) (?:on )?)?\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.? "
                      r"\d{1,2}, (?:19|20)\d\d(?:,? (?:in|at|near) [A-Z][^!?]{0,40}?)?\.$")
_WIRE_MARKER = lazy(r", (?:left|right|center|centre|second (?:from )?(?:left|right)|top|bottom|foreground|background),|"
                    r"\((?:left|right|center|centre|top|bottom|foreground|background|L|R)\)")
_WIRE_VERB = lazy(r"\b(?:speaks|walks|arrives|leaves|rides|stands|sits|looks|gestures|poses|attends|listens|waves|"
                  r"holds|talks|reacts|smiles|delivers|addresses|watches|waits|prays|celebrates|is seen|are seen|"
                  r"shakes? hands|gather|march|protest|pray|celebrate|watch|wait|arrive|walk|stand|pose|speak)\b")


def wire_caption(t: str) -> bool:
    """A wire-photo caption: a scene dated to the day at its end ("…, Tuesday, Nov. 19, 2019, in Columbia, S.C."),
    with a position marker (", left,", "(background)") or a present-tense verb right before a comma-led date; news
    prose does not date a present-tense scene to the day ("He leaves office on Jan. 20, 2021." is prose)."""
    m = _WIRE_DATE_END.search(t)
    if not m or t.split(" ", 1)[0] in ("He", "She", "They", "It", "We", "I", "You"):
        return False
    return bool(_WIRE_MARKER.search(t) or m.group("lead") and _WIRE_VERB.search(t))


# "It should not surprise anyone that …", "It is no secret that …", "It’s no coincidence that …": an "it" that stands
# for the clause that follows, not for anything before it.
_EXPLETIVE_IT = lazy(r"It(?:['’]s| (?:is|was|should|would|will|may|might|must|seems|seemed|appears|appeared|has been|"
                     r"had been|comes|came))(?:n['’]t| not| no)? (?:\w+ ){0,2}?(?:surprise|surprising|surprised|secret|"
                     r"clear|obvious|true|likely|unlikely|possible|impossible|no wonder|coincidence|accident|"
                     r"exaggeration)\b[^.!?]{0,40}?\b(?:that|when|if)\b")
_THIRD_PERSON = lazy(r"\s*(?:he|she|they|his|her|their|it|its|this|these|those)\b", re.I)


def expletive_it(t: str) -> bool:
    """"It should not surprise anyone that Ms Price …": the "it" stands for the clause that follows, whose own subject
    is not a pronoun either ("It was clear that he had lost" still points back)."""
    m = _EXPLETIVE_IT.match(t) if t[:3] in ("It ", "It'", "It’") else None
    return m is not None and not _THIRD_PERSON.match(t, m.end())


def stat_row(t: str) -> bool:
    """A row of a stats table read as a sentence: at least a third of its tokens are numbers and not one is a
    function word of prose ("DL Larry Ogunjobi 63 85% 1 tackle (1 combined).", "1 sack, 1 TFL, 2 QH."; not "Es
    tritt am 1. Januar 2022 (Artikel 1 und 3) in Kraft.")."""
    toks = t.split()
    if len(toks) < 4:
        return False
    if 3 * sum(map(t.count, "0123456789")) < len(toks):
        return False  # fewer digits than a third of the tokens: most sentences stop here
    nums = len(_NUMBER_TOKEN.findall(t))  # tokens with a digit in them
    return 3 * nums >= len(toks) and not any(w.strip(".,;:()").lower() in ANY_FUNCTION_WORD for w in toks)


_NUMBER_TOKEN = lazy(r"[^\s\d]*\d\S*")


def linkish(t: str) -> bool:
    """A link, or handles and hashtags as the sentence's furniture ("Follow @digest #news."); one hashtag inside
    prose is a name ("… habe ich das Projekt #DigitalHerrnhut aufgerissen – …")."""
    # a site's address in brackets after its name ("… ㈜디지털이엠씨(www.digitalemc.com).") is no link sentence
    if _URL.search(t) and _URL.search(_BRACKETED_URL.sub("", t)):
        return True
    tags = _HANDLE.findall(t)
    if not tags:
        return False
    last = t.rstrip(".!?…").rsplit(None, 1)[-1]
    return len(tags) >= 2 or len(t.split()) < 8 or bool(_HANDLE.match(t) or _HANDLE.match(last))


_URL = lazy(r"https?://|www\.")
_BRACKETED_URL = lazy(r"(?<=\w)\s?\((?:https?://|www\.)[^\s()]{3,80}\)")
_HANDLE = lazy(r"[@#]\w{2,}")


_PRESS_KIT = lazy(r"\b(?:zum (?:kostenlosen )?Download|am Ende (?:der|dieser) (?:Meldung|Pressemitteilung)|"
                  r"Pressefotos?\b|hochauflösende[nrs]? (?:Bild|Foto)|high[- ]resolution (?:images|photos)|"
                  r"(?:images|photos) (?:are )?available for download|press kit|à télécharger)", re.I)


# Literal pieces, one per alternative of _PRESS_KIT (lower case), without which it cannot match: most sentences skip it.
_PRESS_KIT_NEEDLES = ("download", "am ende d", "pressefoto", "hochauflösend", "resolution", "press kit", "télécharger")


def press_kit(t: str) -> bool:
    """A press release's note about its downloads ("… drei Bildmotive am Ende der Meldung zum kostenlosen
    Download.", "High-resolution images are available for download.")."""
    low = t.lower()
    return any(n in low for n in _PRESS_KIT_NEEDLES) and _PRESS_KIT.search(t) is not None


# A press release's place and date on a line of their own: "Berlin, 29. November 2022.", "Paris, le 3 mars 2023.",
# "WASHINGTON, Nov. 19, 2019."
_PLACE_DATE = lazy(r"^[A-ZÄÖÜ][\w.'’ /-]{1,40},\s(?:(?:le|den|am|el)\s)?"
                   r"(?:\d{1,2}\.?\s[^\W\d]+\.?|[A-Z][a-z]+\.?\s\d{1,2},)\s\d{4}\.?$")


def place_date(t: str) -> bool:
    """``t`` is only a place and a date (a press release's dateline), not a sentence."""
    return len(t) < 70 and _PLACE_DATE.match(t) is not None


# An open question after the lede is its hook ("So what's a GreenPak?", "What do you see?", "It's a Mario game you
# can play with one hand, so what's not to love?"); a yes/no question to the reader is a poll ("Should parents be
# banned from the railings?", "Do you agree?"): not a hook.
OPEN_QUESTION = lazy(r"^[¿\"“„«]?(?:what|why|how|who|where|when|which|warum|wieso|weshalb|wie|wer|wo|wann|"
                     r"welche[rsnm]?|que|quoi|pourquoi|comment|qui|où|quand|quel(?:le)?s?|qué|cómo|quién|dónde|cuándo|cuál|"
                     r"o que|quem|onde|quando|qual)\b|,\s(?:so|but|and)\s(?:what|why|how|who)\b[^?]*\?[\"'”’)]*$",
                     re.I)
