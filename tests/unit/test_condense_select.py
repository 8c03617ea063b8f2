"""Selection rules, budget packing, shortening, the splitter, duplicates, and style on generated inputs."""

from __future__ import annotations

import random
import re

import pytest

from digest.condense import explain, find_duplicates, make_teaser
from digest.condense.compress import compress
from digest.condense.select import DEFAULT, balanced, build_candidates, shorten
from digest.condense.sentences import split_sentences
from digest.model import Article


def art(text: str, title: str = "", **kw: object) -> Article:
    return Article(source="t", title=title, text=text, kind="text", **kw)  # type: ignore[arg-type]


def style_ok(t: str, budget: int) -> bool:
    """The style bar, restated: non-empty, within budget, ends a sentence, balanced, clean start."""
    t = t.strip()
    if not t or len(t) > budget or not re.search(r"[.!?…][\"'”’»)]*$", t):
        return False
    if t[0].islower() or not (t[0].isalnum() or t[0] in "\"“‘'(«¿¡"):
        return False
    return balanced(t)


# --- splitter -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("Mr. Smith arrived. He sat down.", ["Mr. Smith arrived.", "He sat down."]),
    ("J. K. Rowling wrote it. It sold well.", ["J. K. Rowling wrote it.", "It sold well."]),
    ("Prices rose 3.5 per cent. Wages did not.", ["Prices rose 3.5 per cent.", "Wages did not."]),
    ('He said "Stop." Then he left.', ['He said "Stop."', "Then he left."]),
    ("It happened in the U.S. The rest followed.", ["It happened in the U.S.", "The rest followed."]),
    ("Talks with the U.S. Senate failed.", ["Talks with the U.S. Senate failed."]),
    ("The fire spread fast.Firefighters arrived later.", ["The fire spread fast.", "Firefighters arrived later."]),
    ("Visit example.com today. It is free.", ["Visit example.com today.", "It is free."]),
    ("Gen. Lee met Dr. Chan on Jan. 5 at 3 p.m. and talked.", ["Gen. Lee met Dr. Chan on Jan. 5 at 3 p.m. and talked."]),  # noqa: E501
    ("Really? Yes! Fine…", ["Really?", "Yes!", "Fine…"]),
    ("One line\nAnother line.", ["One line", "Another line."]),
])
def test_splitter(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


@pytest.mark.parametrize("evil", [
    "\n".join(f"{i}. item {i}" for i in range(5000)),
    "<div><p>" * 5000 + "text",
    "a." * 20000,
    "x" * 100000,
    "1. 2. 3. " * 5000,
])
def test_splitter_survives_pathological_inputs(evil: str) -> None:
    out = split_sentences(evil)
    assert out and all(len(s) <= 2000 for s in out)
    assert "".join(out).replace(" ", "") == "".join(evil.split())


# --- selection rules ----------------------------------------------------------------------------------

BODY = ("The regional airport will add four new routes this summer, the operator said on Monday. "
        "The routes link the city with Lisbon, Krakow, Split and Porto. "
        "Passenger numbers rose by 18% last year to 1.2 million.")


def test_lead_sentences_by_default() -> None:
    t = make_teaser(art(BODY), 300)
    assert t.text.startswith("The regional airport will add four new routes")
    assert style_ok(t.text, 300)


def test_meta_opener_is_skipped() -> None:
    t = make_teaser(art("Recently I wrote about the airport and its plans for the summer season. " + BODY))
    assert not t.text.startswith("Recently")


@pytest.mark.parametrize("opener", ["He said the plan would cost far more than anyone had expected.",
                                    "They argued for hours about the new routes and the extra noise."])
def test_unresolved_pronoun_cannot_open(opener: str) -> None:
    t = make_teaser(art(opener + " " + BODY))
    assert not t.text.startswith(opener.split()[0] + " ")


def test_leading_connective_is_removed() -> None:
    t = make_teaser(art("However, the regional airport will add four new routes this summer, the operator said."))
    assert t.text.startswith("The regional airport")


def test_question_is_skipped() -> None:
    t = make_teaser(art("Will the airport ever make money from these new routes this summer? " + BODY))
    assert "?" not in t.text


def test_headline_repeat_is_skipped() -> None:
    title = "Regional airport adds four new routes"
    t = make_teaser(art("Regional airport adds four new routes this summer. " + BODY, title=title))
    assert not t.text.startswith("Regional airport adds")


def test_caption_fragment_without_full_stop_is_skipped() -> None:
    cands = build_candidates("The runway at dawn\n\n" + BODY, "")
    assert not cands[0].usable and "no sentence end" in cands[0].why_not


def test_never_cuts_mid_sentence_and_fits_budget() -> None:
    for budget in (80, 120, 160, 200, 300):
        t = make_teaser(art(BODY), budget)
        assert len(t.text) <= budget
        if not t.shortened:  # whole sentences of the body, or their compressed (deletion-only) form
            whole = split_sentences(BODY)
            fit = frozenset(DEFAULT.fit_compress)
            assert all(s in whole or s in {compress(w).text for w in whole} | {compress(w, fit).text for w in whole}
                       for s in t.sentences)


def test_shortened_at_clause_with_ellipsis_when_nothing_fits() -> None:
    long = ("The regional airport, which opened in 1962 and was rebuilt after a fire in 1998, will add four new "
            "routes this summer, connecting the city with Lisbon, Krakow, Split and Porto for the first time.")
    t = make_teaser(art(long), 100)
    assert t.shortened and t.text.endswith("…") and len(t.text) <= 100
    assert t.text.startswith("The regional airport") and style_ok(t.text, 100)


def test_shorten_keeps_brackets_balanced() -> None:
    s = "The plan (which the council approved, after a long debate, in May) will cost 40 million euros in total."
    out = shorten(s, 60)
    assert balanced(out) and out.endswith("…") and len(out) <= 60


def test_override_wins() -> None:
    t = make_teaser(art(BODY, teaser_override="Four new routes from our airport."))
    assert t.text == "Four new routes from our airport." and t.method == "override"


def test_clean_description_supported_by_body_is_used() -> None:
    desc = "The regional airport will add four new routes this summer, the operator said on Monday."
    t = make_teaser(art(BODY, description=desc))
    assert t.method == "description" and t.text == desc


def test_description_not_in_body_is_not_used() -> None:
    t = make_teaser(art(BODY, description="Click to find out which cheap flights you can book this year!"))
    assert t.method != "description"


def test_non_english_text_gives_a_sentence() -> None:
    fr = ("Les députés ont adopté le projet de loi sur le renseignement par 438 voix contre 86. "
          "Le texte sera examiné par le Sénat au mois de juin. Il prévoit une commission de contrôle.")
    t = make_teaser(art(fr), 300)
    assert t.text.startswith("Les députés ont adopté") and style_ok(t.text, 300)


def test_explain_names_rules_and_picks() -> None:
    out = explain(art("(CNN)The regional airport will add four new routes this summer, the operator said.\n\n"
                      "Advertisement\n\n" + BODY))
    assert "bureau_prefix" in out and "advertisement" in out and "PICK" in out


def test_empty_article_gives_empty_teaser() -> None:
    assert make_teaser(art("")).text == ""


# --- style on many generated inputs --------------------------------------------------------------------

WORDS = [
    "council", "river", "airport", "said", "on", "Monday", "the", "new", "plan", "would", "cost", "million",
    "euros", "after", "a", "long", "debate", "residents", "police", "minister", "report", "found", "that", "more",
    "than", "half", "of", "people", "in", "the", "city"
]
DECOR = ['"', "“", "”", "(", ")", "[", "]", "‘", "’", "—", "-", ":", ";", "…", "?", "!", "Mr.", "U.S.", "3.5"]


def _random_text(rng: random.Random) -> str:
    paras = []
    for _ in range(rng.randint(1, 6)):
        sents = []
        for _ in range(rng.randint(1, 5)):
            n = rng.randint(2, 70)
            words = [rng.choice(WORDS + DECOR) if rng.random() < 0.15 else rng.choice(WORDS) for _ in range(n)]
            s = " ".join(words)
            s = s[0].upper() + s[1:] if rng.random() < 0.85 else s
            sents.append(s + rng.choice([".", ".", ".", "!", "?", "", '."', ".)"]))
        paras.append(" ".join(sents))
    return "\n\n".join(paras)


@pytest.mark.parametrize("seed", range(300))
def test_style_holds_on_generated_text(seed: int) -> None:
    rng = random.Random(seed)
    text = _random_text(rng)
    budget = rng.choice([60, 100, 150, 200, 300, 500])
    t = make_teaser(art(text, title="Some title"), budget)
    if t.text:  # empty only when there is nothing sentence-like at all
        assert style_ok(t.text, budget), (text, t.text)


# --- duplicates ---------------------------------------------------------------------------------------

def test_find_duplicates() -> None:
    a = ("Airport adds four routes", BODY)
    b = ("Four new routes for the regional airport", "The operator of the regional airport said on Monday it will "
         "add four new routes to Lisbon, Krakow, Split and Porto this summer after passenger numbers rose 18%.")
    c = ("Museum reopens after flood", "A mountain museum reopened after a flood damaged its historic clocks.")
    pairs = find_duplicates([a, c, b])
    assert [(i, j) for i, j, _ in pairs] == [(0, 2)]
    assert 0.5 <= pairs[0][2] <= 1.0
    assert find_duplicates([]) == [] and find_duplicates([a]) == []
