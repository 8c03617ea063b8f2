"""The Event Webhook's parts: signature checks, event parsing, suppression rules, processing, the HTTP/1.1 host."""

from __future__ import annotations

import base64
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from digest.deliver import events, suppressions
from digest.deliver.report import issue_report
from digest.errors import ConfigError

PRIVATE = ec.generate_private_key(ec.SECP256R1())
PUBLIC = base64.b64encode(PRIVATE.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()


def sign(body: bytes, ts: str) -> str:
    return base64.b64encode(PRIVATE.sign(ts.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()


def ev(kind: str, n: int = 1, email: str = "ann@example.org", issue: str = "week-1", **extra: Any) -> dict[str, Any]:
    return {"email": email, "timestamp": 1_800_000_000 + n, "event": kind, "sg_event_id": f"{kind}-{n}",
            "digest_issue": issue, **extra}


# -- signatures -------------------------------------------------------------------------------------------


def test_a_signed_recent_post_passes_and_every_other_is_refused_with_its_reason() -> None:
    now = 1_800_000_000.0
    verifier = events.Verifier(PUBLIC, max_age=600, clock=lambda: now)
    body = b'[{"event":"open"}]'
    ts = str(int(now) - 30)
    assert verifier.refusal(body, sign(body, ts), ts) is None
    assert verifier.refusal(body, None, ts) == "unsigned"
    assert verifier.refusal(body, sign(body, ts), None) == "unsigned"
    assert verifier.refusal(body + b" ", sign(body, ts), ts) == "bad signature"
    assert verifier.refusal(body, sign(body, ts), str(int(ts) + 1)) == "bad signature"
    assert verifier.refusal(body, "not base64!", ts) == "bad signature"
    assert verifier.refusal(body, base64.b64encode(b"\x30\x00").decode(), ts) == "bad signature"
    assert verifier.refusal(b"\xff\xfe", sign(b"\xff\xfe", ts), ts) == "bad signature"
    old = str(int(now) - 601)
    assert verifier.refusal(body, sign(body, old), old) == "old"
    future = str(int(now) + 3600)
    assert verifier.refusal(body, sign(body, future), future) == "old"
    assert verifier.refusal(body, sign(body, "nan"), "nan") == "old"


def test_the_key_may_come_with_pem_armour_and_a_bad_key_is_one_clear_error() -> None:
    pem = PRIVATE.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    body, ts = b"[]", str(int(time.time()))
    assert events.Verifier(pem).refusal(body, sign(body, ts), ts) is None
    with pytest.raises(ConfigError, match="DIGEST_SENDGRID_WEBHOOK_KEY is not a valid verification key"):
        events.Verifier("c2VjcmV0")


def test_make_app_without_the_key_names_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="DIGEST_SENDGRID_WEBHOOK_KEY is not set"):
        events.make_app(tmp_path, environ={})


# -- events and suppressions ----------------------------------------------------------------------------------


def test_parse_event_keeps_what_digest_uses_and_names_what_is_missing_without_the_address() -> None:
    e = events.parse_event(ev("open", sg_machine_open=True))
    assert isinstance(e, events.Event)
    assert (e.event, e.issue, e.machine, e.ts) == ("open", "week-1", True, 1_800_000_001.0)
    assert events.parse_event(ev("open", sg_machine_open=False)).machine is False  # type: ignore[union-attr]
    assert events.parse_event(["x"]) == "not a JSON object"
    assert events.parse_event({**ev("open"), "sg_event_id": ""}) == "no sg_event_id"
    assert events.parse_event({**ev("open"), "email": "nobody"}) == "no email"
    assert events.parse_event({**ev("open"), "timestamp": "yesterday"}) == "no timestamp"
    assert events.parse_event({**ev("open"), "timestamp": True}) == "no timestamp"


@pytest.mark.parametrize(("event", "reason"), [
    (ev("bounce", type="bounce"), "bounce"),
    (ev("bounce", type="blocked"), None),  # a soft block: SendGrid itself keeps trying later sends
    (ev("deferred"), None),
    (ev("dropped", reason="Bounced Address"), "bounce"),
    (ev("dropped", reason="Invalid"), "invalid"),
    (ev("dropped", reason="Invalid SMTPAPI header"), None),
    (ev("dropped", reason="Spam Reporting Address"), "spam_report"),
    (ev("dropped", reason="Unsubscribed Address"), "unsubscribe"),
    (ev("spamreport"), "spam_report"),
    (ev("unsubscribe"), "unsubscribe"),
    (ev("group_unsubscribe", asm_group_id=3), "group_unsubscribe"),
    (ev("open"), None), (ev("click", url="https://x.org/"), None), (ev("delivered"), None),
])
def test_which_events_suppress(event: dict[str, Any], reason: str | None) -> None:
    parsed = events.parse_event(event)
    assert isinstance(parsed, events.Event)
    assert events.suppression_reason(parsed) == reason


@pytest.fixture
def newsletter(tmp_path: Path) -> Path:
    from digest.compose.issue_file import new_issue

    (tmp_path / "digest.toml").write_text('[newsletter]\nname = "N"\nfrom_email = "n@example.org"\n', encoding="utf-8")
    new_issue(tmp_path / "issues" / "week-1", "Week 1")
    return tmp_path


def test_processing_stores_each_event_once_in_its_issue_and_suppresses_at_once(newsletter: Path) -> None:
    inbox = events.Inbox(newsletter / events.INBOX_NAME)
    proc = events.Processor(newsletter, inbox)
    try:
        body = json.dumps([ev("delivered", 1), ev("bounce", 2, email="Bob@Example.org", type="bounce"),
                           ev("open", 3, issue="week-9"), ev("open", 4, issue=""), {"event": "open"}]).encode()
        counts = proc.process(body, time.time())
        assert counts == {"events": 5, "stored": 2, "duplicates": 0, "unknown_issue": 2, "malformed": 1,
                          "suppressed": 1}
        again = proc.process(body, time.time())
        assert (again["stored"], again["duplicates"], again["suppressed"]) == (0, 2, 0)
        assert proc.process(b"{not json", time.time())["malformed"] == 1
    finally:
        proc.stop()
        inbox.close()
    listed = suppressions.entries(newsletter / "suppressions.csv")
    assert [(e.email, e.reason, e.source) for e in listed] == [("Bob@Example.org", "bounce", "sendgrid event")]
    report = issue_report(newsletter / "issues" / "week-1")
    assert (report["sent"], report["delivered"], report["bounced"], report["opened"]) == (0, 1, 1, 0)


def test_a_post_left_in_the_inbox_is_processed_at_the_next_start(newsletter: Path) -> None:
    inbox = events.Inbox(newsletter / events.INBOX_NAME)
    inbox.put(json.dumps([ev("delivered", 1)]).encode())
    inbox.close()  # stopped before processing
    app = events.EventsApp(newsletter, events.Verifier(PUBLIC))
    try:
        end = time.monotonic() + 10
        while app.inbox.counters()["pending"] and time.monotonic() < end:
            time.sleep(0.02)
        assert app.inbox.counters()["stored"] == 1
    finally:
        app.close()


def test_report_of_an_unsent_issue_says_so(newsletter: Path) -> None:
    report = issue_report(newsletter / "issues" / "week-1")
    assert report["sent"] == 0 and report["opened"] is None and "not sent yet" in report["note"]


# -- the HTTP/1.1 host -----------------------------------------------------------------------------------------


@pytest.fixture
def server(newsletter: Path) -> Iterator[tuple[str, int]]:
    from digest.deliver.http11 import make_server

    app = events.EventsApp(newsletter, events.Verifier(PUBLIC), events.Limits(max_body=4096))
    httpd = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield "127.0.0.1", httpd.server_port
    finally:
        httpd.shutdown()
        httpd.server_close()
        app.close()


def _exchange(address: tuple[str, int], raw: bytes) -> bytes:
    """Send ``raw`` (one or more pipelined requests) and read until the server closes or goes quiet."""
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(raw)
        sock.settimeout(1.5)
        out = b""
        try:
            while chunk := sock.recv(65536):
                out += chunk
        except TimeoutError:
            out += b"<open>"
        return out


def test_pipelined_requests_on_one_connection_each_get_an_answer_with_a_length(server: tuple[str, int]) -> None:
    body = json.dumps([ev("delivered", 7)]).encode()
    ts = str(int(time.time()))
    post = (f"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"X-Twilio-Email-Event-Webhook-Signature: {sign(body, ts)}\r\n"
            f"X-Twilio-Email-Event-Webhook-Timestamp: {ts}\r\n\r\n").encode() + body
    unsigned = f"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
    out = _exchange(server, unsigned + post + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", out)
    assert statuses == [b"403", b"200", b"200"]
    assert out.count(b"Content-Length: ") == 3
    assert out.endswith(b"<open>")  # still open for the next request


def test_a_body_over_the_limit_is_413_and_closes_the_connection(server: tuple[str, int]) -> None:
    out = _exchange(server, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 999999\r\n\r\n" + b"[" * 5000)
    assert out.startswith(b"HTTP/1.1 413 ") and b"Connection: close" in out and not out.endswith(b"<open>")


def _chunked(body: bytes, size: int = 7) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size])
                    for i in range(0, len(body), size)) + b"0\r\n\r\n"


def test_a_chunked_post_is_stored_like_any_other(server: tuple[str, int], newsletter: Path) -> None:
    """A proxy in front of the webhook may forward SendGrid's post chunked: it is decoded, verified, stored."""
    body = json.dumps([ev("delivered", 8)]).encode()
    ts = str(int(time.time()))
    head = (f"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
            f"X-Twilio-Email-Event-Webhook-Signature: {sign(body, ts)}\r\n"
            f"X-Twilio-Email-Event-Webhook-Timestamp: {ts}\r\n\r\n").encode()
    out = _exchange(server, head + _chunked(body) + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert re.findall(rb"HTTP/1\.1 (\d{3}) ", out) == [b"200", b"200"], out
    assert out.endswith(b"<open>")  # the connection is kept for the next post
    counters = json.loads(out.rsplit(b"\r\n\r\n", 1)[1].removesuffix(b"<open>"))
    assert counters["posts"] == 1 and counters["refused_unsigned"] == counters["refused_bad_signature"] == 0


def test_a_malformed_or_oversized_chunked_body_is_refused_and_the_connection_closed(server: tuple[str, int]) -> None:
    head = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    out = _exchange(server, head + b"zz\r\n[]\r\n0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400 ") and not out.endswith(b"<open>")
    assert b"\r\nContent-Length: 23\r\n" in out and out.endswith(b"\r\n\r\nmalformed chunked body\n")
    out = _exchange(server, head + _chunked(b"[" * 5000, 1000))  # the fixture's limit is 4096 bytes
    assert out.startswith(b"HTTP/1.1 413 ") and not out.endswith(b"<open>")
    out = _exchange(server, b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 501 ") and not out.endswith(b"<open>")
    out = _exchange(server, b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n[]")
    assert out.startswith(b"HTTP/1.1 400 ") and not out.endswith(b"<open>")  # both: a smuggling attempt
