"""Choose the teaser sentences: score cleaned sentences, pack the budget, never cut mid-sentence.

Each sentence of the cleaned body becomes a ``Candidate``. Hard filters (with the reason kept for
``--explain``): fragments without a sentence end (captions, subheads), too short, questions (not a reported
quoted question), meta openers ("Recently I wrote …"), discourse filler ("First, let's say …"), unbalanced
quotes or brackets, sentences that repeat the headline, lower-case or punctuation starts. A leading
connective ("But", "However,") is stripped; a sentence that opens with an unresolved pronoun ("He", "They",
"This is") may only follow its own predecessor.

Lede first (the default): the teaser opens with the first sentence that can stand alone (``find_opener``) and
continues with the sentences that follow it in order while they fit (``_run``), stepping over furniture,
captions and quotes without a speaker. A follow-on a little too long may fit after editor-safe deletions
(``Params.fit_compress``: never attribution) or lose a trailing clause that only adds to it
(``Params.trim_follow_on``); one that cannot fit may be replaced by one of the next three that stands alone on its
own (``Params.skip_long``). The older packing (``follow="value"``): score =
position prior + centrality (TF-IDF cosine to the whole text) + title overlap + shared entities and numbers +
repeated content bigrams, exhaustive subset search over the lead region for the highest total value (score x
length) within the budget, minus a cost for each jump between picked sentences; printed in document order.
If no usable sentence fits, the best one is shortened at a clause boundary and ends with "…".
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from itertools import chain

from .clean import update_stamp
from .compress import bare_quote, compress
from .kinds import linkish, place_date, press_kit, stat_row, wire_caption
from .lazyre import lazy
from .pointers import _CONNECTIVE, points_back
from .sentences import n_words, split_sentences
from .style import CLOSERS, balanced, ends_sentence


@dataclass
class Params:
    """Selection settings (chosen by two-fold tuning on the dev set; see docs/teasers.md)."""

    w_pos: float = 1.0
    pos_decay: float = 0.5  # position prior = 1 / (1 + i) ** pos_decay
    w_cent: float = 1.0
    w_title: float = 0.5
    w_ent: float = 0.5
    min_ratio: float = 0.0  # add a further sentence only when its score >= min_ratio * best score
    knapsack: bool = True  # choose the subset with the best total score (else greedy by score)
    knap_pool: int = 6  # usable sentences considered by the subset search (the lead region)
    length_bonus: float = 0.0  # per sentence bonus (favours more, shorter sentences)
    w_quote: float = 0.5  # penalty x share of the sentence inside quotation marks
    drop_parens: bool = True  # drop caption pointers in brackets ("(pictured)", "(left)") to save room
    by_length: bool = True  # a sentence's value = score x its length (expected overlap), else its score
    max_candidates: int = 40
    max_sentences: int = 60  # sentences scored: the opener is looked for in the first 40, its run follows it
    min_words: int = 6
    long_words: int = 60  # penalise run-on "sentences" (merged captions, lists) beyond this many words
    compress: tuple[str, ...] = ()  # deletion rules applied to every sentence (see compress.py); off: an editor
    # keeps attribution ("according to a study") and a lede too long for the budget is fitted by fit_sentence
    first_person: str = "skip"  # unquoted "I"/"my" in a third-person story is speech that lost its quotes
    w_bigram: float = 1.0  # weight of repeated content bigrams (a summary reuses the story's repeated phrases)
    bigram_cap: float = 4.0  # repeats (summed over the sentence's bigrams) that give the full bigram score
    len_exp: float = 1.0  # value = score x (length / 100) ** len_exp
    lead_bonus: float = 0.0  # added to the first usable opener's score (the lead sentence)
    bare_quote: str = "skip"  # a sentence that is only a quotation (no attribution): "skip", or "keep" (scored)
    gap_penalty: float = 2.0  # value lost per jump between picked sentences (a blurb that jumps reads badly)
    filler_words: int = 0  # a sentence shorter than this with no name and no number is content-free filler
    gap_min: int = 3  # a jump: two consecutive picks with at least this many sentences (of any kind) between them
    follow: str = "run"  # after the lede: "run" (the next sentences in order) or "value" (subset search, jump cost)
    lede_first: bool = True  # open with the first sentence that can stand alone; the rest only follows on
    # deletions that make the next sentence of the run fit (never attribution): applied only when it then fits
    fit_compress: tuple[str, ...] = ("lead_time", "age_apposition", "dash_tail", "paren_aside", "local_time",
                                     "mid_day")
    skip_long: int = 3  # when the next sentence does not fit, one of the next this many that stands alone may follow
    trim_follow_on: bool = True  # else the next sentence may lose a trailing clause that only adds to it (tried first)


DEFAULT = Params()

_STOP = frozenset(
    [
        "a", "an", "the", "and", "or", "but", "if", "of", "to", "in", "on", "at", "for", "with", "by", "from",
        "as", "is", "was", "are", "were", "be", "been", "being", "has", "have", "had", "do", "does", "did", "not",
        "no", "so", "that", "this", "these", "those", "it", "its", "it's", "he", "she", "they", "them", "his",
        "her", "their", "we", "our", "you", "your", "i", "me", "my", "who", "whom", "which", "what", "when",
        "where", "why", "how", "than", "then", "there", "here", "also", "just", "more", "most", "very", "can",
        "could", "would", "should", "will", "may", "might", "must", "said", "says", "say", "about", "after",
        "before", "over", "into", "out", "up", "down", "off", "again", "new", "one", "two", "all", "any", "some",
        "such", "only", "own", "same", "other", "le", "la", "les", "de", "des", "du", "et", "un", "une", "en",
        "est", "pour", "que", "qui", "dans", "par", "sur", "au", "aux"
    ])
_TOKEN = lazy(r"[^\W_]+(?:['’][^\W_]+)?")
# A capitalised word or a number after a non-word character, not at a sentence start: (?<=[^\w])(?<![.!?]\s)(?:[A-Z]
# [a-zA-Z'’-]{1,}|\d[\d,.]*%?), with the look-behinds after the first character so that re skips to candidates
_ENTITY = lazy(r"[A-Z](?<=[^\w][A-Z])(?<![.!?]\s[A-Z])[a-zA-Z'’-]{1,}|\d(?<=[^\w]\d)(?<![.!?]\s\d)[\d,.]*%?")
# "Here are …" points at what follows, unless a count follows it: "Here are four stocks among the 66 …" is a list's hook
_HERE_ARE = r"here are(?!\s+(?:\d|one|two|three|four|five|six|seven|eight|nine|ten|a few|some|several)\b)"
_META = lazy(
    r"^(?:(?:recently|yesterday|earlier|last week|a while ago),?\s+)?(?:I|we)\s+(?:have\s+)?(?:wrote|written|reported|"
    r"mentioned|noted|argued|said|explained|covered|discussed|asked|promised|told you)\b|"
    r"^(?:in|as)\s+(?:my|our|a)\s+(?:previous|earlier|last)\s+(?:post|article|column|piece|story)|"
    r"^(?:in )?this (?:article|post|piece|column|story|review|guide)\b|^(?:as|like)\s+(?:I|we)\s+(?:said|wrote|mentioned)|"  # noqa: E501
    r"^(?:editor'?s note|update|note|disclosure|correction|edit|edited|addendum|p\.?s)\s*:|"
    r"^welcome to (?:my|our|this|the) (?:\w+ ){0,2}(?:blog|site|website|podcast|show|newsletter|channel|episode|"
    r"edition|issue|series|page|forum|community|shop|store)\b|"
    r"^welcome to [^.!?]{0,60}, (?:our|my|your) (?:look|series|guide|weekly|daily|source|home|destination)\b|"
    r"^welcome (?:back|aboard)\b|^(?:click|tap|watch|listen|subscribe|klicke|klickt|klicken sie|cliquez|clique|"
    rf"sign up|follow (?:us|me|@|on|along)|scroll|here'?s|here is|{_HERE_ARE})\b|"
    r"^(?:insgesamt|fazit|zusammenfassend|in summary|overall|to sum up|all in all|en résumé|en resumen)\s?:|"
    # a page's instructions for its controls: "Bitte wählen Sie ein Anreisedatum, indem Sie … im Kalender klicken."
    r"^(?:bitte|please|veuillez)\s[^.!?]{0,80}?\b(?:klicken|wählen sie|click|select|choose|tap|cliquez|sélectionnez)\b|"
    # a blog's post footer: "This entry was posted on … and is filed under …", "Der Beitrag wurde am … veröffentlicht"
    r"^(?:this (?:entry|post) was posted (?:on|in)|(?:der|dieser) (?:beitrag|eintrag|artikel) wurde (?:am|unter)\s)",
    re.I)
# Furniture anywhere in the sentence: "Sportsmail will be providing you with all you need to know …",
# "Here, Sportsmail's guide takes you through …"
_FURNITURE = lazy(r"\b(?:will be (?:providing|bringing|giving) you|takes? you through|all you need to know|"
                  r"(?:scroll|click|tap) (?:down|here|below) to)\b", re.I)
# A call to readers to send or post something: "Please share your videos, pictures and stories at iReport.",
# "Add your own in the comments.", "Tell us in the comments below."
_READER_CALL = lazy(r"^(?:please\s+)?(?:share|send(?: us)?|submit|tell us|add|leave|post|let us know)\b"
                    r"[^.!?]{0,80}?(?:\b(?:in|to|below) the comments?\b|\bin the comment section\b|"
                    r"\byour (?:videos?|pictures?|photos?|stories|story|tips?|thoughts|views|comments?|experiences?)\b|"
                    r"\bwhat you think\b)", re.I)
# A caption's closing marker: "Die Kinder waren alle noch sehr klein (Symbolbild).", "… at the scene (File photo)."
_CAPTION_MARK = lazy(r"\((?:Symbolbild|Symbolfoto|Archivbild|Archivfoto|Foto|Bild|Photo|Image|File photo|Archive photo|"
                     r"Illustration|Photo d'illustration|Imagen de archivo)(?:\s{0,2}[:,][^()]{0,60})?\)[.!]?$", re.I)
_CAPTION = lazy(r"\bpictured\b(?![^(]*\))|^In (?:this|these|a|an)\b[^!?]{0,60}?\b(?:photo|image|picture|handout|"
                r"video still|photograph)s?\b|^[A-Z]{3,}(?: [A-Z]{3,})?:\s|"
                      r"^(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.? \d{1,2}, \d{4} [A-Z]|"
                      r"^\d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* \d{4} [A-Z]")
_DATE_PREFIX = lazy(r"\d{1,2} (?:January|February|March|April|May|June|July|August|September|October|November|"
                   r"December) \d{4}\s+(?=[A-Z][a-z])")
_MONTHS3 = frozenset(str.split("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec"))
_QUOTED = lazy(r"„[^„“”]{0,600}[“”]|[\"“][^\"”]{0,600}[\"”]|(?<!\w)['‘][^'’]{0,600}['’](?!\w)")
_PARENS = lazy(r"\s\((?:pictured|left|right|above|below|centre|center|file photo|inset|top|bottom|from left|l-r|L-R|"
               r"pictured (?:left|right|above|below|centre|center|here|together)|"
               r"li\.|re\.|l\.|r\.|Mitte|links|rechts|v\. ?l\.(?: ?n\. ?r\.)?|à gauche|à droite|au centre|"
               r"izq\.|izquierda|dcha\.|derecha|centro|Bild|im Bild|Foto|photo)\)(?=[\s,.;:!?])")
# "I", "I'm", "I've", "I'd", "I'll", "me", "my", "myself" as words: \b(?:I|I['’](?:m|ve|d|ll)|me|my|myself)\b, written
# to start with its first letter (a leading \b makes re try every position of the text)
_FIRST_PERSON = lazy(r"[Im](?<!\w[Im])(?:(?<=I)(?:['’](?:m|ve|d|ll))?|(?<=m)(?:e|y|yself))\b")
_LEAD_JUNK = lazy(r"^[\s\-–—•·*▪►»>|:;,.+]+")  # list bullets, a changelog's "+ Added …"
_LEAD_CHARS = frozenset(" \t\n-–—•·*▪►»>|:;,.+")
# Discourse filler: "First, let's say what …", "Here's the thing.", "So, what is it?" and sentences that only
# point at the next one ("… is not.", "… is this:").
_DISCOURSE = lazy(r"^(?:(?:first|firstly|second|secondly|third|thirdly|next|finally|so|now|ok|okay|well|but|and)"
                  r",?\s+)?(?:(?:let['’]s|let us)"
                  r"(?!\s+(?:assume|imagine|pretend|suppose|be (?:honest|clear|real|frank)|face it)\b)|"
                  rf"here['’]s|here is|{_HERE_ARE}|there['’]s this)\b", re.I)
_POINTER_END = lazy(r"\b(?:is|was|are|were|isn['’]t|wasn['’]t)\s+(?:not|this|these|that|as follows|the following)"
                    r"\s*[.:][\"'”’)]*$", re.I)
_POINTER_WORDS = ("not", "this", "these", "that", "follows", "following")


def _points_at_next(t: str) -> bool:
    """``_POINTER_END.search(t)``, searched only when ``t`` ends with one of its last words and "." or ":" (a
    search for its leading word boundary tries every position of the sentence: ~4 µs, most sentences fail here)."""
    u = (t[:-1] if t[-1:] == "\n" else t).rstrip("\"'”’)")
    if u[-1:] not in (".", ":"):
        return False
    last = u[:-1].rstrip()[-9:]
    if last.isascii() and not last.lower().endswith(_POINTER_WORDS):
        return False  # case-insensitive matching folds only these ASCII letters (and a few non-ASCII ones)
    return bool(_POINTER_END.search(t))


_HONORIFIC = lazy(r"^(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Dame)\.?\s+((?:[A-Z][\w'’-]+\s+)*[A-Z][\w'’-]+)")
_THE_NOUN = lazy(r"^The\s+([a-z][a-z-]{2,})\b")
# a title and a surname alone ("Dr Venter"); with a given name ("Dr Sheri Jacobson") the name is introduced
_HONORIFIC_ANY = lazy(r"\b(?:Mr|Mrs|Ms|Miss|Dr)\.?\s+([A-Z][\w'’-]+)(?![\w'’-]|\s+[A-Z][a-z])")
_SCENE = lazy(r"^[^,]{3,90},\s+(?:these|those)\s+[a-z]")
_ALSO = lazy(r"^(?:\S+\s+){1,3}also\s")
_QUOTE_OPEN = lazy(r"^[\"“‘'«„](?!(?:Tis|Twas|Twill|Til|Cause|Em|Bout)\b)")  # an elision is no quote: "'Tis the …"
_BYLINE = lazy(r"By\s+(?:[A-Z][\w'’-]+\.?\s+){1,3}(?:on|and|in|for|at|\||-|–|—|,|Published|Updated|\d)")
_NAME_LIST = lazy(r"(?:[A-Z][\w'’-]+,\s){5,}")  # "Provisional squad: Myhill, Rose, Gamboa, Pocognoli, Wisdom, …"
_NUMBERED_END = lazy(r"[a-z]{2}s\s\d\.$")  # a gallery's numbered caption: "… favourite snacks 2."
# not a name with a digit: "Lesbians4Hillary"; the look-behind comes after the digit, so re can skip to digits
_RUN_TOGETHER = lazy(r"\d(?<![A-Za-z]\d),?[A-Z][a-z]{2,}")
_NAMED = lazy(r"(?<=\S)\s[\"“‘(]?[A-Z]|\d")
_CLAUSE = lazy(r"(?:,|;|:| –| —| -)\s")


@dataclass
class Candidate:
    index: int
    text: str
    original: str
    score: float = 0.0
    usable: bool = True
    why_not: str = ""
    needs_previous: bool = False
    notes: list[str] = field(default_factory=list)
    ref_name: str = ""  # "Docherty" in "Mr Docherty was …": must be introduced by an earlier pick (or the title)
    the_noun: str = ""  # "link" in "The link was …": points back unless it follows on or was mentioned
    cannot_open: str = ""  # why it may follow but not open the teaser (a quotation whose speaker comes later)
    connective: str = ""  # the "But " / "And, finally, " removed from its start, and the letter that followed it:
    first_letter: str = ""  # both come back when the sentence follows its predecessor (``teaser._restore_connectives``)


def tokens(s: str) -> list[str]:
    return [t for t in _TOKEN.findall(s.lower()) if t not in _STOP and len(t) > 1]


_STEMS: dict[str, str] = {}


def _stem(t: str) -> str:
    got = _STEMS.get(t)
    if got is not None:
        return got
    if len(t) > 4 and t.endswith("ies"):
        got = t[:-3] + "y"
    elif len(t) > 3 and t.endswith("s") and not t.endswith("ss"):
        got = t[:-1]
    else:
        got = t
    if len(_STEMS) < 50_000:
        _STEMS[t] = got
    return got


class _StemOf(dict[str, str]):
    """token → stem, "" for stop words and one-letter tokens; a miss computes (and, within a bound, stores)."""

    def __missing__(self, t: str) -> str:
        got = "" if t in _STOP or len(t) < 2 else _stem(t)
        if len(self) < 50_000:
            self[t] = got
        return got


_STEM_OF = _StemOf()


def _stems(s: str) -> list[str]:
    """Stemmed content tokens of ``s`` (one regex pass, dictionary look-ups per token)."""
    return [x for x in map(_STEM_OF.__getitem__, _TOKEN.findall(s.lower())) if x]


_CLOSERS = CLOSERS
_OPEN_PUNCT = "\"“‘'(«¿¡„"
_BAD_QUOTE_START = lazy(r"[\"“‘'(«¿¡„]+(?:[^\w\s]|[a-z])")


def _why_not(t: str, words: int, toks: list[str], i: int, title_toks: set[str], p: Params) -> str:
    """Why sentence ``t`` cannot be used ("" when it can)."""
    if not t:
        return "empty"
    if not ends_sentence(t):
        return "no sentence end (caption, subhead or fragment)"
    if t.rstrip(_CLOSERS).endswith(("...", "…")):
        return "trails off in an ellipsis (\"The dress is made of pearls ...\")"
    if words < p.min_words:
        return "too short"
    if t.rstrip(_CLOSERS)[-1] == "?" and not _reports_question(t):
        return "question"
    if _META.match(t):
        return "meta opener"
    if " vs " in t and ("Team news" in t or "Kick-off" in t or "Venue:" in t):
        return "match-preview headings run together (\"… vs … Team news …\")"
    if " you " in t and _FURNITURE.search(t):
        return "page furniture (addresses the reader: \"all you need to know\")"
    if t[0] == "(" and t.rstrip(".!?…")[-1:] == ")":
        return "an aside in brackets (\"(Previous hits: The Color Purple.)\")"
    if t[:1] in "PSTALpstal" and _READER_CALL.match(t):  # the letters _READER_CALL's verbs start with
        return "a call to readers (\"Share your photos …\", \"Add your own in the comments.\")"
    if place_date(t):
        return "page furniture (a place and a date: \"Berlin, 29. November 2022.\")"
    if press_kit(t):
        return "page furniture (a press release's downloads: \"Bildmotive zum kostenlosen Download\")"
    if not balanced(t):
        return "unbalanced quotes or brackets"
    if _DISCOURSE.match(t) or _points_at_next(t):
        return "discourse filler (points at what follows)"
    if words < p.filler_words and not _NAMED.search(t):
        return "content-free filler (short, no name or number)"
    c0 = t[0]
    if c0.islower() or not (c0.isalnum() or c0 in _OPEN_PUNCT) or c0 in _OPEN_PUNCT and _BAD_QUOTE_START.match(t):
        return "starts in lower case or with punctuation"
    if title_toks and i < 8 and _repeats_title(toks, title_toks):
        return "repeats the headline"
    if ("http" in t or "www." in t or "@" in t or "#" in t) and linkish(t):
        return "link or handle"
    if ("pictured" in t or ":" in t or t[:3] in _MONTHS3 or t[:3] == "In " or t[:1].isdigit()) and \
            _CAPTION.search(t):
        return "photo caption run into the text"
    if t[-1] in ").!" and "(" in t and _CAPTION_MARK.search(t):
        return "photo caption (\"… (Symbolbild).\")"
    if (", 20" in t or ", 19" in t) and wire_caption(t):
        return "photo caption from a wire service (a present-tense scene dated to the day)"
    if t[:3] == "By " and _BYLINE.match(t):
        return "byline"
    if t[-2:-1].isdigit() and _NUMBERED_END.search(t):
        return "numbered caption (\"… favourite snacks 2.\")"
    if t.count(",") >= 5 and _NAME_LIST.search(t):
        return "a list of names (squad or line-up)"
    if " // " in t:
        return "list items run together (\"2014: HOPE 1, Augsburg // 2013: …\")"
    if _RUN_TOGETHER.search(t):
        return "table or list cells run together (\"6.8Increase\")"
    if stat_row(t):
        return "table or list cells: numbers with hardly a word between them (\"DL Larry Ogunjobi 63 85% 1 tackle\")"
    if p.bare_quote == "skip" and t[0] in _OPEN_PUNCT and bare_quote(t):
        return "a quotation without attribution"
    return ""


def _reports_question(t: str) -> bool:
    """The "?" belongs to a quotation the sentence reports ("… asked, “Are there any left?”"): a statement."""
    if t[-1] not in "”\"'’»" or t[0] in _OPEN_PUNCT:
        return False
    q = max(t.rfind("“"), t.rfind('"', 0, len(t) - 1), t.rfind("‘"), t.rfind("«"))
    return q > 0 and len(t[:q].split()) >= 4


def _inside_quotes(text: str, sents: list[str]) -> set[int]:
    """The sentences with no quote mark of their own that sit inside a quotation opened earlier in their
    paragraph: “Meth is IN SD. Twitter can make a joke of it, but … Meth is a serious problem in SD.” — the
    second sentence is speech, though nothing in it says so. Curly double quotes, and straight ones by parity."""
    if "“" not in text and '"' not in text and "„" not in text:
        return set()
    found: set[int] = set()
    pos = 0
    for i, s in enumerate(sents):
        at = text.find(s, pos)
        if at < 0:
            continue
        pos = at + len(s)
        if "“" in s or "”" in s or '"' in s or "„" in s:
            continue
        before = text[text.rfind("\n", 0, at) + 1: at]
        if "„" in before:  # German: „ opens, “ closes
            if before.count("„") > before.count("“") + before.count("”"):
                found.add(i)
        elif before.count("“") > before.count("”") or before.count('"') % 2:
            found.add(i)
    return found


# A speaker's label before a turn of an interview: "Atim: Es wäre tragisch …", "Prof. Carlos: Estou aqui …"
_SPEAKER_LABEL = lazy(r"([A-Z][\w.'’-]*(?: [A-Z][\w.'’-]*){0,2}):\s")


def _interview_speakers(sents: list[str]) -> frozenset[str]:
    """The labels that open two or more sentences ("Atim:", "Rutger Bregman:"): the text is an interview, and a
    sentence after such a label is a turn of it. A label seen once ("Update:", "Lösung:") is not a speaker."""
    seen: dict[str, int] = {}
    for s in sents:
        if ":" in s[:40] and (m := _SPEAKER_LABEL.match(s)):
            seen[m.group(1)] = seen.get(m.group(1), 0) + 1
    return frozenset(k for k, n in seen.items() if n >= 2)


def build_candidates(text: str, title: str, params: Params = DEFAULT, lang: str | None = None) -> list[Candidate]:
    """Split ``text`` into sentences (with the abbreviations of ``lang``) and score them."""
    sents = split_sentences(text, lang, params.max_sentences)
    cands: list[Candidate] = []
    title_toks = set(_stems(title)) if title else set()
    all_toks: list[list[str]] = []
    teams = _preview_teams(text)
    quoted = _inside_quotes(text, sents)
    speakers = _interview_speakers(sents)
    for i, s in enumerate(sents):
        c = Candidate(i, s, s)
        t = _LEAD_JUNK.sub("", s).strip() if s[0] in _LEAD_CHARS else s
        if t != s:
            c.notes.append("stray leading punctuation removed")
        if (t[:1].isdigit() or t[:6].lower() == "update") and (m := update_stamp(t)):
            t = t[m.end():]  # a stamp inside a paragraph (the cleaning rule handles a paragraph start)
            c.notes.append("update time stamp removed")
        if t[:1].isdigit() and (m := _DATE_PREFIX.match(t)) and len(t[m.end():].split()) >= 8:
            t = t[m.end():]  # a video page's date line run into its description: "18 March 2014 Richard …"
            c.notes.append("date line removed")
        frame = ""
        if teams:
            if "Team news " in t and " vs" in t:
                head = t[: t.index("Team news ")]
                t = t[t.index("Team news ") + 10:]  # the preview's headings before "Team news": not the sentence
                c.notes.append("match-preview headings removed")
                if fm := _PREVIEW.search(head):  # but the fixture frames the preview: "West Brom vs Leicester: …"
                    frame = f"{fm.group(1).strip()} vs {fm.group(2).strip()}: "
            if (m := _TEAM_HEADING.match(t)) and all(any(w.startswith(x) for w in teams) for x in m.group(1).split()):
                t = t[m.end():]  # a team heading run in: "Leicester Matt Upson and Dean Hammond are …"
                c.notes.append(f"run-in team heading '{m.group(1).strip()}' removed")
        for _ in range(2):  # "And, finally, …"
            m = _CONNECTIVE.match(t)
            if not (m and len(t) > m.end() + 10):
                break
            rest = t[m.end():]  # a second connective was capitalised by the first strip: give back its letter
            c.connective += c.first_letter + t[1:m.end()] if c.connective else t[:m.end()]
            c.first_letter = rest[0]
            t = rest[0].upper() + rest[1:]
            c.notes.append(f"leading connective '{m.group(0).strip()}' removed")
        if params.drop_parens and "(" in t:
            t2 = _PARENS.sub("", t)
            if t2 != t and balanced(t2):
                c.notes.append("short bracketed aside removed")
                t = t2
        if params.compress and len(t) > 60 and i < max(3 * params.knap_pool, 20):  # only where packing looks
            comp = compress(t, frozenset(params.compress))
            if comp.rules:
                c.notes.append("compressed: " + ", ".join(comp.rules))
                t = comp.text
        if frame and n_words(t) >= params.min_words:
            t = frame + t
            c.notes.append(f"the fixture '{frame[:-2]}' kept as the frame")
        c.text = t
        toks = _stems(t)
        all_toks.append(toks)
        why = _why_not(t, n_words(t), toks, i, title_toks, params)
        if not why and i in quoted:
            why = "a quotation without attribution (it goes on from a quote opened in the sentence before)"
        if why:
            c.usable, c.why_not = False, why
        if points_back(t, lang):
            c.needs_previous = True
        _mark_references(c, t)
        if speakers and (m := _SPEAKER_LABEL.match(t)) and m.group(1) in speakers:
            c.cannot_open = f"an interview turn ('{m.group(1)}: …'): the question it answers is not in the teaser"
        cands.append(c)
    if params.first_person != "keep":
        _mark_unquoted_speech(cands)
    _authors_we(cands)
    _score(cands, all_toks, title_toks, params)
    if params.lead_bonus:
        first = next((c for c in cands if c.usable and not c.needs_previous), None)
        if first is not None:
            first.score += params.lead_bonus
    return cands


# A match preview's heading line: "West Bromwich Albion vs Leicester City (The Hawthorns) Team news …"; each team's
# section then opens with its name run into the first sentence: "Leicester Matt Upson and Dean Hammond are …"
_PREVIEW = lazy(r"((?:[A-Z][\w'’&.-]*\s){1,4})vs\.?\s((?:[A-Z][\w'’&.-]*\s?){1,4})")
_TEAM_HEADING = lazy(r"^((?:[A-Z][a-z]+\s){1,3}?)(?=[A-Z][a-z]+\s[A-Z][a-z'’-]+\s[a-z])")


def _preview_teams(text: str) -> frozenset[str]:
    """The words of the team names in a match preview's "A vs B" heading (empty when the text is no preview)."""
    if " vs" not in text or "Team news" not in text and "Provisional squad" not in text:
        return frozenset()
    m = _PREVIEW.search(text)
    return frozenset((m.group(1) + " " + m.group(2)).split()) if m else frozenset()


def _mark_references(c: Candidate, t: str) -> None:
    """Note what the sentence refers back to (checked against the other picks when packing)."""
    if t[:1] in "MDPSLml" and (m := _HONORIFIC.match(t)) and len(m.group(1).split()) == 1:
        c.ref_name = m.group(1)  # "Mr Docherty …" (given name and surname, "Dr Sheri Jacobson", introduce her)
    elif t.startswith("The ") and (m := _THE_NOUN.match(t)):
        c.the_noun = _stem(m.group(1))
    if _QUOTE_OPEN.match(t):
        c.cannot_open = "a quotation opens it: its speaker is not known yet"


def _unintroduced(t: str, context: str) -> str:
    """An "Mr/Mrs/Ms/Dr Surname" inside ``t`` whose surname neither the sentence (before it) nor ``context`` gave."""
    for m in _HONORIFIC_ANY.finditer(t):
        surname = m.group(1)
        if surname not in t[: m.start()] and surname not in context:
            return m.group(0)
    return ""


def opener_verdict(c: Candidate, context: str = "") -> str:
    """Why ``c`` cannot open the teaser ("" when it can). ``context``: the headline (it may introduce a name)."""
    if not c.usable:
        return c.why_not
    if c.needs_previous:
        return "points back to an earlier sentence (pronoun, \"That …\", \"The 39-year-old …\")"
    if c.cannot_open:
        return c.cannot_open
    if c.ref_name and c.ref_name not in context:
        return f"\"{c.text.split()[0]} {c.ref_name}\" was never introduced"
    if ("M" in c.text or "D" in c.text) and (name := _unintroduced(c.text, context)):
        return f"\"{name}\" was never introduced"
    if "," in c.text[:90] and _SCENE.match(c.text):
        return "scene-setting: its subject is \"these …\", something shown but not named"
    if " also " in c.text[:60] and _ALSO.match(c.text):
        return "says \"also\": it adds to something said before"
    return ""


def unquoted_first_person(t: str) -> bool:
    """``t`` says "I"/"me"/"my" outside quotation marks."""
    if "I" not in t and "m" not in t:
        return False
    if not _FIRST_PERSON.search(t):
        return False
    return bool(_FIRST_PERSON.search(_QUOTED.sub(" ", t)))


_WE = lazy(r"^(?:We|Our)\s|^(?:As|When|While|After|Before|Because|Since|Once|Until|Although|Though|If)\s(?:we|our)\b")
_FIRST_PLURAL = lazy(r"\b(?:we|our|us|I|my)\b")


def _authors_we(cands: list[Candidate], lead: int = 3) -> None:
    """In a piece its authors write ("We pushed out the first version of the site in January."), a lede's "We" or
    "Our" is the authors, not a pronoun that points back: when the first sentences say "we"/"our"/"I" outside
    quotation marks and the "We" sentence is among them."""
    head = [c for c in cands[:lead] if c.needs_previous and _WE.match(c.text)]
    if head and any(_FIRST_PLURAL.search(_QUOTED.sub(" ", c.text)) for c in cands[:lead] if c not in head):
        for c in head:
            c.needs_previous = False
    elif head and len(cands) > 1 and head[0] is cands[0]:
        c = cands[0]  # the text's own first sentence: nothing before it for "We" to point to
        c.needs_previous = False


def _mark_unquoted_speech(cands: list[Candidate], lead: int = 3) -> None:
    """In a third-person story (no first person outside quotes in its first sentences), a sentence that says
    "I"/"my" outside quotation marks is speech whose quote marks were lost in scraping: not teaser material."""
    if any(unquoted_first_person(c.text) for c in cands[:lead]):
        return  # a first-person piece (column, blog post): "I" is the author
    for c in cands[lead:]:
        if c.usable and unquoted_first_person(c.text):
            c.usable, c.why_not = False, "unquoted speech (first person in a third-person story)"


def _repeats_title(toks: list[str], title_toks: set[str]) -> bool:
    """A near-verbatim repeat of the headline: >= 80 % of its content words are in the title and it adds fewer
    than 4 (a lead that elaborates the headline is the best teaser sentence, and stays)."""
    ts = set(toks)
    if not ts:
        return False
    inside = len(ts & title_toks)
    return inside / len(ts) >= 0.8 and len(ts) - inside < 4


def _quoted_share(t: str) -> float:
    if '"' not in t and "“" not in t and "'" not in t and "‘" not in t:
        return 0.0
    return sum(map(len, _QUOTED.findall(t))) / (len(t) or 1)  # no groups: findall gives whole matches


def _score(cands: list[Candidate], toks: list[list[str]], title_toks: set[str], p: Params) -> None:
    n = len(cands)
    if not n:
        return
    df = Counter(chain.from_iterable(map(set, toks)))  # one C-level count instead of an update per sentence
    log = math.log
    idf = {t: log((n + 1) / (d + 0.5)) for t, d in df.items()}
    doc = Counter(chain.from_iterable(toks))
    doc_vec = {t: c * idf[t] for t, c in doc.items()}
    doc_norm = math.sqrt(sum(v * v for v in doc_vec.values())) or 1.0
    ents = [set(_ENTITY.findall(c.text)) for c in cands]
    ent_df = Counter(chain.from_iterable(ents))
    n_title = len(title_toks) or 1
    bigrams: list[set[tuple[str, str]]] = []
    bi_df: Counter[tuple[str, str]] = Counter()
    if p.w_bigram:
        bigrams = [set(zip(ts, ts[1:], strict=False)) for ts in toks]
        bi_df = Counter(chain.from_iterable(bigrams))
    for i, c in enumerate(cands):
        tf = Counter(toks[i])
        dot = sq = 0.0
        for t, k in tf.items():
            v = k * idf[t]
            dot += v * doc_vec[t]
            sq += v * v
        cent = dot / ((math.sqrt(sq) or 1.0) * doc_norm)
        title = len(tf.keys() & title_toks) / n_title if title_toks else 0.0
        shared = sum(ent_df[e] > 1 for e in ents[i]) if ents[i] else 0
        ent = min(1.0, shared / 4)
        pos = 1.0 / (1 + i) ** p.pos_decay
        words = len(c.text.split())
        long_pen = max(0.0, (words - p.long_words) / p.long_words)
        quoted = _quoted_share(c.text) if p.w_quote else 0.0
        bi = min(1.0, (sum(map(bi_df.__getitem__, bigrams[i])) - len(bigrams[i])) / p.bigram_cap) \
            if p.w_bigram else 0.0
        c.score = p.w_pos * pos + p.w_cent * cent + p.w_title * title + p.w_ent * ent - long_pen - \
            p.w_quote * quoted + p.w_bigram * bi
