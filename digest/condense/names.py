"""Give a surname-only mention its first name, as an editor would, when the article itself spells it out later.

A text whose own first sentence was cut (an agency rewrite, a page whose standfirst was lost) often names its
subject by surname alone: "Former Dons midfielder Sheerin, 39, has been …", "Chernova, now 27, beat …",
"In an interview with newspaper Die Zeit, Hitzlsperger said …". The reader of a teaser cannot resolve
"Sheerin"; when the body says "Thomas Hitzlsperger" further down, the teaser's first mention becomes the full
name. Only a single, unambiguous first name found in the text is used (never a title, a place or a word the text
also writes in lower case), and only on the mention where the teaser first uses the surname.
"""

from __future__ import annotations

from .lazyre import lazy

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
_PERSON_TAIL = lazy(r"(?:,\s(?:now\s|aged\s)?\d{1,3},|\s(?:said|says|told|added|adds|insisted|admitted|explained|"
                    r"claimed|wrote|tweeted|revealed|confirmed|denied|argued|warned|stressed|insists|admits|believes|"
                    r"thinks)\b)")
_GIVEN = lazy(r"[A-Z][a-z]{1,14}")


def _word_at(text: str, start: int, end: int) -> bool:
    """text[start:end] is a whole word (no letter, digit, apostrophe or hyphen on either side)."""
    return (start == 0 or not (text[start - 1].isalnum() or text[start - 1] in "'’-")) and \
        (end == len(text) or not (text[end].isalnum() or text[end] in "'’-"))


def _occurrences(text: str, word: str) -> list[int]:
    out, i = [], text.find(word)
    while i != -1:
        if _word_at(text, i, i + len(word)):
            out.append(i)
        i = text.find(word, i + 1)
    return out


def given_name(text: str, surname: str) -> str:
    """The one given name ``text`` writes before ``surname`` ("Thomas" for "Hitzlsperger"), or "" when there is
    none, more than one, the surname shows no sign of naming a person (an age or a verb of speech after it:
    "Northeast Washington", "Arizona Walmart" have none), or either word is also written in lower case ("Police",
    "Deputy"). String scanning only: no pattern is compiled per name."""
    if surname in _NOT_GIVEN:
        return ""
    hits = _occurrences(text, surname)
    firsts, person = set(), False
    for i in hits:
        after = text[i + len(surname): i + len(surname) + 16]
        person = person or bool(_PERSON_TAIL.match(after))
        if i >= 3 and text[i - 1] == " ":
            k = i - 1
            while k > 0 and text[k - 1].isalpha():
                k -= 1
            first = text[k: i - 1]
            if _GIVEN.fullmatch(first) and first not in _NOT_GIVEN and _word_at(text, k, i - 1):
                firsts.add(first)
    if len(firsts) != 1 or not person:
        return ""
    first = next(iter(firsts))
    if _occurrences(text, first.lower()) or _occurrences(text, surname.lower()):
        return ""
    return first


def given_names(text: str, wanted: set[str]) -> dict[str, str]:
    """Surname -> its one given name in ``text``, for the surnames in ``wanted`` (see ``given_name``)."""
    return {w: f for w in wanted if (f := given_name(text, w))}


def complete_names(sentences: list[str], body: str, context: str = "") -> tuple[list[str], list[tuple[int, str]]]:
    """``sentences`` with the teaser's first surname-only mention of each person given the first name the body
    spells out ("Hitzlsperger said" -> "Thomas Hitzlsperger said"), and notes (sentence index, what was completed).

    A mention is surname-only when the word before it is not a capitalised word (so not "Briton Ennis-Hill",
    "Mr Sheerin") and the word after it is not one either ("Warrington Wolves"). A surname the teaser (or
    ``context``, the headline) already gives with its first name is left alone.
    """
    joined = " ".join(sentences)
    done: set[str] = set()
    out: list[str] = list(sentences)
    notes: list[tuple[int, str]] = []
    for k, s in enumerate(out):
        for m in list(_CAP.finditer(s)):
            last = m.group(0)
            bare = last[:-2] if last.endswith(("'s", "’s")) else last
            if bare in done or bare in _NOT_GIVEN:
                continue
            done.add(bare)  # only the teaser's first mention of a word is completed
            before = s[: m.start()].split()[-1:] if m.start() else []
            if before and before[0][:1].isupper() and before[0][-1:] not in ",;:":
                continue  # "Briton Ennis-Hill", "Mr Fergus", "Rhys Hanbury": already a name with its qualifier
            after = s[m.end():].lstrip()
            if after[:1].isupper() and s[m.end(): m.end() + 1] not in ",;:.":
                continue  # "Warrington Wolves": part of a longer name
            first = given_name(body, bare)
            full = f"{first} {bare}"
            if not first or full in joined or full in context:
                continue
            out[k] = s[: m.start()] + first + " " + s[m.start():]
            notes.append((k, f"'{bare}' given its first name from the text: '{full}'"))
            break  # one completion per sentence keeps offsets simple and is all a lede needs
    return out, notes
