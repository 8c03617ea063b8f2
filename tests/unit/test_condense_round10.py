"""Round 10, from a blind judge's verdicts on 60 pages of newspaper's test set (T37): a date or a bracketed label
that labels the first paragraph, what stands above a dateline, calls to readers, a medical review line, openers
that answer something said before ("No better time, then, …", "Okay, sure, …"), and openers wrongly refused
("'Tis the season …", "Let's assume …", "Here are four …", an authors' "As we …"). All texts written for these
tests."""

from __future__ import annotations

import pytest

from digest.condense.clean import clean_text
from digest.condense.pointers import points_back
from digest.condense.select import build_candidates
from digest.condense.teaser import make_teaser
from digest.model import Article
from digest.sources.text import parse_text

STORY = ("The harbour authority will raise mooring fees by 12 percent from April, its board decided on Tuesday. "
         "Fishermen said the rise would cost each boat about 900 pounds a year.")


def _teaser(text: str, budget: int = 300) -> str:
    return make_teaser(Article(source="t.txt", text=text, kind="text", title=""), budget).text


def _pasted(text: str, budget: int = 300) -> str:
    """The teaser of ``text`` read the way a pasted file is: through the text path, which finds the body run."""
    return make_teaser(parse_text(text, "t.txt"), budget).text


# --- furniture at the start of a paragraph ----------------------------------------------------------------------

@pytest.mark.parametrize("label", ["March 3, 2025: ", "3 March 2025 — ", "Monday, March 3, 2025 - "])
def test_a_date_that_labels_the_first_paragraph_is_not_in_the_teaser(label: str) -> None:
    got = _teaser(label + STORY)
    assert got.startswith("The harbour authority will raise mooring fees"), got
    assert [r.rule for r in clean_text(label + STORY).removed] == ["date_label"]


def test_a_date_that_is_the_sentence_subject_stays() -> None:
    text = "March 3, 2025 was the wettest day the harbour has recorded, the authority said on Tuesday."
    assert clean_text(text).text == text
    lower = "March 3, 2025: the day the harbour flooded. " + STORY  # lower case after it: not a label
    assert clean_text(lower).text.startswith("March 3, 2025: the day")


def test_a_label_in_lenticular_brackets_is_not_in_the_teaser() -> None:
    text = ("【3月4日 共同】港湾局は4月から係留料を12％引き上げると発表した。"
            "漁業者は1隻あたり年間約15万円の負担増になると話した。")
    got = _teaser(text)
    assert got.startswith("港湾局は4月から"), got
    assert "【" not in got


def test_a_medical_review_line_is_not_in_the_teaser() -> None:
    text = ("Medically reviewed by a board-certified physician. See our Medical Review Board.\n\n"
            "Most people who catch the new strain of flu recover within a week without treatment, according to a "
            "study of 4,000 patients published on Monday.")
    got = _teaser(text)
    assert got.startswith("Most people who catch the new strain"), got
    assert "reviewed" not in got


# --- what stands above a dateline -------------------------------------------------------------------------------

def test_a_caption_above_the_dateline_is_not_the_lede() -> None:
    text = ("The harbour office at Wexmoor, seen from the north pier.\n\n"
            "WEXMOOR — " + STORY + "\n\nThe board will meet again in May.")
    got = _teaser(text)
    assert got.startswith("The harbour authority will raise mooring fees"), got
    assert "north pier" not in got
    assert "before_dateline" in [r.rule for r in clean_text(text).removed]


def test_a_long_paragraph_above_the_dateline_stays() -> None:
    first = ("The harbour authority, which has not raised its fees since 2009 and has lost money in each of the last "
             "four years, says the increase is needed to repair the north pier before next winter's storms.")
    text = first + "\n\nWEXMOOR — " + STORY
    assert clean_text(text).text.startswith("The harbour authority, which has not raised")


# --- calls to readers and pleas ---------------------------------------------------------------------------------

@pytest.mark.parametrize("call", ["Please share your photos and stories of the storm with us.",
                                  "Add your own in the comments.",
                                  "Tell us what you think of the new timetable below."])
def test_a_call_to_readers_is_never_teaser_text(call: str) -> None:
    text = "Ah, the ferry timetable: a document of hope and disappointment. " + call + " It feels good to vent."
    cands = build_candidates(text, "")
    hit = next(c for c in cands if c.text == call)
    assert not hit.usable and "call to readers" in hit.why_not
    assert call not in _teaser(text)


def test_support_in_a_short_sentence_is_not_a_plea() -> None:
    text = STORY + "\n\nBut there is ample reason to support the caution.\n\nThe board meets in May."
    assert "ample reason to support the caution" in clean_text(text).text
    plea = STORY + "\n\nSupport the Harbour Gazette today.\n\nThe board meets in May."
    assert "Support the Harbour Gazette" not in clean_text(plea).text


def test_a_caption_marker_at_the_end_of_a_sentence_makes_it_a_caption() -> None:
    text = ("Bei einem Brand in einem Hafenlager sind in der Nacht drei Menschen verletzt worden. Das Lager brannte "
            "vollständig aus (Symbolbild). Die Feuerwehr war mit 60 Kräften im Einsatz, teilte die Stadt mit.")
    got = _teaser(text)
    assert "Symbolbild" not in got and got.startswith("Bei einem Brand"), got


# --- openers ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sentence", [
    "No better time, then, for the harbour's 100th birthday party on the north pier.",
    "Okay, sure, the new ferry is slower than the old one and costs more to run.",
    "Granted, the fees have not risen since 2009.",
])
def test_an_opener_that_answers_something_said_before_points_back(sentence: str) -> None:
    assert points_back(sentence, "en")


@pytest.mark.parametrize("sentence", [
    "Then, in 2019, the harbour flooded for the first time in a century.",
    "Oklahoma voted on Tuesday to raise its fuel tax.",
    "Okay, hat wieder nichts mit dem Hafen zu tun.",
])
def test_openers_that_do_not_point_back(sentence: str) -> None:
    assert not points_back(sentence, "en")


def test_an_elision_is_not_a_quotation() -> None:
    text = ("'Tis the season to wrap up warm and queue for the ferry. No better time, then, for the harbour's 100th "
            "birthday party on the north pier, with a brass band and a fish supper.")
    got = _teaser(text)
    assert got.startswith("'Tis the season"), got


def test_let_us_assume_is_a_hook_but_let_us_look_is_filler() -> None:
    hook = ("Let's assume you knew nothing about the harbour and walked onto the north pier on a Saturday in "
            "August. " + STORY)
    assert _teaser(hook).startswith("Let's assume you knew nothing"), _teaser(hook)
    filler = "Let us look at the numbers in more detail now. " + STORY
    assert not _teaser(filler).startswith("Let us look")


def test_here_are_with_a_count_introduces_a_list_worth_reading() -> None:
    text = ("Here are four stocks among the 66 equities making new 52-week lows today. Volumes stay low as traders "
            "wait for the new year. Harbour Holdings fell 8 percent on Monday.")
    assert _teaser(text).startswith("Here are four stocks"), _teaser(text)
    assert not build_candidates("Here are the details. " + STORY, "")[0].usable


def test_the_authors_as_we_opens_the_teaser() -> None:
    text = ("As we're getting ready to close the harbour for the winter, we figure it's a good time to look back at "
            "the boats that called here in 2024. Whether you sail a dinghy or a trawler, there is a berth for you.")
    assert _teaser(text).startswith("As we're getting ready"), _teaser(text)


# --- from T39 (60 more pages of newspaper's and goose3's test sets) ----------------------------------------------

TABLE_ARTICLE = (
    "The harbour authority's yearly report counts the boats that called at Wexmoor, from ferries to yachts. The "
    "latest figures show that the number of calls rose by 15 percent in one year, to 1,953, the most since 1999.\n\n"
    "The report breaks the calls down by kind of boat:\n\nkind\n\n2023\n\n2024\n\nferries\n\n700\n\n760\n\n"
    "yachts\n\n410\n\n520\n\ntrawlers\n\n590\n\n673\n\n"
    "A rise of 110 calls by yachts seems large, but the new marina opened only in March. Trawler calls rose by "
    "14 percent as the boats moved from Eastport, whose quay is closed for repairs. The authority expects the "
    "figures to fall again once Eastport reopens next summer, its director told the board on Tuesday.")


def test_a_pasted_article_keeps_its_lede_above_a_table() -> None:
    got = _pasted(TABLE_ARTICLE)
    assert got.startswith("The harbour authority's yearly report counts the boats"), got


def test_a_cookie_banner_above_a_page_dump_is_not_taken_for_the_lede() -> None:
    banner = ("This website uses cookies to give you the best experience. By continuing to browse the site you agree "
              "to our use of cookies and to our privacy policy, which you can read at any time.")
    text = banner + "\n\nHome\n\nNews\n\nSport\n\nWeather\n\n" + TABLE_ARTICLE.split("\n\n", 1)[1]
    assert "cookies" not in _pasted(text)


def test_a_bracketed_aside_is_never_teaser_text() -> None:
    text = ("Annie Cole, a 54-year-old ferry worker, simply wanted to vote. In 1965 she queued for six hours to "
            "register in Wexmoor. (Previous hits: The Harbour and The Pier.) She was turned away at the door.")
    cands = build_candidates(text, "")
    assert not cands[2].usable and "aside" in cands[2].why_not
    assert "Previous hits" not in _teaser(text)


@pytest.mark.parametrize("sentence, back", [
    ("Both diseases are associated with the plague that killed millions in the 14th century.", True),
    ("Both men were arrested and charged on Tuesday.", True),
    ("Both harbour pilots on duty, Tom Reed and Ann Marsh, refused to take the ship out.", False),
    ("Both Apple and Google reported higher earnings on Thursday.", False),
])
def test_both_points_back_unless_it_names_the_two(sentence: str, back: bool) -> None:
    assert points_back(sentence, "en") is back


@pytest.mark.parametrize("question, answer", [
    ("Need a reason to visit the harbour?", "How about the new fish market on the north pier."),
    ("Which town has the most lighthouses?", "Wexmoor on the north coast, of course!"),
    ("Twenty years from now, will we still build harbours of concrete?",
     "A survey by the harbour authority suggests engineers are moving in that direction."),
])
def test_a_question_opens_with_the_answer_that_leans_on_it(question: str, answer: str) -> None:
    text = (f"{question} {answer} The authority will spend 40 million pounds on the north pier over the next "
            "five years, its director said on Tuesday.")
    got = _teaser(text)
    assert got.startswith(f"{question} {answer}"), got


def test_a_site_address_in_brackets_is_no_link_sentence() -> None:
    text = ("The testing firm Harbour Labs (www.harbourlabs.example) has checked ship radios for 14 years. Its chief "
            "executive, Ann Marsh, is an expert in marine radio standards.")
    cands = build_candidates(text, "")
    assert cands[0].usable, cands[0].why_not
    link = build_candidates("Read the whole report on the radios at www.harbourlabs.example today.", "")[0]
    assert not link.usable and "link" in link.why_not


def test_a_dek_and_a_lede_above_a_table_stay() -> None:
    text = ("The harbour company earned 2.8 million pounds in the third quarter.\n\n"
            "Wexmoor Harbour Holdings reported third-quarter earnings that topped estimates as its revenue fell "
            "short, sending its shares up 4 percent before the market opened on Tuesday.\n\n"
            "Ticker\n\nSecurity\n\nLast\n\nChange\n\nChange %\n\nWHH\n\nWexmoor Harbour\n\n412.00\n\n+16.00\n\n"
            "+4.04%\n\nEHP\n\nEastport Piers\n\n98.50\n\n-1.20\n\n-1.20%\n\nSMC\n\nSouth Marina Co\n\n57.10\n\n"
            "+0.40\n\n+0.71%\n\n"
            "Revenue rose 3.5 percent to 27.2 million pounds, helped by the new marina, which opened in March and "
            "was full by June. Analysts had expected 26.9 million pounds. The company will pay a dividend of 12 "
            "pence a share in December, it said.\n\n"
            "The marina added 240 berths this year, and the company plans another 120 on the south side, where it "
            "bought the old ferry terminal in 2022. Its chief executive told analysts the berths were let for three "
            "years ahead.")
    got = _pasted(text)
    assert got.startswith("The harbour company earned 2.8 million pounds in the third quarter."), got


def test_an_outdated_browser_notice_is_not_the_lede() -> None:
    notice = ("Note: You are using an outdated browser that can no longer display this site properly. Please "
              "update it or switch to another one to see every picture and map on our pages.\n\n")
    got = _pasted(notice + "Home\n\nNews\n\n" + STORY)
    assert "browser" not in got and got.startswith("The harbour authority will raise"), got


# --- from T43 (60 more trafilatura pages, at 160 characters) -----------------------------------------------------

@pytest.mark.parametrize("furniture", [
    "Bitte wählen Sie ein Anreisedatum, indem Sie auf den gewünschten Tag im Kalender klicken.",
    "Please select a date of arrival by clicking on the day in the calendar below.",
    "Klicke dich durch die Homestorys der Community-Mitglieder.",
    "This entry was posted on Monday, May 3rd, 2021 at 9:00 am and is filed under Harbour News.",
    "Der Beitrag wurde am Mittwoch, den 27. November 2019 um 15:21 Uhr veröffentlicht und unter Hafen abgelegt.",
    "2014: Harbour Lights, Wexmoor Gallery, Wexmoor // 2013: North Pier, Town Hall, Eastport.",
])
def test_page_furniture_in_a_sentence_is_never_teaser_text(furniture: str) -> None:
    cands = build_candidates(STORY + " " + furniture, "")
    hit = next(c for c in cands if c.text == furniture)
    assert not hit.usable, hit.why_not


@pytest.mark.parametrize("notice", [
    "Dein Browser ist leider veraltet. Lade für ein besseres Erlebnis einen neueren Browser kostenfrei herunter.",
    "Your browser is out of date and not supported. Please update your browser to see this page.",
])
def test_a_browser_notice_is_removed(notice: str) -> None:
    cleaned = clean_text(notice + "\n\n" + STORY)
    assert cleaned.text == STORY and [r.rule for r in cleaned.removed] == ["disclaimer"]


def test_please_in_a_news_sentence_is_not_an_instruction() -> None:
    text = ("Please Touch Museum, the children's museum in Philadelphia, will close for a month from Monday to "
            "repair its roof, its director said on Tuesday.")
    assert build_candidates(text, "")[0].usable


@pytest.mark.parametrize("sentence, back", [
    ("Specifically, it tells you how much of your weight is fat.", True),
    ("On Monday, they voted to close the north pier for a month.", True),
    ("In 2019, it was announced that the pier would close.", False),
    ("Last year, it rained on 200 days in Wexmoor.", False),
    ("A row involving the harbour board, her former employer and two councillors is over.", False),
])
def test_a_pronoun_after_a_short_opening_phrase_points_back(sentence: str, back: bool) -> None:
    assert points_back(sentence, "en") is back


def test_a_cut_at_a_small_budget_keeps_the_verb_rather_than_end_on_the_subject() -> None:
    # a clause boundary that keeps under two thirds of the budget gives way to the last word boundary: blind, 27 to
    # 11 at 160 characters (T45), since "Ambassador …, the most anticipated witness …" alone says nothing
    text = ("Ambassador Jane Marsh, the most anticipated witness in the harbour inquiry, is likely to be unpredictable "
            "when she faces questions about her evolving account of the deal on Wednesday afternoon.")
    got = _teaser(text, 120)
    assert got.endswith("…") and "is likely" in got, got


def test_an_abbreviated_article_or_section_before_its_number_ends_no_sentence() -> None:
    from digest.condense.sentences import split_sentences

    text = ("Das Gericht hob ein Urteil auf, das den Beamten nur wegen Art. 90 Abs. 2 SVG verurteilt hatte. Der Fall "
            "geht zurück an das Kantonsgericht.")
    assert len(split_sentences(text, "de")) == 2
    assert split_sentences("The rule is in Sec. 5 of the harbour act. It applies from April.", "en")[0] == \
        "The rule is in Sec. 5 of the harbour act."
