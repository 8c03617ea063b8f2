"""digest.sources.html: metadata, body cleanliness, title cleaning, HTML→text, and the shared html-dev pages."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from digest.errors import SourceError
from digest.sources import html as H
from digest.sources import load, readable
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


# ---------------------------------------------------------------- digest's own extractor

EXTRACTOR = FIX / "extractor"


def _page(name: str):
    return parse_html((EXTRACTOR / name).read_text(encoding="utf-8"), name)


def test_own_extractor_keeps_the_story_and_drops_furniture() -> None:
    a = _page("furniture.html")
    paras = a.text.split("\n\n")
    assert paras[0].startswith("Overnight passenger trains will run")  # no byline, date, share bar above the lead
    assert paras[-1].startswith("Tickets go on sale next week")
    assert "Why now" in paras  # a heading inside the story stays, in document order
    assert paras.index("Why now") == 2
    assert len(paras) == 5
    for junk in ("Home", "cookies", "Share on", "Email this", "Advertisement", "Bus fares", "End of story",
                 "morning briefing", "42 comments", "waiting for this service", "dining car", "Most read",
                 "Mayor opens", "Sleeper trains across Europe", "Valley Post", "Tomas Berg"):
        assert junk not in a.text, junk
    assert a.warnings == []  # our extractor found the story: no fallback ran


def test_own_extractor_reads_pages_without_paragraph_tags() -> None:
    divs = _page("divs-only.html").text.split("\n\n")
    assert len(divs) == 3
    assert divs[0].startswith("Apple growers in the northern district")
    assert "Farm Weekly" not in " ".join(divs) and "Contact" not in " ".join(divs)
    brs = _page("br-text.html").text.split("\n\n")
    assert len(brs) == 3
    assert brs[0].startswith("The town library will open on Sundays")
    assert "Privacy" not in " ".join(brs)


def test_second_pass_when_the_story_sits_in_a_furniture_named_block() -> None:
    H.COUNTS.clear()
    a = _page("hidden-wrapper.html")  # the story sits in <div class="site_header">
    assert a.text.startswith("The health clinic on Market Street")
    assert len(a.text.split("\n\n")) == 3
    assert H.COUNTS["second pass"] == 1 and not H.COUNTS["fallback readability"]


def test_page_without_text_raises() -> None:
    with pytest.raises(SourceError, match="no article text"):
        _page("empty-shell.html")


def test_readability_is_the_fallback_when_ours_finds_too_little(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(H, "_own_paragraphs", lambda doc, by_name=True: [])
    H.COUNTS.clear()
    a = _page("furniture.html")
    assert a.text.startswith("Overnight passenger trains will run")
    assert a.warnings == ["body from readability (digest found too little)"]
    assert H.COUNTS["fallback readability"] == 1


@pytest.mark.parametrize(("names", "ad"), [
    ("ad-slot", True), ("top ads", True), ("adContainer".lower(), True), ("advertisement-box", True),
    ("story_ad", True), ("header", False), ("shadow", False), ("download-link", False), ("read", False),
    ("author-bio", True), ("biography", False), ("sr-only", True),
])
def test_whole_word_furniture_names(names: str, ad: bool) -> None:
    assert readable._is_ad_name(names) is ad


def test_link_lists_inside_the_story_go_but_linked_prose_stays() -> None:
    prose = ("The committee met on Tuesday and agreed, after a long debate, to publish its report on the "
             "river crossing before the summer recess, its chair said. ")
    html = ("<html><body><div class='story'>"
            f"<p>{prose}</p><p>{prose.replace('report', '<a href=/r>full report</a>')}</p>"
            "<ul><li><a href=/1>One other story</a></li><li><a href=/2>Another story</a></li></ul>"
            f"<p>{prose}</p></div></body></html>")
    text = parse_html(html, "x").text
    assert "full report" in text
    assert "other story" not in text and "Another story" not in text


def test_extract_body_engines_agree_on_a_clean_page() -> None:
    markup = (EXTRACTOR / "furniture.html").read_text(encoding="utf-8")
    ours = H.extract_body(markup, "digest", title="Night trains return to the valley line")
    theirs = H.extract_body(markup, "readability", title="Night trains return to the valley line")
    assert ours.split("\n\n")[0] == theirs.split("\n\n")[0]
    with pytest.raises(ValueError, match="unknown engine"):
        H.extract_body(markup, "nope")
