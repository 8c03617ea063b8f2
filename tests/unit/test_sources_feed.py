"""digest.sources.feed: RSS 2.0 and Atom entries → articles, newest first, limit, HTML content → text."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.errors import SourceError
from digest.sources.feed import parse_feed

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "sources"


def test_rss_entries_newest_first() -> None:
    arts = parse_feed((FIX / "rss.xml").read_bytes(), "rss.xml")
    assert [a.url for a in arts] == ["https://notes.example.com/autumn-plan", "https://notes.example.com/spring-count",
                                     "https://notes.example.com/hides"]
    assert [a.published[:10] for a in arts] == ["2024-05-01", "2024-04-02", "2024-03-04"]
    assert all(a.kind == "feed" and a.source == "rss.xml" and a.site_name == "Field Notes" for a in arts)


def test_rss_content_html_becomes_text() -> None:
    spring = parse_feed((FIX / "rss.xml").read_bytes(), "rss.xml")[1]
    assert spring.title == "Second post: the spring count"
    assert spring.text == ("The spring bird count found more swallows than last year.\n\n"
                           "Volunteers walked twelve routes across the valley over two weekends.")
    assert "Photo" not in spring.text and "<" not in spring.text
    assert spring.description == "The spring bird count found more swallows than last year."
    assert spring.image == "https://notes.example.com/img/swallow.jpg"
    hides = parse_feed((FIX / "rss.xml").read_bytes(), "rss.xml")[2]
    assert hides.text == "We built three new hides along the river before the season began."  # escaped HTML


@pytest.mark.parametrize(("limit", "n"), [(1, 1), (2, 2), (10, 3), (0, 0)])
def test_limit_keeps_the_newest(limit: int, n: int) -> None:
    arts = parse_feed((FIX / "rss.xml").read_bytes(), "rss.xml", limit=limit) if limit else []
    assert len(arts) == n
    if n:
        assert arts[0].title == "Third post: the autumn plan"


def test_atom() -> None:
    arts = parse_feed((FIX / "atom.xml").read_bytes(), "atom.xml", limit=5)
    assert [a.title for a in arts] == ["Arrivée à Lyon", "Départ de Paris"]
    first = arts[0]
    assert first.url == "https://carnet.example.fr/lyon"
    assert first.author == "Claire Dubois"
    assert first.lang == "fr"
    assert first.text.split("\n\n") == ["Nous sommes arrivés à Lyon sous la pluie, après six heures de route.",
                                        "Le soir, nous avons dîné dans un bouchon près de la place Bellecour."]


def test_not_a_feed() -> None:
    with pytest.raises(SourceError, match="not a valid RSS/Atom feed"):
        parse_feed(b"<html><body>hello</body></html>", "page.xml")


def test_empty_feed() -> None:
    with pytest.raises(SourceError, match="no entries"):
        parse_feed(b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>', "e.rss")
