"""parse_text: headline, body and boilerplate in pasted plain text (fixtures written for these tests)."""

from __future__ import annotations

import pytest

from digest.condense import make_teaser
from digest.condense.sentences import split_sentences
from digest.sources.text import derive_title, find_body, normalize, parse_text, unwrap
from tests.conftest import FIXTURES, shared_path

CONDENSE = FIXTURES / "condense"


def _read(name: str) -> str:
    return (CONDENSE / name).read_text(encoding="utf-8")


def test_headline_after_junk_line_and_trailing_boilerplate_dropped() -> None:
    a = parse_text(_read("pasted_with_boilerplate.txt"), "x.txt")
    assert a.kind == "text" and a.source == "x.txt"
    assert a.title == "City council approves new riverside park after long debate"
    assert a.text.startswith("The city council voted on Tuesday")
    assert a.text.endswith("affordable flats in the district.")
    for junk in ("Patreon", "views and opinions", "What do you think", "Notify of", "bakery", "posted in"):
        assert junk not in a.text


def test_whole_page_dump_keeps_only_the_article() -> None:
    a = parse_text(_read("whole_page_dump.txt"), "page.txt")
    assert a.title == "Harbour ferry service to resume in June"
    assert a.text.startswith("The harbour ferry that links")
    assert a.text.endswith("roughly the level seen before the fire.")
    for junk in ("cookie", "Skip to content", "Image caption", "Advertisement", "Share on", "Related",
                 "missed this ferry", "All rights reserved", "By Sam Writer", "12 May 2021"):
        assert junk not in a.text


def test_body_without_headline_keeps_first_sentence_and_derives_title() -> None:
    raw = _read("body_only.txt")
    a = parse_text(raw, "b.txt")
    assert a.text.startswith("A small museum in the mountains has reopened")
    assert a.title.startswith("A small museum in the mountains")
    assert len(a.title) <= 91 and a.title.endswith("…")
    assert a.words == len(raw.split())


def test_hard_wrapped_lines_are_joined() -> None:
    paras = unwrap("Police said the suspect had been seen near\nthe station on Friday night.\n\nNext paragraph here.")
    assert paras == ["Police said the suspect had been seen near the station on Friday night.", "Next paragraph here."]


def test_comment_section_is_a_wall() -> None:
    paras = ["Short menu", "A" * 50 + " long prose sentence about the news of the day and more words here.",
             "Leave a comment", "I disagree with this whole article and I will explain why at great length here."]
    start, end = find_body(paras)
    assert (start, end) == (1, 2)


def test_derive_title_short_sentence_kept_whole() -> None:
    assert derive_title("Rain is coming. It will be wet.") == "Rain is coming"


@pytest.mark.parametrize("raw", ["", "   \n\n  ", "\ufeff", "a", "\x00\x01binary\x02"])
def test_degenerate_inputs_do_not_crash(raw: str) -> None:
    a = parse_text(raw, "d.txt")
    assert isinstance(a.title, str) and isinstance(a.text, str)


def test_crlf_and_nbsp_are_normalised() -> None:
    a = parse_text("Title of the piece here\r\n\r\nThe\u00a0first sentence of the body is right here and it is long."
                   "\r\n", "c.txt")
    assert a.title == "Title of the piece here"
    assert "\u00a0" not in a.text and "\r" not in a.text


def test_seed_title_and_teaser_from_body() -> None:
    path = shared_path("seeds", "000_d8922b5850a6cfb1.txt")
    raw = path.read_text(encoding="utf-8")
    a = parse_text(raw, str(path))
    assert a.title == "BREAKING: Lavrov meets Tillerson, meeting Trump"
    for junk in ("Patreon", "The statements, views", "Notify of", "View all comments", "Macron", "Dove soap"):
        assert junk not in a.text
    assert "in ," not in a.text.splitlines()[0]
    t = make_teaser(a)
    body_sents = set(split_sentences(a.text))
    assert t.sentences and all(s in body_sents for s in t.sentences)
    assert not t.text.startswith("Recently I wrote")


def test_parse_text_records_what_it_dropped_with_the_rule() -> None:
    a = parse_text(_read("pasted_with_boilerplate.txt"), "x.txt")
    rules = {r.text: r.rule for r in a.removed}
    assert rules["Enjoyed this story? Support our newsroom on Patreon!"] == "subscribe_plea"
    assert rules["Notify of"] == "comment_widget"
    assert rules["Local bakery wins national award"] == "outside_body_after"
    assert "removed" not in a.to_dict()  # never written to the article cache
    from digest.condense import explain

    out = explain(a)
    assert "Dropped by the source parser" in out and "[-subscribe_plea-]" in out


@pytest.mark.parametrize(("text", "lang"), [
    ("The council said on Tuesday that the new park would open in the spring and that it was the first of its "
     "kind in the region, with a playground and a path for bikes and walkers from the harbour to the station.", "en"),
    ("Le conseil municipal a voté mardi la création d'un parc sur les berges, qui sera ouvert au public dès le "
     "printemps prochain et qui comprendra une piste cyclable et des jardins pour les familles du quartier.", "fr"),
    ("Der Stadtrat hat am Dienstag beschlossen, dass der neue Park im Frühjahr eröffnet wird und dass es auch "
     "einen Spielplatz und einen Radweg am Hafen geben soll, der mit der Stadt verbunden ist.", "de"),
    ("Short text.", None),
    ("1234 5678 9999 0000 1111 2222 3333 4444 5555 6666 7777 8888 9999 0000 1111 2222 3333 4444 5555 6666 77", None),
])
def test_language_is_recorded_when_obvious(text: str, lang: str | None) -> None:
    assert parse_text("Headline for the test\n\n" + text, "x.txt").lang == lang


def test_related_box_inside_the_article_is_bridged_and_dropped() -> None:
    """A "Related coverage" box between two halves of the article: the body starts at the real lead, the box's
    headlines and dates are dropped, and the trailing "Most popular" block still ends the body."""
    art = parse_text((CONDENSE / "related_box_inside.txt").read_text(encoding="utf-8"), "related_box_inside.txt")
    assert art.text.startswith("The sale of the harbour authority's ferry fleet")
    assert "In the second step" in art.text and "4,000 signatures" in art.text
    for junk in ("Related Coverage", "Ferry Fares to Rise", "MARCH 2, 2021", "Islanders Protest", "Storm warning",
                 "Advertisement", "Continue reading"):
        assert junk not in art.text
    assert any(r.rule == "related_block" and r.text.startswith("Ferry Fares") for r in art.removed)
    assert art.title.startswith("Harbour Authority's Ferry Sale")


def test_related_block_after_the_article_is_not_bridged() -> None:
    """Prose-like summaries after a related heading at the end never join the body (no prose below to bridge to)."""
    text = (CONDENSE / "related_box_inside.txt").read_text(encoding="utf-8")
    head, _, _ = text.partition("Continue reading the main story")
    tail = ("\n\nRelated Coverage\n\nFerry Fares to Rise Again Next Spring\nMARCH 2, 2021\n\n"
            "The operator said on Monday that fares would rise by six per cent from April across all routes.\n")
    art = parse_text(head + tail, "x.txt")
    assert "fares would rise" not in art.text
    assert art.text.startswith("The sale of the harbour authority's ferry fleet")


def test_one_prose_paragraph_above_a_related_box_is_not_enough() -> None:
    """A single prose paragraph above a related box (a teaser of another story on a page) is not bridged."""
    text = (CONDENSE / "related_box_inside.txt").read_text(encoding="utf-8")
    one = text.replace("The fleet is not being sold as one company. Instead, the authority will move the ships, the "
                       "crews' contracts and the ticketing system into a new subsidiary before anything changes "
                       "hands.\n\n", "")
    art = parse_text(one, "x.txt")
    assert art.text.startswith("In the second step")


def test_utf8_read_as_windows_1252_is_repaired() -> None:
    # a scraped BBC text: "Google paid Â£10m in UK corporate taxes" (the pound sign's two bytes read one by one)
    assert normalize("Google paid Â£10m in UK corporate taxes â€¦ at the cafÃ©.") == \
        "Google paid £10m in UK corporate taxes … at the café."
    assert normalize("Âge de pierre, plain Ã text") == "Âge de pierre, plain Ã text"  # real letters stay
