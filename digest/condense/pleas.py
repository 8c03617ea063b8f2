"""Pleas and notices that run long: a paragraph that mentions a plea's keyword ("newsletter", "support") is prose
unless it reads as a plea (imperative or second person, a sign-up call to action at its end, an ad blocker to
switch off). ``clean._match_line`` asks these before it lets a long paragraph go."""

from __future__ import annotations

import re

from .lazyre import lazy

# A notice that the reader's browser is too old: "You are using an outdated browser …", "Dein Browser ist leider
# veraltet.", "… update your browser" (the disclaimer rule in clean.py asks it)
BROWSER_NOTICE = (r"(?:you are using|you're using|sie verwenden|sie nutzen|vous utilisez|est[áa]s? usando) "
                  r"(?:an? |einen |un )?(?:[\w-]+ )?(?:browser|navigateur|navegador)\b|"
                  r"(?:your|dein|ihr|votre|tu|su) (?:web ?)?(?:browser|navigateur|navegador) (?:is|ist|est|es|está) "
                  r"(?:leider )?(?:out-?dated|veraltet|obsol[eè]te|antiguo|desactualizado|not supported|"
                  r"nicht unterstützt)|(?:upgrade|update) your browser|(?:einen neueren|a newer|a modern|a supported) "
                  r"browser")
TERMINAL = lazy(r"[.!?…][\"'”’»)\]]*$")  # a paragraph that ends a sentence (clean.py uses it too)


def looks_like_prose(line: str) -> bool:
    """Twelve words or more and a sentence end: a paragraph that merely mentions a keyword is prose."""
    return len(line.split()) >= 12 and bool(TERMINAL.search(line))


_STRONG_PLEA = lazy(r"(?:werbeblocker|ad-?blocker|ad blocker)\b[^.!?]{0,40}\b(?:aus|deaktiv|abschalt|disabl|turn off|"
                    r"whitelist|désactiv)|uns\b[^.!?]{0,40}\bzu unterstützen|unterstützt? uns\b", re.I)
# The last sentence of a paragraph is a sign-up call to action: the paragraph is a newsletter's or app's plug.
_CALL_TO_ACTION = lazy(r"(?:^|[.!?…]\s{1,3})(?:(?:Sign|Signs) up|Subscribe|Register|Join|Get|Don['’]t miss|"
                       r"Never miss)\b[^.!?\n]{0,80}\b(?:newsletters?|inbox|subscribers?|mailing list|app)\b"
                       r"[^.!?\n]{0,40}[.!]?$")


def strong_plea(line: str) -> bool:
    """An ad blocker to switch off or "support us" in German: a plea whatever the paragraph's length."""
    return ("blocker" in line or "unterstütz" in line) and bool(_STRONG_PLEA.search(line))


def plea_like(line: str) -> bool:
    """A long line that still reads as a plea or notice: imperative or second person ("Please support us …",
    "We use cookies to give you …")."""
    return bool(re.search(r"\b(?:you|your|us|our)\b", line, re.I)) and bool(
        re.match(r"(?:please|help|support|subscribe|sign|join|get|become|follow|like|submit|send us|we use|"
                 r"this (?:site|website))",
                 line, re.I))


def subscribe_plea_like(line: str) -> bool:
    """A plea to subscribe or support, however long: ``plea_like``, an ad blocker to switch off or "support us" in
    German ("… wenn ihr über einen der folgenden Links einkauft oder eure Werbeblocker ausschaltet."), or a short
    promo paragraph that closes on a sign-up ("… Sign up for the free daily newsletter.")."""
    return strong_plea(line) or len(line.split()) <= 60 and bool(_CALL_TO_ACTION.search(line)) or plea_like(line)


def credit_at_end(line: str) -> bool:
    """A caption that ends on its picture credit ("… at the harbour on Tuesday. Photograph: Jane Doe")."""
    return bool(re.search(r"(?:Photograph|Photo|Picture|Image)\s{0,2}:\s{0,2}[^.]{1,80}$", line))
