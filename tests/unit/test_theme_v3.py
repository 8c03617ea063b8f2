"""Theme v3: what a reader sees in the email and on the public web page, read from the rendered HTML."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import lxml.html
import pytest

from digest import merge
from digest.compose.images import ImageRef
from digest.compose.inline import inline_css
from digest.compose.render import (
    DARK_CARD,
    Issue,
    Item,
    Section,
    button_on_dark,
    contrast,
    markdown_to_html,
    render_issue,
    theme_colors,
)
from digest.config import Settings


def settings(**newsletter: str) -> Settings:
    s = Settings()
    s.data["newsletter"].update({"name": "Valley Weekly", "postal_address": "12 Mill Lane, Springfield",
                                 "reply_to": "editor@valley.example.org",
                                 "web_base_url": "https://valley.example.org/issues/{slug}/", **newsletter})
    s.data["unsubscribe"]["url"] = "https://valley.example.org/u?t={token}"
    return s


def item(n: int, **kw: object) -> Item:
    base: dict[str, object] = {"title": f"Story number {n}", "teaser": f"What happened in story {n}.",
                               "url": f"https://news.example.org/{n}", "reading_minutes": 3,
                               "site_name": "Ars Technica"}
    base.update(kw)
    return Item(**base)  # type: ignore[arg-type]


def issue(items: list[Item], sections: list[Section] | None = None) -> Issue:
    return Issue(subject="This week in the valley", preheader="Rivers, tools and a choir", intro="Hello.",
                 date="2026-11-27", slug="2026-48", sections=sections or [Section(None, items)])


def doc(html: str) -> lxml.html.HtmlElement:
    return lxml.html.document_fromstring(html)


def test_headline_is_a_link_styled_as_a_link_and_meta_line_comes_first() -> None:
    s = settings(brand_color="#0b5cad")
    html = inline_css(render_issue(issue([item(1), item(2)]), s).html)
    d = doc(html)
    titles = d.xpath("//*[contains(@class,'dg-title')]")
    assert len(titles) == 2
    link_colour = theme_colors("#0b5cad")["link"]
    for title in titles:
        a = title.xpath("./a")
        assert a and a[0].get("href", "").startswith("https://news.example.org/")
        assert f"color:{link_colour}" in a[0].get("style", "").replace(" ", "")
        meta = title.getprevious()
        assert meta is not None and "dg-meta" in meta.get("class", "")
        assert meta.text_content().strip() == "Ars Technica · 3 min read"


def test_one_text_link_per_story_and_one_bulletproof_button_for_the_lead() -> None:
    html = inline_css(render_issue(issue([item(n) for n in range(1, 5)]), settings()).html)
    d = doc(html)
    assert "Read more" not in html
    buttons = d.xpath("//td[contains(@class,'dg-button')]")
    assert len(buttons) == 1  # the lead story only
    cell = buttons[0]
    # Outlook (Word) ignores padding on <a>: the cell carries the colour and Outlook's padding
    assert cell.get("bgcolor") == theme_colors("#1a73e8")["button"]
    assert "mso-padding-alt:12px 22px" in cell.get("style", "")
    assert cell.xpath("./a")[0].text_content() == "Read on Ars Technica →"
    links = d.xpath("//p[contains(@class,'dg-readon')]/a")
    assert [a.text_content() for a in links] == ["Read on Ars Technica\xa0→"] * 3
    assert [a.get("href") for a in links] == [f"https://news.example.org/{n}" for n in range(2, 5)]


def test_read_link_without_a_site_name() -> None:
    d = doc(render_issue(issue([item(1), item(2, site_name=None)]), settings()).html)
    assert d.xpath("//p[contains(@class,'dg-readon')]/a")[0].text_content() == "Read the story\xa0→"


def test_outlook_namespaces_on_html() -> None:
    html = render_issue(issue([item(1)]), settings()).html
    tag = re.search(r"<html[^>]*>", html)
    assert tag is not None
    assert 'xmlns:v="urn:schemas-microsoft-com:vml"' in tag.group(0)
    assert 'xmlns:o="urn:schemas-microsoft-com:office:office"' in tag.group(0)


@pytest.mark.parametrize(("count", "shown"), [(5, False), (6, True), (12, True)])
def test_in_this_issue_from_six_stories(count: int, shown: bool) -> None:
    items = [item(n) for n in range(1, count + 1)]
    html = render_issue(issue(items[:3], [Section(None, items[:3]), Section("Around town", items[3:])]),
                        settings()).html
    d = doc(html)
    toc = d.xpath("//ol[contains(@class,'dg-toc-list')]/li")
    assert ("In this issue" in html) is shown
    assert [li.text_content() for li in toc] == ([f"Story number {n}" for n in range(1, count + 1)] if shown else [])


def _css_px(html: str, selector: str, prop: str) -> int:
    m = re.search(re.escape(selector) + r"\{[^}]*?" + prop + r":(\d+)px", html)
    assert m, selector
    return int(m.group(1))


def test_section_headers_outrank_titles() -> None:
    html = render_issue(issue([], [Section("Around town", [item(1)])]), settings()).html
    assert _css_px(html, ".dg-h2-section", "font-size") > _css_px(html, ".dg-title", "font-size")
    d = doc(inline_css(html))
    h2 = d.xpath("//h2[contains(@class,'dg-h2-section')]")[0]
    h3 = d.xpath("//h3[contains(@class,'dg-title')]")[0]
    size = lambda el: int(re.search(r"font-size:(\d+)px", el.get("style", "").replace(" ", "")).group(1))  # noqa: E731
    assert size(h2) > size(h3)


def test_images_are_linked_with_width_height_and_styled_alt() -> None:
    lead = item(1, image=ImageRef("https://cdn.example.org/a.jpg", 536, 268), image_alt="A river")
    other = item(2, image=ImageRef("https://cdn.example.org/b.jpg", 536, 300), image_alt="A bridge")
    d = doc(inline_css(render_issue(issue([lead, other]), settings()).html))
    imgs = d.xpath("//img[contains(@class,'dg-img')]")
    assert [(i.get("width"), i.get("height")) for i in imgs] == [("536", "268"), ("112", "63")]
    for img, n in zip(imgs, (1, 2), strict=True):
        parent = img.getparent()
        assert parent.tag == "a" and parent.get("href") == f"https://news.example.org/{n}"
        style = img.get("style", "").replace(" ", "")
        # alt text, shown when images are off, is styled like the meta line
        assert "font-size:14px" in style and re.search(r"(^|;)color:#555(555)?(;|$)", style)


def test_http_images_are_retried_as_https_in_the_intro() -> None:
    html = str(markdown_to_html("![a chart](http://img.example.org/c.png) and ![x](ftp://img.example.org/c.png)"))
    assert '<img alt="a chart" src="https://img.example.org/c.png"' in html
    assert "ftp:" not in html


BRANDS = ["#0b5cad", "#1a73e8", "#000000", "#ffffff", "#111111", "#ffff00", "#ff0000", "#00ff00", "#0000ff",
          "#1e1e1e", "#202020", "#7f7f7f", "#663399", "#8b0000", "#003300"]
SWEEP = ["#{:02x}{:02x}{:02x}".format(*rgb) for rgb in itertools.product(range(0, 256, 51), repeat=3)]


@pytest.mark.parametrize("brand", BRANDS + SWEEP)
def test_dark_mode_button_and_links_stand_out_for_any_brand(brand: str) -> None:
    colours = theme_colors(brand)
    bg, text = button_on_dark(brand)
    assert (colours["dark_button"], colours["dark_button_text"]) == (bg, text)
    assert contrast(bg, DARK_CARD) >= 3.0  # WCAG 1.4.11: the button against the dark card
    assert contrast(text, bg) >= 4.5  # its label
    assert contrast(colours["dark_link"], DARK_CARD) >= 4.5
    assert contrast(colours["button_text"], colours["button"]) >= 4.5
    assert contrast(colours["dark_rule"], DARK_CARD) >= 3.0
    assert contrast(colours["brand_rule"], "#ffffff") >= 3.0


def test_dark_mode_css_uses_the_computed_button_colour() -> None:
    html = render_issue(issue([item(1)]), settings(brand_color="#0b5cad")).html
    colours = theme_colors("#0b5cad")
    assert contrast("#0b5cad", DARK_CARD) < 3.0  # the case from the issue: 2.5:1 as it was
    dark = html[html.index("prefers-color-scheme:dark"):]
    assert f".dg-button{{background-color:{colours['dark_button']} !important;}}" in dark
    assert f".dg-button a{{color:{colours['dark_button_text']} !important;}}" in dark


def test_footer_has_sent_to_reply_prompt_and_postal_address() -> None:
    out = render_issue(issue([item(1)]), settings())
    footer = doc(out.html).xpath("//td[contains(@class,'dg-footer')]")[0].text_content()
    assert f"Sent to {merge.token('email', 'HTML')} because you subscribed to Valley Weekly." in footer
    assert "Reply to this email" in footer
    assert "12 Mill Lane, Springfield" in footer
    assert out.merge_defaults.get("email") == "you"


def _web(**newsletter: str) -> lxml.html.HtmlElement:
    lead = item(1, image=ImageRef("https://cdn.example.org/a.jpg", 536, 268), image_alt="A river")
    return doc(render_issue(issue([lead, item(2)]), settings(**newsletter)).web)


def test_web_page_is_a_public_page() -> None:
    d = _web(subscribe_url="https://valley.example.org/join")
    text = d.text_content()
    assert "Hi there" not in text and "Hi " not in text
    assert "receiving" not in text and "Sent to" not in text and "Unsubscribe" not in text
    hrefs = [a.get("href") for a in d.xpath("//a[@href]")]
    assert "https://valley.example.org/issues/2026-48/" not in hrefs  # no link to itself
    assert not [h for h in hrefs if "__DG_" in h]
    subscribe = d.xpath("//a[@href='https://valley.example.org/join']")
    assert subscribe and "Subscribe" in subscribe[0].text_content()


def test_web_page_has_description_and_open_graph() -> None:
    d = _web()
    meta = {m.get("name") or m.get("property"): m.get("content") for m in d.xpath("//meta")}
    assert meta["description"] == "Rivers, tools and a choir"
    assert meta["og:title"] == "This week in the valley"
    assert meta["og:description"] == "Rivers, tools and a choir"
    assert meta["og:image"] == "https://cdn.example.org/a.jpg"
    assert not d.xpath("//a[contains(., 'Subscribe')]")  # no subscribe_url: no link


def test_user_override_of_email_html_shows_on_the_web_page(tmp_path: Path) -> None:
    (tmp_path / "digest.toml").write_text('[newsletter]\nname = "Valley Weekly"\n', encoding="utf-8")
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "email.html").write_text(
        '{% extends "theme/email.html" %}{% block footer_extra %}<p>Printed on recycled electrons.</p>'
        "{% endblock %}", encoding="utf-8")
    from digest.config import load_settings

    out = render_issue(issue([item(1)]), load_settings(tmp_path))
    assert "recycled electrons" in out.html and "recycled electrons" in out.web
    assert "Hi there" not in out.web


@pytest.mark.parametrize(("language", "side"), [("en", "left"), ("he", "right")])
def test_thumbnail_gap_is_on_the_text_side(language: str, side: str) -> None:
    thumb = item(2, image=ImageRef("https://cdn.example.org/b.jpg", 536, 300), image_alt="A bridge")
    d = doc(render_issue(issue([item(1), thumb]), settings(language=language)).html)
    cell = d.xpath("//td[contains(@class,'dg-thumb-cell')]")[0]
    assert f"padding-{side}:16px" in cell.get("style", "")
