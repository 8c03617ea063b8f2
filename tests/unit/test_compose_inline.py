"""premailer: tokens in hrefs survive byte for byte, the dark-mode block is untouched, no network."""

from __future__ import annotations

import re
import socket

import lxml.html

from digest import merge
from digest.compose.inline import inline_css
from digest.compose.render import Issue, Item, Section, render_issue
from digest.config import Settings


def rendered() -> str:
    s = Settings()
    s.data["newsletter"].update({"name": "V", "postal_address": "Addr", "web_base_url": "https://v.example.org/"})
    issue = Issue(subject="S", preheader="P", intro="", date="2026-11-27", slug="s",
                  sections=[Section(None, [Item(title="T", teaser="t", url="https://e.org/a?x=1&y=2",
                                                reading_minutes=1)])])
    return render_issue(issue, s).html


def test_merge_tokens_in_hrefs_survive_inlining_byte_for_byte() -> None:
    before = rendered()
    tok = merge.token("unsubscribe_url", "HTML")
    # a URL with a token inside it, the case premailer's URL rewriting would mangle
    before = before.replace('href="' + tok + '"',
                            f'href="https://v.example.org/u?e={merge.token("email", "URL")}&amp;t={tok}"')
    after = inline_css(before)
    assert f'href="https://v.example.org/u?e={merge.token("email", "URL")}&amp;t={tok}"' in after
    assert sorted(re.findall(r"__DG_\w+?__", before)) == sorted(re.findall(r"__DG_\w+?__", after))


def test_dark_mode_block_is_kept_untouched_with_important() -> None:
    before = rendered()
    block = re.search(r'<style data-premailer="ignore">(.*?)</style>', before, re.S).group(1)
    after = inline_css(before)
    assert block in after
    assert "@media (prefers-color-scheme:dark)" in after and "!important" in block


def test_styles_are_inlined_and_classes_kept() -> None:
    doc = lxml.html.document_fromstring(inline_css(rendered()))
    h1 = doc.xpath("//h1")[0]
    assert "font-size:28px" in h1.get("style") and "dg-h1" in h1.get("class")


def test_no_remote_stylesheet_is_fetched(monkeypatch) -> None:
    attempts: list[object] = []

    def refuse(self, address):  # noqa: ANN001
        attempts.append(address)
        raise OSError("network refused by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    html = rendered().replace("</head>", '<link rel="stylesheet" href="https://127.0.0.1:9/x.css"></head>')
    out = inline_css(html)  # allow_network=False: premailer must not even try
    assert "<h1" in out
    assert attempts == []


def test_mso_conditional_comments_survive() -> None:
    out = inline_css(rendered())
    assert "<!--[if mso]>" in out and '<table role="presentation" align="center" width="600"' in out
