"""Merge fields the editor writes in the subject and the intro (``{first_name}``): filled per recipient the same
way by the outbox, SMTP and SendGrid, and in the preview; never sent as a literal. Subjects are read from the
raw bytes of what left (the .eml files, what the SMTP server received, the JSON SendGrid received)."""

from __future__ import annotations

import json
import quopri
import re
from pathlib import Path

import pytest
from conftest import shared_path
from fixtures.deliver.newsletter import SECRET, make_issue, write_csv
from fixtures.deliver.smtpserver import Recorder, SmtpServer
from integration.sendgrid_standin import SendGridStandIn

from digest import merge
from digest.compose.build import build_issue
from digest.compose.message import load_draft, personalize
from digest.deliver.send import send_issue
from digest.errors import DigestError
from digest.model import Personal
from digest.preview import page

pytestmark = pytest.mark.integration

ROWS = ["ann@example.com,Ann", "bo@example.org,", "cy@example.net,Cy"]
WANT = {"ann@example.com": "Ann", "bo@example.org": "reader", "cy@example.net": "Cy"}  # empty → [merge] default


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_UNSUBSCRIBE_SECRET", SECRET)
    monkeypatch.delenv("DIGEST_SUPPRESSIONS", raising=False)


def _issue(tmp_path: Path, **tables: dict[str, object]) -> Path:
    issue = make_issue(tmp_path, **tables)
    toml = issue / "issue.toml"
    text = toml.read_text(encoding="utf-8")
    text = re.sub(r'(?m)^subject = ".*"$', 'subject = "Tides for {first_name} {{not a field}}"', text)
    text = re.sub(r'(?ms)^intro = """.*?"""$', 'intro = """\nGood morning {first_name},\nthe tide\nturns.\n"""',
                  text)
    toml.write_text(text, encoding="utf-8")
    build_issue(issue)
    return issue


def _subject_line(data: bytes) -> bytes:
    head = data.split(b"\r\n\r\n", 1)[0]
    return re.search(rb"(?m)^Subject: ([^\r\n]*)\r$", head + b"\r").group(1)  # type: ignore[union-attr]


def _text_part(data: bytes) -> str:
    part = data.split(b'Content-Type: text/plain; charset="utf-8"', 1)[1].split(b"\r\n\r\n", 1)[1]
    return quopri.decodestring(part.split(b"\r\n--=_dg_")[0]).decode("utf-8")


def test_the_build_turns_fields_into_tokens_and_warns_about_missing_defaults(tmp_path: Path) -> None:
    issue = _issue(tmp_path)
    draft = load_draft(issue)
    assert draft.subject == f"Tides for {merge.token('first_name', 'TEXT', draft.merge_key)} {{not a field}}"
    assert "{first_name}" not in draft.html + draft.text
    toml = issue / "issue.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("{first_name} {{", "{city} {{"), encoding="utf-8")
    warnings = build_issue(issue).warnings
    assert any("{city}" in w and "[merge]" in w for w in warnings)
    assert not any("{first_name}" in w for w in warnings)  # it has a default in [merge]


def test_outbox_sends_each_recipient_their_subject(tmp_path: Path) -> None:
    issue = _issue(tmp_path)
    assert send_issue(issue, write_csv(tmp_path / "r.csv", ROWS), "outbox").ok
    files = sorted((issue / "outbox").glob("*.eml"))
    assert len(files) == 3
    for path in files:
        data = path.read_bytes()
        to = next(e for e in WANT if b"\r\nTo: " + e.encode() + b"\r\n" in data)
        assert _subject_line(data) == f"Tides for {WANT[to]} {{not a field}}".encode()
        flowed = " ".join(_text_part(data).split())
        assert f"Good morning {WANT[to]}, the tide turns." in flowed
        assert "{first_name}" not in flowed and "__DG_" not in flowed


def test_smtp_sends_each_recipient_their_subject(tmp_path: Path) -> None:
    rec = Recorder()
    with SmtpServer(rec) as srv:
        issue = _issue(tmp_path, smtp={"host": "127.0.0.1", "port": srv.port, "timeout": 5})
        assert send_issue(issue, write_csv(tmp_path / "r.csv", ROWS), "smtp").ok
    with rec.lock:
        raw = list(rec.raw)
    assert len(raw) == 3
    for rcpts, data in raw:
        assert _subject_line(data) == f"Tides for {WANT[rcpts[0]]} {{not a field}}".encode()


def test_sendgrid_substitutes_the_subject(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with SendGridStandIn(spec=shared_path("sendgrid", "tsg_mail_v3.json"), api_key="SG.k", keep_bodies=True) as sg:
        monkeypatch.setenv("SENDGRID_API_KEY", "SG.k")
        monkeypatch.setenv("DIGEST_SENDGRID_HOST", sg.url)
        issue = _issue(tmp_path, sendgrid={"timeout": 5.0, "max_attempts": 1})
        assert send_issue(issue, write_csv(tmp_path / "r.csv", ROWS), "sendgrid").ok
    key = load_draft(issue).merge_key
    tok = merge.token("first_name", "TEXT", key)
    [rec] = [r for r in sg.records if r.path == "/v3/mail/send"]
    body = json.loads(rec.raw or b"{}")
    assert body["subject"] == f"Tides for {tok} {{not a field}}"
    subs = {p["to"][0]["email"]: p["substitutions"][tok] for p in body["personalizations"]}
    assert subs == WANT
    for d in sg.deliveries:  # what SendGrid makes of it
        assert d.subject == f"Tides for {WANT[d.email]} {{not a field}}"
        assert f"Good morning {WANT[d.email]}, the tide turns." in " ".join(d.text.split())


def test_preview_shows_the_subject_the_outbox_sends(tmp_path: Path) -> None:
    issue = _issue(tmp_path)
    draft = load_draft(issue)
    reader = page.Reader("Ann", "ann@example.com", {"first_name": "Ann"})
    shown = page.fill(draft.subject, page.reader_values(draft, reader), draft.merge_key)
    sent = personalize(draft, Personal("ann@example.com", merge.values({"first_name": "Ann"},
                                                                       draft.merge_defaults, key=draft.merge_key)))
    assert shown == str(sent["Subject"]) == "Tides for Ann {not a field}"


def test_a_value_with_a_line_break_never_reaches_the_header_block(tmp_path: Path) -> None:
    issue = _issue(tmp_path)
    csv = tmp_path / "r.csv"
    csv.write_text('email,first_name\nevil@example.org,"Eve\r\nBcc: victim@example.com"\n', encoding="utf-8")
    assert send_issue(issue, csv, "outbox").ok
    [path] = (issue / "outbox").glob("*.eml")
    head = path.read_bytes().split(b"\r\n\r\n", 1)[0]
    assert not re.search(rb"(?mi)^bcc:", head)  # the CSV reader flattened the value; the subject holds it
    assert _subject_line(path.read_bytes()) == b"Tides for Eve Bcc: victim@example.com {not a field}"
    # Should a value with a line break reach personalize anyway, that recipient fails with a clear error.
    draft = load_draft(issue)
    values = merge.values({"first_name": "Eve\r\nBcc: victim@example.com"}, {}, key=draft.merge_key)
    with pytest.raises(DigestError, match="subject for 'evil@example.org'.*line break"):
        personalize(draft, Personal("evil@example.org", values))
