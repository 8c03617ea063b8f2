"""make_teaser and explain: the pipeline clean → split → score → pack (→ shorten)."""

from __future__ import annotations

import re
from typing import Any

from ..model import Article, Removed, Teaser
from .clean import SHARE_BAR, clean_text
from .lazyre import lazy
from .names import complete_names
from .opener import QUESTION_LEDE, find_opener
from .pack import fit_sentence, pack, shorten
from .select import DEFAULT, Candidate, Params, build_candidates
from .sentences import n_words
from .style import _TERMINAL, balanced, style_ok


def make_teaser(article: Article, max_chars: int = 300, params: Params = DEFAULT) -> Teaser:
    """The teaser for ``article`` within ``max_chars`` characters (an editor's override always wins)."""
    if article.teaser_override and article.teaser_override.strip():
        text = " ".join(article.teaser_override.split())
        return Teaser(text=text, sentences=[text], method="override", reasons=["editor's override"])
    cleaned = clean_text(article.text or "")
    base: dict[str, Any] = {"removed": cleaned.removed, "cleaned_text": cleaned.text}
    desc = _usable_description(article, cleaned.text, max_chars)
    if desc:
        return Teaser(text=desc, sentences=[desc], method="description",
                      reasons=["publisher's description: one clean sentence, supported by the body, fits"], **base)
    title = _real_title(article.title or "", cleaned.text)
    cands = build_candidates(cleaned.text, title, params, article.lang)
    chosen = pack(cands, max_chars, params, context=title)
    if chosen:
        _restore_connectives(chosen, max_chars)
        sents = [c.text for c in chosen]
        reasons = [_reason(c, cands, k == 0 and params.lede_first) for k, c in enumerate(chosen)]
        if params.lede_first:
            sents, reasons = _with_given_names(sents, reasons, cleaned.text, title, max_chars)
        return Teaser(text=_join(sents), sentences=sents,
                      method="lead" if _is_lead(chosen, cands) else "lede" if params.lede_first else "centrality",
                      reasons=reasons, **base)
    # the lede does not fit whole: shorten it (a full sentence without its trailing clauses, else a marked cut)
    opener = find_opener(cands, title, questions=False)[0] if params.lede_first else None
    if opener is not None:
        text, how = fit_sentence(opener.text, max_chars)
        if text and style_ok(text, max_chars):
            return Teaser(text=text, sentences=[text], shortened=text.endswith("…"), method="shortened",
                          reasons=[f"sentence {opener.index + 1} (the lede) is longer than {max_chars} characters: "
                                   f"{how}"], **base)
    # no lede: shorten the best usable opener (or any sentence) at a clause boundary
    pool = [c for c in cands if c.usable and not c.needs_previous][:10] or [c for c in cands if c.usable][:10] or \
        [c for c in cands[:10] if n_words(c.text) >= params.min_words]  # not a menu's "Chuck-John W."
    for best in sorted(pool, key=lambda c: -c.score):
        text = best.text if len(best.text) <= max_chars else shorten(best.text, max_chars)
        if style_ok(text, max_chars):
            return Teaser(text=text, sentences=[text], shortened=text != best.text, method="shortened",
                          reasons=[f"sentence {best.index + 1}: no whole sentence fits {max_chars} characters; "
                                   "cut at a clause boundary"], **base)
    tried = False
    for fallback in (article.description, article.title):  # the title when the description is junk ("* …")
        fallback = (fallback or "").strip()
        if not fallback:
            continue
        tried = True
        fallback = _tidy_excerpt(fallback)
        text = fallback if len(fallback) <= max_chars else shorten(fallback, max_chars)
        if not _TERMINAL.search(text):
            text = text.rstrip(" ,;:") + "."
        if style_ok(text, max_chars):
            return Teaser(text=text, sentences=[text], shortened=text != fallback, method="fallback",
                          reasons=["no usable sentence in the body: description or title"], **base)
    if tried:
        return Teaser(text="", method="empty", reasons=["no usable sentence"], **base)
    return Teaser(text="", method="empty", reasons=["no text"], **base)


_SHARE_LABEL = lazy("^" + SHARE_BAR)
_EXCERPT_END = lazy(r"\s*(?:\[(?:…|\.{3}|&hellip;|&#8230;)\]|\((?:…|\.{3})\)|\.{3}|…)\s*$")


def _tidy_excerpt(text: str) -> str:
    """A publisher's description used as the teaser of last resort, without a share bar run into its start ("Share
    this on WhatsAppCalendário …") and with an excerpt's cut mark ("[…]", "[...]", " ...") as a plain "…"."""
    text = _SHARE_LABEL.sub("", text, count=1) if text.startswith("Share") else text
    cut = _EXCERPT_END.search(text)
    if cut and cut.start() > 0:
        text = text[: cut.start()].rstrip(" ,;:-–—") + "…"
    return text


def _join(sents: list[str]) -> str:
    """Sentences joined by a space; none after a Chinese/Japanese full stop (those scripts use no spaces)."""
    out = sents[0] if sents else ""
    for s in sents[1:]:
        out += s if out[-1:] in "。！？」』" else " " + s
    return out


def _real_title(title: str, body: str) -> str:
    """The title, or "" when it was derived from the body's first sentence (it says nothing new)."""
    from .sentences import first_sentence

    def norm(s: str) -> str:
        return " ".join(re.sub(r"[^\w]+", " ", s.lower()).split())

    first = first_sentence(body[:3000].lstrip().split("\n", 1)[0])  # first paragraph only
    derived = title.endswith("…") and norm(first).startswith(norm(title.rstrip("…"))) or \
        norm(first) == norm(title) and first.rstrip()[-1:] in ".!?…。！？" and \
        len(first) in (len(title), len(title) + 1)
    return "" if derived else title


def _usable_description(article: Article, body: str, budget: int) -> str | None:
    """The publisher's description when it is one clean sentence that fits and that the body supports."""
    d = " ".join((article.description or "").split())
    if "&" in d and ";" in d:  # publishers double-escape meta content ("&amp;quot;" arrives as "&quot;")
        from html import unescape

        d = unescape(d)
    if not d or len(d) > budget or len(d.split()) < 8 or not _TERMINAL.search(d) or not balanced(d):
        return None
    if d[0].islower() or not (d[0].isalnum() or d[0] in "\"“‘'("):
        return None
    if d.endswith("...") or d.endswith("…") or "?" in d[-3:]:
        return None
    from .sentences import split_sentences

    if len(split_sentences(d)) != 1:
        return None
    if _support(d, body) >= 0.8:
        return d
    # a dek that rewords the lede: the editors' own teaser, used when most of its content words are the body's
    from .select import _stems

    words = set(_stems(d))
    return d if words and len(words & set(_stems(body[:4000]))) / len(words) >= 0.7 else None


def _with_given_names(sents: list[str], reasons: list[str], body: str, title: str,
                      budget: int) -> tuple[list[str], list[str]]:
    """The teaser with surname-only first mentions completed (``complete_names``); a follow-on that no longer
    fits is dropped, and nothing changes when even the opener would not fit."""
    full, notes = complete_names(sents, body, title)
    if not notes:
        return sents, reasons
    n = len(full)
    while n > 1 and sum(map(len, full[:n])) + n - 1 > budget:
        n -= 1
    if sum(map(len, full[:n])) + n - 1 > budget:
        return sents, reasons
    reasons = list(reasons[:n])
    for k, note in notes:
        if k < n:
            reasons[k] += f"; {note}"
    return full[:n], reasons


def _support(sentence: str, body: str) -> float:
    """Share of the sentence's word 4-grams found in the body."""
    def norm(s: str) -> list[str]:
        return re.sub(r"[^0-9a-z]+", " ", s.lower()).split()

    w, b = norm(sentence), norm(body)
    g = {tuple(w[i:i + 4]) for i in range(len(w) - 3)}
    if not g:
        return 0.0
    bg = {tuple(b[i:i + 4]) for i in range(len(b) - 3)}
    return len(g & bg) / len(g)


def _restore_connectives(chosen: list[Candidate], budget: int) -> None:
    """A sentence that follows its own predecessor in the teaser gets back the "But"/"However," removed from its
    start: the contrast it draws is with the sentence just before it, which the reader now has
    ("… after the company cut its guidance. But its lowered forecast isn't a problem …"). Only while it fits."""
    size = sum(len(c.text) for c in chosen) + len(chosen) - 1
    for prev, c in zip(chosen, chosen[1:], strict=False):
        if not c.connective or c.index != prev.index + 1 or c.text[:1] != c.first_letter.upper():
            continue
        back = c.connective + c.first_letter + c.text[1:]
        if size + len(back) - len(c.text) <= budget:
            size += len(back) - len(c.text)
            c.text = back
            c.notes.append(f"'{c.connective.strip()}' kept: it follows the sentence it answers")


def _is_lead(chosen: list[Candidate], cands: list[Candidate]) -> bool:
    usable = [c.index for c in cands if c.usable]
    return [c.index for c in chosen] == usable[: len(chosen)]


def _reason(c: Candidate, cands: list[Candidate], lede: bool = False) -> str:
    extra = f"; {', '.join(c.notes)}" if c.notes else ""
    if lede:
        role = "the lede (first sentence that stands alone)"
    elif not c.usable:  # a short sentence that follows on ("He was 88.")
        role = "follows on (short)"
    else:
        rank = sorted((x for x in cands if x.usable), key=lambda x: -x.score).index(c) + 1
        role = f"score {c.score:.2f} (rank {rank} of usable)"
    return f"sentence {c.index + 1}: {role}{extra}"


def explain(article: Article, max_chars: int = 300, params: Params = DEFAULT) -> str:
    """A readable account: removed spans and why, the cleaned text, each sentence's verdict, the teaser."""
    t = make_teaser(article, max_chars, params)
    out = [f"# {article.title or '(untitled)'}", f"source: {article.source}"]
    if article.lang:
        out.append(f"language: {article.lang}")
    out.append("")
    if article.removed:
        out.append(f"## Dropped by the source parser ({len(article.removed)} paragraphs)")
        k = 0
        while k < len(article.removed):  # runs of one rule (menus, footers) on one line
            j = k
            while j + 1 < len(article.removed) and article.removed[j + 1].rule == article.removed[k].rule:
                j += 1
            run = article.removed[k:j + 1]
            if len(run) == 1:
                out.append(f"  [-{run[0].rule}-] {_short(run[0].text)}")
            else:
                out.append(f"  [-{run[0].rule}-] {len(run)} paragraphs: {_short(' | '.join(r.text for r in run))}")
            k = j + 1
        out.append("")
    out.append(f"## Removed by cleaning ({len(t.removed)})")
    for r in t.removed:
        out.append(f"  [-{r.rule}-] {_short(r.text)}")
    out.append("")
    out.append("## Cleaned text (removed spans marked inline)")
    out.append(_marked(article.text or "", t.removed))
    out.append("")
    if t.method not in ("override", "description"):
        title = _real_title(article.title or "", t.cleaned_text)
        cands = build_candidates(t.cleaned_text, title, params, article.lang)
        picked = {s for s in t.sentences}
        if params.lede_first:
            opener, seen = find_opener(cands, title)
            if opener is not None and QUESTION_LEDE in opener.notes and opener.text not in picked:
                seen = [(opener, "question (its answer does not fit after it)")]  # the packer asked again
                opener, more = find_opener(cands, title, questions=False)
                seen += [(c, why) for c, why in more if c.index > seen[0][0].index]
            out.append("## Openers (the teaser opens with the first sentence that can stand alone)")
            for c, why in seen:
                soft = next((n for n in c.notes if n.startswith("opens although") or n == QUESTION_LEDE), "")
                verdict = f"refused: {why}" if why else f"ACCEPTED: {soft}" if soft else \
                    "ACCEPTED: the lede, it stands alone"
                out.append(f"  {c.index + 1:3d} {verdict}: {_short(c.text, 90)}")
            if opener is None:
                out.append("  no sentence can open the teaser")
            out.append("")
        out.append("## Sentences")
        for c in cands[:60]:
            mark = "PICK" if c.text in picked else ("skip" if not c.usable else "    ")
            why = f" ({c.why_not})" if not c.usable else (" (needs its previous sentence)" if c.needs_previous else "")
            out.append(f"  {mark} {c.index + 1:3d} score {c.score:5.2f}{why}: {_short(c.text, 110)}")
        out.append("")
    out.append(f"## Teaser ({t.method}{', shortened' if t.shortened else ''}, {len(t.text)}/{max_chars} chars)")
    for reason in t.reasons:
        out.append(f"  why: {reason}")
    out.append(t.text)
    return "\n".join(out)


def _short(s: str, n: int = 90) -> str:
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 1] + "…"


def _marked(text: str, removed: list[Removed]) -> str:
    spans = sorted((r for r in removed if 0 <= r.start < r.end <= len(text)), key=lambda r: r.start)
    out, pos = [], 0
    for r in spans:
        if r.start < pos:
            continue
        out.append(text[pos:r.start])
        out.append(f"[-{r.rule}: {_short(text[r.start:r.end], 60)}-]")
        pos = r.end
    out.append(text[pos:])
    return "".join(out)
