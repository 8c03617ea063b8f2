"""Kinds of sentence that look like something else: a wire-photo caption that reads like prose, an "It …" that does
not point back. Seen on pages we had never seen (issue 18, "Unseen pages" in docs/teasers.md)."""

from __future__ import annotations

import re

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


# "It should not surprise anyone that …", "It is no secret that …": an "it" that stands for the clause that follows,
# not for anything before it.
_EXPLETIVE_IT = lazy(r"It (?:is|was|should|would|will|may|might|must|seems|seemed|appears|appeared|has been|had been|"
                     r"comes|came)(?:n['’]t| not| no)? (?:\w+ ){0,2}?(?:surprise|surprising|surprised|secret|clear|"
                     r"obvious|true|likely|unlikely|possible|impossible|no wonder)\b[^.!?]{0,40}?\b(?:that|when|if)\b")
_THIRD_PERSON = lazy(r"\s*(?:he|she|they|his|her|their|it|its|this|these|those)\b", re.I)


def expletive_it(t: str) -> bool:
    """"It should not surprise anyone that Ms Price …": the "it" stands for the clause that follows, whose own subject
    is not a pronoun either ("It was clear that he had lost" still points back)."""
    m = _EXPLETIVE_IT.match(t) if t[:3] == "It " else None
    return m is not None and not _THIRD_PERSON.match(t, m.end())
