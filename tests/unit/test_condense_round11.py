"""Round 11: the agencies digest knows are one list, whichever form their mark takes, and a date that labels the
first paragraph is known in the languages whose dates the stamps already read. All texts written for these tests."""

from __future__ import annotations

import pytest

from digest.condense.clean import clean_text
from digest.condense.datelines import AGENCIES, agency_runin, bureau
from digest.condense.teaser import make_teaser
from digest.model import Article
from digest.sources.text import parse_text

LEDE = ("The harbour council voted on Tuesday to raise its fees by a tenth next year, after a summer of complaints "
        "from the islanders.")


@pytest.mark.parametrize("agency", ["Xinhua", "Bloomberg", "PA", "KNA", "epd", "CNN Business"])
def test_a_headline_run_into_any_known_agency_mark_is_cut(agency: str) -> None:
    text = f"Council votes to raise harbour fees again ({agency}){LEDE}"
    assert clean_text(text).text == LEDE


@pytest.mark.parametrize("agency", AGENCIES)
def test_every_known_agency_is_a_bureau_in_both_forms(agency: str) -> None:
    assert bureau(f"({agency}) ")  # no dash after it: known by name
    assert bureau(f"LONDON ({agency}) - ")
    assert agency_runin(f"Council votes to raise harbour fees again ({agency}) {LEDE}") > 0


def test_an_abbreviation_in_brackets_is_not_an_agency_mark() -> None:
    kept = "The Press Association (PA) said the harbour ferry made its last crossing of the season on Sunday night."
    assert clean_text(kept).text == kept
    assert not bureau("Common Rail (CR) ")


@pytest.mark.parametrize(("label", "story"), [
    ("28. Dezember 2014: ", "Die Hafenbehörde erhöht ab April die Liegegebühren um zwölf Prozent, wie sie am Dienstag "
                            "mitteilte. Fischer rechnen mit deutlich höheren Kosten."),
    ("Montag, 3. März 2025 – ", "Die Hafenbehörde erhöht ab April die Liegegebühren um zwölf Prozent, wie sie am "
                                "Dienstag mitteilte. Fischer rechnen mit deutlich höheren Kosten."),
    ("Lundi 3 mars 2025 - ", "L'autorité portuaire augmentera les droits d'amarrage de douze pour cent en avril, "
                             "a-t-elle "
                             "annoncé mardi. Les pêcheurs craignent une hausse de leurs coûts."),
    ("12 de agosto de 2019 — ", "La autoridad portuaria subirá las tarifas de amarre un doce por ciento en abril, "
                                "anunció "
                                "el martes. Los pescadores temen costes mucho mayores."),
])
def test_a_date_label_in_another_language_is_not_in_the_teaser(label: str, story: str) -> None:
    got = make_teaser(Article(source="t.txt", text=label + story, kind="text", title=""), 300).text
    assert got.startswith(story[:30]), got
    assert [r.rule for r in clean_text(label + story).removed] == ["date_label"]


def test_a_date_that_is_the_subject_of_a_german_sentence_stays() -> None:
    german = "Der 3. März 2025 war der nasseste Tag, den der Hafen je verzeichnet hat, teilte die Behörde mit."
    assert clean_text(german).text == german


@pytest.mark.parametrize("bar", ["Share this withEmailFacebookMessengerTwitterCopy this link",
                                 "Share on FacebookTwitterReddit", "Share via Email X Telegram ",
                                 "Share this article WhatsAppLinkedInCopy link",
                                 "Share on FacebookShare on TwitterShare on Telegram "])
def test_a_share_bar_run_into_the_text_is_removed_in_any_of_its_forms(bar: str) -> None:
    assert clean_text(bar + LEDE).text == LEDE


@pytest.mark.parametrize("text", [
    "Share prices in the harbour company fell by a tenth on Tuesday, after the council voted to raise its fees.",
    "Share this with Xavier and the others, the harbour master told the crew before the council voted on Tuesday.",
    "Share on Fridays was what the harbour council called its open meeting, which voted on Tuesday to raise fees.",
])
def test_prose_that_starts_like_a_share_bar_stays(text: str) -> None:
    assert clean_text(text).text == text


# --- the text path: an article's own short first sentence above its body ------------------------------------------

def _pasted(text: str, budget: int = 300) -> str:
    return make_teaser(parse_text(text, "t.txt"), budget).text


BODY = ("The first minister suggested that the vote had drained the islands of the hope that carried her party "
        "into office four years ago.\n\n"
        "In an interview with the harbour gazette, Morag Lindsay said the islands had \"felt the difference\" "
        "since the ferry timetable was restored, and that the council would keep it.\n\n"
        "\"Now we know what losing it would feel like,\" she said in a clip released on Friday.")


def test_a_short_first_sentence_the_body_leans_on_is_kept() -> None:
    text = "Morag Lindsay sees despair on the islands.\n\n" + BODY
    got = _pasted(text)
    assert got.startswith("Morag Lindsay sees despair on the islands. The first minister suggested"), got


@pytest.mark.parametrize("above", [
    "Island news and information.",  # a slogan: no word of it told again
    "Morag Lindsay sees despair on the islands?",  # a question: a headline's
    "Islands: Morag Lindsay sees despair.",  # a label
    "Morag Lindsay Sees Despair On The Islands.",  # title case
])
def test_what_stands_above_the_body_stays_out_unless_it_is_the_lede(above: str) -> None:
    got = _pasted(above + "\n\n" + BODY)
    assert got.startswith("The first minister suggested"), got


def test_a_short_line_above_a_body_that_stands_alone_stays_out() -> None:
    body = BODY.replace("The first minister suggested", "Scotland's first minister, Morag Lindsay, suggested")
    got = _pasted("Morag Lindsay sees despair on the islands.\n\n" + body)
    assert got.startswith("Scotland's first minister, Morag Lindsay, suggested"), got


# --- a short question that the next sentence takes up -----------------------------------------------------------

def _teaser(text: str, budget: int = 300) -> str:
    return make_teaser(Article(source="t.txt", text=text, kind="text", title=""), budget).text


@pytest.mark.parametrize(("question", "answer"), [
    ("Der Hafen, ein rechtsfreier Raum?", "Diese Mär hat das neue Urteil des Landgerichts endgültig widerlegt."),
    ("Harbour fees, a thing of the past?", "That hope ended on Tuesday, when the council voted to raise them again."),
])
def test_a_short_question_opens_with_the_sentence_that_takes_it_up(question: str, answer: str) -> None:
    rest = ("Die Gebühren steigen im April um zwölf Prozent, teilte die Behörde mit." if "Hafen" in question else
            "The fees will rise by 12 percent in April, the harbour authority said.")
    got = _pasted(f"{question} {answer} {rest}")  # as a pasted file is read (its language known)
    assert got.startswith(f"{question} {answer}"), got


@pytest.mark.parametrize("aside", ["Sound familiar?", "Why?"])
def test_a_two_word_question_does_not_open(aside: str) -> None:
    text = (f"{aside} That hope ended on Tuesday, when the council voted to raise the fees again. The fees will rise "
            "by 12 percent in April, the harbour authority said.")
    assert not _teaser(text).startswith(aside)
