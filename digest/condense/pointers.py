"""What makes a sentence point back to one before it, in the languages digest reads: pronouns and demonstratives
("He …", "That erased …", "Dieses Fett …", "Cette revendication …"), leading connectives ("However, …", "하지만 …"),
and German adverbs that stand for what was said ("Dennoch …", "… sollte man damit …"). ``select`` marks a
candidate with them; the opener and the packer ask them again."""

from __future__ import annotations

import re

from .kinds import expletive_it
from .lazyre import lazy

_CONNECTIVE = lazy(
    r"^(?:but|however|and|or|so(?!\s+(?:far|much|many|long|called|too)\b)|also|yet|still|meanwhile|"
    r"instead(?!\s+of\b)|moreover|furthermore|nevertheless|nonetheless|therefore|thus(?!\s+far\b)|besides(?=,)|"
    r"likewise|similarly|additionally|otherwise|then|now(?!\s+\d)|indeed|finally|in addition(?!\s+to\b)|"
    r"as a result(?!\s+of\b)|by contrast|in contrast(?!\s+(?:to|with)\b)|on the other hand|even so|after all|"
    r"mais|cependant|pourtant|toutefois|or|donc|en outre|par ailleurs|et(?=,?\s+(?-i:[a-zà-ÿ]))|aber|und|pero|"
    r"sin embargo|además(?!\s+de\b)|no obstante|plus(?=,)|"
    r"그래서|하지만|그러나|그리고|또한|따라서|그런데|그러므로|게다가|반면)\b,?\s+|"
    r"^(?:しかし|そして|また|だが|ところが|さらに|一方|但是|然而|而且|因此|所以|此外|另外)[、，,]\s*",
    re.I)
# German adverbs that open a sentence ("Dennoch scheuen viele …") are not stripped: the verb comes next (V2), and the
# sentence without them would read as a question. They count as pointing back (_POINTS_BACK_DE).
_PRONOUN = lazy(
    r"^(?:he|she|they|them|his|her|hers|their|theirs|its|it|him|we|these|those|such|"
    r"(?:this|that) (?:is|was|has|had|comes?|came|means?|meant|will|would|could|can|may|might|should|must|"
    r"follows?|followed|leads?|led|marks?|marked|includes?|included|appears?|appeared|prompted|sparked|raises?|"
    r"raised|makes?|made|shows?|showed|suggests?|suggested|happened|left|gives?|gave|isn['’]t|wasn['’]t|won['’]t)|"
    r"(?:this|that)['’]s|"
    r"the (?:former|latter|pair|duo|couple|two|three|man|woman|boy|girl|player|star|club|company|firm|"
    r"group|team|move|decision|incident|comments?|statement|report)\b(?! of))\b", re.I)
# Chinese and Japanese demonstratives and pronouns ("这些话题包含了 …", "この書体を …", "彼は …")
_PRONOUN_CJK = lazy(r"^(?:这些|这个|这种|这样|那些|那个|它们|它|他们|她们|他|她|"
                    r"この|その|あの|これら|これ|それ|彼ら|彼女|彼)")
# French pronouns and demonstratives, only in a French text: Italian "Il black Friday …" is "The …"
_PRONOUN_FR = lazy(r"^(?:il|elle|ils|elles|ce|cette|ces|celui|celle)\b", re.I)
# German pronouns and adverbs that open a sentence ("Er …", "Dabei …", "Dennoch …", "Dann …"), or a connective adverb
# in its first words ("Viele Menschen träumen daher davon …"), only in a German text. "Sie" only with a verb in the
# singular ("Sie war …": she, it), not "Sie können …" (the reader). Not "Dies ist …" or "Diese/Dieser …": a
# demonstrative is as often the page's own subject ("Dies ist ein Food-Blog", "Dieser Artikel …", "Diese Woche …").
_POINTS_BACK_DE = lazy(
    r"^sie\s(?:ist|war|hat|hatte|wird|wurde|kann|konnte|soll|sollte|muss|musste|will|wollte|darf|\w+t)\b|"
    r"^es\s(?!(?:gibt|geht|ist|wird|kommt|handelt|heißt|lohnt|fehlt|bleibt|scheint|regnet|schneit|gilt|hat|braucht|"
    r"reicht|klappt|stimmt|passiert|liegt|steht)\b)\w+t\b|"
    r"^(?:er|dabei|damit|dazu|dadurch|daraufhin|darauf|darum|deshalb|daher|deswegen|dennoch|trotzdem|jedoch|"
    r"stattdessen|vielmehr|hingegen|dagegen|ebenso|umso|"
    r"allerdings|außerdem|zudem|doch|demnach|folglich|dann|danach|denn)\b|"
    r"^(?:\S+\s){0,5}(?:der|die)\s\d{1,3}-Jährigen?\b|"
    r"^(?:\S+\s){1,3}(?:daher|deshalb|deswegen|darum|dennoch|trotzdem|jedoch|allerdings|außerdem|zudem|ebenfalls|"
    r"aber|folglich|danach)\b|"
    r"^(?:\S+\s){1,7}(?:demnach|darüber hinaus|ebenfalls)\b",
    re.I)
# A pronominal adverb in the first words ("Natürlich sollte man damit so früh wie möglich beginnen") points back,
# unless a clause after it is what it stands for ("Unternehmen setzen alles daran, Konflikte zu vermeiden", "… achten
# darauf, dass …").
_PRONOMINAL_DE = lazy(r"^(?:\S+\s){1,3}(?:damit|dafür|dazu|davon|darüber|daran|darauf)\b", re.I)
# A German demonstrative before a noun points back ("Dieses Fett wirkt …", "Diese Zeilen …"), unless the noun is the
# page itself or a time ("Dieser Artikel …", "Diese Woche …").
_DEMONSTRATIVE_DE = lazy(r"^Diese[rsnm]?\s(?!(?:Artikel|Beitrag|Blogbeitrag|Blog|Text|Post|Woche|Jahr|Monat|Tag|Tage|"
                         r"Sommer|Winter|Frühling|Frühjahr|Herbst|Saison|Seite|Website|Webseite|Ausgabe|Folge|Episode|"
                         r"Buch|Rezept|Video|Podcast|Interview|Wochenende|Abend|Morgen|Nacht|Zeit|Mal|Liste|Anleitung|"
                         r"Übersicht|Ratgeber|Newsletter|Woche|Jahres|Monats)\b)[A-ZÄÖÜ]|^Diese[rsnm]?\s[a-zäöüß]")
_CATAPHORIC_DE = lazy(r",\s(?:dass|ob|wie|wenn|was|wer|um\s|(?:\S+\s){1,3}zu\s)")


# Openers that point back to something said before: "That erased …", "These figures …", "Also, …"; "This" only
# with a verb or a noun that is not a time ("This year, …" stands alone).
_POINTS_BACK = lazy(r"^(?:that|these|those)\s+[a-z]|^this\s+(?!(?:year|week|month|morning|afternoon|evening|"
                    r"weekend|summer|winter|spring|autumn|fall|season|time|past|coming|is\s+(?:the|a)\b))[a-z]|"
                    r"^also\b|^the\s+(?!(?:first|last)\s+time\s+(?-i:[A-Z]))(?!(?:last|past|next)\s+(?:\d|few|several|two|three|four|"
                    r"five|six|seven|eight|nine|ten|twelve|(?:day|week|month|year|decade|hour|night)s?\b))"
                    r"(?:\d+-year-old|[a-z]+-year-old|same|latter|former|other|last|second|"
                    r"new\s+(?:rules?|law|measures?|figures?))\b|^such\b|^another\b|^both\b(?![^.;:!?]{0,80}?(?-i:[A-Z])[\w'’-]*\s+and\s+(?-i:[A-Z]))|^the\s+(?:link|"
                    r"numbers?|figures?|move|deal|plan|case|attack|incident|accident|victim|suspect|ruling|verdict|"
                    r"decision|announcement|change|report|study|findings?|survey|claims?|allegations?|defender|striker|midfielder|"
                    r"forward|goalkeeper|keeper|winger|manager|boss|coach|actress|actor|singer|rapper|model|youngster|"
                    r"teenager|pensioner|mother|father|officer|driver|pilot|veteran|businessman|businesswoman|"
                    r"politician|minister|senator|billionaire|millionaire|reality star|tv star)\b(?!\s+of\b)(?!\s*,)|"
                    r"^the\s+next\s+(?:time|day|morning|week)\b|^(?:in|on)\s+the\s+(?:video|footage|clip|picture|"
                    r"photo|photograph|image|post|letter)s?\b|^in\s+(?:many|some|one|all|most|each|both)\s+of\s+the\s+(?:pictures|"
                    r"photos|photographs|images|shots|videos|clips)\b|^same\b|^(?:earlier|later|afterwards)\b(?!\s+(?:this|last|that|in|on|"
                    r"today|tonight))|^(?:during|after|before|in|on|at|despite|following|since|with|by|for|from|under|as|"
                    r"throughout|unlike|like)\s+(?:his|her|their|its|him|them)\b|"
                    r"^(?:as|when|while|after|before|because|since|once|until|although|though)\s+(?:he|she|they|it|we)\b|"
                    r"^which\s+(?:is|was|means|meant|makes|made|explains|would|will|could|might|may|leaves|left)\b|"
                    r"^not only (?:that|this)\b|"
                    r"^[^,.!?;:]{1,40},\s(?:then|therefore|thus|too),\s|"  # "No better time, then, for …"
                    r"^(?:okay|ok),\s(?:sure|fine|so|yes|granted)\b|^granted,\s",  # a reply: "Okay, sure, The …"
                    re.I)


# A short opening phrase, then a pronoun as the subject: "Specifically, it tells you …", "On Monday, they …" (not a
# possessive: "A row involving Taylor Swift, her former label and …" is a list)
_INTRO_PRONOUN = lazy(r"^[^,.!?;:\"“”(]{1,30},\s(?=(?:he|she|they)\s|it\s(?!(?:is|was|will|would|"
                      r"has|had|seems|seemed|appears|appeared|emerged|turned|became|remains|remained|rained|snowed|"
                      r"took|takes|happened|looks|looked|may|might|could|can)\b))")


def points_back(t: str, lang: str | None = None) -> bool:
    """``t`` opens on something said before it: a pronoun (also after a short opening phrase: "Specifically, it
    …"), "That …", "The 39-year-old …", or (in French or German text) their equivalents; not an expletive "It …"
    that stands for the clause after it."""
    if _INTRO_PRONOUN.match(t):
        return True
    return bool(_PRONOUN.match(t) or _POINTS_BACK.match(t) or lang == "fr" and _PRONOUN_FR.match(t) or
                t[:1] > "\u2fff" and _PRONOUN_CJK.match(t) or
                lang == "de" and (_POINTS_BACK_DE.match(t) or _DEMONSTRATIVE_DE.match(t) or
                                  _PRONOMINAL_DE.match(t) and not _CATAPHORIC_DE.search(t))) and \
        not expletive_it(t)
