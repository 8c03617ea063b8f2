"""``digest suppressions pull`` end to end against a local SendGrid stand-in, then ``digest send`` skips them.

The stand-in (a ThreadingHTTPServer on 127.0.0.1, below) serves SendGrid's suppression lists in their
documented shapes (``[{"email", "created", ...}]`` for ``/v3/suppression/*``, bare strings for an unsubscribe
group), pages them by ``limit``/``offset``, filters by ``start_time``/``end_time``, and holds every request to
SendGrid's rules: ``Authorization: Bearer <key>`` (401 otherwise), only the documented query parameters,
integers, ``1 <= limit <= 500`` (400 in the ``errors[]`` format otherwise). It injects faults on request:
429 with Retry-After, 500. The real CLI runs in a subprocess with the real ``sendgrid`` client.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fixtures.deliver.newsletter import SECRET, make_issue, write_csv

from digest.deliver import suppressions

pytestmark = pytest.mark.integration
KEY = "SG.pull-standin-key.0123456789abcdefghij"
PAGED = {"/v3/suppression/unsubscribes", "/v3/suppression/bounces", "/v3/suppression/spam_reports",
         "/v3/suppression/invalid_emails", "/v3/suppression/blocks"}
ALLOWED_QUERY = {"start_time", "end_time", "limit", "offset", "email"}


class StandIn:
    """SendGrid's suppression endpoints, in memory. ``faults[path]`` is a list of (status, headers) served first."""

    def __init__(self) -> None:
        self.lists: dict[str, list[Any]] = {}
        self.groups: dict[int, list[str]] = {}
        self.faults: dict[str, list[tuple[int, dict[str, str]]]] = {}
        self.log: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, method: str, path: str, query: dict[str, list[str]], headers: Any) -> tuple[int, dict[str, str],
                                                                                                   Any]:
        with self.lock:
            self.log.append({"method": method, "path": path, "query": {k: v[-1] for k, v in query.items()},
                             "auth": headers.get("Authorization"), "accept": headers.get("Accept")})
            if headers.get("Authorization") != f"Bearer {KEY}":
                return 401, {}, {"errors": [{"field": None, "message": "authorization required"}]}
            if method != "GET":
                return 405, {}, {"errors": [{"field": None, "message": "method not allowed"}]}
            pending = self.faults.get(path)
            if pending:
                status, extra = pending.pop(0)
                return status, extra, {"errors": [{"field": None, "message": f"injected {status}"}]}
        if path in PAGED:
            return self._paged(path, query)
        parts = path.strip("/").split("/")
        if len(parts) == 5 and parts[:3] == ["v3", "asm", "groups"] and parts[4] == "suppressions":
            if query:
                return 400, {}, {"errors": [{"field": None, "message": "no query parameters here"}]}
            if not parts[3].isdigit() or int(parts[3]) not in self.groups:
                return 404, {}, {"errors": [{"field": None, "message": "Unsubscribe group not found"}]}
            return 200, {}, self.groups[int(parts[3])]
        return 404, {}, {"errors": [{"field": None, "message": "resource not found"}]}

    def _paged(self, path: str, query: dict[str, list[str]]) -> tuple[int, dict[str, str], Any]:
        for name, values in query.items():
            if name not in ALLOWED_QUERY:
                return 400, {}, {"errors": [{"field": name, "message": "unknown query parameter"}]}
            if len(values) != 1 or (name != "email" and not values[0].isdigit()):
                return 400, {}, {"errors": [{"field": name, "message": "must be one integer"}]}
        q = {k: int(v[0]) for k, v in query.items() if k != "email"}
        limit = q.get("limit", 500)
        if not 1 <= limit <= 500:
            return 400, {}, {"errors": [{"field": "limit", "message": "limit must be between 1 and 500"}]}
        items = [i for i in self.lists.get(path, [])
                 if q.get("start_time", 0) <= i["created"] <= q.get("end_time", 2**40)]
        offset = q.get("offset", 0)
        return 200, {}, items[offset: offset + limit]

    def requests_to(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.log if r["path"] == path]


def _handler(standin: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            parts = urlsplit(self.path)
            status, extra, body = standin.answer(self.command, parts.path, parse_qs(parts.query), self.headers)
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            for k, v in extra.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = do_DELETE = _serve

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def standin() -> Iterator[StandIn]:
    s = StandIn()
    s.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(s))
    thread = threading.Thread(target=s.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield s
    finally:
        s.server.shutdown()
        s.server.server_close()


def env_for(standin: StandIn, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SENDGRID", "DIGEST_"))}
    env.update(SENDGRID_API_KEY=KEY, DIGEST_SENDGRID_HOST=standin.url, DIGEST_UNSUBSCRIBE_SECRET=SECRET)
    env.update(extra)
    return env


def digest(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "digest.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def objects(emails: list[str], created: int, **extra: Any) -> list[dict[str, Any]]:
    return [{"email": e, "created": created + i, **extra} for i, e in enumerate(emails)]


T0 = 1_750_000_000


def fill(standin: StandIn) -> None:
    standin.lists["/v3/suppression/unsubscribes"] = objects([f"unsub{i}@example.net" for i in range(1234)], T0)
    standin.lists["/v3/suppression/bounces"] = (
        objects(["Ann@Example.com"], T0, reason="550 5.1.1 no such user", status="5.1.1")
        + objects(["old-bounce@example.net"], T0 - 10_000, reason="550", status="5.1.1"))
    standin.lists["/v3/suppression/spam_reports"] = objects(["spam@example.net", "unsub0@EXAMPLE.net"], T0,
                                                            ip="10.0.0.1")
    standin.lists["/v3/suppression/invalid_emails"] = objects(["bad@@example"], T0, reason="Mail domain unknown")
    standin.lists["/v3/suppression/blocks"] = objects(["blocked@example.net"], T0, reason="no route", status="4.0.0")
    standin.groups[42] = ["group-leaver@example.com", "unsub1@example.net"]


def test_pull_pages_retries_merges_and_the_next_send_skips(standin: StandIn, tmp_path: Path) -> None:
    fill(standin)
    standin.faults["/v3/suppression/bounces"] = [(429, {"Retry-After": "1"})]
    standin.faults["/v3/suppression/spam_reports"] = [(500, {})]
    issue = make_issue(tmp_path, sendgrid={"asm_group_id": 42, "timeout": 10.0, "backoff_base": 0.05})
    news = issue.parent
    suppressions.add_from_args(news / "suppressions.csv", ["manual@example.org", "spam@example.net"])

    proc = digest(["suppressions", "pull", "--dir", str(news), "--since", str(T0 - 100), "--json"], env_for(standin))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    kinds = out["kinds"]
    assert {k: (v["new"], v["already"]) for k, v in kinds.items()} == {
        "unsubscribes": (1234, 0),
        "bounces": (1, 0),  # the old bounce is before --since
        "spam_reports": (0, 2),  # one added by hand before, one an unsubscribe already
        "invalid_emails": (1, 0),
        "asm_group_42": (1, 1),
    }
    assert out["new"] == 1237 and out["retries"] == 2
    assert "429" in proc.stderr and "500" in proc.stderr and "retrying" in proc.stderr
    assert KEY not in proc.stdout + proc.stderr

    # every request authenticated, with the documented parameters
    assert all(r["auth"] == f"Bearer {KEY}" for r in standin.log)
    unsub = standin.requests_to("/v3/suppression/unsubscribes")
    assert [r["query"] for r in unsub] == [{"limit": "500", "offset": str(o), "start_time": str(T0 - 100)}
                                           for o in (0, 500, 1000)]
    assert len(standin.requests_to("/v3/suppression/bounces")) == 2  # 429, then the page
    assert len(standin.requests_to("/v3/suppression/spam_reports")) == 2  # 500, then the page
    assert [r["query"] for r in standin.requests_to("/v3/asm/groups/42/suppressions")] == [{}]
    assert not standin.requests_to("/v3/suppression/blocks")

    rows = {e.email.lower(): e for e in suppressions.entries(news / "suppressions.csv")}
    assert (rows["ann@example.com"].reason, rows["ann@example.com"].source) == ("bounce", "sendgrid")
    assert rows["group-leaver@example.com"].source == "sendgrid asm group 42"
    assert rows["bad@@example"].reason == "invalid"
    assert "old-bounce@example.net" not in rows

    # a second pull adds nothing
    again = digest(["suppressions", "pull", "--dir", str(news), "--since", str(T0 - 100)], env_for(standin))
    assert again.returncode == 0, again.stderr
    assert "added 0, already listed 1240" in again.stdout
    assert "unsubscribes: 1234 address(es), 0 new, 1234 already listed" in again.stdout

    # the next send on the outbox backend skips every pulled address
    csv_path = write_csv(tmp_path / "subscribers.csv", ["ann@example.com,Ann", "bo@example.com,Bo",
                                                       "Group-Leaver@example.com,Gil", "unsub7@example.net,U"])
    sent = digest(["send", str(issue), "--recipients", str(csv_path), "--backend", "outbox", "--json"],
                  env_for(standin))
    assert sent.returncode == 0, sent.stderr
    report = json.loads(sent.stdout)
    assert report["sent"] == 1 and report["skipped"] == 3
    assert sorted(p.name.split("@")[0] for p in (issue / "outbox").glob("*.eml")) == ["bo"]


def test_the_next_pull_asks_only_for_what_is_new_since_the_last(standin: StandIn, tmp_path: Path) -> None:
    fill(standin)
    news = make_issue(tmp_path).parent
    env = env_for(standin)
    before = int(time.time())
    first = digest(["suppressions", "pull", "--dir", str(news)], env)
    after = int(time.time())
    assert first.returncode == 0, first.stderr
    assert all("start_time" not in r["query"] for r in standin.log)  # nothing remembered yet: everything
    assert (news / ".suppressions-pulled.json").is_file()

    standin.log.clear()
    standin.lists["/v3/suppression/bounces"] += objects(["new-bounce@example.org"], after + 5, reason="550")
    second = digest(["suppressions", "pull", "--dir", str(news), "--json"], env)
    assert second.returncode == 0, second.stderr
    for path in ("/v3/suppression/unsubscribes", "/v3/suppression/bounces", "/v3/suppression/spam_reports",
                 "/v3/suppression/invalid_emails"):
        [request] = standin.requests_to(path)  # one short page each: only what is new
        assert before - 3600 <= int(request["query"]["start_time"]) <= after - 3600, path
    out = json.loads(second.stdout)
    assert out["new"] == 1 and out["kinds"]["bounces"]["since_last_pull"] is True
    assert "an hour before the last pull" in second.stderr

    standin.log.clear()
    again = digest(["suppressions", "pull", "--dir", str(news), "--all"], env)
    assert again.returncode == 0, again.stderr
    assert all("start_time" not in r["query"] for r in standin.log)
    assert len(standin.requests_to("/v3/suppression/unsubscribes")) == 3  # every page again
    both = digest(["suppressions", "pull", "--dir", str(news), "--all", "--since", "30d"], env)
    assert both.returncode == 2 and "give one of them" in both.stderr and "Traceback" not in both.stderr


def test_blocks_only_on_request_and_a_group_from_the_option(standin: StandIn, tmp_path: Path) -> None:
    fill(standin)
    standin.groups[7] = ["seven@example.com"]
    news = make_issue(tmp_path, sendgrid={"asm_group_id": 42}).parent
    proc = digest(["suppressions", "pull", "--dir", str(news), "--blocks", "--group", "7"], env_for(standin))
    assert proc.returncode == 0, proc.stderr
    assert "blocks: 1 address(es), 1 new" in proc.stdout
    assert "asm group 7: 1 address(es), 1 new" in proc.stdout
    assert not standin.requests_to("/v3/asm/groups/42/suppressions")
    assert standin.requests_to("/v3/suppression/bounces")[0]["query"] == {"limit": "500", "offset": "0"}
    listed = suppressions.load(news / "suppressions.csv")
    assert {"blocked@example.net", "seven@example.com", "old-bounce@example.net"} <= listed


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_is_named_never_shown(standin: StandIn, tmp_path: Path, status: int) -> None:
    fill(standin)
    standin.faults["/v3/suppression/unsubscribes"] = [(status, {})]
    news = make_issue(tmp_path).parent
    proc = digest(["--debug", "suppressions", "pull", "--dir", str(news)], env_for(standin))
    assert proc.returncode == 1
    assert "SENDGRID_API_KEY" in proc.stderr and f"HTTP {status}" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert KEY not in proc.stdout + proc.stderr  # even with --debug (python_http_client stays at WARNING)
    assert len(standin.log) == 1  # not retried
    assert not (news / "suppressions.csv").exists()


def test_a_wrong_key_gets_sendgrids_own_401(standin: StandIn, tmp_path: Path) -> None:
    news = make_issue(tmp_path).parent
    proc = digest(["suppressions", "pull", "--dir", str(news)], env_for(standin, SENDGRID_API_KEY="SG.wrong-key-xyz"))
    assert proc.returncode == 1
    assert "authorization required" in proc.stderr and "wrong, revoked or expired" in proc.stderr
    assert "SG.wrong-key-xyz" not in proc.stdout + proc.stderr


def test_an_unknown_group_shows_sendgrids_message_and_keeps_the_lists_before(standin: StandIn,
                                                                              tmp_path: Path) -> None:
    fill(standin)
    news = make_issue(tmp_path).parent
    proc = digest(["suppressions", "pull", "--dir", str(news), "--group", "999"], env_for(standin))
    assert proc.returncode == 1
    assert "Unsubscribe group not found" in proc.stderr and "--group" in proc.stderr
    assert "unsubscribes: 1234 address(es), 1234 new" in proc.stdout  # merged before the group failed
    assert len(suppressions.load(news / "suppressions.csv")) == 1234 + 2 + 1 + 1


def test_5xx_that_does_not_stop_gives_up_with_a_clear_line(standin: StandIn, tmp_path: Path) -> None:
    fill(standin)
    standin.faults["/v3/suppression/unsubscribes"] = [(503, {})] * 10
    news = make_issue(tmp_path, sendgrid={"max_attempts": 3, "backoff_base": 0.05, "backoff_cap": 0.1}).parent
    proc = digest(["suppressions", "pull", "--dir", str(news)], env_for(standin))
    assert proc.returncode == 1
    assert "gave up after 3 attempts: HTTP 503: injected 503" in proc.stderr
    assert len(standin.requests_to("/v3/suppression/unsubscribes")) == 3
