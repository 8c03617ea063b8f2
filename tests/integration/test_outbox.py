"""The outbox backend end to end: send_issue on a built issue, one .eml per valid unique recipient."""

from __future__ import annotations

import email
import email.policy
import quopri
import re
from pathlib import Path

import pytest
from fixtures.deliver.newsletter import SECRET, make_issue, write_csv

from digest import merge
from digest.compose.message import load_draft
from digest.deliver import suppressions
from digest.deliver.journal import Journal, journal_path
from digest.deliver.send import send_issue
from digest.deliver.unsubscribe import verify_token
from digest.errors import SendRefused

ROWS = ["ann@example.com,Ann", "not-an-address,Bob", "ANN@example.com,Ann again", "cy@example.org,",
        "dee@example.net,Dee", "eve@@example.com,Eve"]


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_UNSUBSCRIBE_SECRET", SECRET)
    monkeypatch.delenv("DIGEST_SUPPRESSIONS", raising=False)


def _messages(issue: Path) -> dict[str, email.message.EmailMessage]:
    out = {}
    for path in sorted((issue / "outbox").glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        out[str(msg["To"])] = msg
    return out


def test_one_eml_per_valid_unique_recipient(tmp_path: Path) -> None:
    issue = make_issue(tmp_path)
    csv = write_csv(tmp_path / "r.csv", ROWS)
    report = send_issue(issue, csv, "outbox")
    assert report.ok
    msgs = _messages(issue)
    assert sorted(msgs) == ["ann@example.com", "cy@example.org", "dee@example.net"]
    assert report.summary.sent == 3
    assert report.summary.skipped == {"invalid": 2, "duplicate": 1}
    assert {(p.line, p.kind) for p in report.problems} == {(3, "invalid"), (4, "duplicate"), (7, "invalid")}
    ids = set()
    for to, msg in msgs.items():
        assert msg.get_content_type() == "multipart/alternative"
        parts = list(msg.iter_parts())
        assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
        for header in ("From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe"):
            assert msg[header], (to, header)
        assert msg["From"].addresses[0].addr_spec == "news@harbour.example.com"
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        url = str(msg["List-Unsubscribe"]).split(",")[0].strip().strip("<>")
        assert url.startswith("https://harbour.example.com/unsub?t=")
        assert verify_token(url.split("t=", 1)[1], SECRET.encode()) == to  # the recipient's own signed link
        assert "mailto:leave@harbour.example.com" in str(msg["List-Unsubscribe"])
        ids.add(str(msg["Message-ID"]))
        text = parts[0].get_content()
        assert "__DG_" not in text and "__DG_" not in parts[1].get_content()
    assert len(ids) == 3
    assert "Ann" in msgs["ann@example.com"].get_body(("plain",)).get_content()
    assert "reader" in msgs["cy@example.org"].get_body(("plain",)).get_content()  # empty first_name → default


def test_rerun_sends_nobody_twice(tmp_path: Path) -> None:
    issue = make_issue(tmp_path)
    csv = write_csv(tmp_path / "r.csv", ROWS[:2])
    send_issue(issue, csv, "outbox")
    first = {p.name: p.stat().st_mtime_ns for p in (issue / "outbox").glob("*.eml")}
    csv = write_csv(tmp_path / "r.csv", ROWS)  # the list grew
    report = send_issue(issue, csv, "outbox")
    assert report.sent_now == 2 and report.summary.sent == 3
    after = {p.name: p.stat().st_mtime_ns for p in (issue / "outbox").glob("*.eml")}
    assert all(after[name] == mtime for name, mtime in first.items())  # ann's file was not written again
    assert send_issue(issue, csv, "outbox").sent_now == 0


def test_suppressed_address_is_skipped(tmp_path: Path) -> None:
    issue = make_issue(tmp_path)
    suppressions.add(issue.parent / "suppressions.csv", [suppressions.Entry("Dee@Example.NET", "unsubscribe")])
    report = send_issue(issue, write_csv(tmp_path / "r.csv", ROWS), "outbox")
    assert "dee@example.net" not in _messages(issue)
    assert report.summary.skipped["suppressed"] == 1 and report.ok


def test_inflight_at_startup_is_held_as_unknown(tmp_path: Path) -> None:
    issue = make_issue(tmp_path)
    send_issue(issue, write_csv(tmp_path / "r.csv", ROWS[:1]), "outbox")
    # As if a process died after committing the next batch inflight, before the answer: cy and dee.
    with Journal(journal_path(issue), "issue-7") as j:
        j.begin_batch(j.next_batch_number(), ["cy@example.org", "dee@example.net"])
    csv = write_csv(tmp_path / "r.csv", ROWS)
    report = send_issue(issue, csv, "outbox")
    assert report.recovered_unknown == 2 and report.summary.unknown == 2 and not report.ok
    assert sorted(_messages(issue)) == ["ann@example.com"]  # held, not sent
    report = send_issue(issue, csv, "outbox", resend_unknown=True)
    assert report.ok and report.summary.sent == 3 and report.sent_now == 2
    assert sorted(_messages(issue)) == ["ann@example.com", "cy@example.org", "dee@example.net"]


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    issue = make_issue(tmp_path)
    report = send_issue(issue, write_csv(tmp_path / "r.csv", ROWS), "outbox", dry_run=True)
    assert report.would_send == 3 and report.batch_count == 1
    assert report.batches[0][1:] == (3, "ann@example.com", "dee@example.net")
    assert not (issue / "outbox").exists() and not journal_path(issue).exists()
    assert report.summary.skipped == {"invalid": 2, "duplicate": 1}


def test_test_copy_is_outside_the_journal(tmp_path: Path) -> None:
    issue = make_issue(tmp_path)
    report = send_issue(issue, None, "outbox", test_email="me@example.org")
    assert report.ok
    [path] = (issue / "outbox" / "test").glob("*.eml")
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert str(msg["Subject"]).startswith("[TEST] Harbour Notes")
    assert not journal_path(issue).exists()
    assert list((issue / "outbox").glob("*.eml")) == []


@pytest.mark.parametrize("tables,needle", [
    ({"newsletter": {"from_email": ""}}, "no sender"),
    ({"newsletter": {"postal_address": ""}}, "no postal address"),
    ({"unsubscribe": {"url": "", "mailto": ""}}, "no unsubscribe method"),
])
def test_blocking_problems_refuse(tmp_path: Path, tables: dict, needle: str) -> None:
    issue = make_issue(tmp_path, rebuild=True, **tables)
    with pytest.raises(SendRefused, match=needle):
        send_issue(issue, write_csv(tmp_path / "r.csv", ROWS), "outbox")
    assert not (issue / "outbox").exists()


def test_https_template_without_secret_refuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    issue = make_issue(tmp_path)
    monkeypatch.delenv("DIGEST_UNSUBSCRIBE_SECRET")
    with pytest.raises(SendRefused, match="DIGEST_UNSUBSCRIBE_SECRET is not set"):
        send_issue(issue, write_csv(tmp_path / "r.csv", ROWS), "outbox")


def test_mailto_only_needs_no_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    issue = make_issue(tmp_path, unsubscribe={"url": ""})
    monkeypatch.delenv("DIGEST_UNSUBSCRIBE_SECRET")
    report = send_issue(issue, write_csv(tmp_path / "r.csv", ROWS[:1]), "outbox")
    assert report.ok
    msg = next(iter(_messages(issue).values()))
    assert str(msg["List-Unsubscribe"]).startswith("<mailto:leave@harbour.example.com")
    assert msg["List-Unsubscribe-Post"] is None


def test_footer_names_each_recipient_in_the_raw_bytes(tmp_path: Path) -> None:
    """"Sent to {email}": each copy carries its own address in both parts (read from the file's bytes)."""
    issue = make_issue(tmp_path)
    key = load_draft(issue).merge_key
    assert merge.token("email", "HTML", key) in (issue / "build" / "email.html").read_text(encoding="utf-8")
    csv = write_csv(tmp_path / "r.csv", ROWS[:1] + ["dee@example.net,Dee"])
    assert send_issue(issue, csv, "outbox").ok
    files = sorted((issue / "outbox").glob("*.eml"))
    assert len(files) == 2
    for path in files:
        raw = path.read_bytes()
        to = re.search(rb"^To: (\S+)\r?$", raw, re.MULTILINE)
        assert to is not None
        body = quopri.decodestring(raw.split(b"\r\n\r\n", 1)[1])
        assert b"Sent to " + to.group(1) + b" because" in body
        assert b"__DG_" not in body
