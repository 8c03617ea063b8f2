"""Small text checks shared by selection and compression: sentence ends, balanced quotes, the style bar.

Kept in their own module so ``select`` and ``compress`` both import them without importing each other.
"""

from __future__ import annotations

from .lazyre import lazy

# German quotations open with „ and close with “: „Ich bin zufrieden.“ The closing “ counts as a closer.
_TERMINAL = lazy(r"[.!?…。！？।][\"'”’»)\]“]*$")
CLOSERS = "\"'”’»)]“"
ENDS = ".!?…。！？।"


def balanced(s: str) -> bool:
    """Quotes and brackets balanced, as a style check counts them (guillemets pair either way: «…» and »…«)."""
    if s.count("«") != s.count("»"):
        return False
    pairs = (("(", ")"), ("[", "]"), ("“", "”"))
    if "„" in s:
        return _balanced_german(s) and all(s.count(a) == s.count(b) for a, b in pairs[:2]) and s.count('"') % 2 == 0
    return all(s.count(a) == s.count(b) for a, b in pairs) and s.count('"') % 2 == 0


def _balanced_german(s: str) -> bool:
    """Curly double quotes balanced where German „ opens (closed by “, or by ” in some texts) and “ may open too."""
    stack: list[str] = []
    for ch in s:
        if ch == "„":
            stack.append(ch)
        elif ch == "“":
            if stack and stack[-1] == "„":
                stack.pop()
            else:
                stack.append(ch)
        elif ch == "”":
            if not stack:
                return False
            stack.pop()
    return not stack


def ends_sentence(t: str) -> bool:
    """``t`` (stripped) ends with terminal punctuation, possibly followed by closing quotes/brackets."""
    u = t.rstrip(CLOSERS)
    return bool(u) and u[-1] in ENDS


def style_ok(t: str, budget: int) -> bool:
    """The teaser style bar: non-empty, within budget, ends a sentence, balanced, no lower-case/stray start."""
    t = t.strip()
    if not t or len(t) > budget or not _TERMINAL.search(t):
        return False
    if t[0].islower() or not (t[0].isalnum() or t[0] in "\"“‘'(«¿¡"):
        return False
    return balanced(t)


def repair_closing_quotes(line: str) -> str:
    """A paragraph that closes its quotations with the opening mark (“I Cavalieri dello Zodiaco“, a slip common in
    Italian and Spanish sites) gets its closing marks back: with no ” and no German „ in it, every second “ closes.
    Nothing else changes; an odd count of “ is left alone."""
    if "“" not in line or "”" in line or "„" in line or line.count("“") % 2:
        return line
    out, opening = [], True
    for part in line.split("“")[1:]:
        out.append(("“" if opening else "”") + part)
        opening = not opening
    return line.split("“", 1)[0] + "".join(out)


def repair_brackets(line: str) -> str:
    """A full-width bracket closed by an ASCII one, or the other way round ("サンワサプライ株式会社（本社：…)は"): the
    closing bracket takes the opening one's width, so that the sentence reads as balanced."""
    if "（" not in line and "）" not in line:
        return line
    out: list[str] = []
    opened: list[str] = []
    for ch in line:
        if ch in "(（":
            opened.append(ch)
        elif ch in ")）" and opened:
            ch = "）" if opened.pop() == "（" else ")"
        out.append(ch)
    return "".join(out)


_NUMERIC_REF = lazy(r"&#(?:\d{2,5}|[xX][0-9a-fA-F]{2,4});")


def repair_entities(line: str) -> str:
    """A numeric character reference left in the text by a page that escaped it twice ("&#151; -- Hillary Clinton
    has …") becomes its character (HTML's Windows-1252 reading of 128-159: "&#151;" is "—")."""
    if "&#" not in line:
        return line
    import html

    return _NUMERIC_REF.sub(lambda m: html.unescape(m.group(0)), line)

