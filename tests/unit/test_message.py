"""The MIME message: structure, headers, personalisation, header injection refused, draft round trip."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from digest import merge
from digest.compose.inline import inline_css
from digest.compose.message import (
    SAMPLE_TOKEN_KEY,
    Draft,
    load_draft,
    make_draft,
    personalize,
    sample_message,
    save_draft,
)
from digest.compose.render import Issue, Item, Section, render_issue
from digest.config import Settings
from digest.deliver.unsubscribe import make_token, verify_token
from digest.errors import DigestError
from digest.model import Personal


def settings() -> Settings:
    s = Settings()
    s.data["newsletter"].update({
        "name": "Valley Weekly", "from_email": "news@valley.example.org", "from_name": "Valley Weekly",
        "reply_to": "editor@valley.example.org", "postal_address": "12 Mill Lane, Springfield",
        "web_base_url": "https://valley.example.org/issues/{slug}/",
    })
    s.data["unsubscribe"].update({"url": "https://valley.example.org/u?t={token}",
                                  "mailto": "unsubscribe@valley.example.org"})
    return s


def draft(subject: str = "This week in the valley", s: Settings | None = None) -> Draft:
    s = s or settings()
    issue = Issue(subject="S", preheader="Rivers and tools", intro="Hello.", date="2026-11-27", slug="2026-11",
                  sections=[Section(None, [Item(title="Bridge reopens", teaser="It reopened on Monday.",
                                                url="https://gazette.example.org/bridge", reading_minutes=2)])])
    out = render_issue(issue, s)
    return make_draft(subject=subject, preheader=issue.preheader, html=inline_css(out.html), text=out.text,
                      slug=issue.slug, settings=s, merge_defaults=out.merge_defaults, web_url=None)


def personal(email_addr: str = "ana@example.com", first_name: str = "Ana <b>&", url: str | None = None) -> Personal:
    return Personal(email=email_addr, values=merge.values({"first_name": first_name}, {"first_name": "there"}),
                    unsubscribe_url=url or "https://valley.example.org/u?t=abc123&e=ana%40example.com")


def reparse(msg: EmailMessage) -> EmailMessage:
    return email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)  # type: ignore[return-value]


def test_mime_structure_and_headers() -> None:
    msg = reparse(personalize(draft(), personal()))
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    assert msg["From"] == "Valley Weekly <news@valley.example.org>"
    assert msg["From"].addresses[0].display_name == "Valley Weekly"
    assert msg["To"] == "ana@example.com"
    assert msg["Reply-To"] == "editor@valley.example.org"
    assert msg["Subject"] == "This week in the valley"
    assert email.utils.parsedate_to_datetime(msg["Date"]).tzinfo is not None
    assert msg["Message-ID"].endswith("@valley.example.org>")
    assert msg["List-Id"] == "Valley Weekly <valley-weekly.valley.example.org>"
    assert msg["List-Unsubscribe"] == ("<https://valley.example.org/u?t=abc123&e=ana%40example.com>, "
                                       "<mailto:unsubscribe@valley.example.org?subject=unsubscribe>")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["MIME-Version"] == "1.0"


def test_one_click_header_only_with_an_https_url() -> None:
    p = personal()
    p.unsubscribe_url = None
    msg = reparse(personalize(draft(), p))
    assert msg["List-Unsubscribe"] == "<mailto:unsubscribe@valley.example.org?subject=unsubscribe>"
    assert msg["List-Unsubscribe-Post"] is None
    html = msg.get_body(("html",)).get_content()
    assert 'href="mailto:unsubscribe@valley.example.org?subject=unsubscribe"' in html


def test_values_are_substituted_per_context() -> None:
    msg = reparse(personalize(draft(), personal()))
    html = msg.get_body(("html",)).get_content()
    text = msg.get_body(("plain",)).get_content()
    assert "Hi Ana &lt;b&gt;&amp;," in html and "Hi Ana <b>&," in text
    assert 'href="https://valley.example.org/u?t=abc123&amp;e=ana%40example.com"' in html
    assert "https://valley.example.org/u?t=abc123&e=ana%40example.com" in text.splitlines()
    assert "__DG_" not in html and "__DG_" not in text


def test_empty_value_takes_the_default() -> None:
    msg = reparse(personalize(draft(), personal(first_name="  ")))
    assert "Hi there," in msg.get_body(("plain",)).get_content()


def test_non_ascii_subject_and_name_are_encoded() -> None:
    s = settings()
    s.data["newsletter"]["from_name"] = "Café Wöchentlich"
    raw = personalize(draft("Ünïcödé news ☕", s), personal()).as_bytes()
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Subject"] == "Ünïcödé news ☕"
    assert msg["From"].addresses[0].display_name == "Café Wöchentlich"


@pytest.mark.parametrize("subject", ["Hi\r\nBcc: victim@example.com", "Hi\nX-Evil: 1", "Hi\rX: y"])
def test_subject_with_line_break_is_refused(subject: str) -> None:
    with pytest.raises(DigestError, match="line break"):
        draft(subject)


def test_header_injection_through_recipient_or_url_is_refused() -> None:
    d = draft()
    with pytest.raises(DigestError):
        personalize(d, personal(email_addr="ana@example.com\r\nBcc: victim@example.com"))
    with pytest.raises(DigestError):
        personalize(d, personal(email_addr="Ana <ana@example.com>, bob@example.com"))
    with pytest.raises(DigestError):
        personalize(d, personal(url="https://valley.example.org/u?t=1\r\nBcc: victim@example.com"))
    d.from_name = "Valley\r\nBcc: victim@example.com"
    with pytest.raises(DigestError):
        personalize(d, personal())


def test_merge_value_with_newline_stays_in_the_body() -> None:
    raw = personalize(draft(), personal(first_name="Ana\r\nBcc: victim@example.com")).as_bytes()
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"Bcc" not in head and b"victim" not in head


def test_sample_message_and_draft_round_trip(tmp_path) -> None:
    d = draft()
    save_draft(d, tmp_path)
    again = load_draft(tmp_path)
    assert again == d
    assert again.settings.newsletter["from_email"] == "news@valley.example.org"
    msg = reparse(sample_message(again))
    assert msg["To"] == "reader@example.com"
    token = make_token("reader@example.com", SAMPLE_TOKEN_KEY)
    assert verify_token(token, SAMPLE_TOKEN_KEY) == "reader@example.com"
    assert f"<https://valley.example.org/u?t={token}>" in msg["List-Unsubscribe"]
    assert "Hi there," in msg.get_body(("plain",)).get_content()


def test_sample_message_without_sender_uses_an_example_address() -> None:
    s = settings()
    s.data["newsletter"]["from_email"] = ""
    d = draft(s=s)
    assert sample_message(d)["From"].endswith("<newsletter@example.com>")
    with pytest.raises(DigestError, match="from_email"):
        personalize(d, personal())


def test_load_draft_missing_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(DigestError, match="digest build"):
        load_draft(tmp_path)


def test_fast_quoted_printable_parts_decode_to_the_exact_text() -> None:
    d = draft()
    tricky = ("Ünïcödé ☕ = 3D =\n" + "x" * 300 + "\ntrailing spaces   \n.\n.dot start\nFrom the start\n"
              "tab\tend\t\n" + "é" * 100 + "\n")
    d.text = d.text + tricky
    d.html = d.html.replace("</body>", f"<p>{tricky}</p></body>")
    raw = personalize(d, personal()).as_bytes()
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    text = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = msg.get_body(("html",)).get_content().replace("\r\n", "\n")
    assert text.endswith(tricky)
    assert f"<p>{tricky}</p>" in html
    boundary = msg.get_boundary()
    assert boundary.startswith("=_dg_") and raw.count(boundary.encode()) == 4  # header, two parts, close


@pytest.mark.parametrize("brk", ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1e"])
def test_a_subject_with_any_line_breaking_character_is_a_clear_error(tmp_path: Path, brk: str) -> None:
    from click.testing import CliRunner

    from digest.cli import cli
    from digest.compose.message import check_header_text

    with pytest.raises(DigestError, match="line break"):
        check_header_text(f"Tides{brk}Bcc: everyone@example.com", "subject")
    issue = tmp_path / "issue"
    runner = CliRunner()
    assert runner.invoke(cli, ["new", str(issue), "--subject", "Tides"]).exit_code == 0
    toml = issue / "issue.toml"
    toml.write_text(toml.read_text().replace('subject = "Tides"', f'subject = "Tides\\u{ord(brk):04X}there"'))
    for command in (["build", str(issue)], ["check", str(issue)]):
        result = runner.invoke(cli, command)
        assert result.exit_code == 1
        assert f"subject in {toml} must be a single line (it holds U+{ord(brk):04X}" in result.stderr
        assert "internal error" not in result.stderr
    result = runner.invoke(cli, ["new", str(tmp_path / "other"), "--subject", f"Tides{brk}there"])
    assert result.exit_code == 1 and "must be a single line" in result.stderr
