"""Rendering: escaping of hostile text, safe links, preheader, merge tokens per context, UTM, overrides."""

from __future__ import annotations

import re
from pathlib import Path

import lxml.html
import pytest

from digest import merge
from digest.compose.inline import inline_css
from digest.compose.links import add_utm, safe_url
from digest.compose.render import (
    Issue,
    Item,
    Section,
    contrast,
    group_sections,
    make_item,
    markdown_to_html,
    render_issue,
    theme_colors,
)
from digest.config import Settings, load_settings
from digest.model import Article

HOSTILE_TITLE = 'Totally <script>alert("t")</script> safe'
HOSTILE_TEASER = 'Click <img src=x onerror=alert(1)> here & "there"'


def settings(**newsletter: str) -> Settings:
    s = Settings()
    s.data["newsletter"].update({"name": "Valley Weekly", "postal_address": "12 Mill Lane, Springfield",
                                 "web_base_url": "https://valley.example.org/issues/{slug}/", **newsletter})
    s.data["unsubscribe"]["url"] = "https://valley.example.org/u?t={token}"
    return s


def issue(*items: Item, intro: str = "Hello **readers**.", sections: list[Section] | None = None) -> Issue:
    return Issue(subject="This week in the valley", preheader="Rivers, tools and a choir", intro=intro,
                 date="2026-11-27", slug="2026-11",
                 sections=sections if sections is not None else [Section(None, list(items))])


def hostile_item() -> Item:
    article = Article(source="x.md", title=HOSTILE_TITLE, text="body", kind="markdown",
                      url="javascript:alert(document.cookie)")
    return make_item(article, HOSTILE_TEASER, {}, image=None, utm={})


def test_hostile_article_text_never_becomes_markup() -> None:
    out = render_issue(issue(hostile_item()), settings())
    for html in (out.html, inline_css(out.html), out.web):
        doc = lxml.html.document_fromstring(html)
        assert not doc.xpath("//script"), "a <script> element was injected"
        assert not doc.xpath("//img[@onerror]") and not doc.xpath("//*[@onerror]")
        assert not [a for a in doc.xpath("//a[@href]") if a.get("href").lower().startswith("javascript")]
        assert "Totally &lt;script&gt;" in html
        title = doc.xpath("//h2[contains(@class,'dg-title')]")[0]
        assert title.text_content() == HOSTILE_TITLE  # shown as text, no link
        assert not title.xpath(".//a")


@pytest.mark.parametrize("url", ["javascript:alert(1)", " JavaScript:alert(1)", "java\tscript:alert(1)",
                                 "data:text/html,<b>x</b>", "vbscript:msgbox", "/relative/path", "//no-scheme.org",
                                 "https://", "http://exa mple.com\n"])
def test_unsafe_urls_are_dropped(url: str) -> None:
    assert safe_url(url) is None


@pytest.mark.parametrize("url", ["https://example.org/a?b=1&c=2", "http://example.org", "mailto:a@example.org"])
def test_safe_urls_pass(url: str) -> None:
    assert safe_url(url) == url


def test_characters_urls_never_hold_are_percent_encoded() -> None:
    # <%asm_group_unsubscribe_raw_url%> is a tag SendGrid fills with the recipient's unsubscribe link
    assert (safe_url('https://evil.example/x?u=<%asm_group_unsubscribe_raw_url%>&q="a b"')
            == "https://evil.example/x?u=%3C%asm_group_unsubscribe_raw_url%%3E&q=%22a%20b%22")


def test_intro_markdown_escapes_raw_html_and_drops_unsafe_links() -> None:
    html = str(markdown_to_html('Hi <script>x()</script> <b onclick="y">bold</b> [a](javascript:alert(1)) '
                                '[b](https://ok.example.org) ![pic](data:image/png;base64,AAAA) '
                                '![chart](http://insecure.example.org/p.png)'))
    doc = lxml.html.fragment_fromstring(html, create_parent="div")
    assert not doc.xpath("//script") and not doc.xpath("//b")
    # an http: image is retried as https: (mixed content is blocked); anything else that isn't https is dropped
    assert [i.get("src") for i in doc.xpath("//img")] == ["https://insecure.example.org/p.png"]
    assert [a.get("href") for a in doc.xpath("//a")] == ["https://ok.example.org"]
    assert "&lt;script&gt;" in html


def test_preheader_is_first_hidden_and_padded() -> None:
    out = render_issue(issue(hostile_item()), settings())
    html = inline_css(out.html)
    body = lxml.html.document_fromstring(html).body
    first = body[0]
    assert first.text_content().startswith("Rivers, tools and a choir")
    style = first.get("style").replace(" ", "")
    assert "display:none" in style and "max-height:0" in style and "mso-hide:all" in style
    assert first.text_content().count("\u200c\u00a0") >= 50  # the &zwnj;&nbsp; run that stops body leaking


def test_merge_tokens_by_context_and_web_version_has_defaults() -> None:
    out = render_issue(issue(hostile_item()), settings())
    assert merge.token("first_name", "HTML") in out.html
    assert merge.token("first_name", "TEXT") in out.text
    assert merge.token("unsubscribe_url", "HTML") in out.html
    assert merge.token("unsubscribe_url", "TEXT") in out.text
    assert "__DG_" not in out.web
    assert "Hi " not in out.web  # the public page greets nobody
    assert "Unsubscribe" not in out.web  # no recipient data or unsubscribe tokens in the web version
    assert out.merge_defaults["first_name"] == "there"


def test_configured_merge_default_wins_over_template_default() -> None:
    s = settings()
    s.data["merge"]["first_name"] = "friend"
    out = render_issue(issue(hostile_item()), s)
    assert out.merge_defaults["first_name"] == "friend"
    assert "Hi friend," in merge.substitute(out.html, merge.values({}, out.merge_defaults))


def test_footer_has_unsubscribe_postal_address_and_view_in_browser() -> None:
    out = render_issue(issue(hostile_item()), settings())
    doc = lxml.html.document_fromstring(out.html)
    hrefs = {a.text_content().strip(): a.get("href") for a in doc.xpath("//a")}
    assert hrefs["Unsubscribe"] == merge.token("unsubscribe_url", "HTML")
    unsub = next(a for a in doc.xpath("//a") if a.text_content().strip() == "Unsubscribe")
    assert unsub.get("clicktracking") == "off"  # SendGrid never rewrites the unsubscribe link
    assert hrefs["View in browser"] == "https://valley.example.org/issues/2026-11/"
    assert "12 Mill Lane, Springfield" in doc.text_content()
    text = out.text
    assert "https://valley.example.org/issues/2026-11/\n" in text and "12 Mill Lane" in text


def test_archive_base_url_wins_for_view_in_browser() -> None:
    out = render_issue(issue(hostile_item()), settings(archive_base_url="https://arch.example.org/"))
    assert 'href="https://arch.example.org/2026-11/"' in out.html


def test_text_part_from_the_same_data_with_urls_on_their_own_lines() -> None:
    art = Article(source="a", title="Bridge reopens", text="x " * 500, kind="feed",
                  url="https://gazette.example.org/bridge?a=1&b=2")
    out = render_issue(issue(make_item(art, "The bridge reopened on Monday.", {}, image=None, utm={})), settings())
    lines = out.text.splitlines()
    assert "1. Bridge reopens" in lines
    assert "https://gazette.example.org/bridge?a=1&b=2" in lines  # raw, unescaped, alone on its line
    assert "The bridge reopened on Monday." in lines
    assert "3 min read" in lines
    assert "&amp;" not in out.text


def test_text_intro_is_reflowed_single_breaks_join_blank_lines_split() -> None:
    intro = ("The river rose\nover the old\nbridge on Monday.\n\nA second paragraph, hard  \nbroken here, "
             "and long enough that it has to be wrapped at seventy-two characters somewhere.\n\n"
             "- a list item that is long enough to wrap onto a second line of the plain text part\n- two")
    text = render_issue(issue(intro=intro), settings()).text
    assert "The river rose over the old bridge on Monday.\n\nA second paragraph, hard\nbroken here," in text
    assert "\nrose over" not in text and "old\nbridge" not in text  # source line breaks joined, not kept
    assert ("- a list item that is long enough to wrap onto a second line of the\n  plain text part\n- two"
            in text)
    assert all(len(line) <= 72 for line in text.splitlines() if "://" not in line)


def test_text_titles_numbered_across_sections_and_wrapped() -> None:
    long_title = "A very long headline about the harbour wall repairs that will certainly not fit one line"
    first = Item(title=long_title, teaser="t1", url="https://e.org/1")
    second = Item(title="Choir practice moves", teaser="t2", url="https://e.org/2")
    text = render_issue(issue(sections=[Section(None, [first]), Section("Around town", [second])]), settings()).text
    assert ("\n1. A very long headline about the harbour wall repairs that will\n"
            "   certainly not fit one line\n") in text
    assert "\n2. Choir practice moves\n" in text


def test_text_signature_separator_is_dash_dash_space() -> None:
    text = render_issue(issue(), settings()).text
    assert "\n-- \n" in text  # alone on its line, trailing space kept
    assert "\n--\n" not in text


def test_utm_only_on_article_links_and_off_by_default() -> None:
    art = Article(source="a", title="T", text="words here", kind="html", url="https://ex.org/p?x=1")
    plain = render_issue(issue(make_item(art, "t", {}, image=None, utm={})), settings())
    assert "utm_" not in plain.html
    s = settings()
    s.data["links"]["utm"] = True
    from digest.compose.render import utm_for

    item = make_item(art, "t", {}, image=None, utm=utm_for(s, "2026-11"))
    out = render_issue(issue(item), s)
    doc = lxml.html.document_fromstring(out.html)
    with_utm = [a.get("href") for a in doc.xpath("//a") if "utm_" in a.get("href")]
    assert with_utm and all(h.startswith("https://ex.org/p?x=1&utm_source=newsletter") for h in with_utm)
    assert "utm_campaign=2026-11" in with_utm[0]
    others = [a.get("href") for a in doc.xpath("//a") if "ex.org/p" not in a.get("href")]
    assert others and not any("utm_" in h for h in others)  # view in browser, unsubscribe untouched
    assert add_utm("https://e.org/?utm_source=mine", {"utm_source": "x"}) == "https://e.org/?utm_source=mine"


def test_sections_headings_in_order() -> None:
    a = Item(title="Lead story", teaser="t", url="https://e.org/1")
    b = Item(title="Sectioned", teaser="t", url="https://e.org/2")
    c = Item(title="Undeclared", teaser="t", url="https://e.org/3")
    secs = group_sections(["Local"], [(None, a), ("Local", b), ("Sport", c)])
    assert [s.title for s in secs] == [None, "Local", "Sport"]
    out = render_issue(issue(sections=secs), settings())
    doc = lxml.html.document_fromstring(out.html)
    headings = [(h.tag, h.text_content().strip()) for h in doc.xpath("//h1|//h2|//h3")]
    assert headings == [("h1", "This week in the valley"), ("h2", "Lead story"), ("h2", "Local"),
                        ("h3", "Sectioned"), ("h2", "Sport"), ("h3", "Undeclared")]
    levels = [int(tag[1]) for tag, _ in headings]
    assert all(b - a <= 1 for a, b in zip(levels, levels[1:], strict=False))


def test_html_has_lang_dir_title_and_rtl() -> None:
    out = render_issue(issue(hostile_item()), settings(language="ar"))
    doc = lxml.html.document_fromstring(out.html)
    assert doc.get("lang") == "ar" and doc.get("dir") == "rtl"
    assert doc.findtext(".//title") == "This week in the valley"


def test_theme_colours_keep_contrast_for_any_brand_colour() -> None:
    for brand in ("#1a73e8", "#ffeb3b", "#00ff00", "#222222", "#e91e63", "not-a-colour"):
        c = theme_colors(brand)
        assert contrast(c["header_text"], c["header_bg"]) >= 4.5
        assert contrast(c["link"], "#ffffff") >= 4.5
        assert contrast(c["button_text"], c["button"]) >= 4.5


def test_user_template_overrides_one_block(tmp_path: Path) -> None:
    (tmp_path / "digest.toml").write_text('[newsletter]\nname = "Valley Weekly"\n')
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "email.html").write_text(
        '{% extends "theme/email.html" %}{% block footer_extra %}<p class="custom">Printed on recycled '
        'electrons.</p>{% endblock %}')
    s = load_settings(tmp_path)
    out = render_issue(issue(hostile_item()), s)
    assert '<p class="custom">Printed on recycled electrons.</p>' in out.html
    assert "dg-preheader" in out.html and "Unsubscribe" in out.html  # the rest of the theme is kept
    assert "Printed on recycled electrons." in out.web  # web.html extends the user's email.html
    assert not re.search(r"Printed on recycled", out.text)


def test_article_in_another_language_is_marked() -> None:
    fr = make_item(Article(source="a", title="Le pont rouvre", text="x", kind="html", lang="fr",
                           url="https://e.org/fr"), "Le vieux pont a rouvert.", {}, image=None, utm={})
    en = make_item(Article(source="b", title="Bridge", text="x", kind="html", lang="en-GB",
                           url="https://e.org/en"), "It reopened.", {}, image=None, utm={})
    bad = make_item(Article(source="c", title="Odd", text="x", kind="html", lang='"><script>',
                            url="https://e.org/x"), "t", {}, image=None, utm={})
    doc = lxml.html.document_fromstring(render_issue(issue(fr, en, bad), settings()).html)
    cells = doc.xpath("//td[contains(@class,'dg-article')]")
    assert [c.get("lang") for c in cells] == ["fr", None, None]


def _override(tmp_path: Path, body: str, name: str = "email.html") -> Settings:
    (tmp_path / "digest.toml").write_text('[newsletter]\nname = "Valley Weekly"\n')
    (tmp_path / "templates").mkdir(exist_ok=True)
    (tmp_path / "templates" / name).write_text(body)
    return load_settings(tmp_path)


@pytest.mark.parametrize("expr", [
    "cycler.__init__.__globals__.os.popen('id').read()",
    "joiner.__init__.__globals__['os'].system('touch {marker}')",
    "''.__class__.__mro__[1].__subclasses__()",
])
def test_a_template_override_cannot_reach_python(tmp_path: Path, expr: str) -> None:
    from digest.compose.render import TemplateProblem

    marker = tmp_path / "ran"
    s = _override(tmp_path, '{% extends "theme/email.html" %}{% block footer_extra %}\n\n'
                  "<p>{{ " + expr.replace("{marker}", str(marker)) + " }}</p>{% endblock %}")
    with pytest.raises(TemplateProblem) as info:
        render_issue(issue(hostile_item()), s)
    text = str(info.value)
    assert "sandbox" in text and str(tmp_path / "templates" / "email.html") + ", line 3" in text
    assert not marker.exists()


def test_template_errors_name_the_file_and_line(tmp_path: Path) -> None:
    from digest.compose.render import TemplateProblem

    s = _override(tmp_path, "line one\n{% if %}\n")
    with pytest.raises(TemplateProblem, match=r"templates/email.html, line 2: template syntax error"):
        render_issue(issue(hostile_item()), s)
    s = _override(tmp_path, "one\ntwo\n{{ no_such_value }}\n")
    with pytest.raises(TemplateProblem, match=r"templates/email.html, line 3: template error: 'no_such_value'"):
        render_issue(issue(hostile_item()), s)
