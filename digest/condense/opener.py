"""The lede: which sentence opens the teaser (``find_opener``), and why the ones before it may not.

The first sentence that can stand alone opens. A pronoun resolved inside the lede itself (cataphora: "Their
American dream shattered …, nearly 150 Indians returned …") may open; so may a short hook on the story's topic
followed by a clean sentence, a list-like lede of short sentences, and the text's own "Another …". When the first
clean opener is deep in the text (``DEEP_LEDE``), an opener refused only for a name the text no longer introduces
is the lesser evil. Split from ``select``, which builds and scores the candidates.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .kinds import OPEN_QUESTION
from .lazyre import lazy
from .pointers import _DEMONSTRATIVE_DE, _PRONOUN, _PRONOUN_FR
from .select import _ALSO, Candidate, _stems, opener_verdict
from .style import CLOSERS

# A lede that names what its opening pronoun stands for in the same sentence (cataphora), or identifies it:
# "She's been living in New York for a year now, and it seems that Princess Eugenie is …", "This is the moment a
# paedophile was caught …", "They are the peculiar concrete markings …", "With his lively eyebrows … - this
# state-of-the-art robotic head is …". Only the text's first sentence: later on the pronoun points back.
_CATAPHORA_NAME = lazy(r"^(?:(?:As|When|While|After|Before|Because|Since|Once|Until|Although|Though)\s+(?:she|he|they)|"
                       r"[Ss]he|[Hh]e|They)(?:['’]s)?\b[^.!?]{0,150}?(?:,|\bthat)\s+(?:[a-z]+\s+){0,3}?"
                       r"[A-Z][a-z'’-]+\s+[A-Z][a-z'’-]+")
_IDENTIFIES = lazy(r"^(?:This is the (?:\w+ )?moment\b|(?:These|They) are (?:the|a|an)\s+(?!same\b|other\b|latest\b|"
                  r"first\b|second\b|third\b|last\b)[a-z])")
# "This dog certainly is …", "These incredible photos are …": a demonstrative and its noun as the subject
_DEMONSTRATIVE_NOUN = lazy(r"^(?:This|These)\s+(?!(?:[a-z-]+\s+)?(?:figures?|numbers?|comments?|remarks?|claims?|"
                           r"findings?|changes?|measures?|plans?|proposals?|allegations?|cases?|incidents?|events?|"
                           r"results?|moves?|decisions?|statements?|reports?|rules?|cuts?)\b)(?:[a-z-]+\s+){0,2}?[a-z-]+\s+(?:certainly\s+|really\s+|surely\s+)?"
                           r"(?:is|are|was|were|has|have|had|may|might|could|will|would|can|must)\s")
_CATAPHORA_FRAME = lazy(r"^(?:with|despite|for all) (?:his|her|its|their)\b[^.!?]{5,120}?(?:,|\s[-–—])\s+"
                        r"(?:this|the|a|an)\s+[\w-]+", re.I)


# "Their American dream shattered and huge savings wasted, nearly 150 Indians returned home …", "His voice
# breaking, Obama said …": a possessive in an absolute phrase whose owner is the subject named after the comma.
_CATAPHORA_POSSESSIVE = lazy(r"^(?:Their|His|Her|Its)\s[^.!?]{3,150}?,\s+(?:(?:nearly|about|almost|more than|some|"
                             r"over|at least|around)\s+)?(?:\d[\d,]*\s|[A-Z][a-z'’-]+\s)")


# "It’s been one of the most persistent narratives of the last year: Whenever …" (a colon names what "it" is), "It
# took 15 days to end the mighty 20-year reign of Roger Ailes …" (the infinitive is what took the time).
_IT_EXPLAINED = lazy(r"^It(?:['’]s| is| was| has been| had been)\s[^.!?:]{5,100}:\s+\S|"
                     r"^It (?:took|takes|will take|would take|has taken|had taken|only took)\s[^.!?]{1,60}?\bto\s[a-z]")


def cataphoric_lede(t: str) -> bool:
    """The first sentence's pronoun is resolved inside it (the lede of a feature), so it may open."""
    if _IDENTIFIES.match(t) or _CATAPHORA_FRAME.match(t) or _DEMONSTRATIVE_NOUN.match(t) or \
            _CATAPHORA_POSSESSIVE.match(t) or _IT_EXPLAINED.match(t):
        return True
    m = _CATAPHORA_NAME.match(t)
    if not m:
        return False
    before = t[: m.end()].split()[-3:-2]  # the word before the name: "in New York" is a place, not the subject
    return not before or before[0].lower() not in _PLACE_WORDS


_PLACE_WORDS = frozenset(str.split("in at from of to on near into across outside inside"))


_OWN_SOURCE = lazy(r",\s(?:an?|the)\s[\w\s'’-]{2,40}\s(?:says|said|claims|claimed|reports|reported)\.$")
DEEP_LEDE = 3  # a clean opener more than this many sentences after the first usable one is mid-story


_ANOTHER = lazy(r"^Another\s+[a-z]")
_SHORT_LEDE = lazy(r"^[A-Z][a-z'’-]*(?:\s[\w'’-]+){2,}[.!]$")  # "Hong Kong is burning.", "The world is getting old!"
# A short hedge on the short lede before it ("Euro 2020 qualifying is over. Well, sort of. The group stage …")
_HEDGE = lazy(r"^(?:well|or|but),?\s+(?:sort of|kind of|almost|nearly|not quite|mostly|partly|more or less|"
              r"so it seems|so they say|for now|at least for now)[.!]$|"
              r"^(?:sort of|kind of|almost|not quite|mostly|more or less|for now)[.!]$", re.I)
_RUN_ON_WORDS = 45


def _note(c: Candidate, note: str) -> None:
    if note not in c.notes:
        c.notes.append(note)


def _introduced_next(c: Candidate, cands: Sequence[Candidate]) -> bool:
    """The sentence after ``c`` opens with the same "The <noun>" and introduces it ("The study, commissioned by
    …"), so the two read in order resolve each other."""
    nxt = cands[c.index + 1] if c.index + 1 < len(cands) else None
    if nxt is None or not nxt.usable or nxt.the_noun != c.the_noun:
        return False
    return bool(_INTRODUCES.match(nxt.text))


_INTRODUCES = lazy(r"^The\s+[a-z-]+\s*(?:,|\(|\s(?:by|from|of|for|into|on|at|in)\s)")


QUESTION_LEDE = "a question near the top, answered by the next sentence, which cannot stand alone: they open together"
# A reply that leans on the question before it: "Kein Problem – …", "Yes, …", "Lösung: …", "The answer is …",
# "There are all different kinds …" (after "Do you like kamaboko?"), "Diese Frage kommt häufig auf, …", German
# "Das kann …" (a pronoun: the article "Das" is followed by a noun, capitalised)
_REPLY = lazy(r"^(?:yes|no|yep|nope|sure|of course|not really|no problem|the (?:short )?answer|answer|there (?:are|is)|"
              r"(?:this|that|the) question|diese frage|cette question|esta pregunta|(?-i:Das\s(?=[a-zäöü]))|"
              r"ja|nein|klar|natürlich|kein problem|die antwort|antwort|lösung|wenig|kaum|nichts|little|not much|"
              r"oui|non|bien sûr|sí|claro|sim|não|keine sorge|keine angst|no worries|don['’]t worry|pas de panique|"
              r"no te preocupes|no se preocupe|kein wunder|no wonder|pas étonnant|no es de extrañar)\b|"
              r"^(?:nun|tja|well|eh bien|bueno|pues)\s?,|"  # "Was haben … gemeinsam? Nun, sie sind alle …"
              r"^(?:how|what) about\b|"  # "Need a reason to invest? How about the beginning of a new year."
              r"^[^.!?]{1,80},\s(?:of course|naturally|obviously|natürlich|bien sûr|claro)[.!]$|"  # "X, of course!"
              r"^[^.!?]{0,200}?\b(?:that|this) (?:direction|question|idea|notion|view|conclusion|scenario|"
              r"possibility)\b",
              re.I)


# A question too short to stand as a sentence, which the next one takes up: "Das Internet, ein rechtsfreier Raum?
# Diese Mär wird …" (three words or more: "Why?" and "Sound familiar?" are asides)
_SHORT_QUESTION = lazy(r"^\S+\s+\S+\s+\S.*\?[\"'”’»)]*$")


def _answers(nxt: Candidate, context: str, question: Candidate | None = None) -> bool:
    """``nxt`` answers the question before it: a statement that is a reply ("Kein Problem – …"), points back, opened
    with a connective, or is short ("Manchmal leider notwendig."), but not a one-word interjection ("Prima!"); or
    one that takes up two words of an open question ("Wie pflege ich meine Zaubernuss im Winter? Auch im Winter
    benötigt die Zaubernuss …": blind judges kept such pairs; not a yes/no question: "Was this the end of a
    six-year fight …?"). Any other sentence that stands alone opens by itself, the question left out."""
    if nxt.text.rstrip(CLOSERS).endswith("?"):
        return False
    if nxt.why_not == "too short":
        return nxt.text[-1:] == "." and len(nxt.text.split()) >= 3
    if nxt.usable and question is not None and OPEN_QUESTION.search(question.text) and \
            _takes_up(question.text, nxt.text):
        return True
    return nxt.usable and bool(nxt.connective or _REPLY.match(nxt.text) or opener_verdict(nxt, context))


def _takes_up(question: str, answer: str) -> bool:
    """``answer`` repeats at least two of ``question``'s content words (stems of four letters or more)."""
    q = {t for t in _stems(question) if len(t) >= 4}
    return len(q & {t for t in _stems(answer) if len(t) >= 4}) >= 2


# What may stand before a pronoun lede that is still the lesser evil: lines that are no prose at all.
_JUNK = ("too short", "no sentence end", "a list of names", "table or list cells", "photo caption", "byline",
         "link or handle", "page furniture", "numbered caption")


def find_opener(cands: Sequence[Candidate], context: str = "", limit: int = 40,
                questions: bool = True) -> tuple[Candidate | None, list[tuple[Candidate, str]]]:
    """The lede: the first sentence that can stand alone, and the verdicts on the candidates before it. With
    ``questions``, a question among the first three sentences opens when the next sentence answers it ("Do you
    like kamaboko? There are all different kinds …"); the packer then keeps the two together or asks again
    without it."""
    seen: list[tuple[Candidate, str]] = []
    found = None
    first_usable = next((c.index for c in cands if c.usable), -1)
    for c in cands[:limit]:
        why = opener_verdict(c, context)
        short_first = why == "too short" and c.index == 0 and bool(_SHORT_LEDE.match(c.text))  # "C'est la guerre."
        if short_first and len(cands) > 2 and \
                cands[1].why_not == "too short" and (_SHORT_LEDE.match(cands[1].text) or
                                                     _HEDGE.match(cands[1].text)) and \
                any(x.usable for x in cands[2:4]):
            why = ""  # "Living under ISIS. Selling Girl Scout cookies. And giving some lip …": a list-like lede
            _note(c, "a short first sentence: the sentences after it follow in order")
        elif short_first and len(cands) > 1 and cands[1].usable and cands[1].connective and \
                not cands[1].needs_previous:
            why = ""  # "C'est la guerre. Et pourtant, à moi aussi, la violence me manque.": the next one answers it
            _note(c, f"a short first sentence that the next one answers ('{cands[1].connective.strip()} …')")
        elif questions and (why == "question" or why == "too short" and _SHORT_QUESTION.search(c.text)) and \
                c.index < 3 and c.index + 1 < len(cands) and \
                (c.index == 0 or cands[c.index - 1].why_not != "question") and \
                (c.text[0].isupper() or c.text[0] in "\"“„«¿") and _answers(cands[c.index + 1], context, c):
            why = ""
            _note(c, QUESTION_LEDE)
        elif why == "repeats the headline" and c.index == 0 and len(cands) > 1 and \
                (cands[1].connective or cands[1].needs_previous):
            why = ""  # "Once in a while, I go vegan! And making it a point …": the sentences after it lean on it
            _note(c, "repeats the headline, but the sentence after it goes on from it")
        elif short_first and len(cands) > 1 and cands[1].usable and not cands[1].needs_previous and \
                set(_stems(c.text)) & {t for x in cands[1:5] for t in _stems(x.text)}:
            # "Hong Kong is burning. The authorities continue …": a punchy lede, on the story's topic (its words come
            # back within four sentences: not a player's "Wait 1 second to continue.")
            why = ""
            _note(c, "a short first sentence on the story's topic, with a clean sentence after it")
        elif why == "" and c.index != first_usable and len(c.text.split()) > _RUN_ON_WORDS:
            why = f"a run-on of more than {_RUN_ON_WORDS} words after the first sentence (captions run together)"
        elif why == "" and c.connective and c.index > 0:
            why = f"goes on from the sentence before (it opened with '{c.connective.strip()}')"
        if why.startswith("points back") and c.index == first_usable:
            if c.index == 0 and _ANOTHER.match(c.text):
                why = ""  # "Another cloud of choking smoke … is set to descend upon Delhi": news, not a pointer
                _note(c, "the text's own first sentence: \"Another …\" introduces what it names")
            elif cataphoric_lede(c.text):
                why = ""
                _note(c, "the lede names what its opening pronoun stands for (cataphoric)")
            elif c.the_noun and _introduced_next(c, cands):
                why = ""  # "The study says … . The study, commissioned by …, looked at …"
                _note(c, f"the next sentence introduces the {c.the_noun} it names")
        seen.append((c, why))
        if not why:
            found = c
            break
    first = next((c.index for c in cands if c.usable), None)
    k0 = next((k for k, (c, _) in enumerate(seen) if c.index == first), -1)
    if k0 > 0 and not all(c.why_not.startswith(_JUNK) for c, _ in seen[:k0]):
        k0 = -1  # a question or other prose before it may be what the pronoun points to ("Cette revendication …")
    if first is not None and (found is None or found.index - first >= 2) and k0 >= 0 and \
            seen[k0][1].startswith("points back") and \
            (_PRONOUN.match(seen[k0][0].text) or _PRONOUN_FR.match(seen[k0][0].text) or
             _DEMONSTRATIVE_DE.match(seen[k0][0].text)):
        # "He died at his home in Cambridge …" (a text whose own first sentence is missing), "Dieses Fett wirkt …"
        # after a product page's bullet lines: the next clean opener is two or more sentences on and would miss
        # the news; the pronoun lede is the lesser evil
        c = seen[k0][0]
        seen[k0] = (c, "")
        _note(c, "opens although it starts with a pronoun: no clean opener comes within the next sentence")
        return c, seen[:k0 + 1]
    if first is not None and (found is None or found.index - first > DEEP_LEDE):
        # a clean opener this deep is a mid-story detail: rather the first sentence refused only because it
        # names someone ("Mrs May") the text no longer introduces (its lede was cut off)
        for k, (c, why) in enumerate(seen):
            if why.endswith("was never introduced") and not _ALSO.match(c.text):
                seen[k] = (c, "")
                c.notes.append(f"opens although {why} (a clean opener comes only after {DEEP_LEDE} sentences)")
                return c, seen[: k + 1]
        for k, (c, why) in enumerate(seen):  # "They may not be …, but …, a NASA scientist says."
            if c.index == first and why.startswith("points back") and _OWN_SOURCE.search(c.text):
                seen[k] = (c, "")
                c.notes.append(f"opens although it {why[:11]} (it names its source; a clean opener comes only after "
                               f"{DEEP_LEDE} sentences)")
                return c, seen[: k + 1]
    return found, seen
