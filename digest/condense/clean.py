"""Cleaning rules for article text: each rule has a name, so ``--explain`` can say which one fired.

Three kinds of rule:
- ``INLINE_RULES`` remove a span inside a paragraph (datelines, bureau prefixes, share widgets, credits);
- ``LINE_RULES`` drop a whole paragraph (advertisement markers, "Read more" links, pleas, captions, bylines);
- ``TAIL_RULES`` drop a paragraph and everything after it (comment widgets, related-headline blocks).
Then ``caption_runin`` removes a photo caption that runs into the next sentence without a full stop
("… a colleague The cost of divorce …"), a common artefact of text scraped from tabloid pages.

All patterns are written for linear-time matching (bounded repeats, no nested quantifiers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from ..model import Removed
from .datelines import AGENCY, FIRST_PARAGRAPH_CUTS, FUNCTION_END, NAME_LEAD, bureau
from .lang import english as is_english
from .lazyre import lazy
from .pleas import BROWSER_NOTICE, credit_at_end, looks_like_prose, plea_like, strong_plea, subscribe_plea_like
from .pleas import TERMINAL as _TERMINAL
from .rule import Rule
from .stamps import DATE, DATE_LABEL, DATE_STAMP, LABEL_STAMP_RULE, TIME, UPDATED_ON, label_before_stamp
from .style import repair_brackets, repair_closing_quotes, repair_entities

# Second, cheaper necessary conditions (on the lower-cased line) for two rules whose patterns are slow to search
# because they may start at any position (a leading optional space): run only when a needle occurred.
_PRECHECK_PHOTO_CREDIT = lazy(r"(?:photo|image|picture|pic|credit)[\w ]{0,12}:")
_PRECHECK_PUBLISHED_UPDATED = lazy(r"(?:published|updated)[\s:.at]{0,12}"
                                   r"(?:\d|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)")


def _r(p: str, flags: int = 0) -> re.Pattern[str]:
    return lazy(p, flags)


# The labels of a post's tag list (sources/text.py ends a pasted label's line with its list)
TAG_LABELS = (r"Tags|TAGS|Tagged(?: with| as| in)?|Schlagw(?:ö|oe)rter|Schlagworte|Stichw(?:ö|oe)rter|Étiquettes|"
              r"Mots-clés|Etiquetas|Palabras clave")
# A share bar's labels, run together when a page is copied or scraped: "Share this withEmailFacebookMessenger…Copy
# this link", "Share this on WhatsApp", "Share via Email X Reddit" (also teaser's cleanup of a publisher's excerpt).
SHARE_BAR = (r"Share(?: this(?: article| post| story)?)?(?: on| via| with)?\s{0,3}"
             r"(?:(?:Email|Facebook|Messenger|Twitter|X|Pinterest|WhatsApp|Linked[Ii]n|Reddit|Telegram|"
             r"Copy(?: this)?(?: link)?)(?![a-z])\s{0,3})+")
INLINE_RULES: tuple[Rule, ...] = (
    Rule("share_widget", _r(SHARE_BAR), "social share buttons run into the text",
         needles=("share",)),
    Rule("dm_byline", _r(r"^By\s{1,3}\.\s{1,3}[^.\n]{1,80}?\s{1,3}\.\s{1,3}"), "tabloid byline ('By . Name . ')",
         needles=("by .",)),
    Rule("update_stamp",
         _r(rf"^(?:(?i:update[ds]?)(?:\s{{0,2}}\d{{1,2}}\b)?(?:\s{{1,2}}(?:at\s{{1,2}})?(?:{TIME}(?:,?\s{{0,2}}{DATE})?|{DATE}))?"
            rf"|{TIME}(?:,?\s{{1,2}}{DATE})?)\s{{0,2}}(?:[-—–]{{1,2}}|:)\s{{1,3}}(?=[\"“‘A-Z0-9])"),
         "update time stamp at the start of a paragraph ('12:00 PM PT -- ', 'UPDATE: ', 'Updated at 3:15 p.m.: ')",
         needles=("update", ":", ".")),
    Rule("summary_label",
         _r(r"^(?:Summary|SUMMARY|Zusammenfassung|Résumé|Resumen|Resumo|TL;DR|TLDR|Abstract|Overview|Key points|"
            r"In brief|Kurz gesagt|En bref)\s{0,2}:\s{1,3}(?=[\"“‘«„A-Z0-9])"),
         "a summary label at the start of a paragraph ('Summary: ', 'TL;DR: ')",
         needles=("summary", "zusammenfassung", "résumé", "resumen", "resumo", "tl;dr", "tldr", "abstract",
                  "overview", "key points", "in brief", "kurz gesagt", "en bref")),
    Rule("published_updated",
         _r(rf"(?:\|\s{{0,3}}\.?\s{{0,3}})?(?:PUBLISHED|UPDATED|Published|Updated|Last updated)\s{{0,3}}(?:at\s)?:?\s{{0,3}}"  # noqa: E501
            rf"\.?\s{{0,3}}(?:{TIME},?\s{{0,3}}(?:{DATE})?|{DATE})\s{{0,3}}\.?\s{{0,3}}(?:\|\s{{0,3}}\.?\s{{0,3}})?"),
         "publication/update timestamp",
         needles=("published", "updated"),
         precheck=_PRECHECK_PUBLISHED_UPDATED),
    Rule("updated_on", _r(UPDATED_ON), "an update stamp between two sentences ('Updated on September 19 at …')",
         needles=("updated on", "published on", "posted on")),
    Rule("date_label", _r(DATE_LABEL), "a date that labels the paragraph ('December 28, 2014: Markets opened …')",
         digit_within=40),
    Rule("bracket_label", _r(r"^【[^】\n]{1,40}】\s{0,2}"),
         "a label in lenticular brackets ('【6月18日 AFP】', '【速報】')",
         needles=("【",)),
    Rule("date_stamp", _r(DATE_STAMP), "a date/time stamp (and byline) run into the paragraph's first sentence",
         digit_within=120),
    Rule("label_stamp", LABEL_STAMP_RULE, "a label or headline and a date stamp run into the first sentence",
         digit_within=120,
         accept=label_before_stamp),
    Rule("bureau_prefix",
         _r(rf"^(?:[A-Z][\w.'’-]{{1,30}}(?:[ ,]{{1,2}}[A-Z][\w.'’-]{{1,30}}){{0,4}}\s{{0,2}})?\({AGENCY}\)\s{{0,2}}"
            r"(?:[-—–]{1,2}\s{0,2}|:\s{0,2})?(?=[\"“‘'A-Z0-9])"),
         "agency/bureau prefix such as '(CNN)' or 'LONDON (Reuters) -'",
         needles=("(",),
         accept=bureau),
    Rule("dateline",
         _r(r"^[A-Z][A-Z.'’ -]{2,40}(?:,\s{0,2}[A-Z][A-Za-z.'’ -]{1,30})?\s{0,2}[-—–]{1,2}\s{1,3}(?=[\"“‘A-Z0-9])"),
         "dateline such as 'WASHINGTON — '",
         needles=("-", "—", "–")),
    Rule("player_text", _r(r"^(?:Your video will (?:play|begin|start) in \d{1,2}:\d{2}|Now playing|Video Ad Feedback)"
                           r"\s{1,2}(?=[\"“A-Z])"), "a video player's text run into the paragraph",
         needles=("your video will", "now playing", "video ad feedback")),
    Rule("scroll_down", _r(r"\b(?:Scroll|Click) down (?:for|to see) (?:the |more )?(?:videos?|more|pictures?)\b\s{0,3}",
                           re.I),
         "'Scroll down for video' prompt",
         needles=("down for", "down to")),
    Rule("photo_credit",
         _r(r"\s{0,2}\((?:Photo|Image|Picture|Pic|Credit|Photograph)s?(?: credit)?\s{0,2}:[^()\n]{1,80}\)|"
            r"\s{0,2}(?:Photograph|Photo|Picture|Image|Credit)s?(?: credit)?\s{0,2}:\s{0,2}[^.!?\n]{1,80}$"),
         "photo credit",
         needles=("photo", "image", "picture", "pic", "credit"),
         precheck=_PRECHECK_PHOTO_CREDIT),
    Rule("read_more_tail", _r(r"\s{0,3}\b(?:Read more|READ MORE|Continue reading)\s{0,2}(?:[:.»›>…]{1,3}|$)\s{0,2}[^.!?\n]{0,120}$"),  # noqa: E501
         "'Read more' link at the end of a paragraph",
         needles=("read more", "continue reading")),
)

_DATE_STAMP_RULE = next(r for r in INLINE_RULES if r.name == "date_stamp")

LINE_RULES: tuple[Rule, ...] = (
    Rule("advertisement",
         _r(r"^(?:advertisement|advertising|sponsored(?: content)?|paid (?:content|partner)|supported by|"
            r"story continues below(?: advertisement)?|continue reading(?: the main story)?|ad|promoted)\s{0,3}[.:]?$",
            re.I),
         "advertisement marker"),
    Rule("read_more",
         _r(r"^(?:read more|read next|related|see also|more from|more on this|lire aussi|lire|voir aussi|"
            r"read the full|watch|video|listen|click here|recommended|explore more)\b\s{0,2}[:»›>-]", re.I),
         "'Read more'/'Related' link"),
    Rule("tags",
         _r(rf"^(?:{TAG_LABELS}|Filed (?:to|under)|Topics|Keywords|Themen)"
            r"\s{0,2}(?::.*|(?:\s.*)?)(?<![.!?…])$"),  # a list: no sentence end (else the lede ran into it)
         "a post's tag list ('Tags: ads, Alibaba')"),
    Rule("share",
         _r(r"^(?:share(?: this| this article| on \w+| via \w+| story)?|tweet|e-?mail|print|save|copy link|"
            r"pin|whatsapp|facebook|twitter|linkedin|reddit|comments?|\d+ comments?|shares?|\d+ shares?)$", re.I),
         "share/comment button"),
    Rule("subscribe_plea",
         _r(r"(?:subscribe|sign up|newsletter|support (?:us|\w+ on patreon)|"
            r"(?:^|[.!?…]\s{1,3}|please |help )support (?:our|the)\b|patreon|donate|help us grow|"
            r"share your (?:videos?|pictures?|photos?|stories|story|tips?)\b|"
            r"become a (?:member|patron|subscriber)|make a contribution|get (?:the|our) (?:app|newsletter)|"
            r"follow us on|like us on|abonnez|s'abonner|werbeblocker|ad-?blocker|ad blocker|"
            r"uns\b[^.!?]{0,40}\bzu unterstützen|unterstützt? uns|soutenez-nous|apóyanos|"
            r"(?:submit|send us) your (?:letters?|story|stories|tips?|photos?|news|views|comments?)\b)", re.I),
         "support/subscribe plea",
         needles=("subscri", "sign up", "newsletter", "support", "patreon", "donate", "help us", "become a",
                  "blocker", "unterstütz", "soutenez", "apóyanos", "contribution", "get the", "get our", "follow us",
                  "like us", "abonn", "submit your", "send us your", "share your"),
         still_reads_as=subscribe_plea_like),
    Rule("disclaimer",
         _r(r"(?:views(?:,| and) opinions expressed|do not necessarily (?:represent|reflect)|"
            r"solely those of the author|contains? affiliate links|"
            r"(?:I|we) may (?:receive|earn) (?:a )?(?:small )?(?:commission|compensation)|"
            r"terms apply to the offers|(?:explanation of|read) our advertising policy|"
            r"enthält (?:\w+ )?affiliate-links|affiliate-links (?:sind|und/oder)|mit affiliate-links versehen|"
            r"(?:stock )?quote data provided by|market indices are shown in real time|"
            r"this (?:modal|dialog|pop-?up|window) can be closed|pressing the escape key|"
            r"you can help (?:by (?:adding|expanding)|wikipedia)|"
            r"this (?:article|section|list) (?:needs|is incomplete)|"
            r"^(?:written (?:or|and) )?(?:medically )?reviewed by (?:a |our )?"
            r"(?:board[- ]certified |licensed |registered )?"
            r"(?:physician|doctor|dietitian|nurse|pharmacist|medical (?:professional|expert))s?\b|medical review board|"
            rf"^fact[- ]checked by\b|{BROWSER_NOTICE})",
            re.I),
         "publisher disclaimer, site notice (market data, a dialog's help text, a wiki's maintenance note)",
         needles=("opinions", "necessarily", "solely", "affiliate", "commission", "compensation", "terms apply",
                  "advertising policy", "quote data", "market indices", "can be closed", "escape key", "you can help",
                  "this article", "this section", "this list", "reviewed by", "review board",
                  "fact-checked", "fact checked", "browser", "navigateur", "navegador")),
    Rule("copyright", _r(r"(?:^(?:©|copyright\b|\(c\)\s{0,2}\d{4})|(?<![(“\"‘'])all rights reserved)", re.I),
         "copyright notice",
         needles=("©", "copyright", "(c)", "rights reserved")),
    Rule("cookie_notice", _r(r"\bcookies?\b.{0,120}\b(?:use|policy|consent|accept|settings|browsing)\b|"
                             r"\b(?:we|this (?:site|website)) uses? cookies", re.I),
         "cookie notice",
         needles=("cookie",),
         still_reads_as=plea_like),
    Rule("comment_policy",
         _r(r"^(?:(?:[^\W\d_]{3,}\s)?[^\W\d_]{3,}\s{0,2}[:!]\s{0,2})?"
            r"(?:(?:all|your|user|users'|reader|readers'|os|los|les|die|alle|tous les|ihre|vos|seus|sus)\s){0,2}"
            r"(?:comments?|comentários?|comentarios?|kommentare?|commentaires?)\b[^.!?]{0,160}?"
            r"\b(?:(?:are|is|will be|will not be|won't be) (?:moderated|reviewed|approved)|"
            r"(?:não|nao) serão|serão (?:aprovad|moderad|publicad)|pelo moderador|"
            r"(?:no )?ser[áa]n (?:aprobad|moderad|publicad)|por el moderador|"
            r"werden\b[^.!?]{0,40}?\b(?:moderiert|geprüft|freigeschaltet|veröffentlicht)|"
            r"(?:sont|seront) (?:modérés|publiés|validés)|par (?:le|un) modérateur)", re.I),
         "comment moderation notice",
         needles=("comment", "coment", "kommentar")),
    Rule("caption",
         _r(r"^(?:image|media|photo|video)\s{0,2}(?:caption|copyright)\b|(?<!\()(?:Photograph|Photo|Picture|Image)\s{0,2}:"
            r"|\b(?:Getty Images|AFP/Getty|Shutterstock|Reuters/|AP Photo)\b", re.I),
         "photo caption or credit",
         needles=("caption", "copyright", "photo", "picture", "image", "getty", "afp", "shutterstock", "reuters",
                  "ap "),
         still_reads_as=credit_at_end),
    Rule("byline", _r(r"^(?i:by|par|written by|words by)\s{1,3}[A-Z][\w.'’-]{0,30}(?:[ ,]{1,2}[\w.'’@-]{1,30}){0,8}$"),
         "byline"),
    Rule("timestamp",
         _r(rf"^(?:(?:published|updated|last updated|last modified|posted|first published)\s{{0,3}}(?:on|at)?\s{{0,3}}:?"  # noqa: E501
            rf"\s{{0,3}})?(?:{DATE}|{TIME})(?:\s{{0,3}}[|,•·:-]?\s{{0,3}}(?:at\s)?(?:{DATE}|{TIME}))?\s{{0,3}}[|.]?$", re.I),  # noqa: E501
         "date/time line"),
)
_TAGS_RULE, _PLEA_RULE, _COOKIE_RULE, _DISCLAIMER_RULE = (
    next(r for r in LINE_RULES if r.name == name) for name in ("tags", "subscribe_plea", "cookie_notice", "disclaimer"))

TAIL_RULES: tuple[Rule, ...] = (
    Rule("comment_widget",
         _r(r"^(?:notify of|view all comments|leave a (?:comment|reply)|post a comment|add a comment|"
            r"join the (?:conversation|discussion)|comments? \(\d+\)|\d+ comments?|show comments|"
            r"comments are closed|inline feedbacks|you must be logged in to post a comment|commentaires?|"
            r"sie müssen (?:sich )?(?:einloggen|anmelden|eingeloggt sein|angemeldet sein)|vous devez être connecté|"
            r"debes (?:iniciar sesión|estar registrado)|você precisa estar logado)\b", re.I),
         "comment widget (dropped with everything after it)"),
    Rule("related_block",
         _r(r"^(?:related (?:articles|stories|posts|coverage|content|news|links)|you (?:may|might) (?:also )?like|"
            r"more (?:stories|from|news|top stories)\b|most (?:read|popular|viewed|shared)|trending(?: now)?|"
            r"recommended(?: for you| stories)?|around the web|what's trending|read next|up next|"
            r"sur le même sujet|les plus lus)\s{0,2}[:.]?$", re.I),
         "related-headlines block (dropped with everything after it)"),
)


def update_stamp(sentence: str) -> re.Match[str] | None:
    """The update time stamp that opens ``sentence`` ("12:00 PM PT -- ", "UPDATE: "), if any."""
    return _UPDATE_STAMP.pattern.match(sentence)


_UPDATE_STAMP = next(r for r in INLINE_RULES if r.name == "update_stamp")
_WIDGET_LEAD = _r(r"^(?:what do you think\??|have your say|tell us what you think|what are your thoughts\??|"
                  r"share your thoughts|leave a comment)\s{0,2}[.!?:]?$", re.I)

# A photo caption run into the next sentence: lower-case word or number, then a determiner/pronoun that
# starts a sentence followed by a lower-case word: "… than a colleague The cost of …".
_RUNIN = _r(r"(?<=[a-z0-9%)’”])\s(?=(?:(?:The|A|An|This|That|These|Those|His|Her|Their|Its|He|She|They|It|There|Police|Officials|"  # noqa: E501
            r"When|After|As|While|Although|If|During|Despite|Speaking|According|In|On|At|But|And)\s[a-z]|(?:A|An)\s\d)|"
            r"(?:Mr|Mrs|Ms|Dr)\.?\s[A-Z]|The\s[A-Z][a-z]+(?:\s[A-Z][a-z]+)?\s[a-z])")

MAX_LINE_RULE_CHARS = 300  # line rules only fire on short paragraphs: a long one is prose


@dataclass
class Cleaned:
    text: str  # paragraphs joined by a blank line
    removed: list[Removed]


GALLERY_LABELS = frozenset(["caption", "view photos", "view gallery", "view photo", "buy photo", "enlarge this image",
                            "expand", "launch gallery", "view slideshow", "open gallery"])


def clean_text(text: str) -> Cleaned:
    """Apply every rule to ``text``; return the cleaned text and the removed spans (offsets into ``text``)."""
    removed: list[Removed] = []
    kept: list[tuple[int, str]] = []  # (where it starts in ``text``, the cleaned paragraph)
    lines: list[tuple[int, str]] = []
    pos = 0
    for raw in text.split("\n"):
        lines.append((pos, raw))
        pos += len(raw) + 1
    n_prose = 0
    skip_next = False
    i = 0
    while i < len(lines):
        start, raw = lines[i]
        line = raw.strip()
        off = start + (len(raw) - len(raw.lstrip()))
        if not line:
            i += 1
            continue
        if len(line) < 24 and line.lower().rstrip(":") in GALLERY_LABELS:
            # a photo gallery's labels; "Caption" sits between a caption and its repeat ("View Photos" above)
            removed.append(Removed(off, off + len(line), line, "gallery_label"))
            if line.lower().startswith("caption"):
                if kept and len(kept[-1][1]) < 400 and (prev := _find_prev(lines, i)) is not None:
                    kept.pop()
                    removed.append(Removed(prev[0], prev[0] + len(prev[1]), prev[1], "caption"))
                skip_next = True
            i += 1
            continue
        if skip_next and len(line) < 400:
            skip_next = False
            removed.append(Removed(off, off + len(line), line, "caption"))
            i += 1
            continue
        skip_next = False
        tail = _match_tail(line) if n_prose else None
        if tail is not None:
            # also drop a widget lead-in just before ("What do you think?")
            while kept and _WIDGET_LEAD.match(kept[-1][1]):
                kept.pop()
                prev_start = _find_prev(lines, i)
                if prev_start is not None:
                    removed.append(Removed(prev_start[0], prev_start[0] + len(prev_start[1]), prev_start[1],
                                           "comment_widget"))
            end = len(text)
            removed.append(Removed(off, end, text[off:end], tail.name))
            break
        rule = _match_line(line)
        if rule is not None:
            removed.append(Removed(off, off + len(line), line, rule.name))
            i += 1
            continue
        line, spans = _clean_line(line)
        if spans:
            removed.extend(Removed(r.start + off, r.end + off, r.text, r.rule) for r in spans)
            if kept and _opens_story(spans, kept):
                removed.extend(Removed(at, at + len(k), k, "before_dateline") for at, k in kept)
                kept.clear()
                n_prose = 0
        for cutter, rule_name in () if kept else FIRST_PARAGRAPH_CUTS:  # the text's first paragraph only
            if line and (cut := cutter(line)):
                head = line[:cut].rstrip()
                idx = raw.find(head)
                removed.append(Removed(start + max(idx, 0), start + max(idx, 0) + len(head), head, rule_name))
                line = line[cut:].lstrip()
        if line:
            kept.append((off, line))
            if len(line) > 80 and _TERMINAL.search(line):
                n_prose += 1
        i += 1
    return Cleaned("\n\n".join(k for _, k in kept), removed)


def _opens_story(spans: tuple[Removed, ...], kept: list[tuple[int, str]]) -> bool:
    """A dateline or agency prefix ("WASHINGTON — ", "(CNN) -- ") opened this paragraph, and the few paragraphs kept
    above it are short: the story starts here; above it stood a caption, highlights or a plea."""
    return len(kept) <= 5 and any(r.start == 0 and r.rule in ("dateline", "bureau_prefix") for r in spans) and \
        all(len(k.split()) <= 30 for _, k in kept)


def _find_prev(lines: list[tuple[int, str]], i: int) -> tuple[int, str] | None:
    for j in range(i - 1, -1, -1):
        if lines[j][1].strip():
            raw = lines[j][1]
            return lines[j][0] + len(raw) - len(raw.lstrip()), raw.strip()
    return None


def _match_tail(line: str) -> Rule | None:
    if len(line) > 80:
        return None
    low = line.lower()
    for rule in TAIL_RULES:
        if rule.search(line, low):
            return rule
    return None


_LONG_NOTICE = _r(r"^(?:we|this (?:site|website)) uses? cookies|\bby clicking\b.{0,40}\b(?:accept|agree|continue)|"
                  r"^(?:the )?(?:views|statements)[^.]{0,60} expressed|^(?:most )?(?:stock )?quote data provided by",
                  re.I)


@lru_cache(maxsize=4096)
def _match_line(line: str) -> Rule | None:
    """The whole-paragraph rule ``line`` matches (memoised: text parsing and cleaning both ask)."""
    if len(line) > MAX_LINE_RULE_CHARS:
        if line[:1] in "TSEMPFKÉ" and _TAGS_RULE.search(line):
            return _TAGS_RULE  # a tag list is as long as the post has tags
        if len(line) < 800 and strong_plea(line):
            return _PLEA_RULE  # "VRODO bietet euch täglich … Die einfachste Art, uns … zu unterstützen …"
        if len(line) < 2000 and _LONG_NOTICE.search(line):
            low = line.lower()
            return _COOKIE_RULE if "cookie" in low or "clicking" in low else _DISCLAIMER_RULE
        return None
    low = line.lower()
    for rule in LINE_RULES:
        if rule.search(line, low):
            # a long sentence that merely mentions a keyword ("… the newsletter said.") is prose, keep it
            if rule.still_reads_as is not None and looks_like_prose(line) and not rule.still_reads_as(line):
                continue
            return rule
    return None


@lru_cache(maxsize=2048)
def _clean_line(line: str) -> tuple[str, tuple[Removed, ...]]:
    """Inline rules then run-in captions on one paragraph, offsets relative to it (memoised: deriving a title
    cleans the first paragraph before the whole text is cleaned)."""
    out, spans = _apply_inline(repair_brackets(repair_closing_quotes(repair_entities(line))), 0)
    out, more = _remove_runin_captions(out, 0, line)
    if more and (m := _DATE_STAMP_RULE.search(out, out.lower())) and m.end() > m.start():
        # the stamp that a run-in headline hid ("<headline> November 18, 2019 7:45 am PST by Joe Rossignol …")
        at = max(line.find(m.group(0)), 0)
        more.append(Removed(at, at + len(m.group(0)), m.group(0), "date_stamp"))
        out = out[m.end():].lstrip()
    return out, tuple(spans + more)


def _apply_inline(line: str, off: int) -> tuple[str, list[Removed]]:
    """Remove inline spans; offsets are mapped back to the original line as long as removals don't overlap."""
    spans: list[Removed] = []
    orig = line
    low = line.lower()
    for rule in INLINE_RULES:
        for _ in range(3):  # a rule may fire a few times (repeated timestamps)
            m = rule.search(line, low)
            if not m or m.end() == m.start() or rule.accept is not None and not rule.accept(m.group(0)):
                break
            idx = orig.find(m.group(0))
            spans.append(Removed(off + max(idx, 0), off + max(idx, 0) + len(m.group(0)), m.group(0), rule.name))
            line = (line[:m.start()] + " " + line[m.end():]).strip() if m.start() else line[m.end():].lstrip()
            line = re.sub(r"\s{2,}", " ", line)
            low = line.lower()
    return line.strip(), spans


def _remove_runin_captions(line: str, off: int, orig: str) -> tuple[str, list[Removed]]:
    """Drop a caption that runs into the next sentence at the start of a sentence of this paragraph."""
    from .sentences import sentence_spans

    if len(line) < 60 or not _RUNIN.search(line):
        return line, []
    out: list[str] = []
    spans: list[Removed] = []
    for s, e in sentence_spans(line):
        sent = line[s:e]
        for _ in range(RUNIN_REPEAT):  # a tabloid photo often carries two captions: "cap1 cap2 Sentence."
            m = _runin_cut(sent)
            if m is None:
                break
            cap = sent[:m.start()]
            idx = orig.find(cap)
            spans.append(Removed(off + max(idx, 0), off + max(idx, 0) + len(cap), cap, "caption_runin"))
            sent = sent[m.end():]
        out.append(sent.strip())
    return " ".join(x for x in out if x), spans


RUNIN_REPEAT = 4


# A caption's last word before "Mr Name": a number, a bracket, a cue ("pictured", "above") or a proper noun. A
# verb, a role or any other lower-case word runs on into the name: "prompted Dr Venter to leave", "said fertility
# specialist Dr. David Tourgeman", "was sleeping at the time Mr Yeaman was making a commotion".
_CAPTION_END = frozenset(("pictured", "above", "below", "left", "right", "inset", "centre", "center", "file",
                          "image", "photo", "picture", "photograph"))
_ROLE = _r(r"(?:Reverend|Rev|Officer|President|Minister|Chairman|Director|Secretary|Chief|Professor|Doctor|Judge|"
           r"Senator|Governor|Commissioner|Mayor|Sheriff|Captain|Coach|Manager|Veterinarian|Patient|Vitamin|"
           r"[A-Z]\w*ing)$")
# Run-in captions are an artefact of English tabloid pages; in other languages "A" and "Dr." run on ("von A nach
# B", "Landesbranddirektor Dr. Karsten Homrighausen"): ``is_english`` asks first.


def _runin_cut(sent: str) -> re.Match[str] | None:
    """The first run-in boundary in ``sent`` that leaves a caption-like head and a whole sentence after it."""
    english: bool | None = None
    for m in _RUNIN.finditer(sent):
        head = sent[:m.start()]
        if m.start() < 25 or len(head.split()) < 5:
            continue
        last = head.rsplit(None, 1)[-1]
        if last.lower() in FUNCTION_END or last.endswith(("’s", "'s", "(only")):
            continue
        nxt = sent[m.end():m.end() + 2]
        if nxt in ("Mr", "Ms", "Dr") and not (last[-1:].isdigit() or last.endswith(")") or
                                              last.lower() in _CAPTION_END or
                                              (last[:1].isupper() and not _ROLE.search(last))):
            continue
        if nxt == "Th" and last.lower() in NAME_LEAD:
            continue
        if nxt in ("A ", "Po") and last[:1].isupper():
            continue  # "Patient A and …", "Greater Manchester Police told …"
        if english is None:
            english = is_english(sent)
        if not english:
            return None
        if not _TERMINAL.search(sent[m.end():]) or re.search(r"[,;:\"“‘]\s*$|[,.!?][\"”’']\s*(?:\w+\s*)?$", head) or \
                _open_quote(head) or head.count("(") > head.count(")"):
            return None
        return m
    return None


def _open_quote(s: str) -> bool:
    return s.count("“") > s.count("”") or s.count('"') % 2 == 1
