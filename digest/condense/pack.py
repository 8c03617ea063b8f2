"""Packing the teaser: the lede and the sentences that follow it (``pack``), within the budget.

Split from ``select`` (which scores the sentences and finds the opener); see its docstring for the method.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .compress import compress
from .kinds import OPEN_QUESTION, place_date
from .lazyre import lazy
from .opener import _RUN_ON_WORDS, QUESTION_LEDE, _note, find_opener
from .select import (
    _CLAUSE,
    _CLOSERS,
    DEFAULT,
    Candidate,
    Params,
    _stems,
    opener_verdict,
)
from .style import balanced


def pack(cands: Sequence[Candidate], budget: int, p: Params = DEFAULT, context: str = "") -> list[Candidate]:
    """The chosen sentences in document order, total length (joined by spaces) within ``budget``.

    Lede first (``p.lede_first``): the opener is the first sentence that can stand alone; further sentences
    after it are chosen by value, and only when they follow on (next in the text, or self-contained). An
    empty list when the opener itself does not fit (the caller shortens it rather than dropping it).
    """
    pool = [c for c in cands[: p.max_candidates * 3] if c.usable][: p.max_candidates]
    if not pool:
        return []
    by_index = {c.index: c for c in cands}
    if p.lede_first:
        opener, _ = find_opener(cands, context)
        teaser = _from_lede(opener, cands, pool, budget, p, by_index, context)
        if opener is not None and QUESTION_LEDE in opener.notes and \
                not (len(teaser) > 1 and teaser[1].index == opener.index + 1):
            opener.notes.remove(QUESTION_LEDE)  # its answer does not fit after it: a question alone is no lede
            teaser = _from_lede(find_opener(cands, context, questions=False)[0], cands, pool, budget, p, by_index,
                                context)
        return teaser
    if p.knapsack:
        return _best_subset(pool[: p.knap_pool], budget, p, by_index)
    openers = [c for c in pool if not c.needs_previous and len(c.text) <= budget]
    if not openers:
        return []
    first = max(openers, key=lambda c: c.score)
    chosen = {first.index: first}
    best = first.score
    for c in sorted(pool, key=lambda c: -c.score):
        if c.index in chosen:
            continue
        if c.score < p.min_ratio * best:
            break
        trial = sorted([*chosen.values(), c], key=lambda x: x.index)
        if _length(trial) > budget or not _resolved(trial, by_index):
            continue
        chosen[c.index] = c
    return sorted(chosen.values(), key=lambda x: x.index)


# A question that turns from the sentence before it ("Doch was können …?") or asks why ("Warum ist das Angebot bisher
# keine Konkurrenz zum Fliegen?", "Por que não temos uma assim no Brasil?"): the story's hook, not a reader poll.
_TURN_QUESTION = lazy(r"^(?:but|yet|so|doch|aber|mais|pero|ma|why|warum|wieso|weshalb|pourquoi|por qu[eé]|perché)\b",
                      re.I)
def _asks(c: Candidate) -> bool:
    """``c`` was refused as a question, or as too short and ends on "?" ("What do you see?")."""
    return c.why_not == "question" or c.why_not == "too short" and c.text.rstrip(_CLOSERS).endswith("?")


def _hook_question(c: Candidate) -> bool:
    """``c`` is a question the teaser may end on after the sentence before it: one that turns from it ("Doch was
    können …?") or asks an open question; a short one too ("What do you see?")."""
    return _asks(c) and bool(c.connective or _TURN_QUESTION.match(c.text) or OPEN_QUESTION.search(c.text))


_ACRONYM_END = lazy(r"\b[A-Z]{2,}\.$")  # "The VW ID." is a name cut at its stop ("The VW ID. Buzz is …")
_NAME_ONLY = lazy(r"^(?:Mr|Mrs|Ms|Miss|Dr|Prof)\.?\s(?:[A-Z][\w'’.-]*\s?)+\.$")
_TURN = ("leading connective 'But' removed", "leading connective 'However' removed",
         "leading connective 'However,' removed", "leading connective 'Yet' removed")
_NAME_INSIDE = lazy(r"(?<=\S)\s[\"“‘(]?[A-Z][a-z]")
_TWO_CAPS = lazy(r"[A-Z][\w'’-]+\s[A-Z]")  # the payoff opens with a name: "Britt McHenry, …", not "A new report …"


def _payoff(opener: Candidate, cands: Sequence[Candidate], budget: int, context: str) -> Candidate | None:
    """The sentence that pays off a set-up lede, when the two do not fit together: a lede that names no one and
    no number ("Of all the people to be wary of getting caught on camera …, you would think a TV news reporter
    would know better.") followed by "But <Name Surname> …" that carries the news ("But Britt McHenry, a … reporter for
    ESPN, has been suspended …"). The set-up alone is a tease without the story; the payoff stands alone once
    its "But" is removed. None when the two fit together (the run keeps both) or the pattern does not hold."""
    k = opener.index + 1
    nxt = cands[k] if k < len(cands) else None
    if nxt is None or not nxt.usable or not any(n in nxt.notes for n in _TURN) or len(nxt.text) > budget or \
            len(opener.text) + 1 + len(nxt.text) <= budget:
        return None
    if _NAME_INSIDE.search(opener.text) or any(ch.isdigit() for ch in opener.text) or \
            not _TWO_CAPS.match(nxt.text) or opener_verdict(nxt, context):
        return None
    _note(nxt, f"pays off the set-up lede (sentence {opener.index + 1}), which names no one and does not fit with it")
    return nxt


# Sentences a run of follow-ons steps over: page furniture, captions and quotes without a speaker. Anything else
# that cannot be used (a question, a fragment, speech that lost its quote marks) ends the run: what comes after
# it would be a jump.
_SKIPPABLE = ("photo caption", "numbered caption", "a list of names", "byline", "link or handle", "page furniture",
              "meta opener",
              "match-preview", "table or list cells", "a quotation without attribution", "repeats the headline",
              "unquoted speech", "empty")
# Skipped sentences that are the text's own prose, which a pronoun after them may point to.
_SKIPPED_PROSE = ("meta opener", "a quotation without attribution", "unquoted speech")


def _from_lede(opener: Candidate | None, cands: Sequence[Candidate], pool: list[Candidate], budget: int, p: Params,
               by_index: dict[int, Candidate], context: str) -> list[Candidate]:
    """The teaser that opens with ``opener``: empty when there is none or it does not fit."""
    if opener is None or len(opener.text) > budget:
        return []
    if p.follow == "run":
        opener = _payoff(opener, cands, budget, context) or opener
        return _run(opener, cands, budget, context, p.fit_compress, p.skip_long, p.trim_follow_on)
    rest = [c for c in pool if c.index > opener.index][: p.knap_pool]
    return _best_subset([opener, *rest], budget, p, by_index, context, forced=opener)


def _run(opener: Candidate, cands: Sequence[Candidate], budget: int, context: str,
         fit_rules: tuple[str, ...] = (), skip_long: int = 0, trim: bool = False) -> list[Candidate]:
    """The lede and the sentences that follow it in the text, in order, while they fit and follow on."""
    chosen = [opener]
    prose_left_out = False  # a sentence of the text was skipped since the last pick (not a caption or a link)
    for c in cands[opener.index + 1: opener.index + 12]:
        if not c.usable and not (_hook_question(c) and c.index == chosen[-1].index + 1 and balanced(c.text)):
            # a question that turns from the sentence before it is kept: "Krebspatienten bedienen sich oft … . Doch
            # was können die Therapien leisten?" (not a reader poll: "Should parents be banned from the railings?")
            if c.why_not.startswith(_SKIPPABLE):
                prose_left_out = prose_left_out or c.why_not.startswith(_SKIPPED_PROSE)
                continue
            if c.why_not.startswith("no sentence end") and len(c.text.split()) <= 6:
                continue  # a photo credit or label line: "View this image ›", "West Mercia Police"
            if not (c.why_not == "too short" and (c.text[:1].isupper() or c.text[:1].isdigit() and sum(
                    w[:1].islower() for w in c.text.split()) >= 2) and c.text[-1:] in ".!" and
                    balanced(c.text) and any(ch.islower() for ch in c.text) and not _NAME_ONLY.match(c.text) and
                    not _ACRONYM_END.search(c.text) and not place_date(c.text)):
                break  # a short sentence that follows on is kept: "He was 88.", "Im Gegenteil.", "26 tahun setelah
                # wafatnya Nabi." (not a date line: "31. Oktober 2023."; not a shouted
                # promo: "ON YOUTUBE!", not a caption's name: "Mrs. Joan Honoré-Paul.")
        trial = [*chosen, c]
        if any(_near_copy(c.text, x.text) for x in chosen):
            continue  # a page dump repeats its dek as the first body sentence
        if prose_left_out and (c.needs_previous or c.the_noun or c.connective):
            break  # "It was born from …" points to the sentence skipped before it ("In this article, I'm sharing …")
        prose_left_out = False
        nothing_left_out = c.index == chosen[-1].index + 1
        if c.ref_name and c.ref_name not in context and not any(c.ref_name in x.text for x in chosen) and \
                not opener.needs_previous and not (nothing_left_out and _first_mention(c.ref_name, c, cands)):
            break  # "Mr Docherty …" introduced in a sentence left out (after "She stressed …" it names "she")
        if (m := _BARE_SPEAKER.search(c.text)) and m.group(1) not in context and \
                not any(m.group(1) in x.text for x in chosen) and _surname(m.group(1), cands) and \
                not (nothing_left_out and _first_mention(m.group(1), c, cands)):
            break  # '"She set a personal best …," Minichiello said.' when Minichiello was introduced further up
        if _length(trial) > budget:
            if fit_rules and _fit_by_deletion(trial, budget, fit_rules):
                chosen = trial
            elif trim and (cut := _trimmed_follow_on(c, budget - _length(chosen) - 1)):
                _note(c, f"{cut[1]} to fit")
                c.text = cut[0]
                chosen = trial
            elif skip_long:
                chosen = _one_more(chosen, cands, c.index, budget, context, skip_long, fit_rules)
            break
        chosen = trial  # a pronoun or "The link …" here points back to the sentences just before it
        if _asks(c):
            break  # the article's own question is the hook the teaser ends on (what follows may be a heading)
    return chosen


# Where a follow-on may lose its tail: a comma before a clause that adds to the main one (", who was born …",
# ", including …", ", after …", ", leaving …"), never one that carries the point (", but …", ", so …").
_TRIM_AT = lazy(r",\s(?=(?:after|before|while|as|with|which|who|whose|where|including|despite|following|amid|"
                r"since|until|when|[a-z]{3,}ing)\s)")
_QUOTE_MARK = lazy(r"[\"“”‘«»]|(?<!\w)['’]|['’](?!\w)")  # not an apostrophe inside a word ("neighbour's")
# A sentence that opens on a subordinate clause: its main clause comes after the first comma.
_SUBORDINATE_START = lazy(r"^(?:As|When|While|After|Although|Though|If|Because|Since|Before|Despite|Once|Until|"
                          r"Unless|Whether|Having|Following)\b")


def _trimmed_follow_on(c: Candidate, room: int) -> tuple[str, str] | None:
    """A follow-on without its trailing clause when that makes it fit ``room``: a comma before a clause that only
    adds to the main one, in a sentence without quotation marks that does not open on a subordinate clause; what
    is left has >= 8 words and ends with a full stop."""
    t = c.text
    if room < 60 or len(t) > 2 * room or t[-1:] not in ".!" or _SUBORDINATE_START.match(t) or \
            _QUOTE_MARK.search(t):
        return None
    for m in reversed(list(_TRIM_AT.finditer(t))):
        head = t[: m.start()]
        if len(head) + 1 > room:
            continue
        tail = t[m.end():]
        if ", " in tail and len(tail.rsplit(", ", 1)[1].split()) <= 3:
            return None  # the clause closes and the main one goes on: "the Lib Dems, who lost 11 MEPs, £1.45."
        if len(head.split()) >= 8 and balanced(head) and not _DASH.search(head):
            return head + t[-1], "trailing clause dropped"
        return None
    return None


# a quotation attributed to a bare surname: '…," Minichiello said.' (a first name or a role would introduce it)
_BARE_SPEAKER = lazy(r"[,.!?…][\"”’']\s([A-Z][a-z'’-]+)\s(?:said|says|added|adds|told|explained|insisted|admitted)\b")


def _first_mention(name: str, c: Candidate, cands: Sequence[Candidate]) -> bool:
    """``name`` appears in no sentence before ``c``: the text never introduced it, so a teaser that runs on to ``c``
    leaves nothing out ("The biologist and entrepreneur turned … Dr Venter has certainly not …": the name is news
    to every reader, and the judge preferred having it to stopping)."""
    return not any(name in x.text for x in cands[: c.index])


def _surname(word: str, cands: Sequence[Candidate]) -> bool:
    """``word`` is a name, not a pronoun or a common noun the text also writes in lower case ("Police said")."""
    if word in ("He", "She", "They", "It", "We", "I", "You"):
        return False
    low = re.compile(rf"(?<![\w'’-]){re.escape(word.lower())}(?![\w'’-])")
    return not any(low.search(x.text) for x in cands)


# a sentence that leans on the ones left out: a third-person pronoun or "also" anywhere, "One …", "Others …", a
# comparison with what came before ("The One S, in comparison, weighs two pounds less.")
_LEANS = lazy(r"\b(?:he|she|his|her|hers|him|they|them|their|theirs|also|in\s+comparison|by\s+comparison|"
              r"in\s+contrast|by\s+contrast)\b|^(?:One|Others?|Some|Many|Most)\s|,\s(?:though|too)\.$", re.I)
# The same in German and Spanish, for a sentence the run would jump to (an opener may still start this way: a German
# page's "Dieser Artikel …" is its own subject): a sequencing adverb, a demonstrative in the first words ("Genau aus
# diesem Grund …", "Durch diese Maßnahmen …"), a Spanish verb of saying without its subject ("Aduce que …"), an
# interviewer addressing the guest ("Herr Wirth, Sie sind …"), a consequence or answer of something left out ("Por
# esta razón …", "C'est pourquoi …", "The answer …", "That's why …").
_LEANS_OTHER = lazy(r"^(?:Anschließend|Daraufhin|Zudem|Außerdem|Ebenso|Ebenfalls|Trotzdem|Deshalb|Deswegen|Darum|"
                    r"Dadurch|Hierbei|Hierfür|Dafür|Dazu|Genau)\b|^(?:\S+\s){0,3}(?:diese|dieser|diesem|diesen|"
                    r"dieses|jene|jener|jenem|jenen|jenes|solche|solchen)\b|^(?:Aduce|Dijo|Afirmó|Señaló|Agregó|"
                    r"Añadió|Explicó|Indicó|Aseguró|Destacó|Recordó|Sostuvo|Manifestó|Expresó|Consideró|Subrayó|"
                    r"Advirtió|Apuntó|Precisó|Insistió)\s+que\b|^(?:Herr|Frau|Mr|Mrs|Ms|Dr|Prof)\.?\s[\w'’-]+,\s|"
                    r"^(?:Por\s(?:esta|esa|ello|eso|lo\stanto|tanto)|De\s(?:este|ese)\smodo|De\s(?:esta|esa)\s"
                    r"(?:manera|forma)|Así\s(?:que|pues)|C['’]est\spourquoi|Pour\scette\sraison|Dès\slors|"
                    r"The\s(?:answer|reason|result|solution)\b|That['’]s\swhy|This\sis\swhy|For\sthis\sreason)",
                    re.I)
_APPOSITION_FRAGMENT = lazy(r"^(?:[A-Z][\w'’-]+\s?){1,4},\s(?:to|for|in|at|of|with|from|on|by)\s")


def _one_more(chosen: list[Candidate], cands: Sequence[Candidate], long: int, budget: int, context: str,
              within: int, fit_rules: tuple[str, ...] = ()) -> list[Candidate]:
    """After a sentence too long to fit (index ``long``), one of the next ``within`` sentences that stands alone
    on its own (it could open a teaser: no pronoun, no "The move …", no un-introduced name) and fits."""
    for c in cands[long + 1: long + 1 + within]:
        words = len(c.text.split())
        if opener_verdict(c, context) or c.the_noun or words > _RUN_ON_WORDS or words < 8 or \
                any(n.startswith("leading connective") for n in c.notes) or _LEANS.search(c.text) or \
                _LEANS_OTHER.search(c.text) or \
                _APPOSITION_FRAGMENT.match(c.text):
            continue  # "Then there are …", "When he arrived, he …", "One testified …", "Caleb Barnes, to a …"
        if any(_near_copy(c.text, x.text) for x in chosen):
            continue
        trial = [*chosen, c]
        if _length(trial) <= budget or fit_rules and _fit_by_deletion(trial, budget, fit_rules):
            _note(c, f"stands alone; sentence {long + 1} was too long to follow")
            return trial
    return chosen


def _fit_by_deletion(seq: list[Candidate], budget: int, rules: tuple[str, ...]) -> bool:
    """Make ``seq`` fit ``budget`` by the deletion rules an editor does not mind (a leading "On Tuesday, ", an
    age between commas, a dashed tail: never attribution, never inside a quotation), applied to each sentence;
    the texts change only when the whole sequence then fits."""
    if _length(seq) - budget > 80:
        return False  # more than these deletions ever save (a day name, an age, a short aside, a dashed tail)
    texts = []
    for k, c in enumerate(seq):
        nxt = seq[k + 1] if k + 1 < len(seq) else None
        # a sentence that the next one points back to keeps its words: "… reported in China — after two people
        # there were diagnosed with the pneumonic plague." then "Both diseases …" needs the dashed tail
        keep = nxt is not None and nxt.needs_previous and nxt.index == c.index + 1
        comp = compress(c.text, frozenset(rules)) if len(c.text) > 60 and not keep else None
        texts.append((c, comp))
    if sum(len(comp.text if comp else c.text) for c, comp in texts) + len(seq) - 1 > budget:
        return False
    for c, comp in texts:
        if comp and comp.rules:
            c.text = comp.text
            _note(c, "compressed to fit the next sentence: " + ", ".join(comp.rules))
    return True


def _best_subset(pool: list[Candidate], budget: int, p: Params, by_index: dict[int, Candidate], context: str = "",
                 forced: Candidate | None = None) -> list[Candidate]:
    """Exhaustive search (pruned by length) for the subset with the highest total value within budget."""
    pool = sorted(pool, key=lambda c: c.index)
    top = max((c.score for c in pool), default=0.0)
    floor = p.min_ratio * top
    items = [c for c in pool if c is forced or c.score >= floor or c.score > 0 and p.min_ratio == 0]
    best: tuple[float, list[Candidate]] = (float("-inf"), [])

    def value(c: Candidate) -> float:
        if p.by_length:
            return float(max(c.score, 0.0) * (len(c.text) / 100) ** p.len_exp + p.length_bonus)
        return c.score + p.length_bonus

    def walk(k: int, chosen: list[Candidate], length: int, total: float) -> None:
        nonlocal best
        if chosen:
            net = total - p.gap_penalty * jumps(chosen) if p.gap_penalty else total
            if net > best[0] and _resolved(chosen, by_index) and (forced is None or _follows_on(chosen, context)):
                best = (net, list(chosen))
        for j in range(k, len(items)):
            if forced is not None and not chosen and items[j] is not forced:
                break  # the lede opens the teaser
            c = items[j]
            extra = len(c.text) + (1 if chosen else 0)
            if length + extra > budget:
                continue
            chosen.append(c)
            walk(j + 1, chosen, length + extra, total + value(c))
            chosen.pop()

    def jumps(seq: list[Candidate]) -> int:
        return sum(b.index - a.index - 1 >= p.gap_min for a, b in zip(seq, seq[1:], strict=False))

    walk(0, [], 0, 0.0)
    return best[1]


def _resolved(seq: list[Candidate], by_index: dict[int, Candidate]) -> bool:
    """Every pronoun-led sentence directly follows its predecessor; the first one is not pronoun-led."""
    for k, c in enumerate(seq):
        if c.needs_previous and (k == 0 or seq[k - 1].index != c.index - 1):
            return False
    return not seq[0].needs_previous


def _follows_on(seq: list[Candidate], context: str) -> bool:
    """Each sentence after the first follows on: a name it uses was introduced by an earlier pick (or the
    headline); "The link …" is the next sentence in the text or names something the teaser already said."""
    for k in range(1, len(seq)):
        c = seq[k]
        if any(_near_copy(c.text, x.text) for x in seq[:k]):
            return False  # a page dump repeats its dek as the first body sentence
        if c.ref_name and c.ref_name not in context and not any(c.ref_name in x.text for x in seq[:k]):
            return False
        if c.the_noun and seq[k - 1].index != c.index - 1 and \
                not any(c.the_noun in _stems(x.text) for x in seq[:k]):
            return False
    return True


def _near_copy(a: str, b: str) -> bool:
    """``a`` says what ``b`` said: >= 80 % of its content words are ``b``'s."""
    if a == b:
        return True
    ta, tb = set(_stems(a)), set(_stems(b))
    return bool(ta) and len(ta & tb) / len(ta) >= 0.8


def _length(seq: Sequence[Candidate]) -> int:
    return sum(len(c.text) for c in seq) + max(0, len(seq) - 1)


# A trailing clause an editor can drop and keep a whole sentence: ", exactly eight weeks after …",
# " - the second in two months.", ", who was born in …", ", according to …", ", including …".
_TRAIL = lazy(r"(?:,|\s[-–—])\s(?=(?:after|before|while|as|with|without|which|who|whose|where|when|including|"
              r"despite|following|according|amid|since|until|because|although|though|but|and|so|yet|exactly|just|"
              r"only|almost|nearly|the\s+(?:first|second|third|latest|last)|[a-z]+ing\b))")


# A sentence that opens on a fronted phrase ("From the deck of his schooner, …", "After years of delay, …"): its
# main clause starts after the first comma, so a head that stops before that comma has no main clause.
_FRONTED = lazy(r"(?:[A-Z][a-z]+ing\s(?=(?:the|a|an|his|her|their|its|my|our|your|this|that|these|those|to|with|"
                r"from|on|at|for|about|up|out|off|back|down|through|over|into|some|all|more|no)\s)|"
                r"From|In|At|On|With|Without|After|Before|As|When|While|Although|Though|Despite|Following|Since|"
                r"Because|If|Under|Over|Across|Amid|During|For|By|Among|Unlike|Like|Once|Until|Having|Speaking|"
                r"According|Behind|Beyond|Inside|Outside|Near|Along|Through|Throughout|Within|Against|Upon|Toward|"
                r"Towards|Between)\b")
_NOT_MAIN = lazy(r"(?:[A-Za-z]+(?:ing|ed)\b|(?:which|who|whose|whom|where|when|that|and|or|but|now|then)\b)")


def _main_clause_after_comma(head: str) -> bool:
    """After a fronted phrase, ``head`` goes on to a main clause: a piece after a comma of >= 3 words that opens on
    a subject ("…, Juan Mata admitted …", "…, former ambassador Marie Yovanovitch testified"), not on a participle,
    a relative or another phrase, or a bare year ("…, undergoing repairs", "On Nov. 15, 2019", "…, which …")."""
    return any(len(piece.split()) >= 3 and not _NOT_MAIN.match(piece) and not _FRONTED.match(piece)
               for piece in head.split(", ")[1:])


_CONJ_START = lazy(r"(?:and|but|or|yet|so)\s")
# Evidence of a finite verb, loosely: an auxiliary, a common irregular verb, a word in -ed, or a word in -s after
# the sentence's first word ("Turning Points explores …"). Nouns in -s pass too; only a head with none is refused.
_VERB = lazy(r"\b(?:am|is|are|was|were|be|been|has|have|had|do|does|did|will|would|can|could|may|might|must|shall|"
             r"should|said|says|say|see|saw|sees|made|make|took|take|got|get|went|go|came|come|gave|give|found|find|"
             r"told|tell|left|knew|know|think|thought|became|become|began|begin|won|win|lost|lose|hit|put|set|cut|"
             r"shot|ran|run|held|hold|kept|keep|led|lead|met|meet|paid|pay|sent|send|sold|sell|spent|spend|stood|"
             r"wrote|write|fell|feel|felt|brought|bring|bought|buy|built|build|rose|grew|drew|drove|flew|"
             r"[a-z]+ed|(?<=\s)[a-z]+s)\b")
_RELATIVE_START = lazy(r"(?:which|who|whose|whom|where)\s")
_PREDICATE_START = lazy(r"(?:had|has|have|will|would|can|could|may|might|must|shall|should|is|was|are|were|did|"
                        r"does|do|remains|remained|became|becomes|now|also|then)\s")


def _predicate_after(tail: str) -> bool:
    """``tail`` is a relative clause that closes at a comma before the sentence's own predicate ("who got so close
    in 2013, had to withdraw", "which became final Tuesday, will create …"): what came before it is a subject, not
    a sentence."""
    return bool(_RELATIVE_START.match(tail)) and any(_PREDICATE_START.match(piece) for piece in tail.split(", ")[1:])


_SUBJECT_WITH_RELATIVE = lazy(r"^(?:The|A|An|This|That|One|Two|Three)\s[^,]{0,60}?\b(?:who|which|that|whose|whom)\s")


def _subject_only(head: str, tail: str) -> bool:
    """``head`` is a subject with its relative clause, and the sentence's predicate comes after the cut: "The man who
    the police said sowed terror across two states, setting off bombs …, was tracked down on Monday …"."""
    return bool(_SUBJECT_WITH_RELATIVE.match(head)) and any(
        _PREDICATE_START.match(piece) for piece in tail.split(", ")[1:])


_NAME = lazy(r"(?<=\s)[A-Z][\w'’-]+")
_POINTER = lazy(r"\b(?:these|those|this|such|the same)\s[a-z]")


def _loses_all_names(head: str, tail: str) -> bool:
    """Dropping ``tail`` would leave a head that points back and names no one, and take every name with it: "The
    pace of these contacts has now intensified even further, with Russian Foreign Minister Sergey Lavrov visiting
    Washington today …" keeps only its vague half. The news is in the clause; a marked cut keeps it."""
    return bool(_POINTER.search(head)) and not _NAME.search(head) and bool(_NAME.search(" " + tail))


def _word_cut(sentence: str, room: int) -> int:
    """The last word boundary within ``room`` that keeps quotes and brackets balanced (0 when there is none)."""
    cut = sentence.rfind(" ", 0, room)
    while cut > 0 and not balanced(sentence[:cut]):
        cut = sentence.rfind(" ", 0, cut)
    return max(cut, 0)


def _as_clause(tail: str) -> bool:
    """``tail`` does not open on "as", or its "as" opens a clause ("as they listened", "as the first lady managed
    …"), not a role or a comparison that the sentence needs ("lost his job as a HGV driver", "see the war as a
    defeat", "as well as")."""
    if not tail.startswith("as "):
        return True
    if _AS_PRONOUN.match(tail) or tail.startswith(("as part of ", "as well as ")):
        return True
    if _AS_PHRASE.match(tail):
        return False
    return bool(_VERB.search(" ".join(tail.split()[1:6])))  # "as ambulances waited outside"


_AS_PHRASE = lazy(r"as\s(?:a|an|much|many|long|soon|far|such|if|though|of|for|to|in|usual|opposed|"
                  r"good|big|little|high|low|recently|early|late|quickly)\s")
_AS_PRONOUN = lazy(r"as\s(?:he|she|they|it|we|I|you|his|her|their|its|police|officials)\s")

# Without a comma, only a subordinate clause: "… died in a road accident after his brother …"
_SUBORDINATE = lazy(r"\s(?=(?:after|as|while|because|despite|amid|following|before|since|until|[-–—])\s)")
_DASH = lazy(r"\s[-–—]\s")
_TIME_TAIL = frozenset(str.split("weeks days months years hours minutes seconds moments shortly soon just only "
                                 "week day month year hour minute long"))
_OPEN_RELATIVE = lazy(r"\b(?:who|which|that|whose|whom|where|when|if|after|as|while|because|before|since|until)\s")


def fit_sentence(sentence: str, budget: int) -> tuple[str, str]:
    """``sentence`` made to fit ``budget``: deletions that keep a whole sentence first (compression rules,
    then dropping trailing clauses at a clause boundary), else a cut at a clause boundary marked with "…"."""
    if len(sentence) <= budget:
        return sentence, "fits"
    # attribution ("…, police said.", "according to a study") is deleted only at a small budget
    comp = compress(sentence, None if budget < 300 else frozenset({"lead_time", "age_apposition", "dash_tail"}))
    if comp.rules and len(comp.text) <= budget:
        return comp.text, "compressed (" + ", ".join(comp.rules) + ")"
    got = drop_trailing_clause(comp.text, budget)
    if got:
        return got
    return shorten(sentence, budget), "cut at a clause boundary, marked with …"


def drop_trailing_clause(base: str, budget: int) -> tuple[str, str] | None:
    """``base`` without a trailing clause (after a comma or dash: ", which …", ", after …") or a subordinate clause
    ("… after …"), so that it fits ``budget``: a whole sentence of >= 8 words ending with a full stop (None when
    no such cut exists)."""
    end = base.rstrip()[-1:] if base.rstrip()[-1:] in ".!" else "."
    fronted = _FRONTED.match(base) is not None
    for m in reversed(list(_TRAIL.finditer(base))):
        head = base[: m.start()].rstrip(" ,;:–—-")
        if len(head) + 1 > budget:
            continue
        tail = base[m.end():]
        if _predicate_after(tail) or _subject_only(head, tail):
            break  # an embedded clause: "The merger of X and Y, which became final Tuesday, will create …"
        if _CONJ_START.match(tail) and not _VERB.search(head):
            break  # a list of names, not two clauses: "Kurt Volker, the former envoy, and Tim Morrison, …, said"
        if _loses_all_names(head, tail):
            break
        if len(head.split()) >= 8 and balanced(head) and not (head[-1:] in _CLOSERS and not balanced(head + end)) \
                and (not fronted or _main_clause_after_comma(head)):
            return head + end, "trailing clause dropped at a clause boundary"
        break
    for m in reversed(list(_SUBORDINATE.finditer(base))):
        head = base[: m.start()].rstrip(" ,;:–—-")
        if len(head) + 1 > budget:
            continue
        last = head.rsplit(None, 1)[-1].lower()
        if len(head.split()) < 8:
            break
        if balanced(head) and not _OPEN_RELATIVE.search(head) and last not in _TIME_TAIL and \
                not last[-1:].isdigit() and not _DASH.search(head) and \
                (not fronted or _main_clause_after_comma(head)) and _as_clause(base[m.end():]) and \
                not _loses_all_names(head, base[m.end():]):
            return head + end, "trailing subordinate clause dropped"
    return None


# Words a marked cut does not end on: articles, prepositions, conjunctions, auxiliaries (English, French, Spanish,
# German). Not German "auf", "an", "vor", "nach", "aus", "bei": a verb's particle ends its clause ("fordert … auf").
_CUT_END = lazy(r"(?i)a|an|the|of|to|in|on|at|for|and|or|but|with|by|from|as|that|which|who|is|are|was|were|"
                r"during|into|onto|about|after|before|between|through|against|among|without|within|via|than|whose|"
                r"whom|where|when|while|if|because|since|until|its|their|his|her|our|your|my|this|these|those|will|"
                r"would|can|could|has|have|had|be|been|being|le|la|"
                r"les|de|des|du|et|un|une|que|el|los|las|y|en|por|con|der|die|das|den|dem|und|oder|dass|zu|um|"
                r"mit|von|für|im|ein|eine|gegen|über|unter|zur|zum|am|als|wie|"
                r"del|al|no|se|su|sus|para|sin|sobre|entre|hasta|desde|do|da|dos|das|na|nas|nos|ao|aos|em|"
                r"au|aux|sur|dans|pour|par|avec|sans|di|della|dei|il|lo|gli|per|tra|nel|nella|sul")


def shorten(sentence: str, budget: int) -> str:
    """Cut ``sentence`` at the last clause boundary that fits ``budget`` (with "…"), keeping brackets balanced;
    at a word boundary when the last clause boundary would keep less than two thirds of the budget ("In a joint
    statement published Oct. 25…" or "Ambassador Gordon Sondland, the most anticipated witness …" says nothing; the
    sentence up to the budget says what happened)."""
    room = budget - 1
    best = -1
    for m in _CLAUSE.finditer(sentence):
        cut = m.start()
        if cut > room:
            break
        head = sentence[:cut].rstrip()
        if len(head.split()) >= 4 and balanced(head) and not _loses_all_names(head, sentence[cut:room]):
            best = cut
    word = _word_cut(sentence, room)
    if best < room * 2 // 3:  # no clause boundary (or only an early one): last word boundary that keeps the balance
        best = word if word > max(best, 0) else best if best > 0 else room
    elif _FRONTED.match(sentence) and len(sentence[:word].rsplit(", ", 1)[-1].split()) >= 3 and "," in \
            sentence[:word]:
        # a sentence that opens on a fronted phrase is cut at a word boundary that reaches into its main clause: a
        # clause boundary inside the fronted phrase ("From the deck of his schooner, undergoing an overhaul in
        # Seattle…") would cut the subject and verb off; not when only a word of it fits ("…, optimal…")
        best = word
    head = sentence[:best].rstrip(" ,;:–—-")
    words = head.split()
    while len(words) > 3 and _CUT_END.fullmatch(words[-1]):
        words.pop()
    head = " ".join(words).rstrip(" ,;:–—-")
    if not balanced(head):
        head = re.sub(r"[\"“”()\[\]]", "", head)
    return head + "…"
