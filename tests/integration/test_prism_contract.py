"""Contract tests: every request body digest builds is valid for SendGrid's official OpenAPI spec.

Prism (``@stoplight/prism-cli``, pinned in package.json) mocks ``shared/sendgrid/tsg_mail_v3.json`` and validates
each request against it, including the bearer-auth security scheme. The requests go through the real
``sendgrid`` client, exactly as the backend sends them.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from python_http_client.exceptions import BadRequestsError
from sendgrid import SendGridAPIClient

from digest.deliver.backends.sendgrid.backend import SendGridBackend
from digest.deliver.backends.sendgrid.body import Personalizer, build_batch, static_body
from tests.integration.test_sendgrid_backend import draft, personal, settings
from tests.support.prism import prism_mock

pytestmark = pytest.mark.integration
KEY = "SG.prism-contract-key"


@pytest.fixture(scope="module")
def prism() -> Iterator[str]:
    with prism_mock("tsg_mail_v3.json") as url:
        yield url


def client(url: str) -> Any:
    return SendGridAPIClient(KEY, host=url)


def body_for(kind: str, prism_url: str) -> dict[str, Any]:
    """The request body the backend sends for ``kind``, built by the production code."""
    s = settings(sendgrid={"asm_group_id": 4242}) if kind == "asm" else settings(tracking={"open": True})
    d = draft(s)
    send_at = int(time.time()) + 7200 if kind == "scheduled" else None
    batch_id = None
    if kind == "scheduled":
        answer = client(prism_url).client.mail.batch.post(timeout=10)
        assert answer.status_code == 201
        batch_id = json.loads(answer.body)["batch_id"]
    static = static_body(d, s, sandbox=kind == "sandbox", send_at=send_at, batch_id=batch_id)
    pz = Personalizer(d, asm=kind == "asm", custom_args={"digest_issue": d.slug})
    return build_batch(static, [personal(i, name) for i, name in enumerate(["Ann", "Zoë & Co", ""])], pz).body


@pytest.mark.parametrize("kind", ["plain", "scheduled", "sandbox", "asm"])
def test_every_body_digest_builds_is_accepted(prism: str, kind: str) -> None:
    body = body_for(kind, prism)
    answer = client(prism).client.mail.send.post(request_body=body, timeout=10)
    assert answer.status_code == 202


@pytest.mark.parametrize("kind", ["plain", "scheduled", "asm"])
def test_the_backend_itself_sends_through_prism(prism: str, kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENDGRID_API_KEY", KEY)
    monkeypatch.setenv("DIGEST_SENDGRID_HOST", prism)
    s = settings(sendgrid={"asm_group_id": 9, "timeout": 10.0}) if kind == "asm" else settings(
        sendgrid={"timeout": 10.0})
    d = draft(s)
    b = SendGridBackend(s, send_at=int(time.time()) + 600 if kind == "scheduled" else None)
    b.open(d)
    outcomes = b.send_batch(d, [personal(i) for i in range(5)])
    assert [o.ok for o in outcomes] == [True] * 5
    if kind == "scheduled":
        assert b.batch_id  # created through POST /v3/mail/batch on Prism


@pytest.mark.parametrize("kind", ["plain", "asm"])
def test_the_row_path_sends_through_prism(prism: str, kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a first send of a CSV sends: the request written as JSON text straight from the rows (the
    unsubscribe token alone in each personalization, or SendGrid's group tag with asm)."""
    from digest.deliver.personal import PersonalMaker, message_tokens
    from digest.deliver.unsubscribe import Links
    from digest.model import Recipient

    monkeypatch.setenv("SENDGRID_API_KEY", KEY)
    monkeypatch.setenv("DIGEST_SENDGRID_HOST", prism)
    s = settings(sendgrid={"asm_group_id": 9, "timeout": 10.0}) if kind == "asm" else settings(
        sendgrid={"timeout": 10.0})
    d = draft(s)
    b = SendGridBackend(s)
    b.open(d)
    links = Links("https://harbour.example/u?t={token}", "leave@harbour.example", b"prism-row-secret-0123456789")
    maker = PersonalMaker(d, links, message_tokens(d))
    rows = [Recipient(f"row{i}@example.com", {"first_name": name}, i + 2)
            for i, name in enumerate(["Ann", "Zoë & Co", "", "Ingrid"])]
    built = b.prepare_rows(d, rows, maker)
    assert built is not None and built.raw is not None and built.emails == [r.email for r in rows]
    outcomes = b.send_prepared(d, built)
    assert [o.ok for o in outcomes] == [True] * len(rows)


@pytest.mark.parametrize("drop", ["from", "personalizations"])
def test_a_body_without_a_required_field_is_400(prism: str, drop: str) -> None:
    body = body_for("plain", prism)
    del body[drop]
    with pytest.raises(BadRequestsError) as info:
        client(prism).client.mail.send.post(request_body=body, timeout=10)
    assert info.value.status_code == 400


def test_top_level_custom_args_object_is_400(prism: str) -> None:
    # Why digest puts custom_args in each personalization: the spec types the top-level field as a string.
    body = body_for("plain", prism)
    body["custom_args"] = {"digest_issue": "x"}
    with pytest.raises(BadRequestsError):
        client(prism).client.mail.send.post(request_body=body, timeout=10)


def test_a_request_without_authorization_is_401(prism: str) -> None:
    data = json.dumps(body_for("plain", prism)).encode()
    req = urllib.request.Request(prism + "/v3/mail/send", data=data, method="POST",
                                 headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=10)
    assert info.value.code == 401
    req.add_header("Authorization", f"Bearer {KEY}")
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 202


def test_every_personalization_names_the_issue_for_the_event_webhook(prism: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """SendGrid echoes a personalization's custom_args on each of its events: digest events-server routes them by
    ``digest_issue``. The request as sent (the row path's JSON text) carries it for everyone and Prism accepts it."""
    from digest.deliver.personal import PersonalMaker, message_tokens
    from digest.deliver.unsubscribe import Links
    from digest.model import Recipient

    monkeypatch.setenv("SENDGRID_API_KEY", KEY)
    monkeypatch.setenv("DIGEST_SENDGRID_HOST", prism)
    s = settings(sendgrid={"timeout": 10.0})
    d = draft(s)
    b = SendGridBackend(s)
    b.open(d)
    links = Links("https://harbour.example/u?t={token}", "leave@harbour.example", b"prism-row-secret-0123456789")
    rows = [Recipient(f"row{i}@example.com", {"first_name": "Ann"}, i + 2) for i in range(3)]
    built = b.prepare_rows(d, rows, PersonalMaker(d, links, message_tokens(d)))
    assert built is not None and built.raw is not None
    sent = json.loads(bytes(built.raw.raw))
    assert d.slug and [p["custom_args"] for p in sent["personalizations"]] == [{"digest_issue": d.slug}] * 3
    assert [o.ok for o in b.send_prepared(d, built)] == [True] * 3
