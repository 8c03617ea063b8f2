"""Editorial rules for teasers: coherent runs (no far jumps), headline elaboration kept, content-free filler
sentences skipped, update time stamps cleaned. Fixtures are written here, not taken from the dev corpus."""

from __future__ import annotations

import dataclasses

import pytest

from digest.condense import make_teaser
from digest.condense.clean import clean_text
from digest.condense.select import DEFAULT, Candidate, build_candidates, pack
from digest.model import Article


def _cand(index: int, chars: int, score: float) -> Candidate:
    words = "word " * (chars // 5)
    text = ("S" + words)[: chars - 1].rstrip() + "."
    return Candidate(index, text, text, score=score)


def _jumpy_pool() -> list[Candidate]:
    # a 2-sentence lead that fits the budget, a nearby short sentence, and a far sentence (10 later)
    return [_cand(0, 148, 1.7), _cand(1, 149, 2.3), _cand(3, 64, 2.0), _cand(13, 85, 1.9)]


# the value search alone (lede_first off): it also chooses the sentences that follow the lede
_VALUE = dataclasses.replace(DEFAULT, lede_first=False)


def test_far_jump_costs_and_the_lead_run_wins() -> None:
    chosen = pack(_jumpy_pool(), 300, _VALUE)
    assert [c.index for c in chosen] == [0, 1]


def test_without_the_jump_cost_the_far_filler_is_picked() -> None:
    # the same pool without the penalty: score x length favours 1 + 3 + 13 (this is what the rule prevents)
    chosen = pack(_jumpy_pool(), 300, dataclasses.replace(_VALUE, gap_penalty=0.0))
    assert [c.index for c in chosen] == [1, 3, 13]


def test_lede_first_keeps_the_lede_even_when_a_later_pair_is_worth_more() -> None:
    pool = [_cand(0, 100, 1.0), _cand(1, 140, 2.5), _cand(3, 150, 2.4)]
    assert [c.index for c in pack(pool, 300, DEFAULT)][0] == 0


def test_near_sentences_are_not_penalised() -> None:
    # 1 → 3 skips one sentence: below gap_min, so the best-value set (with a small gap) stays
    pool = [_cand(0, 100, 1.0), _cand(1, 140, 2.5), _cand(3, 150, 2.4)]
    chosen = pack(pool, 300, _VALUE)
    assert [c.index for c in chosen] == [1, 3]


def test_a_far_sentence_that_is_much_better_still_wins() -> None:
    # the penalty is a cost, not a ban: a clearly better far sentence is still chosen
    pool = [_cand(0, 100, 0.5), _cand(1, 100, 0.5), _cand(9, 190, 3.0)]
    chosen = pack(pool, 300, _VALUE)
    assert 9 in [c.index for c in chosen]


# --- update time stamps are cleaned, not quoted ---------------------------------------------------------------

@pytest.mark.parametrize("para, kept", [
    ("3:45 PM ET -- Firefighters reached the warehouse shortly after the alarm.",
     "Firefighters reached the warehouse shortly after the alarm."),
    ("UPDATE: The bridge reopened to traffic on Sunday evening.", "The bridge reopened to traffic on Sunday evening."),
    ("Updated at 7:05 a.m.: The council has delayed the vote.", "The council has delayed the vote."),
    ("UPDATE 3 - Shares in the bakery chain fell sharply.", "Shares in the bakery chain fell sharply."),
    ("Update 10:10 GMT, 2 June 2019 - The striker signed a new deal.", "The striker signed a new deal."),
])
def test_update_stamp_is_cleaned(para: str, kept: str) -> None:
    got = clean_text(para)
    assert got.text == kept
    assert [r.rule for r in got.removed] == ["update_stamp"]


@pytest.mark.parametrize("para", [
    "At 12:00 PM the meeting began in the town hall.",
    "Updates to the tenancy law came into force on Monday.",
    "The final score was 3:15 - a club record for the visitors.",
    "The update: residents may return home on Friday.",
])
def test_update_stamp_leaves_prose_alone(para: str) -> None:
    assert clean_text(para).text == para


def test_update_stamp_inside_a_paragraph_is_removed_from_the_sentence() -> None:
    text = ("A painting worth two million pounds was taken from the gallery overnight. "
            "9:30 AM ET -- Detectives were at the gallery on Thursday morning.")
    cands = build_candidates(text, "")
    assert cands[1].text == "Detectives were at the gallery on Thursday morning."
    assert "update time stamp removed" in cands[1].notes


# --- a lead that elaborates the headline stays; a near-verbatim repeat goes -----------------------------------

_STORY = ("The city council voted on Tuesday to build the bridge after a decade of debate. "
          "Construction is due to start next spring and will take about three years. "
          "The bridge will carry a tram line as well as cars and bicycles.")


def test_lead_that_elaborates_the_headline_is_kept() -> None:
    title = "Harbour town approves its long-awaited bridge"
    lead = ("The harbour town of Wexmoor has approved a 40 million pound bridge across the estuary, "
            "ending a dispute that divided residents for a decade.")
    cands = build_candidates(lead + " " + _STORY, title)
    assert cands[0].usable, cands[0].why_not


def test_near_verbatim_headline_repeat_is_skipped() -> None:
    title = "Harbour town approves its long-awaited bridge"
    cands = build_candidates("Harbour town approves its long-awaited bridge today. " + _STORY, title)
    assert not cands[0].usable and cands[0].why_not == "repeats the headline"


# --- discourse filler ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("filler", [
    "First, let's say what the merger is not.",
    "So, here's what we know about the plan so far.",
    "Let us look at the numbers in more detail now.",
    "The real question for the shareholders is this:",
    "What matters most to the regulators is the following.",
])
def test_discourse_filler_is_skipped(filler: str) -> None:
    text = "The two banks agreed to merge on Monday in a deal worth 3 billion euros. " + filler + \
        "\n\nThe combined bank will have 12 million customers across Europe."
    cands = build_candidates(text, "")
    assert not cands[1].usable
    assert any(w in cands[1].why_not for w in ("filler", "no sentence end", "meta opener")), cands[1].why_not
    assert filler not in make_teaser(Article(source="t", title="", text=text, kind="text")).text


@pytest.mark.parametrize("prose", [
    "First, the company will close its two factories in Ohio next year.",
    "Here, in the valley, the floods destroyed more than 200 homes last week.",
    "The problem is not new for the city, officials said on Friday.",
])
def test_discourse_rule_leaves_narrative_alone(prose: str) -> None:
    cands = build_candidates("The storm hit the coast on Monday with winds of 120 mph. " + prose, "")
    assert cands[1].usable, cands[1].why_not


# --- openers with a curly apostrophe, reported questions -----------------------------------------------------

@pytest.mark.parametrize("opener", [
    "This isn’t the first time the mayor has clashed with the port authority over its budget.",
    "That’s exactly what the residents of the valley feared when the plans were published.",
])
def test_pronoun_opener_with_curly_apostrophe_needs_its_predecessor(opener: str) -> None:
    cands = build_candidates("The port authority cut its budget by a third on Monday. " + opener, "")
    assert cands[1].needs_previous


def test_reported_question_is_a_statement() -> None:
    text = ("The mayor posted to her followers on Sunday asking whether there were “any honest developers left?” "
            "Would anyone in the council chamber answer her on the day? "
            "The council meets on Monday to vote on the plan.")
    cands = build_candidates(text, "")
    assert cands[0].usable, cands[0].why_not
    assert not cands[1].usable and cands[1].why_not == "question"


def test_quoted_question_alone_is_still_a_question() -> None:
    cands = build_candidates("“Is there anyone who can explain this decision to the town?” The vote is on Monday.", "")
    assert not cands[0].usable


def test_double_escaped_description_is_unescaped() -> None:
    body = ("The mayor and two of her advisers are staying at the mayor's \"Blue House\" residence in the old town "
            "and are insisting she finishes her term, a council source said. The council meets on Monday.")
    desc = ("The mayor and two of her advisers are staying at the mayor's &quot;Blue House&quot; residence in the old "
            "town and are insisting she finishes her term, a council source said.")
    t = make_teaser(Article(source="t", title="Mayor stays put", text=body, kind="text", description=desc))
    assert "&quot;" not in t.text and '"Blue House"' in t.text
