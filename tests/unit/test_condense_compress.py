"""Sentence compression by deletion, its safety checks, and how selection uses it (fixtures written here)."""

from __future__ import annotations

import pytest

from digest.condense import explain, make_teaser
from digest.condense.compress import bare_quote, compress
from digest.condense.select import DEFAULT, balanced, build_candidates
from digest.model import Article


def art(text: str, title: str = "") -> Article:
    return Article(source="t", title=title, text=text, kind="text")


@pytest.mark.parametrize(("before", "after"), [
    ("The ferry will stop at four new piers along the northern shore, the operator said.",
     "The ferry will stop at four new piers along the northern shore."),
    ("The ferry will stop at four new piers along the northern shore, harbour officials said on Tuesday.",
     "The ferry will stop at four new piers along the northern shore."),
    ("The ferry will stop at four new piers along the northern shore, according to the city's transport plan.",
     "The ferry will stop at four new piers along the northern shore."),
    ("The ferry will stop at four new piers along the northern shore, the mayor told the Harbour Gazette.",
     "The ferry will stop at four new piers along the northern shore."),
])
def test_attribution_tail(before: str, after: str) -> None:
    c = compress(before)
    assert c.text == after and c.rules == ("attribution_tail",)


@pytest.mark.parametrize(("before", "after"), [
    ("On Tuesday, the council voted to close the old library and two primary schools.",
     "The council voted to close the old library and two primary schools."),
    ("Earlier this week, the council voted to close the old library and two primary schools.",
     "The council voted to close the old library and two primary schools."),
    ("Last month, rescuers found the missing climbers alive near the summit of the mountain.",
     "Rescuers found the missing climbers alive near the summit of the mountain."),
])
def test_leading_time_adverbial(before: str, after: str) -> None:
    assert compress(before).text == after


def test_age_apposition_and_dash_tail_on_request() -> None:
    s = ("Shocked gardener Tom Reed, 79, was resting in his garden with his small dog when a large badger burst "
         "through the hedge with two cubs.")
    assert compress(s, frozenset({"age_apposition"})).text == (
        "Shocked gardener Tom Reed was resting in his garden with his small dog when a large badger burst "
        "through the hedge with two cubs.")
    # in a short sentence the deletion would leave too many new word 4-grams: kept whole
    short = "Gardener Tom Reed, 79, was resting in his garden."
    assert compress(short, frozenset({"age_apposition"})).text == short
    s = ("The club will confirm the new manager at a press conference on Friday morning - exactly eight weeks "
         "after he took charge.")
    assert compress(s, frozenset({"dash_tail"})).text == (
        "The club will confirm the new manager at a press conference on Friday morning.")


@pytest.mark.parametrize("sentence", [
    # the attribution belongs to a quotation: removing it would leave an unattributed quote
    '"We will rebuild the pier before the summer season starts," the harbour master said.',
    "“We will rebuild the pier before the summer season starts”, the harbour master said.",
    # the comma and the "said" are inside the quotation: never cut inside a quote
    'The minister wrote: "The plan is sound and the money is there, the treasury said."',
    # too short once compressed
    "Prices rose, officials said.",
    # not a time adverbial: a place or a topic
    "In London, the council voted to close the old library and two primary schools.",
])
def test_compression_never_cuts_quotes_or_content(sentence: str) -> None:
    assert compress(sentence).text == sentence


def test_compressed_sentences_stay_clean_sentences() -> None:
    samples = [
        "Yesterday, police said the man, 45, had been arrested at his home, officials said.",
        "The bridge will close for repairs next month - and the detour will add ten minutes, engineers said.",
        "On Monday night, the team won the cup for the first time in 40 years, the club said.",
    ]
    for s in samples:
        t = compress(s).text
        assert t[0].isupper() and t.endswith((".", "!")) and balanced(t)
        assert t != s  # each sample has a deletion
        # deletion only: every word of the result occurs, in order, in the original
        words, pos = s.split(), 0
        for w in t.rstrip(".").split():
            w = w[0].lower() + w[1:]
            while pos < len(words) and words[pos].rstrip(".,").lower() != w.rstrip(".,").lower():
                pos += 1
            assert pos < len(words), (t, w)


def test_attribution_is_kept_when_the_lede_fits() -> None:
    # an editor keeps "the operator said" / "according to a study": compression is for a lede longer than the budget
    body = ("The regional airport will add four new routes to southern Europe this summer, the operator said. "
            "The new routes link the city with Lisbon, Krakow, Split and Porto from the first week of June. "
            "Passenger numbers rose by 18% last year to 1.2 million, the busiest year since it opened.")
    t = make_teaser(art(body), 300)
    assert t.text.startswith("The regional airport will add four new routes to southern Europe this summer, the "
                             "operator said. The new routes link")


def test_selection_uses_compression_when_switched_on_and_explains_it() -> None:
    import dataclasses

    body = ("The regional airport will add four new routes to southern Europe this summer, the operator said. "
            "The new routes link the city with Lisbon, Krakow, Split and Porto from the first week of June.")
    p = dataclasses.replace(DEFAULT, compress=("attribution_tail", "lead_time"))
    t = make_teaser(art(body), 300, p)
    assert t.text.startswith("The regional airport will add four new routes to southern Europe this summer.")
    assert "compressed: attribution_tail" in explain(art(body), 300, p)


def test_compression_can_be_switched_off() -> None:
    body = "The regional airport will add four new routes to southern Europe this summer, the operator said."
    cands = build_candidates(body, "", DEFAULT)
    assert cands[0].text == body


def test_bare_quotation_is_not_a_teaser_sentence() -> None:
    body = ("The regional airport will add four new routes to southern Europe this summer. "
            "'Which is remarkable when you consider what it cost to build the runway.' "
            "Passenger numbers rose by 18% last year to 1.2 million, the busiest year since it opened.")
    assert bare_quote("'Which is remarkable when you consider what it cost to build the runway.'")
    assert not bare_quote("'It is remarkable,' she said of the new runway and its cost.")
    t = make_teaser(art(body), 300)
    assert "Which is remarkable" not in t.text


@pytest.mark.parametrize("opener", ["This followed a long dispute over the cost of the new runway and its lights.",
                                    "That led to a long dispute over the cost of the new runway and its lights.",
                                    "This is the third time the airport has delayed the opening of its runway."])
def test_this_followed_opener_needs_its_predecessor(opener: str) -> None:
    body = (opener + " The regional airport will add four new routes to southern Europe this summer. "
            "Passenger numbers rose by 18% last year to 1.2 million, the busiest year since it opened.")
    t = make_teaser(art(body), 300)
    assert not t.text.startswith(opener[:12])


def test_this_week_is_not_a_pronoun_opener() -> None:
    c = build_candidates("This week the regional airport added four new routes to southern Europe.", "")[0]
    assert not c.needs_previous
