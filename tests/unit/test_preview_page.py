"""The preview's pure helpers: request paths, forced colour schemes, merge fields, panel rows, error places."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field

import jinja2
import pytest

from digest import merge
from digest.compose.message import SAMPLE_TOKEN_KEY, Draft
from digest.deliver.unsubscribe import make_token
from digest.errors import ConfigError
from digest.model import Article
from digest.preview import page

# --- request paths ----------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [
    "/../../etc/passwd",
    "/..",
    "/build/../issue.toml",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
    "/%252e%252e/%252e%252e/etc/passwd",
    "/%25252e%25252e/etc/passwd",
    "/..%2f..%2fetc/passwd",
    "/..\\..\\etc\\passwd",
    "/..%5c..%5cetc%5cpasswd",
    "/%5c%5cserver%5cshare",
    "/images/%00.png",
    "/.cache/abc.json",
    "/./email.html",
    "/static/%2e%2e/server.py",
])
def test_traversal_and_hidden_paths_are_refused(target: str) -> None:
    assert page.clean_path(target) is None


@pytest.mark.parametrize(("target", "expected"), [
    ("/", ""),
    ("/email.html?r=1&scheme=dark", "email.html"),
    ("/static/preview.js#x", "static/preview.js"),
    ("//etc/passwd", "etc/passwd"),  # stays below the served root, where nothing has that name
    ("/images/caf%C3%A9.png", "images/café.png"),
    ("/a//b/", "a/b"),
])
def test_ordinary_paths_are_relative_and_decoded_once(target: str, expected: str) -> None:
    assert page.clean_path(target) == expected


# --- colour schemes ----------------------------------------------------------------------------------

EMAIL = """<!DOCTYPE html><html><head>
<meta name="color-scheme" content="light dark">
<style>.card{background:#fff}</style>
<style data-premailer="ignore">
@media (prefers-color-scheme:dark){ .card{background:#1e1e1e !important} }
@media screen and (prefers-color-scheme: light) and (max-width: 600px){ .card{color:#000} }
@media screen and (max-width:480px){ .card{padding:0} }
</style></head>
<body><picture><source srcset="logo-dark.png" media="(prefers-color-scheme: dark)">
<img src="logo.png" alt="x"></picture>
<p>CSS tip: write @media (prefers-color-scheme: dark) in your own site.</p></body></html>"""


def test_dark_makes_the_dark_rules_apply_and_the_light_ones_not() -> None:
    out = page.force_scheme(EMAIL, "dark")
    assert f"@media {page.ALWAYS}{{ .card{{background:#1e1e1e" in out
    assert f"@media screen and {page.NEVER} and (max-width: 600px)" in out
    assert "@media screen and (max-width:480px)" in out  # unrelated queries untouched
    assert f'media="{page.ALWAYS}"' in out  # <picture><source media>
    assert "<p>CSS tip: write @media (prefers-color-scheme: dark) in your own site.</p>" in out  # text untouched
    assert ":root{color-scheme:dark !important}" in out  # the email declares light dark


def test_light_is_forced_too_so_an_editor_in_dark_mode_still_sees_light() -> None:
    out = page.force_scheme(EMAIL, "light")
    assert f"@media {page.NEVER}{{ .card{{background:#1e1e1e" in out
    assert f"@media screen and {page.ALWAYS} and (max-width: 600px)" in out
    assert ":root{color-scheme:light !important}" in out


def test_an_email_without_dark_support_keeps_a_light_canvas_in_dark_mode() -> None:
    plain = "<html><head><style>p{color:#333}</style></head><body><p>hi</p></body></html>"
    out = page.force_scheme(plain, "dark")
    assert ":root{color-scheme:light !important}" in out
    assert out.index("<head>") < out.index("color-scheme")


def test_unknown_scheme_is_refused() -> None:
    with pytest.raises(ValueError):
        page.force_scheme(EMAIL, "sepia")


def test_text_page_escapes_the_text() -> None:
    out = page.text_page("a <b> & c", "dark")
    assert "a &lt;b&gt; &amp; c" in out and "color-scheme:dark" in out


def test_local_images_point_at_the_build_copies_only_when_copied() -> None:
    doc = ('<img src="https://cdn.example/n/abc.png"><img src="https://cdn.example/n/zzz.png">'
           '<img src="https://other.example/abc.png">')
    out = page.local_images(doc, "https://cdn.example/n/", {"abc.png"})
    assert out == ('<img src="/images/abc.png"><img src="https://cdn.example/n/zzz.png">'
                   '<img src="https://other.example/abc.png">')
    assert page.local_images(doc, "", {"abc.png"}) == doc


# --- merge fields ------------------------------------------------------------------------------------


def _draft(**kw: object) -> Draft:
    html = (f"<p>Hi {merge.token('first_name', 'HTML')},</p><p>{merge.token('city', 'HTML')}</p>"
            f"<a href=\"{merge.token('unsubscribe_url', 'HTML')}\">Unsubscribe</a>")
    text = "Hi " + merge.token("first_name", "TEXT")
    base: dict[str, object] = dict(subject="S", preheader="P", html=html, text=text, slug="s",
                                   merge_defaults={"first_name": "there"},
                                   unsubscribe_url="https://ex.example/u?t={token}&e={email}")
    base.update(kw)
    return Draft(**base)  # type: ignore[arg-type]


def test_reader_values_fill_like_a_send_and_escape_for_html() -> None:
    draft = _draft()
    reader = page.Reader("Zoë", "zoe+news@ex.example", {"first_name": "Zoë <Z>", "city": "Leeds"})
    out = page.fill(draft.html, page.reader_values(draft, reader))
    assert "Hi Zoë &lt;Z&gt;," in out
    assert "<p>Leeds</p>" in out
    token = make_token("zoe+news@ex.example", SAMPLE_TOKEN_KEY)  # real length, under the public sample key
    assert f'href="https://ex.example/u?t={token}&amp;e=zoe%2Bnews%40ex.example"' in out
    assert "__DG_" not in out


def test_empty_fields_take_the_defaults_and_unknown_fields_show_their_name() -> None:
    draft = _draft()
    out = page.fill(draft.html, page.reader_values(draft, page.Reader("x", "x@ex.example", {"first_name": ""})))
    assert "Hi there," in out
    assert "<p>[city]</p>" in out


def test_example_readers_come_first_without_recipients() -> None:
    readers = page.example_readers({"first_name": "friend"})
    assert readers[0].fields["first_name"] == "Alex"
    assert readers[1].fields["first_name"] == ""  # shows the defaults
    draft = _draft()
    assert "Hi Alex" in page.fill(draft.text, page.reader_values(draft, readers[0]))
    assert "Hi there" in page.fill(draft.text, page.reader_values(draft, readers[1]))


# --- panel rows --------------------------------------------------------------------------------------


@dataclass
class E:  # an issue.toml entry, as compose.issue_file.Entry
    index: int
    source: str
    section: str | None = None
    overrides: dict[str, str] = field(default_factory=dict)


@dataclass
class I:  # noqa: E742 - an Item of the built email
    title: str
    teaser: str
    url: str | None
    source: str


def _article(source: str, title: str, words: int) -> Article:
    return Article(source=source, title=title, text=" ".join(["word"] * words), kind="text")


def test_panel_rows_follow_issue_order_and_take_their_warnings() -> None:
    entries = [E(1, "/a.txt"), E(2, "https://gone.example/x"), E(3, "/c.md", "Later"), E(4, "/d.html")]
    articles = {1: _article("/a.txt", "Alpha (A)", 120), 2: None,
                3: _article("/c.md", "Gamma", 40), 4: _article("/d.html", "Delta", 300)}
    # the email groups by section: Alpha, Delta, then section "Later": Gamma
    items = [I("Alpha (A)", "Alpha teaser", "https://a.example", "/a.txt"),
             I("Delta", "Delta teaser cut…", "https://d.example", "/d.html"),
             I("Gamma", "Gamma teaser", None, "/c.md")]
    warnings = [
        "article 2 (https://gone.example/x) skipped: https://gone.example/x: HTTP 404",
        "article 1 (Alpha (A)): image has no alt text (set image_alt in issue.toml)",
        "article 3 (Gamma): no http(s) link; the title is shown without one",
        "articles 1 (Alpha (A)) and 3 (Delta) seem to tell the same story (similarity 0.91)",
        "newsletter.postal_address is not set in digest.toml (required by CAN-SPAM)",
    ]
    rows, general = page.panel_rows(entries, articles, items, warnings)
    assert [r["index"] for r in rows] == [1, 2, 3, 4]
    assert [r["words"] for r in rows] == [120, None, 40, 300]
    assert rows[0]["teaser"] == "Alpha teaser" and rows[0]["url"] == "https://a.example"
    assert rows[1]["in_email"] is False and rows[1]["warnings"][0].startswith("skipped: ")
    assert rows[0]["warnings"][0] == "image has no alt text (set image_alt in issue.toml)"
    # duplicates are numbered among the articles in the email: 1 → entry 1, 3 → entry 4
    assert "may be the same story as #4 (Delta)" in rows[0]["warnings"]
    assert "may be the same story as #1 (Alpha (A))" in rows[3]["warnings"]
    assert "teaser ends with an ellipsis (shortened)" in rows[3]["warnings"]
    assert rows[2]["warnings"] == ["no http(s) link; the title is shown without one"]
    assert general == ["newsletter.postal_address is not set in digest.toml (required by CAN-SPAM)"]


def test_panel_rows_match_items_by_override_title() -> None:
    entries = [E(1, "/same.txt", overrides={"title": "First take"}), E(2, "/same.txt", overrides={"title": "Second"})]
    art = _article("/same.txt", "Original", 10)
    items = [I("Second", "two", None, "/same.txt"), I("First take", "one", None, "/same.txt")]
    rows, _ = page.panel_rows(entries, {1: art, 2: art}, items, [])
    assert [(r["title"], r["teaser"]) for r in rows] == [("First take", "one"), ("Second", "two")]


# --- error locations ---------------------------------------------------------------------------------


def test_template_syntax_error_names_file_and_line() -> None:
    env = jinja2.Environment(loader=jinja2.DictLoader({"email.html": "line one\nline two\n{{ x | no_such_filter }}"}))
    with pytest.raises(jinja2.TemplateSyntaxError) as info:
        env.get_template("email.html")
    got = page.error_info(info.value)
    assert got["file"] == "email.html" and got["line"] == 3
    assert got["message"] == "TemplateAssertionError: No filter named 'no_such_filter'."


def test_toml_error_in_a_digest_message_names_file_and_line() -> None:
    try:
        tomllib.loads('subject = "ok"\nbroken = \n')
    except tomllib.TOMLDecodeError as exc:
        err = ConfigError(f"/x/issue.toml: not valid TOML: {exc}")
    got = page.error_info(err)
    assert got["file"] == "/x/issue.toml" and got["line"] == 2
    assert not got["message"].startswith("ConfigError")


def test_an_error_without_a_place_has_no_file() -> None:
    got = page.error_info(RuntimeError("boom"))
    assert got == {"message": "RuntimeError: boom", "file": None, "line": None}
