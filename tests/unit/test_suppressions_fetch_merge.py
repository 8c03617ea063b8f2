"""``digest suppressions pull`` without a network: parsing, paging, merging and the error policy.

The client is a fake with the ``sendgrid`` client's shape (``client.client._("a")._("b").get(...)``) that
serves lists from memory, records each request and raises python-http-client's own exceptions.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from python_http_client import exceptions as hx

from digest.config import load_settings
from digest.deliver import suppressions
from digest.deliver.backends.sendgrid.suppressions import (
    BOUNCES,
    INVALID_EMAILS,
    SPAM_REPORTS,
    UNSUBSCRIBES,
    Requester,
    UnexpectedAnswer,
    asm_group_kind,
    fetch_kind,
    merge_kind,
    parse_page,
    parse_since,
    pull,
)
from digest.errors import DigestError, UsageError

KEY = "SG.unit-secret-key-never-shown"


# ------------------------------------------------------------------------------------------- a fake client


class _Resp:
    def __init__(self, body: bytes) -> None:
        self.body = body
        self.status_code = 200
        self.headers: dict[str, str] = {}


class _Node:
    def __init__(self, fake: FakeClient, path: str) -> None:
        self.fake = fake
        self.path = path

    def _(self, name: Any) -> _Node:
        return _Node(self.fake, f"{self.path}/{name}")

    def get(self, query_params: dict[str, Any] | None = None, timeout: float | None = None, **_: Any) -> _Resp:
        return self.fake.handle(self.path, dict(query_params or {}), timeout)


class FakeClient:
    """Serves ``lists[path]`` (objects or strings) with limit/offset; ``faults`` are raised first, in order."""

    def __init__(self, lists: dict[str, list[Any]], faults: list[Exception] | None = None) -> None:
        self.lists = lists
        self.faults = list(faults or [])
        self.calls: list[tuple[str, dict[str, Any], float | None]] = []
        self.client = _Node(self, "")

    def handle(self, path: str, query: dict[str, Any], timeout: float | None) -> _Resp:
        self.calls.append((path, query, timeout))
        if self.faults:
            raise self.faults.pop(0)
        items = self.lists.get(path.lstrip("/"), [])
        if "start_time" in query:
            items = [i for i in items if not isinstance(i, dict) or i["created"] >= query["start_time"]]
        if "limit" in query:
            off = int(query.get("offset", 0))
            items = items[off: off + int(query["limit"])]
        return _Resp(json.dumps(items).encode())


def records(n: int, domain: str = "example.com", created: int = 1_700_000_000, **extra: Any) -> list[dict[str, Any]]:
    return [{"email": f"user{i}@{domain}", "created": created + i, **extra} for i in range(n)]


def no_sleep() -> tuple[list[float], Callable[[float], None]]:
    slept: list[float] = []
    return slept, slept.append


# ---------------------------------------------------------------------------------------------- parse_page


def test_parse_page_reads_objects_and_counts_items_without_an_address() -> None:
    body = json.dumps([{"email": "a@x.org", "created": 1}, {"created": 2}, {"email": ""}, "b@x.org",
                       {"email": " c@x.org ", "created": 3, "reason": "550"}])
    emails, bad = parse_page(BOUNCES, body.encode())
    assert emails == ["a@x.org", "c@x.org"]
    assert bad == 3


def test_parse_page_reads_a_group_as_bare_strings() -> None:
    emails, bad = parse_page(asm_group_kind(7), b'["a@x.org", "B@X.org", 5, {"email": "c@x.org"}]')
    assert emails == ["a@x.org", "B@X.org"]
    assert bad == 2


@pytest.mark.parametrize("body", [b'{"errors": []}', b"<html>", b'"a@x.org"'])
def test_parse_page_refuses_what_is_not_a_list(body: bytes) -> None:
    with pytest.raises(UnexpectedAnswer, match="/v3/suppression/unsubscribes"):
        parse_page(UNSUBSCRIBES, body)


def test_parse_page_empty_body_is_an_empty_list() -> None:
    assert parse_page(UNSUBSCRIBES, b"") == ([], 0)


# ------------------------------------------------------------------------------------------------- paging


def _getter(items: list[Any], seen: list[dict[str, int]]) -> Callable[..., bytes]:
    def get(kind: Any, query: dict[str, int]) -> bytes:
        seen.append(dict(query))
        off, lim = query.get("offset", 0), query.get("limit", len(items))
        return json.dumps(items[off: off + lim]).encode()

    return get


@pytest.mark.parametrize(("n", "size", "expected_offsets"), [
    (0, 500, [0]),
    (3, 500, [0]),
    (1234, 500, [0, 500, 1000]),
    (1000, 500, [0, 500, 1000]),  # an exact multiple ends on an empty page
    (10, 3, [0, 3, 6, 9]),
])
def test_fetch_pages_until_a_short_page(n: int, size: int, expected_offsets: list[int]) -> None:
    seen: list[dict[str, int]] = []
    got = fetch_kind(_getter(records(n), seen), BOUNCES, page_size=size)
    assert [q["offset"] for q in seen] == expected_offsets
    assert {q["limit"] for q in seen} == {size}
    assert got.emails == [f"user{i}@example.com" for i in range(n)]
    assert got.requests == len(expected_offsets)


def test_fetch_never_asks_for_more_than_500_a_page_and_passes_start_time() -> None:
    seen: list[dict[str, int]] = []
    fetch_kind(_getter(records(20), seen), SPAM_REPORTS, since=1_600_000_000, page_size=10_000)
    assert seen == [{"limit": 500, "offset": 0, "start_time": 1_600_000_000}]


def test_a_group_is_one_request_without_paging_parameters() -> None:
    seen: list[dict[str, int]] = []
    got = fetch_kind(_getter([f"g{i}@x.org" for i in range(700)], seen), asm_group_kind(3), since=5)
    assert seen == [{}]
    assert len(got.emails) == 700


def test_a_server_that_ignores_offset_is_an_error_not_an_endless_loop() -> None:
    page = json.dumps(records(5)).encode()
    calls = []

    def get(kind: Any, query: dict[str, int]) -> bytes:
        calls.append(query)
        return page

    with pytest.raises(UnexpectedAnswer, match="same page"):
        fetch_kind(get, BOUNCES, page_size=5)
    assert len(calls) == 2


def test_a_page_longer_than_the_limit_is_refused() -> None:
    with pytest.raises(UnexpectedAnswer, match="for limit=5"):
        fetch_kind(lambda k, q: json.dumps(records(6)).encode(), BOUNCES, page_size=5)


# ------------------------------------------------------------------------------------------------- merging


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_merge_dedupes_without_case_and_records_reason_and_source(tmp_path: Path) -> None:
    path = tmp_path / "suppressions.csv"
    suppressions.add_from_args(path, ["Known@Example.com"])  # as `digest suppressions add` writes it
    result = merge_kind(path, BOUNCES, ["known@example.COM", "new@example.com", "NEW@example.com", "other@example.com"])
    assert (result.fetched, result.unique, result.new, result.already) == (4, 3, 2, 1)
    rows = _rows(path)
    assert [(r["email"], r["reason"], r["source"]) for r in rows] == [
        ("Known@example.com", "manual", "cli"),  # validation lower-cases the domain
        ("new@example.com", "bounce", "sendgrid"),
        ("other@example.com", "bounce", "sendgrid"),
    ]
    assert all(r["added"] for r in rows)
    # what digest send compares against
    assert suppressions.load(path) == {"known@example.com", "new@example.com", "other@example.com"}


def test_a_later_kind_counts_addresses_an_earlier_kind_added_as_already(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    first = merge_kind(path, UNSUBSCRIBES, ["a@x.org", "b@x.org"])
    second = merge_kind(path, asm_group_kind(42), ["B@x.org", "c@x.org"])
    assert (first.new, first.already) == (2, 0)
    assert (second.new, second.already) == (1, 1)
    by_email = {r["email"]: r for r in _rows(path)}
    assert by_email["b@x.org"]["reason"] == "unsubscribe" and by_email["b@x.org"]["source"] == "sendgrid"
    assert by_email["c@x.org"]["source"] == "sendgrid asm group 42"


def test_merge_keeps_an_address_sendgrid_calls_invalid_and_cleans_control_characters(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    result = merge_kind(path, INVALID_EMAILS, ["not-an-address@@example", "evil@x.org\r\nBcc: y@z", "  "])
    assert result.new == 2 and result.unreadable == 1
    emails = [r["email"] for r in _rows(path)]
    assert emails[0] == "not-an-address@@example"
    assert "\n" not in emails[1] and "\r" not in emails[1]
    assert len(path.read_text(encoding="utf-8").splitlines()) == 3  # header + 2: no row broken by a newline


def test_merging_twice_adds_nothing(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    merge_kind(path, BOUNCES, ["a@x.org", "b@x.org"])
    before = path.read_bytes()
    again = merge_kind(path, BOUNCES, ["A@X.ORG", "b@x.org"])
    assert (again.new, again.already) == (0, 2)
    assert path.read_bytes() == before


# ------------------------------------------------------------------------------------------ error policy


def _requester(fake: FakeClient, **kw: Any) -> tuple[Requester, list[float]]:
    slept, sleep = no_sleep()
    return Requester(fake, timeout=7.0, max_attempts=kw.pop("max_attempts", 4), deadline=kw.pop("deadline", 600.0),
                     sleep=sleep, **kw), slept


def _err(cls: type[hx.HTTPError], status: int, body: dict[str, Any] | str = "", headers: Any = None) -> hx.HTTPError:
    raw = json.dumps(body).encode() if isinstance(body, dict) else body.encode()
    return cls(status, "x", raw, headers or {})


def test_every_request_has_a_timeout_and_429_waits_for_retry_after() -> None:
    fake = FakeClient({"suppression/bounces": records(2)},
                      [_err(hx.TooManyRequestsError, 429, {"errors": [{"message": "too many"}]}, {"Retry-After": "3"})])
    req, slept = _requester(fake)
    got = fetch_kind(req, BOUNCES)
    assert len(got.emails) == 2
    assert slept == [3.0]
    assert len(fake.calls) == 2 and all(t == 7.0 for _, _, t in fake.calls)
    assert fake.calls[0][0] == "/suppression/bounces"


def test_429_without_retry_after_uses_x_ratelimit_reset() -> None:
    import time

    reset = int(time.time()) + 5
    fake = FakeClient({}, [_err(hx.TooManyRequestsError, 429, "", {"X-RateLimit-Reset": str(reset)})])
    req, slept = _requester(fake)
    fetch_kind(req, UNSUBSCRIBES)
    assert len(slept) == 1 and 3.0 <= slept[0] <= 5.0


def test_5xx_and_connection_errors_back_off_then_succeed() -> None:
    import urllib.error

    fake = FakeClient({"suppression/spam_reports": records(1)},
                      [_err(hx.InternalServerError, 500, "oops"), urllib.error.URLError(ConnectionRefusedError(111)),
                       TimeoutError("timed out")])
    req, slept = _requester(fake)
    assert fetch_kind(req, SPAM_REPORTS).emails == ["user0@example.com"]
    assert len(slept) == 3 and all(0 < s <= 30 for s in slept)


def test_5xx_gives_up_after_max_attempts() -> None:
    fake = FakeClient({}, [_err(hx.ServiceUnavailableError, 503, {"errors": [{"message": "maintenance"}]})] * 10)
    req, slept = _requester(fake, max_attempts=3)
    with pytest.raises(DigestError, match="gave up after 3 attempts: HTTP 503: maintenance"):
        fetch_kind(req, BOUNCES)
    assert len(fake.calls) == 3 and len(slept) == 2


def test_a_wait_past_the_deadline_gives_up_instead_of_sleeping() -> None:
    fake = FakeClient({}, [_err(hx.TooManyRequestsError, 429, "", {"Retry-After": "120"})])
    req, slept = _requester(fake, deadline=60.0)
    with pytest.raises(DigestError, match="deadline"):
        fetch_kind(req, BOUNCES)
    assert slept == []


@pytest.mark.parametrize(("cls", "status", "needle"), [
    (hx.UnauthorizedError, 401, "SENDGRID_API_KEY is wrong, revoked or expired"),
    (hx.ForbiddenError, 403, "needs the Suppressions (read) permission"),
])
def test_401_and_403_talk_about_the_key_without_showing_it(cls: type[hx.HTTPError], status: int, needle: str) -> None:
    fake = FakeClient({}, [_err(cls, status, {"errors": [{"field": None, "message": "access forbidden"}]})])
    req, slept = _requester(fake)
    with pytest.raises(DigestError) as info:
        fetch_kind(req, BOUNCES)
    text = str(info.value)
    assert needle in text and "access forbidden" in text and KEY not in text
    assert len(fake.calls) == 1 and slept == []  # never retried


def test_other_4xx_shows_sendgrids_errors_message() -> None:
    fake = FakeClient({}, [_err(hx.BadRequestsError, 400, {"errors": [{"field": "start_time",
                                                                       "message": "must be an integer"}]})])
    req, _ = _requester(fake)
    with pytest.raises(DigestError, match="HTTP 400: start_time: must be an integer"):
        fetch_kind(req, BOUNCES)


def test_an_unknown_group_says_which_setting_to_check() -> None:
    fake = FakeClient({}, [_err(hx.NotFoundError, 404, {"errors": [{"message": "not found"}]})])
    req, _ = _requester(fake)
    with pytest.raises(DigestError) as info:
        fetch_kind(req, asm_group_kind(999))
    assert "asm/groups/999/suppressions" in str(info.value) and "--group" in str(info.value)


# ------------------------------------------------------------------------------------------------- pull()


def _newsletter(tmp_path: Path, sendgrid: str = "") -> Path:
    (tmp_path / "digest.toml").write_text(f"[newsletter]\nfrom_email = \"n@x.org\"\n\n[sendgrid]\n{sendgrid}\n",
                                          encoding="utf-8")
    return tmp_path


def test_pull_merges_every_kind_and_counts_each(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DIGEST_SUPPRESSIONS", raising=False)
    folder = _newsletter(tmp_path, "asm_group_id = 77\ntimeout = 4.5")
    suppressions.add_from_args(folder / "suppressions.csv", ["bounced0@x.org"])
    fake = FakeClient({
        "suppression/unsubscribes": records(3, "u.org"),
        "suppression/bounces": [{"email": f"BOUNCED{i}@x.org", "created": 1, "reason": "550", "status": "5.1.1"}
                                for i in range(2)],
        "suppression/spam_reports": records(1, "u.org"),  # user0@u.org again: already there
        "suppression/invalid_emails": [],
        "suppression/blocks": records(5, "blocked.org"),
        "asm/groups/77/suppressions": ["g@x.org", "USER1@u.org"],
    })
    seen: list[str] = []
    result = pull(folder, client=fake, sleep=lambda s: None, on_kind=lambda k: seen.append(k.kind))
    assert seen == ["unsubscribes", "bounces", "spam_reports", "invalid_emails", "asm_group_77"]
    counts = {k.kind: (k.new, k.already) for k in result.kinds}
    assert counts == {"unsubscribes": (3, 0), "bounces": (1, 1), "spam_reports": (0, 1), "invalid_emails": (0, 0),
                      "asm_group_77": (1, 1)}
    assert result.new == 5 and result.path == folder / "suppressions.csv"
    assert not any("blocks" in path for path, _, _ in fake.calls)  # blocks only when asked
    assert {t for _, _, t in fake.calls} == {4.5}
    assert "blocked.org" not in (folder / "suppressions.csv").read_text()
    data = result.as_dict()
    assert data["new"] == 5 and data["kinds"]["bounces"]["reason"] == "bounce"


def test_pull_group_option_beats_the_setting_and_blocks_on_request(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DIGEST_SUPPRESSIONS", raising=False)
    folder = _newsletter(tmp_path, "asm_group_id = 77")
    fake = FakeClient({"asm/groups/5/suppressions": ["five@x.org"], "suppression/blocks": records(2, "b.org")})
    result = pull(folder, client=fake, group=5, blocks=True, since=1_700_000_001, sleep=lambda s: None)
    paths = [p for p, _, _ in fake.calls]
    assert "/asm/groups/5/suppressions" in paths and "/asm/groups/77/suppressions" not in paths
    assert {k.kind: k.new for k in result.kinds}["blocks"] == 1  # start_time filtered the first
    assert all(q.get("start_time") == 1_700_000_001 for p, q, _ in fake.calls if "suppression/" in p)


def test_a_failure_keeps_the_kinds_already_merged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DIGEST_SUPPRESSIONS", raising=False)
    folder = _newsletter(tmp_path)

    class Breaks(FakeClient):
        def handle(self, path: str, query: dict[str, Any], timeout: float | None) -> _Resp:
            if "spam_reports" in path:
                raise _err(hx.ForbiddenError, 403, {"errors": [{"message": "access forbidden"}]})
            return super().handle(path, query, timeout)

    with pytest.raises(DigestError, match="spam_reports"):
        pull(folder, client=Breaks({"suppression/unsubscribes": records(2),
                                    "suppression/bounces": records(1, "b.org")}))
    assert suppressions.load(folder / "suppressions.csv") == {"user0@example.com", "user1@example.com", "user0@b.org"}


def test_pull_without_a_key_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SENDGRID_API_KEY", raising=False)
    with pytest.raises(DigestError, match="SENDGRID_API_KEY is not set.*Suppressions"):
        pull(_newsletter(tmp_path))


def test_a_bad_group_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        pull(_newsletter(tmp_path), group=0, client=FakeClient({}))


def test_settings_file_loads(tmp_path: Path) -> None:
    assert load_settings(_newsletter(tmp_path, "asm_group_id = 3"))["sendgrid"]["asm_group_id"] == 3


# ------------------------------------------------------------------------------------------------ --since

NOW = 1_800_000_000.0


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-01-31", 1_769_817_600),
    ("2026-01-31T01:00:00+01:00", 1_769_817_600),
    ("2026-01-31T00:00:00Z", 1_769_817_600),
    ("1769817600", 1_769_817_600),
    ("30d", int(NOW) - 30 * 86400),
    ("12h", int(NOW) - 12 * 3600),
    ("2W", int(NOW) - 14 * 86400),
])
def test_since_forms(text: str, expected: int) -> None:
    assert parse_since(text, NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "2030-01-01"])
def test_since_refuses_nonsense_and_the_future(text: str) -> None:
    with pytest.raises(UsageError, match="--since"):
        parse_since(text, NOW)
