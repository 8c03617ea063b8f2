"""digest.sources.markdown: front matter without YAML, body Markdown → plain paragraphs, title rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.errors import SourceError
from digest.sources.markdown import markdown_to_text, parse_front_matter, parse_markdown

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "sources"


def test_front_matter_fields() -> None:
    a = parse_markdown((FIX / "post.md").read_text(encoding="utf-8"), "post.md")
    assert a.kind == "markdown" and a.source == "post.md"
    assert a.title == "Ten years of the village library"
    assert a.url == "https://village.example.net/library-ten-years"
    assert a.image == "https://village.example.net/img/library.jpg"
    assert a.teaser_override == "The library turns ten: a look back, and what comes next."
    assert a.description == "A decade of lending, reading groups and repairs."
    assert a.published == "2024-09-14"
    assert a.author == "Sam O'Neill"  # trailing comment dropped
    assert a.lang == "en"


def test_body_markup_is_stripped() -> None:
    a = parse_markdown((FIX / "post.md").read_text(encoding="utf-8"), "post.md")
    paras = a.text.split("\n\n")
    assert paras[0].startswith("The village library opened")  # heading that repeats the title removed
    assert "two hundred books and one volunteer" in a.text  # link text kept, URL gone
    assert "example.net/books" not in a.text
    assert "2014" not in a.text  # image dropped
    assert "What changed" in paras  # sub-heading kept as a paragraph
    assert "four thousand books" in a.text and "**" not in a.text and "*" not in a.text
    assert "print(" not in a.text  # code block dropped
    assert "A repair café on Saturdays" in paras


def test_title_from_first_heading_when_no_front_matter() -> None:
    a = parse_markdown((FIX / "heading-only.md").read_text(encoding="utf-8"), "h.md")
    assert a.title == "Library news"
    assert a.text == "The reading group meets on Thursday at seven in the back room."
    b = parse_markdown("Intro line.\n\n# The *real* title\n\nBody text here.", "b.md")
    assert b.title == "The real title" and "real title" not in b.text


@pytest.mark.parametrize(("raw", "want"), [
    ('---\ntitle: "A: quoted"\n---\nx', {"title": "A: quoted"}),
    ("---\ntitle: 'It''s'\n---\nx", {"title": "It's"}),
    ("---\nTitle: plain # note\nlink: https://a.example/#frag\n---\nx",
     {"title": "plain", "url": "https://a.example/#frag"}),
    ("---\ndescription: >\n  folded over\n  two lines\n---\nx", {"description": "folded over two lines"}),
    ("no front matter\n---\n", {}),
])
def test_parse_front_matter(raw: str, want: dict[str, str]) -> None:
    assert parse_front_matter(raw)[0] == want


def test_front_matter_only_is_an_error() -> None:
    with pytest.raises(SourceError, match="no article text"):
        parse_markdown("---\ntitle: Empty\n---\n\n", "e.md")


def test_markdown_to_text_lists_and_quotes() -> None:
    assert markdown_to_text("> quoted *words*\n\n1. one\n2. two") == "quoted words\n\none\n\ntwo"


def test_escapes_in_double_quoted_front_matter_are_decoded_not_kept_as_backslashes() -> None:
    raw = ('---\ntitle: "Tides\\r\\nand \\"storms\\" \\u2014 caf\\u00e9"\nteaser: "One line.\\nAnother \\\\ one."\n'
           "author: 'O''Brien \\n stays'\nurl: https://x.example/a\\nb\n---\n\nThe harbour wall was repaired.\n")
    meta, _ = parse_front_matter(raw)
    assert meta["title"] == 'Tides and "storms" \u2014 caf\u00e9'
    assert meta["teaser"] == "One line. Another \\ one."
    assert meta["author"] == "O'Brien \\n stays"  # single quotes: no escapes in YAML
    assert meta["url"] == "https://x.example/a\\nb"  # a plain scalar keeps its backslash too
    article = parse_markdown(raw, "tides.md")
    assert article.title == 'Tides and "storms" \u2014 caf\u00e9' and "\\" not in article.title
