"""List-Unsubscribe as mailbox providers read it, from the raw bytes of every sent copy.

Each test sends with real signed tokens (long enough that Python's email package used to turn the header into
``=?utf-8?q?=3Chttps=3A//...``) and reads the header from the bytes that left: the outbox's .eml files, what
the SMTP server received, the JSON body the SendGrid stand-in received. No decoding parser is involved.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import shared_path
from fixtures.deliver.newsletter import SECRET, make_issue, write_csv
from fixtures.deliver.smtpserver import Recorder, SmtpServer
from integration.sendgrid_standin import SendGridStandIn

from digest.compose.check import raw_header
from digest.deliver.send import send_issue
from digest.deliver.unsubscribe import make_token

pytestmark = pytest.mark.integration

# A long address makes a long token (the address is in it): the header runs well past 78 characters.
PEOPLE = ["ann@example.com", "a.very.long.local.part.for.testing.folding@subdomain.harbour-readers.example.org"]
URL = "https://harbour.example.com/unsub?t="
MAILTO = b"<mailto:leave@harbour.example.com?subject=unsubscribe>"


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_UNSUBSCRIBE_SECRET", SECRET)
    monkeypatch.delenv("DIGEST_SUPPRESSIONS", raising=False)


def _csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "r.csv", [f"{p},Name" for p in PEOPLE])


def assert_raw_list_unsubscribe(data: bytes, to: str) -> None:
    """``List-Unsubscribe: <https://...token>,`` then `` <mailto:...>`` on the next line: literal, unencoded."""
    token = make_token(to, SECRET.encode()).encode()
    lines = raw_header(data, "List-Unsubscribe")
    assert lines, data[:400]
    assert lines[0] == b"List-Unsubscribe: <" + URL.encode() + token + b">,", lines
    assert lines[1:] == [b" " + MAILTO]  # folded only at the comma between the two items
    assert all(b"=?" not in line for line in lines)
    head = data.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 998 for line in head.split(b"\r\n"))
    assert re.search(rb"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n", head)
    assert len(lines[0]) > 78  # the case that used to be encoded


def test_outbox_files_carry_the_literal_url(tmp_path: Path) -> None:
    issue = make_issue(tmp_path)
    assert send_issue(issue, _csv(tmp_path), "outbox").ok
    files = sorted((issue / "outbox").glob("*.eml"))
    assert len(files) == 2
    for path in files:
        data = path.read_bytes()
        to = next(p for p in PEOPLE if b"\r\nTo: " + p.encode() + b"\r\n" in data)
        assert_raw_list_unsubscribe(data, to)


def test_smtp_server_receives_the_literal_url(tmp_path: Path) -> None:
    rec = Recorder()
    with SmtpServer(rec) as srv:
        issue = make_issue(tmp_path, smtp={"host": "127.0.0.1", "port": srv.port, "timeout": 5})
        assert send_issue(issue, _csv(tmp_path), "smtp").ok
    with rec.lock:
        raw = list(rec.raw)
    assert sorted(r for rcpts, _ in raw for r in rcpts) == sorted(PEOPLE)
    for rcpts, data in raw:
        assert_raw_list_unsubscribe(data, rcpts[0])


def test_sendgrid_personalization_headers_carry_the_literal_url(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    with SendGridStandIn(spec=shared_path("sendgrid", "tsg_mail_v3.json"), api_key="SG.k",
                         keep_bodies=True) as sg:
        monkeypatch.setenv("SENDGRID_API_KEY", "SG.k")
        monkeypatch.setenv("DIGEST_SENDGRID_HOST", sg.url)
        issue = make_issue(tmp_path, sendgrid={"timeout": 5.0, "max_attempts": 1})
        assert send_issue(issue, _csv(tmp_path), "sendgrid").ok
    [rec] = [r for r in sg.records if r.path == "/v3/mail/send"]
    assert rec.raw is not None
    for to in PEOPLE:
        token = make_token(to, SECRET.encode())
        want = f'"List-Unsubscribe":"<{URL}{token}>, <mailto:leave@harbour.example.com?subject=unsubscribe>"'
        assert want.encode() in rec.raw, rec.raw[:600]
    assert b"=?" not in rec.raw


def test_text_part_signature_separator_survives_quoted_printable(tmp_path: Path) -> None:
    """``-- `` reaches the reader: in the raw quoted-printable its space is ``=20`` (a bare trailing space
    would be stripped in transit), and decoding those bytes gives the line back."""
    import quopri

    issue = make_issue(tmp_path, rebuild=True)
    assert send_issue(issue, write_csv(tmp_path / "r.csv", ["ann@example.com,Ann"]), "outbox").ok
    [path] = (issue / "outbox").glob("*.eml")
    data = path.read_bytes()
    part = data.split(b'Content-Type: text/plain; charset="utf-8"', 1)[1]
    plain = part.split(b"\r\n\r\n", 1)[1].split(b"\r\n--=_dg_")[0]
    assert b"\r\n--=20\r\n" in plain
    assert b"\n-- \n" in quopri.decodestring(plain.replace(b"\r\n", b"\n"))
