"""The SendGrid client's retries and error classification, against a scripted SendGrid (no network, no sleeps).

The rule: only what SendGrid certainly did not accept is posted again. A 429 or a 5xx (answered: not accepted)
and a connection that never carried the request are retried; a lost or late answer is not (the recipients are
``unknown``); any other 4xx stops the send. ``FakeSendGrid`` counts the posts that reached it; a fake clock
stands for time, so waits are exact and instant.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import threading
import time
import urllib.error
from email.utils import formatdate
from types import SimpleNamespace
from typing import Any

import pytest
from python_http_client.exceptions import HTTPError

from digest import merge
from digest.compose.message import Draft, make_draft
from digest.config import DEFAULTS, Settings, _merge
from digest.deliver.backends.sendgrid import SendGridBackend
from digest.deliver.backends.sendgrid.client import (
    MAX_RATE_LIMIT_WAIT,
    SendGridRejected,
    SendGridUnavailable,
    backoff_delay,
    deadline,
    describe_error,
    header_value,
    rate_limit_delay,
)
from digest.deliver.throttle import Throttle
from digest.model import Personal

t = merge.token
OK = SimpleNamespace(headers={"X-Message-Id": "msg-1"}, body=b"")


def settings(**sendgrid: Any) -> Settings:
    over: dict[str, Any] = {"newsletter": {"name": "Harbour Notes", "from_email": "news@harbour.example",
                                           "postal_address": "1 Quay St"},
                            "unsubscribe": {"url": "https://harbour.example/u/{token}"},
                            "sendgrid": {"timeout": 5.0, "max_attempts": 3, "backoff_base": 1.0, "backoff_cap": 8.0,
                                         **sendgrid}}
    return Settings(_merge(DEFAULTS, over), None)


def draft(s: Settings) -> Draft:
    return make_draft(subject="Tides", preheader="p", html=f"<a href=\"{t('unsubscribe_url', 'URL')}\">u</a>",
                      text=f"Unsubscribe: {t('unsubscribe_url', 'TEXT')}\n", slug="2026-12", settings=s,
                      merge_defaults={}, web_url=None)


def people(n: int) -> list[Personal]:
    return [Personal(f"r{i}@example.com", {}, f"https://harbour.example/u/tok{i}") for i in range(n)]


def http_error(status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> HTTPError:
    return HTTPError(status, "error", body, headers or {})


class Clock:
    """time.monotonic and time.sleep for the client (and its throttle): sleeping moves the clock."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class FakeSendGrid:
    """SendGrid's side: each mail/send post takes the next scripted answer (an exception is raised as the
    client library would); ``posts`` is what reached it, ``budgets`` the timeout each post was given."""

    def __init__(self, *script: Any, clock: Clock | None = None, takes: float = 0.0) -> None:
        self.script = list(script)
        self.posts: list[Any] = []
        self.budgets: list[float] = []
        self.clock = clock
        self.takes = takes  # seconds of the fake clock each post takes
        send = SimpleNamespace(post=self.post)
        batch = SimpleNamespace(post=lambda timeout: self.answer())
        self.client = SimpleNamespace(mail=SimpleNamespace(send=send, batch=batch))

    def post(self, request_body: Any = None, request_headers: Any = None, timeout: float = 0.0) -> Any:
        self.posts.append(request_body)
        self.budgets.append(timeout)
        if self.clock is not None:
            self.clock.now += self.takes
        return self.answer()

    def answer(self) -> Any:
        item = self.script.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item


class Alone(Throttle):
    """The throttle of a send with this one request in flight: a full window could never free up again (an
    earlier attempt kept its place), so ``acquire`` fails instead of blocking for good."""

    def acquire(self) -> None:
        assert self._active < self.limit, "no place left: an earlier attempt kept its place"
        super().acquire()


def backend(sg: FakeSendGrid, clock: Clock, **sendgrid: Any) -> SendGridBackend:
    return SendGridBackend(settings(**sendgrid), client=sg, sleep=clock.sleep, clock=clock, rng=random.Random(0))


def send(b: SendGridBackend, n: int = 2) -> list[Any]:
    d = draft(b.settings)
    return list(b.send_batch(d, people(n)))


# ------------------------------------------------------------------------------------------ retried: not accepted


def test_a_429_waits_as_asked_and_does_not_use_up_the_attempts() -> None:
    clock = Clock()
    sg = FakeSendGrid(*[http_error(429, {"Retry-After": "4"})] * 5, OK, clock=clock)
    b = backend(sg, clock, max_attempts=2)
    outcomes = send(b)
    assert [(o.email, o.ok, o.message_id) for o in outcomes] == [("r0@example.com", True, "msg-1"),
                                                                  ("r1@example.com", True, "msg-1")]
    assert clock.sleeps == [4.0] * 5 and len(sg.posts) == 6 and b.requests == 6


def test_a_429_without_a_wait_backs_off_the_longest_and_an_absurd_wait_is_capped() -> None:
    clock = Clock()
    sg = FakeSendGrid(http_error(429), http_error(429, {"Retry-After": "86400"}), OK, clock=clock)
    b = backend(sg, clock, deadline=3600.0)
    assert all(o.ok for o in send(b))
    assert clock.sleeps == [8.0, MAX_RATE_LIMIT_WAIT]


def test_5xx_are_retried_with_growing_backoff_until_the_attempts_run_out() -> None:
    clock = Clock()
    sg = FakeSendGrid(*[http_error(503, body=b'{"errors": [{"message": "busy"}]}')] * 4, clock=clock)
    b = backend(sg, clock, max_attempts=4, backoff_cap=100.0)
    with pytest.raises(SendGridUnavailable) as info:
        send(b)
    exc = info.value
    assert "HTTP 503: busy (4 attempts)" in exc.message and exc.maybe_accepted is False
    assert exc.outcomes == [] and "nothing in this batch was accepted" in (exc.hint or "")
    assert len(sg.posts) == 4 and len(clock.sleeps) == 3  # no wait after the last attempt
    assert all(0.5 <= wait <= top for wait, top in zip(clock.sleeps, [1.0, 2.0, 4.0], strict=True))  # base 2**n


def test_one_attempt_means_no_retry() -> None:
    clock = Clock()
    sg = FakeSendGrid(http_error(500), OK, clock=clock)
    with pytest.raises(SendGridUnavailable, match=r"\(1 attempts\)"):
        send(backend(sg, clock, max_attempts=1))
    assert len(sg.posts) == 1 and clock.sleeps == []


def test_a_connection_that_never_carried_the_request_is_retried() -> None:
    clock = Clock()
    refused = urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))
    sg = FakeSendGrid(refused, refused, OK, clock=clock)
    b = backend(sg, clock)
    assert all(o.ok for o in send(b))
    assert len(sg.posts) == 3 and len(clock.sleeps) == 2


def test_the_same_body_goes_again_on_a_retry() -> None:
    clock = Clock()
    sg = FakeSendGrid(http_error(502), OK, clock=clock)
    send(backend(sg, clock))
    assert sg.posts[0] is sg.posts[1]  # serialized once, the same bytes both times
    body = json.loads(sg.posts[0].raw)
    assert [p["to"][0]["email"] for p in body["personalizations"]] == ["r0@example.com", "r1@example.com"]


def test_each_retry_is_logged_with_its_reason_and_wait(caplog: pytest.LogCaptureFixture) -> None:
    """What ``digest --debug send`` shows while it waits."""
    clock = Clock()
    caplog.set_level(logging.INFO, logger="digest.deliver.backends.sendgrid.client")
    send(backend(FakeSendGrid(http_error(429, {"Retry-After": "2"}), OK, clock=clock), clock))
    assert "SendGrid mail/send: HTTP 429 rate limited (asked to wait 2.0s); retrying in 2.0s" in caplog.text


# ------------------------------------------------------------------------------- not retried: maybe accepted


@pytest.mark.parametrize("error", [TimeoutError("timed out"), ConnectionResetError(104, "reset by peer"),
                                   http.client.IncompleteRead(b"{")])
def test_a_lost_answer_is_never_posted_again_and_its_recipients_are_unknown(error: BaseException) -> None:
    clock = Clock()
    sg = FakeSendGrid(error, OK, clock=clock)
    b = backend(sg, clock)
    with pytest.raises(SendGridUnavailable) as info:
        send(b)
    exc = info.value
    assert exc.maybe_accepted is True and len(sg.posts) == 1 and clock.sleeps == []
    assert [(o.email, o.ok, o.unknown) for o in exc.outcomes] == [("r0@example.com", False, True),
                                                                  ("r1@example.com", False, True)]
    assert "--resend-unknown" in (exc.hint or "") and "may have been accepted" in exc.message


def test_the_lost_answer_names_what_happened() -> None:
    clock = Clock()
    with pytest.raises(SendGridUnavailable, match="timed out waiting for SendGrid's answer"):
        send(backend(FakeSendGrid(TimeoutError(), clock=clock), clock))
    with pytest.raises(SendGridUnavailable, match="connection lost .*RemoteDisconnected"):
        send(backend(FakeSendGrid(http.client.RemoteDisconnected("closed"), clock=clock), clock))


def test_a_request_with_no_answer_at_all_is_given_up_on_as_maybe_accepted() -> None:
    """Without the pool's watchdog the client bounds each attempt itself: a request hanging past its budget."""
    clock = Clock()
    release = threading.Event()

    class Hangs(FakeSendGrid):
        def post(self, request_body: Any = None, request_headers: Any = None, timeout: float = 0.0) -> Any:
            self.posts.append(request_body)
            release.wait(10)
            return OK

    sg = Hangs(clock=clock)
    b = backend(sg, clock, timeout=0.2)
    before = set(threading.enumerate())
    started = time.monotonic()
    try:
        with pytest.raises(SendGridUnavailable, match="no answer within") as info:
            send(b)
        left = [t for t in threading.enumerate() if t not in before]  # the request still hanging
    finally:
        release.set()
    assert time.monotonic() - started < 10
    assert info.value.maybe_accepted is True and len(sg.posts) == 1
    assert left and all(t.daemon for t in left)  # the abandoned request cannot keep digest from exiting


def test_an_answer_inside_the_timeout_is_waited_for() -> None:
    """The client's own bound (no pool) gives an attempt its whole timeout, not less."""
    clock = Clock()

    class Slow(FakeSendGrid):
        def post(self, request_body: Any = None, request_headers: Any = None, timeout: float = 0.0) -> Any:
            time.sleep(0.3)
            return super().post(request_body, request_headers, timeout)

    sg = Slow(OK, clock=clock)
    assert all(o.ok for o in send(backend(sg, clock, timeout=1.0)))
    assert len(sg.posts) == 1


# ----------------------------------------------------------------------------------------------- refused: 4xx


@pytest.mark.parametrize("status,hint", [(400, "the request was malformed"), (401, "check SENDGRID_API_KEY"),
                                         (403, "the key lacks Mail Send permission"),
                                         (413, "the message is too large"), (404, "nothing in this batch was sent")])
def test_other_4xx_stop_at_once_with_sendgrids_reason(status: int, hint: str) -> None:
    clock = Clock()
    raw = json.dumps({"errors": [{"field": "from.email", "message": "bad sender"}]}).encode()
    sg = FakeSendGrid(http_error(status, body=raw), OK, clock=clock)
    with pytest.raises(SendGridRejected) as info:
        send(backend(sg, clock))
    exc = info.value
    assert f"HTTP {status}: from.email: bad sender" in exc.message and (exc.hint or "").startswith(hint)
    assert exc.outcomes == [] and len(sg.posts) == 1 and clock.sleeps == []


# ------------------------------------------------------------------------------------------------- deadline


def test_each_attempt_gets_the_time_left_and_none_starts_after_the_deadline() -> None:
    clock = Clock()
    sg = FakeSendGrid(*[http_error(429, {"Retry-After": "0.5"})] * 10, clock=clock, takes=4.0)
    b = backend(sg, clock, timeout=5.0, deadline=11.0)
    with pytest.raises(SendGridUnavailable) as info:
        send(b)
    # at 0: 5 s budget, takes 4, waits 0.5; at 4.5: the same; at 9: 2 s left, takes 4; 13.5 is past 11.
    assert sg.budgets == [5.0, 5.0, 2.0] and clock.sleeps == [0.5, 0.5]
    assert "HTTP 429" in info.value.message and info.value.maybe_accepted is False


def test_a_wait_that_would_pass_the_deadline_gives_up_without_waiting() -> None:
    clock = Clock()
    sg = FakeSendGrid(http_error(429, {"Retry-After": "30"}), OK, clock=clock)
    with pytest.raises(SendGridUnavailable, match="would pass the 20s deadline") as info:
        send(backend(sg, clock, deadline=20.0))
    assert clock.sleeps == [] and len(sg.posts) == 1 and info.value.maybe_accepted is False


def test_a_wait_ending_at_the_deadline_is_not_waited_for() -> None:
    clock = Clock()
    sg = FakeSendGrid(http_error(429, {"Retry-After": "20"}), OK, clock=clock)
    with pytest.raises(SendGridUnavailable, match="would pass the 20s deadline"):
        send(backend(sg, clock, deadline=20.0))
    assert clock.sleeps == [] and len(sg.posts) == 1


def test_a_wait_that_overran_into_the_deadline_ends_the_request() -> None:
    """A machine sleeps a little longer than asked: a wait that should have ended just in time may not."""
    clock = Clock()
    sg = FakeSendGrid(http_error(429, {"Retry-After": "16"}), OK, clock=clock)
    b = backend(sg, clock, deadline=20.0)
    overslept = clock.sleep
    b._sleep = lambda seconds: overslept(seconds + 5.0)
    with pytest.raises(SendGridUnavailable, match="HTTP 429") as info:
        send(b)
    assert len(sg.posts) == 1 and info.value.maybe_accepted is False


def test_a_wait_ending_just_inside_the_deadline_is_waited() -> None:
    clock = Clock()
    sg = FakeSendGrid(http_error(429, {"Retry-After": "19"}), OK, clock=clock)
    assert all(o.ok for o in send(backend(sg, clock, deadline=20.0)))
    assert clock.sleeps == [19.0]


class Holds(Alone):
    """A throttle whose wait (another request's 429) moves the clock to ``until``."""

    def __init__(self, clock: Clock, until: float) -> None:
        super().__init__(2, clock=clock, sleep=clock.sleep)
        self.fake_clock, self.until = clock, until

    def acquire(self) -> None:
        super().acquire()
        self.fake_clock.now = self.until


@pytest.mark.parametrize("left", [0.0, -50.0])
def test_no_attempt_starts_once_the_deadline_has_come(left: float) -> None:
    clock = Clock()
    sg = FakeSendGrid(OK, clock=clock)
    b = backend(sg, clock, deadline=20.0)
    b.throttle = Holds(clock, clock.now + 20.0 - left)
    with pytest.raises(SendGridUnavailable, match="deadline passed") as info:
        send(b)
    assert sg.posts == [] and info.value.maybe_accepted is False and info.value.outcomes == []
    assert b.throttle._active == 0  # its place was given back


def test_an_attempt_starting_just_before_the_deadline_gets_the_time_left() -> None:
    clock = Clock()
    sg = FakeSendGrid(OK, clock=clock)
    b = backend(sg, clock, deadline=20.0)
    b.throttle = Holds(clock, clock.now + 19.5)
    assert all(o.ok for o in send(b))
    assert sg.budgets == [0.5]


def test_the_deadline_defaults_to_the_attempts_worth_of_timeouts() -> None:
    assert deadline(settings(timeout=30.0, max_attempts=5)) == 300.0
    assert deadline(settings(timeout=5.0, max_attempts=2)) == 60.0  # at least a minute
    assert deadline(settings(timeout=30.0, max_attempts=5, deadline=12.5)) == 12.5
    assert deadline(settings(timeout=45.0, max_attempts=0)) == 90.0  # no attempts configured: one


# ------------------------------------------------------------------------------------------ with the throttle


def test_the_throttle_holds_a_429s_wait_and_every_place_is_given_back() -> None:
    clock = Clock()
    sg = FakeSendGrid(http_error(429, {"Retry-After": "3"}), http_error(503), OK, clock=clock)
    b = backend(sg, clock)
    b.throttle = Alone(4, clock=clock, sleep=clock.sleep)
    assert all(o.ok for o in send(b))
    thr = b.throttle
    assert thr.rate_limited == 1 and thr.server_errors == 1 and thr.cuts == 1
    assert clock.sleeps[0] == 3.0 and len(clock.sleeps) == 2  # the throttle's wait, then the 5xx backoff
    assert thr._active == 0  # every attempt gave its place back (a leaked one would stall the send for good)


def test_accepted_answers_grow_the_throttles_window() -> None:
    clock = Clock()
    sg = FakeSendGrid(*[OK] * 3, clock=clock)
    b = backend(sg, clock)
    b.throttle = Alone(8, start=2, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        send(b, 1)
    assert b.throttle.limit == 3


def test_a_run_of_5xx_halves_the_throttles_window() -> None:
    clock = Clock()
    sg = FakeSendGrid(*[http_error(500)] * 3, clock=clock)
    b = backend(sg, clock)
    b.throttle = Alone(8, clock=clock, sleep=clock.sleep)
    with pytest.raises(SendGridUnavailable):
        send(b)
    assert b.throttle.limit == 4 and b.throttle._active == 0


# ------------------------------------------------------------------------------------------ other requests


def test_calls_read_sendgrids_json_answer() -> None:
    clock = Clock()
    sg = FakeSendGrid(SimpleNamespace(headers={}, body=b'{"batch_id": "B7"}'), clock=clock)
    assert backend(sg, clock).create_batch_id() == "B7"
    for body in (b"", b"not json"):
        sg = FakeSendGrid(SimpleNamespace(headers={}, body=body), clock=clock)
        with pytest.raises(Exception, match="no batch_id"):
            backend(sg, clock).create_batch_id()


# ------------------------------------------------------------------------------------------------ pure parts


def test_retry_after_and_reset_edge_cases() -> None:
    now = 1_000_000.0
    assert rate_limit_delay(None, now, 9) == 9
    assert rate_limit_delay({"Retry-After": "-5"}, now, 9) == 0
    assert rate_limit_delay({"Retry-After": formatdate(now - 60, usegmt=True)}, now, 9) == 0
    assert rate_limit_delay({"Retry-After": "soon", "X-RateLimit-Reset": str(int(now) + 6)}, now, 9) == 6
    assert rate_limit_delay({"Retry-After": "soon"}, now, 9) == 9
    assert rate_limit_delay({"X-RateLimit-Reset": str(int(now) - 6)}, now, 9) == 0
    assert rate_limit_delay({"X-RateLimit-Reset": "later"}, now, 9) == 9


def test_the_first_backoff_is_at_most_the_base() -> None:
    rng = random.Random(4)
    assert all(0.5 <= backoff_delay(1, 1.0, 30.0, rng) <= 1.0 for _ in range(200))
    assert all(2.0 <= backoff_delay(9, 4.0, 2.0, rng) <= 2.0 for _ in range(20))  # the cap below base/2


def test_describe_error_variants() -> None:
    assert describe_error(400, json.dumps({"errors": ["odd", {"message": "a"}, {"message": "b", "field": None},
                                                      {"message": "c", "field": "f"}]})) == "HTTP 400: a; b; f: c"
    assert describe_error(500, None) == "HTTP 500: (no error body)"
    assert describe_error(502, "  bad\n  gateway ") == "HTTP 502: bad gateway"
    assert describe_error(502, "x" * 400) == "HTTP 502: " + "x" * 300
    assert describe_error(400, b'{"errors": "nope"}') == 'HTTP 400: {"errors": "nope"}'
    assert describe_error(400, b"\xff") == "HTTP 400: \ufffd"


def test_header_value() -> None:
    assert header_value(None, "X-Message-Id") is None
    assert header_value({"X-Message-Id": ""}, "X-Message-Id") is None
    assert header_value({"X-Message-Id": 7}, "X-Message-Id") == "7"

