"""digest.sources.html: metadata, body cleanliness, title cleaning, HTML→text, and the shared html-dev pages."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from digest.errors import SourceError
from digest.sources import load
from digest.sources.html import clean_title, html_to_text, parse_html
from tests.conftest import shared_path

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "sources"


@pytest.fixture(scope="module")
def article():
    return load(str(FIX / "article.html"))[0]


def test_metadata(article) -> None:
    assert article.title == "Harbour town votes to keep its ferry"
    assert article.description.startswith("Residents of Port Ellen voted")
    assert article.url == "https://courier.example.org/news/2024/ferry-vote"
    # og:image is relative: made absolute against the canonical URL
    assert article.image == "https://courier.example.org/media/ferry-at-dawn.jpg"
    assert article.image_alt == "The ferry leaving the harbour at dawn"
    assert article.author == "Morag Lindsay"
    assert article.published == "2024-03-05T08:30:00+00:00"
    assert article.lang == "en-GB"
    assert article.site_name == "The Coastal Courier"


def test_body_is_clean_paragraphs(article) -> None:
    paras = article.text.split("\n\n")
    assert paras[0].startswith("Residents of Port Ellen have voted")
    assert len(paras) == 5
    for junk in ("Advertisement", "Photo:", "By Morag", "cookies", "Related stories", "Lifeboat", "rights reserved",
                 "Home", "newsletter", "tracking"):
        assert junk not in article.text, junk


def test_page_url_is_base_for_relative_image() -> None:
    html = ('<html><head><meta property="og:image" content="img/a.jpg"><title>T</title></head><body><article>'
            + "<p>Some words that make a real paragraph of article text for the extractor to keep.</p>" * 3
            + "</article></body></html>")
    a = parse_html(html, "x", url="https://site.example/news/story")
    assert a.image == "https://site.example/news/img/a.jpg"
    assert a.url == "https://site.example/news/story"
    local = parse_html(html, "x")  # no base: a relative image is useless in an email
    assert local.image is None and local.url is None


def test_protocol_relative_image_becomes_https() -> None:
    html = ('<html><head><meta property="og:image" content="//cdn.example/a.jpg"></head><body><article>'
            + "<p>Some words that make a real paragraph of article text for the extractor to keep.</p>" * 3
            + "</article></body></html>")
    assert parse_html(html, "x").image == "https://cdn.example/a.jpg"


def test_lang_from_og_locale_and_content_language() -> None:
    body = "<body><article>" + "<p>Quelques mots qui font un vrai paragraphe de texte pour l'extracteur.</p>" * 3
    a = parse_html(f'<html><head><meta property="og:locale" content="fr_FR"></head>{body}</article></body></html>', "x")
    assert a.lang == "fr-FR"
    b = parse_html(f"<html><head></head>{body}</article></body></html>", "x", content_language="de")
    assert b.lang == "de"


def test_jsonld_author_and_date() -> None:
    ld = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": "Bridge reopens after repairs",
          "author": [{"@type": "Person", "name": "Ana Ruiz"}], "datePublished": "2023-11-02T07:00:00+01:00"}
    html = (f'<html><head><script type="application/ld+json">{json.dumps(ld)}</script>'
            "<title>Bridge reopens after repairs - City Paper</title></head><body><h1>Bridge reopens after repairs</h1>"
            + "<p>The old bridge reopened on Thursday after eight months of repairs to its cables and deck.</p>" * 3
            + "</body></html>")
    a = parse_html(html, "x")
    assert a.author == "Ana Ruiz"
    assert a.published == "2023-11-02T07:00:00+01:00"
    assert a.title == "Bridge reopens after repairs"
    assert not a.text.startswith("Bridge reopens")  # the headline is not repeated in the body


@pytest.mark.parametrize(("raw", "site", "want"), [
    ("Obama admits US gun laws are his 'biggest frustration' - BBC News", None,
     "Obama admits US gun laws are his 'biggest frustration'"),
    ("Just-released Minecraft exploit makes it easy to crash game servers | Ars Technica", None,
     "Just-released Minecraft exploit makes it easy to crash game servers"),
    ("The Coastal Courier | Harbour town votes to keep its ferry", "The Coastal Courier",
     "Harbour town votes to keep its ferry"),
    ("Zimbabwe coup: Mugabe stays - for now", None, "Zimbabwe coup: Mugabe stays - for now"),
    ("Short - title", None, "Short - title"),
])
def test_clean_title(raw: str, site: str | None, want: str) -> None:
    assert clean_title(raw, site) == want


def test_html_to_text() -> None:
    frag = ('<p>One <b>bold</b> line.</p><figure><img src="a"><figcaption>Caption. Photo: X</figcaption></figure>'
            "<ul><li>First item</li><li>Second item</li></ul><div>Advertisement</div><p>Two<br>lines</p>"
            "<script>var x = 1;</script>")
    assert html_to_text(frag) == "One bold line.\n\nFirst item\n\nSecond item\n\nTwo\n\nlines"
    assert html_to_text("plain words, no tags") == "plain words, no tags"
    assert html_to_text("") == ""


def test_no_article_raises() -> None:
    with pytest.raises(SourceError, match="no article text"):
        parse_html("<html><body><nav><a href='/'>Home</a></nav></body></html>", "page.html")


# ---------------------------------------------------------------- the shared html-dev pages


def _words(text: str) -> list[str]:
    return re.sub(r"[^0-9a-z]+", " ", text.lower()).split()


def test_shared_html_dev_pages() -> None:
    corpus = shared_path("corpus", "html-dev")
    gold = [json.loads(line) for line in (corpus / "gold.jsonl").read_text(encoding="utf-8").splitlines() if line]
    titles_ok = pure = total = 0
    for g in gold:
        [a] = load(str(corpus / f"{g['id']}.html"))  # no page raises
        assert a.kind == "html" and a.text.strip(), g["id"]
        titles_ok += _words(a.title) == _words(g["title"])
        gold_words = _words(g["gold_text"])
        grams = {tuple(gold_words[i:i + 4]) for i in range(len(gold_words) - 3)}
        for para in a.text.split("\n\n"):
            w = _words(para)
            if len(w) < 4:
                continue
            pg = {tuple(w[i:i + 4]) for i in range(len(w) - 3)}
            total += 1
            pure += len(pg & grams) / len(pg) >= 0.8
        if g.get("lang"):
            assert (a.lang or "").split("-")[0] == g["lang"].split("-")[0], g["id"]
    assert titles_ok >= 0.75 * len(gold)
    assert pure / total >= 0.95  # paragraphs of the extracted text that come from the article body
