"""The SendGrid stand-in refuses what SendGrid refuses: one failing case per documented limit.

Each case starts from a body the stand-in accepts and breaks one thing, so a stand-in that stopped checking
that limit would fail here (and the backend tests that rely on it would prove nothing).
"""

from __future__ import annotations

import copy
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import shared_path
from tests.support.sendgrid_standin import SendGridStandIn

pytestmark = pytest.mark.integration

KEY = "SG.standin-key"


@pytest.fixture(scope="module")
def standin() -> Iterator[SendGridStandIn]:
    with SendGridStandIn(spec=shared_path("sendgrid", "tsg_mail_v3.json"), api_key=KEY) as sg:
        yield sg


def good() -> dict[str, Any]:
    return {
        "personalizations": [
            {"to": [{"email": "a@example.com"}], "substitutions": {"__DG_X_TEXT__": "Ann"},
             "custom_args": {"digest_issue": "s1"}, "headers": {"List-Unsubscribe": "<mailto:u@example.com>"}},
        ],
        "from": {"email": "news@example.com", "name": "News"},
        "subject": "Hello __DG_X_TEXT__",
        "content": [{"type": "text/plain", "value": "hi"}, {"type": "text/html", "value": "<p>hi</p>"}],
        "categories": ["s1"],
    }


def post(standin: SendGridStandIn, body: Any, *, key: str | None = KEY, path: str = "/v3/mail/send",
         raw: bytes | None = None) -> tuple[int, dict[str, Any], dict[str, str]]:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    data = raw if raw is not None else json.dumps(body).encode()
    req = urllib.request.Request(standin.url + path, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=20) as resp:
            text = resp.read()
            return resp.status, json.loads(text) if text else {}, dict(resp.headers)
    except urllib.error.HTTPError as exc:
        text = exc.read()
        return exc.code, json.loads(text) if text else {}, dict(exc.headers)


def many(n: int, per: int = 1) -> list[dict[str, Any]]:
    return [{"to": [{"email": f"r{i}.{j}@example.com"} for j in range(per)]} for i in range(n)]


def test_the_good_body_is_accepted(standin: SendGridStandIn) -> None:
    status, _, headers = post(standin, good())
    assert status == 202 and headers.get("X-Message-Id")


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(body: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = body
        for p in parents:
            node = node[int(p)] if p.isdigit() else node[p]
        if value is _DELETE:
            del node[last]
        else:
            node[int(last) if last.isdigit() else last] = value

    return apply


_DELETE = object()
FAR = int(time.time()) + 73 * 3600

CASES: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("schema: from is required", _set("from", _DELETE), "from"),
    ("schema: personalizations is required", _set("personalizations", _DELETE), "personalizations"),
    ("schema: to is required in a personalization", _set("personalizations.0", {"subject": "x"}), "to"),
    ("schema: top-level custom_args must not be an object", _set("custom_args", {"a": "b"}), "custom_args"),
    ("schema: categories at most 10", _set("categories", [f"c{i}" for i in range(11)]), "categories"),
    ("schema: a substitution value is a string", _set("personalizations.0.substitutions", {"K": 1}),
     "substitutions"),
    ("schema: an address is an email", _set("personalizations.0.to.0.email", "no-at-sign"), "email"),
    ("limit: at most 1000 personalizations", _set("personalizations", many(1001)), "personalizations"),
    ("limit: at most 1000 recipients in total", _set("personalizations", many(334, per=3)), "personalizations"),
    ("limit: no address twice in one request",
     _set("personalizations", [{"to": [{"email": "a@example.com"}]}, {"to": [{"email": "A@Example.com"}]}]),
     "email"),
    ("limit: no address twice in one personalization",
     _set("personalizations.0.to", [{"email": "a@example.com"}, {"email": "a@example.com"}]), "email"),
    ("limit: substitutions under 10,000 bytes",
     _set("personalizations.0.substitutions", {"__DG_X_TEXT__": "x" * (10_000 - 13)}), "substitutions"),
    ("limit: substitutions counted in bytes, not characters",
     _set("personalizations.0.substitutions", {"__DG_X_TEXT__": "é" * 5000}), "substitutions"),
    ("limit: custom_args values are strings", _set("personalizations.0.custom_args", {"n": 1}), "custom_args"),
    ("limit: custom_args at most 10,000 bytes",
     _set("personalizations.0.custom_args", {"a": "x" * 10_000}), "custom_args"),
    ("limit: send_at at most 72 hours ahead", _set("send_at", FAR), "send_at"),
    ("limit: personalization send_at at most 72 hours ahead", _set("personalizations.0.send_at", FAR), "send_at"),
    ("limit: text/plain comes first",
     _set("content", [{"type": "text/html", "value": "<p>x</p>"}, {"type": "text/plain", "value": "x"}]),
     "content"),
    ("limit: one content part per type",
     _set("content", [{"type": "text/plain", "value": "x"}, {"type": "text/plain", "value": "y"}]), "content"),
    ("limit: content is required without a template", _set("content", _DELETE), "content"),
    ("limit: content values are not empty", _set("content.0.value", ""), "value"),
    ("limit: a subject is required", _set("subject", _DELETE), "subject"),
    ("limit: reserved headers are refused", _set("headers", {"Subject": "x"}), "headers"),
    ("limit: reserved headers are refused per personalization", _set("personalizations.0.headers",
                                                                      {"Reply-To": "x@example.com"}), "headers"),
    ("limit: header values are strings", _set("personalizations.0.headers", {"X-N": 5}), "headers"),
    ("limit: batch_id must have been created", _set("batch_id", "never-created"), "batch_id"),
]


@pytest.mark.parametrize("name,breaks,field", CASES, ids=[c[0] for c in CASES])
def test_each_limit_is_refused_in_sendgrids_error_format(standin: SendGridStandIn, name: str,
                                                         breaks: Callable[[dict[str, Any]], None],
                                                         field: str) -> None:
    body = copy.deepcopy(good())
    breaks(body)
    before = sum(standin.delivered().values())
    status, answer, _ = post(standin, body)
    assert status == 400, name
    errors = answer["errors"]
    assert errors and all(set(e) >= {"message", "field", "help"} for e in errors)
    assert any(field in (e["field"] or "") for e in errors), errors
    assert sum(standin.delivered().values()) == before  # nothing of a refused request is delivered


def test_limits_allow_exactly_the_maximum(standin: SendGridStandIn) -> None:
    body = good()
    body["personalizations"] = many(500, per=2)
    assert post(standin, body)[0] == 202
    body = good()
    body["personalizations"][0]["substitutions"] = {"__DG_X_TEXT__": "x" * (10_000 - 14)}
    assert post(standin, body)[0] == 202


def test_authorization_is_required(standin: SendGridStandIn) -> None:
    status, answer, _ = post(standin, good(), key=None)
    assert status == 401 and answer["errors"][0]["message"]
    assert post(standin, good(), key="SG.other")[0] == 401


def test_total_size_at_most_30_mb(standin: SendGridStandIn) -> None:
    body = good()
    body["content"][0]["value"] = "x" * (30 * 1024 * 1024)
    status, answer, _ = post(standin, body)
    assert status == 413 and "30 MB" in answer["errors"][0]["message"]


def test_invalid_json_is_refused(standin: SendGridStandIn) -> None:
    status, answer, _ = post(standin, None, raw=b"{not json")
    assert status == 400 and "JSON" in answer["errors"][0]["message"]


def test_sandbox_answers_200_and_delivers_nothing(standin: SendGridStandIn) -> None:
    body = good()
    body["personalizations"][0]["to"][0]["email"] = "sandbox-only@example.com"
    body["mail_settings"] = {"sandbox_mode": {"enable": True}}
    assert post(standin, body)[0] == 200
    assert "sandbox-only@example.com" not in standin.delivered()


def test_scheduled_sends_need_a_known_batch(standin: SendGridStandIn) -> None:
    status, created, _ = post(standin, None, path="/v3/mail/batch", raw=b"")
    assert status == 201
    body = good()
    body["batch_id"] = created["batch_id"]
    body["send_at"] = int(time.time()) + 3600
    assert post(standin, body)[0] == 202
    assert post(standin, {"batch_id": created["batch_id"], "status": "cancel"},
                path="/v3/user/scheduled_sends")[0] == 201
    assert standin.batches[created["batch_id"]] == "cancel"
    assert post(standin, {"batch_id": "nope", "status": "cancel"}, path="/v3/user/scheduled_sends")[0] == 400
    assert post(standin, {"batch_id": created["batch_id"], "status": "stop"},
                path="/v3/user/scheduled_sends")[0] == 400


def test_faults_are_injected_in_order(standin: SendGridStandIn) -> None:
    standin.fault("429", retry_after=3)
    standin.fault("500")
    status, _, headers = post(standin, good())
    assert status == 429 and headers["Retry-After"] == "3"
    assert post(standin, good())[0] == 500
    assert post(standin, good())[0] == 202


def test_dropped_connection_and_held_request(standin: SendGridStandIn) -> None:
    import threading

    standin.fault("drop")
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
        post(standin, good())
    standin.held.clear()
    standin.release.clear()
    body = good()
    body["personalizations"][0]["to"][0]["email"] = "held@example.com"
    standin.fault("hold", deliver=True)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            post(standin, body)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    t = threading.Thread(target=run)
    t.start()
    assert standin.held.wait(10)
    assert standin.delivered()["held@example.com"] == 1  # accepted, answer not sent yet
    assert t.is_alive()
    standin.release.set()
    t.join(10)
    assert errors  # the client never got an answer
