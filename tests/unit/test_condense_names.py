"""Issue 18 round 3: a surname-only lede gets the first name the article spells out later, and a match preview's
run-in team heading never opens a teaser. The articles are written here."""

from __future__ import annotations

from digest.condense import make_teaser
from digest.condense.names import complete_names, given_name
from digest.condense.select import build_candidates
from digest.model import Article


def _teaser(text: str, budget: int = 300) -> str:
    return make_teaser(Article(title="", kind="text", source="t.txt", text=text), budget).text


COMING_OUT = (
    'In an interview with newspaper Die Zeit, Hitzlsperger said he was coming out to advance discussion of a topic '
    'that was "simply ignored" in German football.\n\n'
    "He is the most prominent footballer to publicly reveal his homosexuality.\n\n"
    'Former team-mate Lukas Podolski wrote: "Respect to Thomas Hitzlsperger!"\n\n'
    "Hitzlsperger said he had wanted to speak for a long time.\n")


def test_a_surname_only_lede_gets_the_first_name_the_article_gives_later() -> None:
    t = _teaser(COMING_OUT)
    assert t.startswith("In an interview with newspaper Die Zeit, Thomas Hitzlsperger said he was coming out")
    assert t.count("Thomas Hitzlsperger") == 1
    why = make_teaser(Article(title="", kind="text", source="t.txt", text=COMING_OUT)).reasons
    assert "'Hitzlsperger' given its first name from the text" in why[0]


def test_only_a_person_is_completed_not_a_place_or_a_shop() -> None:
    body = ("Shocking footage of a family attacking police officers in a Walmart parking lot has been released. "
            "The brawl happened outside an Arizona Walmart on March 21. Officers flew to Washington. "
            "A guard was shot in Northeast Washington.")
    assert given_name(body, "Walmart") == given_name(body, "Washington") == ""
    sents = ["Shocking footage of a family attacking police officers in a Walmart parking lot has been released."]
    assert complete_names(sents, body) == (sents, [])


def test_a_word_the_text_writes_in_lower_case_is_not_a_given_name() -> None:
    body = "Police Chief Smith said the police would act. Police said: 'We will act.'"
    assert given_name(body, "Police") == given_name(body, "Smith") == ""  # "Chief" is a title
    assert complete_names(["Police said the road was closed."], body) == (["Police said the road was closed."], [])


def test_two_people_with_one_surname_are_left_alone() -> None:
    body = "Venus Williams, 34, said she was proud. Serena Williams, 33, won. Williams said it was a long day."
    assert given_name(body, "Williams") == ""
    assert given_name(body.replace("Serena", "Venus"), "Williams") == "Venus"


def test_a_name_with_its_qualifier_is_not_completed() -> None:
    body = "Jessica Ennis-Hill said she was angry. Tatyana Chernova, now 27, was banned."
    out, notes = complete_names(["Chernova, now 27, beat Briton Ennis-Hill to gold."], body)
    assert out == ["Tatyana Chernova, now 27, beat Briton Ennis-Hill to gold."]
    assert [k for k, _ in notes] == [0]


def test_completion_that_no_longer_fits_drops_the_last_follow_on_not_the_lede() -> None:
    lede = ("In an interview with newspaper Die Zeit, Hitzlsperger said he was coming out to advance discussion "
            'of a topic that was "simply ignored" in German football.')
    second = "He is the most prominent footballer to publicly reveal his homosexuality."
    budget = len(lede) + 1 + len(second)  # both fit as written; the completed lede pushes the second one out
    t = _teaser(COMING_OUT, budget)
    assert t == lede.replace("Zeit, Hitzlsperger", "Zeit, Thomas Hitzlsperger")


PREVIEW = (
    "Ahead of this weekend's Premier League action, Sportsmail will be providing you with all you need to know "
    "about every fixture, with team news, provisional squads, betting odds and Opta stats. "
    "West Bromwich Albion vs Leicester City (The Hawthorns) Team news West Brom Craig Dawson is set to return for "
    "West Brom after serving a one-match ban. The defender missed last Saturday's defeat to QPR. "
    "Provisional squad: Myhill, Rose, Gamboa, Pocognoli, Wisdom, Lescott, Dawson, Olsson. "
    "Leicester Matt Upson and Dean Hammond are available for Leicester's trip to West Brom.\n")


def test_a_match_previews_headings_never_open_the_teaser_but_the_fixture_frames_it() -> None:
    t = _teaser(PREVIEW)
    # round 4: the editor preferred the Lead's framing of the preview; the fixture heading is kept as a frame
    assert t.startswith("West Bromwich Albion vs Leicester City: Craig Dawson is set to return for West Brom after "
                        "serving a one-match ban.")
    assert "Team news" not in t and "West Brom Craig" not in t and "Hawthorns" not in t


def test_no_fixture_frame_outside_a_match_preview() -> None:
    text = ("Arsenal vs Chelsea was the match of the season for many fans, and the ticket prices showed it. "
            "Prices for the derby rose by a third on the resale sites.\n")
    assert _teaser(text).startswith("Arsenal vs Chelsea was the match of the season")


def test_a_run_in_team_heading_is_removed() -> None:
    cands = build_candidates(PREVIEW, "")
    last = next(c for c in cands if "Dean Hammond" in c.text)
    assert last.text == "Matt Upson and Dean Hammond are available for Leicester's trip to West Brom."
    assert "run-in team heading 'Leicester' removed" in last.notes


def test_a_team_name_before_a_role_is_kept_outside_previews() -> None:
    text = ("Arsenal legend Ian Wright has been confirmed as the man who will present AP McCoy with his final "
            "trophy at Sandown on Saturday. Track officials had been keen to secure him.\n")
    assert _teaser(text).startswith("Arsenal legend Ian Wright has been confirmed")
