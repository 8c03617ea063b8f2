"""Contract: every request ``digest suppressions pull`` makes is valid for SendGrid's suppressions spec.

Prism (``@stoplight/prism-cli``, pinned in package.json) mocks ``shared/sendgrid/tsg_suppressions_v3.json``
and validates each request (path, query parameter types and bounds, required headers, bearer auth). The pull
runs through the real ``sendgrid`` client; a recording wrapper keeps each answer, which must be a 2xx whose
body matches the operation's documented 200 schema and which ``parse_page`` accepts. Prism runs twice: with
the spec's examples (static) and with bodies generated from the schemas (``--dynamic``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import shared_path
from prism import prism_mock
from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient

from digest.deliver.backends.sendgrid.suppressions import asm_group_kind, kinds_for, parse_page, pull

pytestmark = pytest.mark.integration
KEY = "SG.prism-suppressions-key"
GROUP = 4242


@pytest.fixture(scope="module", params=["static", "dynamic"])
def prism(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    with prism_mock("tsg_suppressions_v3.json", dynamic=request.param == "dynamic") as url:
        yield url, request.param


def response_validator(path: str) -> Any:
    """A jsonschema validator for the documented 200 body of ``GET path`` (``$ref``s resolvable)."""
    from jsonschema import Draft202012Validator, FormatChecker
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    spec = json.loads(shared_path("sendgrid", "tsg_suppressions_v3.json").read_text(encoding="utf-8"))
    uri = "urn:sendgrid:suppressions-v3"
    registry = Registry().with_resource(uri, Resource.from_contents(spec, default_specification=DRAFT202012))
    escaped = path.replace("~", "~0").replace("/", "~1")
    pointer = f"/paths/{escaped}/get/responses/200/content/application~1json/schema"
    return Draft202012Validator({"$ref": f"{uri}#{pointer}"}, registry=registry, format_checker=FormatChecker())


class _Recorder:
    """Wraps a python-http-client node: forwards ``_()`` and ``get()``, keeping (path, query, status, body)."""

    def __init__(self, node: Any, log: list[dict[str, Any]], path: str = "") -> None:
        self._node = node
        self._log = log
        self._path = path

    def _(self, name: Any) -> _Recorder:
        return _Recorder(self._node._(name), self._log, f"{self._path}/{name}")

    def get(self, **kwargs: Any) -> Any:
        entry: dict[str, Any] = {"path": self._path, "query": kwargs.get("query_params"),
                                 "timeout": kwargs.get("timeout")}
        self._log.append(entry)
        try:
            resp = self._node.get(**kwargs)
        except HTTPError as exc:
            entry.update(status=exc.status_code, body=exc.body)
            raise
        entry.update(status=resp.status_code, body=resp.body)
        return resp


class RecordingClient:
    def __init__(self, host: str) -> None:
        self.real = SendGridAPIClient(KEY, host=host)
        self.log: list[dict[str, Any]] = []
        self.client = _Recorder(self.real.client, self.log, "/v3")


def test_every_request_pull_makes_gets_a_documented_2xx(prism: tuple[str, str], tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    url, mode = prism
    monkeypatch.delenv("DIGEST_SUPPRESSIONS", raising=False)
    (tmp_path / "digest.toml").write_text(f"[sendgrid]\nasm_group_id = {GROUP}\ntimeout = 10.0\n", encoding="utf-8")
    client = RecordingClient(url)
    result = pull(tmp_path, client=client, since=int(time.time()) - 30 * 86400, blocks=True,
                  sleep=lambda s: pytest.fail("pull retried against Prism"))

    kinds = kinds_for(GROUP, blocks=True)
    assert [k.kind for k in result.kinds] == [k.name for k in kinds]
    assert [e["path"] for e in client.log] == [f"/v3/{k.path}" for k in kinds]  # one page each here
    for entry, kind in zip(client.log, kinds, strict=True):
        assert 200 <= entry["status"] < 300, entry
        assert entry["timeout"] == 10.0
        if kind.paged:
            assert set(entry["query"]) == {"limit", "offset", "start_time"}
        body = json.loads(entry["body"])
        template = "/v3/asm/groups/{group_id}/suppressions" if not kind.paged else entry["path"]
        errors = [e.message for e in response_validator(template).iter_errors(body)]
        assert not errors, (entry["path"], errors)
        emails, unreadable = parse_page(kind, entry["body"])
        assert unreadable == 0 and len(emails) == len(body)
    if mode == "static":
        # The spec's examples: unsubscribes user1/user2@example.com; the bounces' example lists one address
        # twice; spam reports and invalid emails repeat user1/user2; blocks (the schema's own example) list
        # example@, a bounce already; the group lists example@ and example2@.
        counts = {k.kind: (k.unique, k.new) for k in result.kinds}
        assert counts == {"unsubscribes": (2, 2), "bounces": (1, 1), "spam_reports": (2, 0), "invalid_emails": (2, 0),
                          "blocks": (1, 0), f"asm_group_{GROUP}": (2, 1)}
    listed = {e.lower() for e in _emails(tmp_path / "suppressions.csv")}
    fetched = {e.lower() for entry, kind in zip(client.log, kinds, strict=True)
               for e in parse_page(kind, entry["body"])[0]}
    assert fetched and fetched <= listed


def _emails(path: Path) -> list[str]:
    from digest.deliver.suppressions import entries

    return [e.email for e in entries(path)]


def test_prism_checks_what_we_send(prism: tuple[str, str]) -> None:
    """The contract is meaningful: Prism refuses what the spec forbids (here, limit above 500 and no key)."""
    url, _ = prism
    client = SendGridAPIClient(KEY, host=url).client
    with pytest.raises(HTTPError) as info:
        client._("suppression")._("bounces").get(query_params={"limit": 501}, timeout=10)
    assert 400 <= info.value.status_code < 500
    anonymous = SendGridAPIClient(KEY, host=url)
    anonymous.client.request_headers.pop("Authorization", None)
    with pytest.raises(HTTPError) as info:
        anonymous.client._("suppression")._("unsubscribes").get(timeout=10)
    assert info.value.status_code == 401
    assert asm_group_kind(GROUP).path == f"asm/groups/{GROUP}/suppressions"
