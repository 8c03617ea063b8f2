"""The SMTP backend against a real aiosmtpd server on 127.0.0.1: reuse, refusals, drops, resume."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.deliver.journal import Journal, journal_path
from digest.deliver.send import send_issue
from digest.errors import DigestError, SendRefused
from tests.support.newsletter import SECRET, make_issue, write_csv
from tests.support.smtpserver import Recorder, SmtpServer, free_port

pytestmark = pytest.mark.integration
PEOPLE = [f"p{i}@example.com" for i in range(7)]


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_UNSUBSCRIBE_SECRET", SECRET)
    monkeypatch.delenv("DIGEST_SMTP_PASSWORD", raising=False)
    monkeypatch.delenv("DIGEST_SUPPRESSIONS", raising=False)


def _issue(tmp_path: Path, port: int, **smtp: object) -> Path:
    return make_issue(tmp_path, smtp={"host": "127.0.0.1", "port": port, "timeout": 5, "batch_size": 3, **smtp})



def _csv(tmp_path: Path, people: list[str] = PEOPLE) -> Path:
    return write_csv(tmp_path / "r.csv", [f"{p},Name{i}" for i, p in enumerate(people)])


def _states(issue: Path) -> dict[str, str]:
    with Journal(journal_path(issue), "issue-7") as j:
        return dict(j.db.execute("SELECT key, state FROM recipients"))


def test_one_message_per_recipient_over_one_connection(tmp_path: Path) -> None:
    rec = Recorder(reject={"p3@example.com"})
    with SmtpServer(rec) as srv:
        issue = _issue(tmp_path, srv.port)
        report = send_issue(issue, _csv(tmp_path), "smtp")
    assert sorted(rec.received()) == sorted(p for p in PEOPLE if p != "p3@example.com")
    assert rec.ehlos == 1  # one connection for all seven, across three batches
    for rcpts, msg in rec.messages:
        assert [str(msg["To"])] == rcpts  # each message personalised for its own recipient
        assert msg.get_content_type() == "multipart/alternative"
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        i = PEOPLE.index(rcpts[0])
        assert f"Name{i}" in msg.get_body(("plain",)).get_content()
    assert len({str(m["Message-ID"]) for _, m in rec.messages}) == 6
    assert not report.ok and report.summary.failed == 1 and report.summary.sent == 6
    with Journal(journal_path(issue), "issue-7") as j:
        [(who, why)] = j.rows("failed", 5)
    assert who == "p3@example.com" and why.startswith("550")
    assert _states(issue)["p3@example.com"] == "failed"


def test_permanent_failure_is_not_retried_on_the_next_run(tmp_path: Path) -> None:
    rec = Recorder(reject={"p3@example.com"})
    with SmtpServer(rec) as srv:
        issue = _issue(tmp_path, srv.port)
        send_issue(issue, _csv(tmp_path), "smtp")
        rec.reject.clear()
        report = send_issue(issue, _csv(tmp_path), "smtp")
    assert report.sent_now == 0 and report.summary.failed == 1
    assert rec.received().count("p3@example.com") == 0


def test_connection_dropped_before_the_message_reconnects_and_retries(tmp_path: Path) -> None:
    rec = Recorder(drop_rcpt_once={"p2@example.com", "p5@example.com"})
    with SmtpServer(rec) as srv:
        issue = _issue(tmp_path, srv.port)
        report = send_issue(issue, _csv(tmp_path), "smtp")
    assert sorted(rec.received()) == sorted(PEOPLE)  # everyone exactly once
    assert rec.ehlos == 3  # the first connection and one reconnect per drop
    assert report.ok and set(_states(issue).values()) == {"sent"}


def test_transient_refusal_is_retried(tmp_path: Path) -> None:
    rec = Recorder(tempfail_once={"p1@example.com"})
    with SmtpServer(rec) as srv:
        issue = _issue(tmp_path, srv.port)
        report = send_issue(issue, _csv(tmp_path), "smtp")
    assert report.ok and rec.received().count("p1@example.com") == 1


def test_connection_lost_after_data_is_unknown_and_held(tmp_path: Path) -> None:
    rec = Recorder(drop_after_data_once={"p4@example.com"})
    with SmtpServer(rec) as srv:
        issue = _issue(tmp_path, srv.port)
        report = send_issue(issue, _csv(tmp_path), "smtp")
        assert sorted(rec.received()) == sorted(PEOPLE)  # p4's message did arrive, the answer did not
        assert not report.ok and report.summary.unknown == 1 and report.summary.sent == 6
        assert _states(issue)["p4@example.com"] == "unknown"
        again = send_issue(issue, _csv(tmp_path), "smtp")
        assert again.sent_now == 0 and rec.received().count("p4@example.com") == 1  # held: not sent twice
        resend = send_issue(issue, _csv(tmp_path), "smtp", resend_unknown=True)
    assert resend.ok and resend.sent_now == 1
    assert rec.received().count("p4@example.com") == 2  # the editor asked for it, knowing the risk


def test_server_gone_mid_send_stops_and_resumes(tmp_path: Path) -> None:
    port = free_port()
    rec = Recorder()
    with SmtpServer(rec, port=port):
        issue = _issue(tmp_path, port, max_attempts=2)
        # Send to the first three only, then the server disappears before the next run's batches.
        send_issue(issue, _csv(tmp_path, PEOPLE[:3]), "smtp")
    with pytest.raises(DigestError, match="cannot connect"):
        send_issue(issue, _csv(tmp_path), "smtp")
    assert set(_states(issue).values()) == {"sent"}  # nothing left in flight
    with SmtpServer(rec, port=port):
        report = send_issue(issue, _csv(tmp_path), "smtp")
    assert report.ok and sorted(rec.received()) == sorted(PEOPLE)


def test_server_stops_between_messages(tmp_path: Path) -> None:
    port = free_port()
    rec = Recorder()
    srv = SmtpServer(rec, port=port)
    srv.__enter__()
    issue = _issue(tmp_path, port, max_attempts=2)

    from digest.deliver.backends import smtp as smtp_mod

    real = smtp_mod.SmtpBackend._deliver
    calls = {"n": 0}

    def deliver(self: smtp_mod.SmtpBackend, msg: object, rcpt: str) -> object:
        calls["n"] += 1
        if calls["n"] == 5:
            srv.__exit__()  # the server goes away in the middle of the second batch
        return real(self, msg, rcpt)  # type: ignore[arg-type]

    smtp_mod.SmtpBackend._deliver = deliver  # type: ignore[method-assign]
    try:
        report = send_issue(issue, _csv(tmp_path), "smtp")
    finally:
        smtp_mod.SmtpBackend._deliver = real  # type: ignore[method-assign]
    assert not report.ok and report.error and "could not reconnect" in report.error
    states = _states(issue)
    assert sorted(k for k, v in states.items() if v == "sent") == PEOPLE[:4]
    assert all(states.get(p, "pending") == "pending" for p in PEOPLE[4:])  # never left: back to pending
    with SmtpServer(rec, port=port):
        assert send_issue(issue, _csv(tmp_path), "smtp").ok
    assert sorted(rec.received()) == sorted(PEOPLE)


def test_user_without_password_refuses(tmp_path: Path) -> None:
    issue = _issue(tmp_path, free_port(), user="editor")
    with pytest.raises(SendRefused, match="DIGEST_SMTP_PASSWORD"):
        send_issue(issue, _csv(tmp_path), "smtp")


def test_login_with_password_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aiosmtpd.smtp import AuthResult

    def auth(server: object, session: object, envelope: object, mechanism: str, data: object) -> AuthResult:
        ok = getattr(data, "login", b"") == b"editor" and getattr(data, "password", b"") == b"s3cret-pass"
        return AuthResult(success=ok, handled=False)

    rec = Recorder()
    with SmtpServer(rec, authenticator=auth, auth_require_tls=False) as srv:
        issue = _issue(tmp_path, srv.port, user="editor")
        monkeypatch.setenv("DIGEST_SMTP_PASSWORD", "wrong")
        with pytest.raises(DigestError, match="refused the login for 'editor'") as info:
            send_issue(issue, _csv(tmp_path), "smtp")
        assert "wrong" not in str(info.value)
        monkeypatch.setenv("DIGEST_SMTP_PASSWORD", "s3cret-pass")
        assert send_issue(issue, _csv(tmp_path), "smtp").ok
    assert sorted(rec.received()) == sorted(PEOPLE)


@pytest.mark.parametrize("host", ["mail.harbour.example", "192.0.2.10"])
def test_a_login_over_a_plain_connection_is_refused_unless_the_host_is_loopback(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, host: str) -> None:
    import smtplib

    def no_connection(*args: object, **kwargs: object) -> None:
        raise AssertionError("no connection may be made")  # and none leaves this machine

    monkeypatch.setattr(smtplib, "SMTP", no_connection)
    monkeypatch.setattr(smtplib, "SMTP_SSL", no_connection)
    monkeypatch.setenv("DIGEST_SMTP_PASSWORD", "s3cret-pass")
    issue = make_issue(tmp_path, smtp={"host": host, "port": 25, "user": "editor", "security": "none"})
    with pytest.raises(DigestError, match='security = "none"') as info:
        send_issue(issue, _csv(tmp_path), "smtp")
    assert "starttls" in (info.value.hint or "") and "s3cret" not in str(info.value)


def test_several_connections_send_at_once_each_recipient_once(tmp_path: Path) -> None:
    people = [f"q{i}@example.com" for i in range(12)]
    rec = Recorder(delay=0.2)
    with SmtpServer(rec) as srv:
        issue = _issue(tmp_path, srv.port, batch_size=2, connections=3)
        report = send_issue(issue, _csv(tmp_path, people), "smtp")
    assert report.ok and sorted(rec.received()) == sorted(people)
    assert rec.max_data_at_once >= 2  # messages on different connections overlapped
    assert rec.ehlos <= 3  # each connection persistent: opened once


def test_lost_after_data_with_several_connections_is_unknown_and_held(tmp_path: Path) -> None:
    people = [f"q{i}@example.com" for i in range(12)]
    rec = Recorder(drop_after_data_once={"q5@example.com"}, delay=0.05)
    with SmtpServer(rec) as srv:
        issue = _issue(tmp_path, srv.port, batch_size=2, connections=3)
        report = send_issue(issue, _csv(tmp_path, people), "smtp")
        assert sorted(rec.received()) == sorted(people)
        assert not report.ok and report.summary.unknown == 1 and report.summary.sent == 11
        again = send_issue(issue, _csv(tmp_path, people), "smtp")
    assert again.sent_now == 0 and rec.received().count("q5@example.com") == 1  # held: not sent twice


@pytest.mark.parametrize("connections", [0, 9, "two"])
def test_connections_out_of_range_is_a_clear_error(tmp_path: Path, connections: object) -> None:
    issue = _issue(tmp_path, free_port(), connections=connections)
    with pytest.raises(DigestError, match=r"\[smtp\] (connections must be 1 to 8|connections` must be a whole number)"):
        send_issue(issue, _csv(tmp_path), "smtp")
