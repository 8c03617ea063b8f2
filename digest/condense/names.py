"""Give a surname-only mention its first name, as an editor would, when the article itself spells it out later.

A text whose own first sentence was cut (an agency rewrite, a page whose standfirst was lost) often names its
subject by surname alone: "Former Dons midfielder Sheerin, 39, has been …", "Chernova, now 27, beat …",
"In an interview with newspaper Die Zeit, Hitzlsperger said …". The reader of a teaser cannot resolve
"Sheerin"; when the body says "Thomas Hitzlsperger" further down, the teaser's first mention becomes the full
name. Only a single, unambiguous first name found in the text is used (never a title, a place or a word the text
also writes in lower case), and only on the mention where the teaser first uses the surname.
"""

from __future__ import annotations

import re

from .lazyre import lazy

# "Thomas Hitzlsperger", "Tatyana Chernova", "Jessica Ennis-Hill": a capitalised given name and a surname, both
# written as names (overlapping matches: "Respect to Thomas Hitzlsperger!")
_FULL = lazy(r"(?=(?<![\w'’-])([A-Z][a-z]{1,14}) ([A-Z][a-z][a-zA-Z'’-]{1,24})(?![\w-]))")
_CAP = lazy(r"(?<![\w'’.-])[A-Z][a-z][a-zA-Z'’-]{1,24}(?![\w-])")
# capitalised words that are not given names: titles, ranks, roles, nationalities before a name, function words
_NOT_GIVEN = frozenset(str.split(
    "The A An In On At For From With By Of To And But Or As If When While After Before Since Until Under Over "
    "This That These Those His Her Their Its Our My Your It He She They We You I There Here "
    "Mr Mrs Ms Miss Mx Dr Prof Professor Sir Dame Lord Lady Rev Reverend Father Sister Brother Saint St "
    "President Vice Prime Minister Chancellor Secretary Senator Sen Rep Representative Governor Mayor Judge "
    "Justice King Queen Prince Princess Duke Duchess Pope Cardinal Bishop Archbishop Captain Capt Colonel Col "
    "General Gen Major Lieutenant Lt Sergeant Sgt Officer Detective Inspector Chief Constable Superintendent "
    "Commissioner Coach Manager Boss Chairman Chairwoman Director Editor Leader Speaker Ambassador Attaché "
    "Former Ex Late Young Old Little Big Great New North South East West Northern Southern Eastern Western "
    "Midfielder Striker Defender Goalkeeper Winger Forward Briton British English Scottish Welsh Irish "
    "American Russian German French Spanish Italian Australian Canadian Chinese Indian Dutch Swedish "
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May June July "
    "August September October November December Team Club United City County Royal National International"))
# what only a person's surname is followed by: an age ("Sheerin, 39,", "Chernova, now 27,") or a verb of speech
_PERSON = (r"(?:,\s(?:now\s|aged\s)?\d{1,3},|\s(?:said|says|told|added|adds|insisted|admitted|explained|claimed|"
           r"wrote|tweeted|revealed|confirmed|denied|argued|warned|stressed|insists|admits|believes|thinks)\b)")


def given_names(text: str) -> dict[str, str]:
    """Surname -> its one given name in ``text`` (surnames written with two different given names are left out)."""
    seen: dict[str, set[str]] = {}
    for m in _FULL.finditer(text):
        first, last = m.group(1), m.group(2)
        if first in _NOT_GIVEN or last in _NOT_GIVEN:
            continue
        seen.setdefault(last, set()).add(first)
    out: dict[str, str] = {}
    for last, firsts in seen.items():
        if len(firsts) != 1:
            continue
        first = next(iter(firsts))
        if re.search(rf"(?<![\w'’-])(?:{re.escape(first.lower())}|{re.escape(last.lower())})(?![\w'’-])", text):
            continue  # a word the text also writes in lower case is not a name ("Police", "Deputy" …)
        if not re.search(rf"(?<![\w'’-]){re.escape(last)}{_PERSON}", text):
            continue  # no sign that it names a person: "Northeast Washington", "Arizona Walmart"
        out[last] = first
    return out


def complete_names(sentences: list[str], body: str, context: str = "") -> tuple[list[str], list[tuple[int, str]]]:
    """``sentences`` with the teaser's first surname-only mention of each person given the first name the body
    spells out ("Hitzlsperger said" -> "Thomas Hitzlsperger said"), and notes (sentence index, what was completed).

    A mention is surname-only when the word before it is not a capitalised word (so not "Briton Ennis-Hill",
    "Mr Sheerin") and the word after it is not one either ("Warrington Wolves"). A surname the teaser (or
    ``context``, the headline) already gives with its first name is left alone.
    """
    joined = " ".join(sentences)
    if not _CAP.search(joined):
        return sentences, []
    names = given_names(body)
    if not names:
        return sentences, []
    done: set[str] = set()
    out: list[str] = list(sentences)
    notes: list[tuple[int, str]] = []
    for k, s in enumerate(out):
        for m in list(_CAP.finditer(s)):
            last = m.group(0)
            bare = last[:-2] if last.endswith(("'s", "’s")) else last
            first = names.get(bare)
            if not first or bare in done:
                continue
            done.add(bare)
            full = f"{first} {bare}"
            if full in joined or full in context:
                continue
            before = s[: m.start()].split()[-1:] if m.start() else []
            if before and before[0][:1].isupper() and before[0][-1:] not in ",;:":
                continue  # "Briton Ennis-Hill", "Mr Fergus", "Rhys Hanbury": already a name with its qualifier
            after = s[m.end():].lstrip()
            if after[:1].isupper() and s[m.end(): m.end() + 1] not in ",;:.":
                continue  # "Warrington Wolves": part of a longer name
            out[k] = s[: m.start()] + first + " " + s[m.start():]
            notes.append((k, f"'{bare}' given its first name from the text: '{full}'"))
            break  # one completion per sentence keeps offsets simple and is all a lede needs
    return out, notes
