"""Issue 18 round 3: filling the budget after the lede. A follow-on too long by a little fits after deletions an
editor does not mind (a day name, a short aside in brackets, "local time"; never attribution, never inside a
quotation); when the next sentence cannot fit, one of the next three that stands alone may follow instead."""

from __future__ import annotations

import dataclasses

from digest.condense import make_teaser
from digest.condense.compress import compress
from digest.condense.select import DEFAULT
from digest.model import Article

LEDE = "A two-year-old boy is recovering after falling into a cheetah exhibit at the city zoo, officials said."


def _teaser(text: str, budget: int = 300, **kw: object) -> str:
    p = dataclasses.replace(DEFAULT, **kw)  # type: ignore[arg-type]
    return make_teaser(Article(title="", kind="text", source="t.txt", text=text), budget, p).text


def test_editor_safe_deletions() -> None:
    tail = " after a week in which the firm had said that the drilling would go on as planned all year"
    assert compress("The tremor was recorded by the British Geological Survey (BGS) near the coast of Lancashire"
                    f"{tail}.", frozenset({"paren_aside"})).text == \
        f"The tremor was recorded by the British Geological Survey near the coast of Lancashire{tail}."
    quake = "near the city of Lucca in the north of the country"
    assert compress(f"The quake struck at 10:30 local time {quake}{tail}.", frozenset({"local_time"})).text == \
        f"The quake struck {quake}{tail}."
    vonn = "A nervous Lindsey Vonn was back at Augusta"
    assert compress(f"{vonn} on Friday to watch her partner play golf{tail}.", frozenset({"mid_day"})).text == \
        f"{vonn} to watch her partner play golf{tail}."


def test_no_deletion_inside_a_quotation() -> None:
    s = 'The coach said: "We will be back at Augusta on Friday (the big day) to win the whole thing."'
    assert compress(s, frozenset({"mid_day", "paren_aside"})).text == s


def test_a_follow_on_fits_after_deletions_and_attribution_stays() -> None:
    second = "The toddler's mother was holding him when he slipped and fell into the pit on Saturday afternoon."
    text = f"{LEDE} {second} Zoo officials are reviewing the exhibit's safety measures and fences.\n"
    budget = len(LEDE) + 1 + len(second) - 10  # " on Saturday afternoon" (22 characters) must go
    t = _teaser(text, budget)
    assert t == f"{LEDE} The toddler's mother was holding him when he slipped and fell into the pit."
    assert t.startswith(LEDE)  # ", officials said." kept
    assert _teaser(text, budget, fit_compress=(), skip_long=0) == LEDE


LONG = ("The zoo's director, who has run the park for eleven years and oversaw the building of the cheetah enclosure "
        "in 2009 with a grant from the city council and two private donors, said the barrier met every standard.")


def test_after_a_sentence_too_long_one_that_stands_alone_may_follow() -> None:
    text = (f"{LEDE} {LONG} Then there are the other parents. "
            "Keepers pulled the toddler out of the pit within minutes.\n")
    t = _teaser(text, 220)
    assert t == f"{LEDE} Keepers pulled the toddler out of the pit within minutes."
    assert _teaser(text, 220, skip_long=0) == LEDE


def test_a_sentence_that_leans_on_what_was_left_out_never_follows_a_skip() -> None:
    for later in ("When he arrived, his mother was already at the hospital.", "One witness called the police at once.",
                  "The move angered visitors who had waited for hours.",
                  "Staff from the office of the city's mayor also took part in the rescue."):
        assert _teaser(f"{LEDE} {LONG} {later}\n", 220) == LEDE


def test_a_quotation_from_a_speaker_introduced_in_a_left_out_sentence_ends_the_run() -> None:
    lede = "Chernova, now 27, beat Briton Ennis-Hill to gold at the 2011 World Championships in Korea."
    quote = '"She set a personal best with the benefit of drug use," Minichiello said.'
    # round 8: a speaker the text never introduced leaves nothing out, and blind judges preferred the teaser with
    # the quotation in all four verdicts on this text (dev seeds 88, 104, 131, 223)
    assert _teaser(f"{lede} {quote}\n") == f"{lede} {quote}"
    intro = "Is the coach Minichiello right about the ban?"
    assert _teaser(f"{intro} {lede} {quote}\n") == lede
    # a speaker named before, or a common noun, does not end it
    named = "Coach Toni Minichiello wants the ban re-examined by the sporting authorities."
    assert _teaser(f"{named} {quote}\n") == f"{named} {quote}"
    police = '"The road will stay closed overnight," Police said.'
    assert _teaser(f"{LEDE} {police} The police closed the road.\n").startswith(f"{LEDE} {police}")


# Issue 18 round 4: a follow-on that cannot fit whole may lose a trailing clause that only adds to it.
BRISBANE = ("An argument between two Brisbane neighbours over noise levels has ended in tragedy with one man dead and "
            "another charged with manslaughter.")
YEAMAN = ("Leon Yeaman, 55, was allegedly killed by a single punch in the head from 28-year-old shift worker Phillip "
          "Pama, 28, after he went to complain about loud music coming from his neighbour's apartment.")


def test_a_follow_on_loses_an_adding_trailing_clause_to_fit() -> None:
    t = _teaser(f"{BRISBANE} {YEAMAN} The court heard the two men had argued before.", 270)
    assert t == (f"{BRISBANE} Leon Yeaman, 55, was allegedly killed by a single punch in the head from 28-year-old "
                 "shift worker Phillip Pama, 28.")


def test_no_trim_where_the_main_clause_comes_after_the_comma_or_in_a_quotation() -> None:
    # "As renting … soared …, the student told how …": cutting at the comma would leave the subordinate clause
    student = ("As renting in the capital soared to an average of more than a thousand pounds per month, the "
               "second year student who attends a London university told how she took up sex work.")
    t = _teaser(f"{BRISBANE} {student}", 250)
    assert t == BRISBANE
    quote = ("'Hillary Clinton has gotten so much criticism for her hairstyles over the years,' Julia, who also "
             "features on the cover of the supplement, explained to the magazine.")
    assert _teaser(f"{BRISBANE} {quote}", 250) == BRISBANE


def test_no_trim_before_a_clause_that_carries_the_point() -> None:
    cat = ("Last year the Scottish government held a consultation on licensing air weapons, but a majority of the "
           "people who responded to it opposed the plan to license them.")
    assert _teaser(f"{BRISBANE} {cat}", 250) == BRISBANE


def test_no_trim_of_a_clause_after_which_the_main_clause_goes_on() -> None:
    votes = ("For Labour it is 26p per vote, the Conservatives 79p and the Lib Dems, who lost 11 of their 12 MEPs "
             "in the election last month, £1.45.")
    assert _teaser(f"{BRISBANE} {votes}", 250) == BRISBANE


def test_trimming_is_a_setting() -> None:
    t = _teaser(f"{BRISBANE} {YEAMAN} The court heard the two men had argued before.", 270, trim_follow_on=False)
    assert t == BRISBANE
