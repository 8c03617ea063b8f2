"""Which language a text is in, by a vote of frequent function words: cheap, right on news prose, None when unsure.

Shared by the readers (``Article.lang``) and the cleaning rules that only fit English pages.
"""

from __future__ import annotations

from .lazyre import lazy

# Frequent function words per language: a cheap vote that is right on news prose and says None when unsure.
FUNCTION_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset(str.split("the and of to in is that for was with on it as are by this be has have from at")),
    "fr": frozenset(str.split("le la les des du et est que une dans pour qui sur pas au aux avec ce sont par")),
    "de": frozenset(str.split("der die das und ist nicht zu den mit von sich des auf für ein eine dem im auch")),
    "es": frozenset(str.split("el la los las y que en del por con para una es se su al lo como más")),
    "it": frozenset(str.split("il di che la per non una sono del della con gli si al le è anche nel")),
    "pt": frozenset(str.split("o a os as que de do da em um uma para com não por mais dos das se")),
    "nl": frozenset(str.split("de het een en van is dat op te in niet voor met zijn er ook aan")),
}
_LANG_TOKEN = lazy(r"[^\W\d_]+")


def guess_lang(text: str) -> str | None:
    """"en", "fr", "de", "es", "it", "pt" or "nl" by a stop-word vote over the first ~250 words; None when unsure.
    A page that opens on addresses or a menu is asked again over the first ~1,000 words of its longer paragraphs."""
    got = _vote(text[:1500])
    if got is None and len(text) > 1500:
        prose = "\n".join(p for p in text[:20000].split("\n") if len(p) >= 80)  # paragraphs, not address lines
        got = _vote(prose, 1000)
    return got


def _vote(text: str, limit: int = 250) -> str | None:
    words = _LANG_TOKEN.findall(text.lower())[:limit]
    if len(words) < 20:
        return None
    counts: dict[str, int] = {}
    for w in words:
        counts[w] = counts.get(w, 0) + 1
    votes = sorted(((sum(counts.get(w, 0) for w in stop), lang) for lang, stop in FUNCTION_WORDS.items()), reverse=True)
    (best, lang), (second, _) = votes[0], votes[1]
    if best < 0.15 * len(words) or best < 1.5 * second:
        return None
    return lang


def english(text: str) -> bool:
    """``text`` (a sentence or a paragraph) has at least two English function words and more of them than of any
    other language's."""
    words = text.lower().split()
    counts = {lang: sum(w in stop for w in words) for lang, stop in FUNCTION_WORDS.items()}
    en = counts.pop("en")
    return en >= 2 and en > max(counts.values())


ANY_FUNCTION_WORD = frozenset().union(*FUNCTION_WORDS.values())
