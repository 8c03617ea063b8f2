"""The HTTP side of SendGrid: the client (kept-alive pooled connections, ``deliver/transport.py``), retries with
backoff and rate limits, an overall deadline per call, and the classification of errors.

Only what SendGrid certainly did not accept is sent again (Mail Send has no idempotency key: a request it
accepted and that is posted again is delivered again):

* a connection refused, or lost before the request was completely written (``URLError``), a 429 and a 5xx are
  retried (with backoff; a 429 after its ``Retry-After`` / ``X-RateLimit-Reset``);
* a timeout or a lost connection *after* the request was written is ambiguous: the call gives up at once
  (``SendGridUnavailable`` with ``maybe_accepted``), and the batch's recipients are ``unknown``;
* any other 4xx is a refusal (``SendGridRejected``).

With a ``throttle`` (several requests in flight, ``deliver/flights.py``) every answer is reported to it: an
accepted one grows the window, a 429 or a run of 5xx halves it, and a 429's wait holds every new request.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import random
import threading
import time
import urllib.error
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from ....config import Settings
from ....errors import ConfigError
from ...throttle import Throttle
from ...transport import Pool, is_loopback, pooled_client
from ..base import BatchAborted
from .body import JSON_HEADERS, JsonBody, dumps

log = logging.getLogger(__name__)

API_KEY_ENV = "SENDGRID_API_KEY"
MAX_RATE_LIMIT_WAIT = 300.0  # never sleep longer than this on a single 429


class SendGridRejected(BatchAborted):
    """SendGrid refused a request (4xx other than 429): nothing in it was accepted; the send stops."""


class SendGridUnavailable(BatchAborted):
    """Transient trouble outlasted the attempts or the deadline; the send stops (resumable).

    ``maybe_accepted`` is True when an attempt timed out or lost its connection after the body left: SendGrid
    may have accepted it, so the batch's recipients are handed back as ``unknown`` outcomes, never as failed.
    """

    def __init__(self, message: str, hint: str, *, maybe_accepted: bool) -> None:
        super().__init__(message, hint=hint)
        self.maybe_accepted = maybe_accepted


# ---------------------------------------------------------------------------------------------- pure parts


def api_key(env: Mapping[str, str] | None = None) -> str:
    """The key from ``SENDGRID_API_KEY``; a clear error (never the key) when it is missing."""
    key = (env if env is not None else os.environ).get(API_KEY_ENV, "").strip()
    if not key:
        raise ConfigError(
            f"{API_KEY_ENV} is not set: the SendGrid backend needs an API key with Mail Send permission",
            hint=f"export {API_KEY_ENV}=SG.... (keys never go in digest.toml)",
        )
    return key


def describe_error(status: int, raw: bytes | str | None) -> str:
    """SendGrid's ``errors[]`` as one line: ``HTTP 400: from.email: The from email does not ...``."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else (raw or "")
    parts: list[str] = []
    try:
        data = json.loads(text)
    except ValueError:  # not JSON, or empty
        data = {}
    if isinstance(data, dict) and isinstance(data.get("errors"), list):
        for err in data["errors"]:
            if not isinstance(err, dict):
                continue
            msg = str(err.get("message") or "").strip()
            fld = err.get("field")
            parts.append(f"{fld}: {msg}" if fld else msg)
    elif text.strip():
        parts.append(" ".join(text.split())[:300])
    detail = "; ".join(p for p in parts if p) or "(no error body)"
    return f"HTTP {status}: {detail}"


def rate_limit_delay(headers: Mapping[str, str] | None, now: float, default: float) -> float:
    """Seconds to wait after a 429: ``Retry-After`` (seconds or HTTP date), else ``X-RateLimit-Reset`` (epoch)."""
    if headers:
        retry_after = headers.get("Retry-After")
        if retry_after:
            try:
                return max(0.0, float(retry_after))
            except ValueError:
                try:
                    return max(0.0, parsedate_to_datetime(retry_after).timestamp() - now)
                except (TypeError, ValueError):
                    pass
        reset = headers.get("X-RateLimit-Reset")
        if reset:
            try:
                return max(0.0, float(reset) - now)
            except ValueError:
                pass
    return default


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Full-jitter exponential backoff: uniform in [base/2, min(cap, base * 2**(attempt-1))]."""
    top = min(cap, base * (2 ** max(0, attempt - 1)))
    return rng.uniform(min(base / 2, top), top)


# ------------------------------------------------------------------------------------------- schedule state


def deadline(settings: Settings) -> float:
    """Seconds one request may take over all its retries: ``[sendgrid] deadline``, or when that is 0,
    timeout x max_attempts x 2 and at least 60."""
    sg = settings.sendgrid
    return sg.deadline or max(60.0, sg.timeout * max(1, sg.max_attempts) * 2)


def make_client(settings: Settings, key: str, pool: Pool) -> Any:
    """The ``sendgrid`` client for the configured host and ``key``, its requests over ``pool`` (kept-alive
    connections)."""
    from sendgrid import SendGridAPIClient

    logging.getLogger("python_http_client").setLevel(logging.WARNING)
    host = settings.sendgrid_host()
    return pooled_client(SendGridAPIClient(key, host=host), pool)


def host_warning(host: str) -> str | None:
    """A warning for a plain-http API host that is not this machine (the key would cross the network in clear)."""
    parts = urlsplit(host)
    if parts.scheme != "http" or is_loopback(parts.hostname or ""):
        return None
    return (f"the SendGrid host {host} is plain http: the API key and every address would cross the network "
            "unencrypted (use https, or a loopback address for a local stand-in)")



class _Transient(Exception):
    def __init__(self, reason: str, *, ambiguous: bool, delay: float | None = None, rate_limited: bool = False):
        self.reason = reason
        self.ambiguous = ambiguous
        self.delay = delay
        self.rate_limited = rate_limited


class RetryingClient:
    """The transport of ``SendGridBackend``: ``_call``/``_post`` with retries (the backend holds the settings)."""

    settings: Settings
    timeout: float
    max_attempts: int
    deadline: float
    backoff_base: float
    backoff_cap: float
    requests: int
    throttle: Throttle | None
    _client: Any
    _sleep: Callable[[float], None]
    _clock: Callable[[], float]
    _rng: random.Random
    _count_lock: threading.Lock
    _bounded = False  # True when the transport bounds each whole request (``transport.Pool``)

    def _call(self, what: str, fn: Callable[[Any, float], Any]) -> Any:
        if self._client is None:
            self._client = make_client(self.settings, api_key(), Pool(self.settings.sendgrid_host()))
        _, body = self._retrying(lambda t: fn(self._client, t), what)
        try:
            return json.loads(body)
        except ValueError:  # not JSON, or empty: None
            pass

    def _post(self, body: dict[str, Any] | JsonBody) -> Mapping[str, str]:
        client = self._client
        data = body if isinstance(body, JsonBody) else dumps(body)  # once, not once per attempt
        headers, _ = self._retrying(
            lambda t: client.client.mail.send.post(request_body=data, request_headers=JSON_HEADERS, timeout=t),
            "mail/send")
        return headers

    def _retrying(self, request: Callable[[float], Any], what: str) -> tuple[Mapping[str, str], bytes]:
        from python_http_client.exceptions import HTTPError

        start = self._clock()
        end = start + self.deadline
        failures = 0
        last = ""
        throttle = self.throttle
        while True:
            if throttle is not None:
                throttle.acquire()  # after a 429 (this request's or another's): SendGrid's wait; then a place
            remaining = end - self._clock()
            if remaining <= 0:
                if throttle is not None:
                    throttle.release()
                raise self._give_up(what, last or "deadline passed", False)
            try:
                with self._count_lock:
                    self.requests += 1
                budget = min(self.timeout, remaining)
                # The pool bounds each whole request itself (its watchdog); another client gets a thread.
                try:
                    resp = request(budget) if self._bounded else self._with_deadline(request, budget)
                finally:
                    if throttle is not None:
                        throttle.release()  # the place is the attempt's; a retry queues for one again
                if throttle is not None:
                    throttle.accepted()
                return resp.headers, resp.body
            except HTTPError as exc:
                status = int(exc.status_code)
                if status == 429:
                    delay = min(rate_limit_delay(exc.headers, time.time(), self.backoff_cap), MAX_RATE_LIMIT_WAIT)
                    last = f"HTTP 429 rate limited (asked to wait {delay:.1f}s)"
                    fail = _Transient(last, ambiguous=False, delay=delay, rate_limited=True)
                    if throttle is not None:
                        throttle.too_many(delay)
                elif status >= 500:
                    fail = _Transient(describe_error(status, exc.body), ambiguous=False)
                    if throttle is not None:
                        throttle.server_error()
                else:
                    raise SendGridRejected(
                        f"SendGrid refused the {what} request: {describe_error(status, exc.body)}",
                        hint=_hint_for(status),
                    ) from None
            except _Transient as exc:
                fail = exc
            except (TimeoutError, urllib.error.URLError, http.client.HTTPException, ConnectionError, OSError) as exc:
                fail = _classify_network(exc)
            last = fail.reason
            if fail.ambiguous:  # the request was written: SendGrid may have accepted it; never post it again
                raise self._give_up(what, last, True)
            if not fail.rate_limited:
                failures += 1
                if failures >= self.max_attempts:
                    raise self._give_up(what, f"{last} ({failures} attempts)", False)
            delay = fail.delay if fail.delay is not None else backoff_delay(
                failures, self.backoff_base, self.backoff_cap, self._rng)
            if self._clock() + delay >= end:
                raise self._give_up(what, f"{last}; the next try would pass the {self.deadline:.0f}s deadline",
                                    False)
            log.info("SendGrid %s: %s; retrying in %.1fs", what, last, delay)
            if not (fail.rate_limited and throttle is not None):  # the throttle holds it (``acquire`` above)
                self._sleep(delay)

    def _with_deadline(self, request: Callable[[float], Any], budget: float) -> Any:
        """Run one request with a socket timeout, and give up on it when ``budget`` seconds have passed."""
        result: dict[str, Any] = {}

        def run() -> None:
            try:
                result["ok"] = request(budget)
            except BaseException as exc:  # noqa: BLE001 - handed back to the caller's thread
                result["err"] = exc

        worker = threading.Thread(target=run, name="sendgrid-request", daemon=True)
        worker.start()
        worker.join(budget + 1.0)
        if worker.is_alive():
            raise _Transient(f"no answer within {budget:.0f}s", ambiguous=True)
        if "err" in result:
            raise result["err"]
        return result["ok"]

    def _give_up(self, what: str, last: str, ambiguous: bool) -> SendGridUnavailable:
        if ambiguous:
            return SendGridUnavailable(
                f"SendGrid {what}: gave up: {last}; a request may have been accepted",
                hint="its recipients are held as unknown; check SendGrid's activity, then resend with --resend-unknown",
                maybe_accepted=True,
            )
        return SendGridUnavailable(f"SendGrid {what}: gave up: {last}",
                                   hint="nothing in this batch was accepted; run digest send again to resume",
                                   maybe_accepted=False)


def header_value(headers: Any, name: str) -> str | None:
    if headers is None:
        return None
    value = headers.get(name)
    return str(value) if value else None


def _classify_network(exc: BaseException) -> _Transient:
    """Trouble before the request was fully written is safe to retry; after it, SendGrid may have accepted it.

    urllib wraps errors of connecting and writing the request in ``URLError``; errors while waiting for or
    reading the answer (timeout, reset, closed without an answer) arrive bare.
    """
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        return _Transient(f"could not reach SendGrid: {exc.reason}", ambiguous=False)
    if isinstance(exc, TimeoutError):
        return _Transient("timed out waiting for SendGrid's answer", ambiguous=True)
    return _Transient(f"connection lost waiting for SendGrid's answer: {type(exc).__name__}: {exc}",
                      ambiguous=True)


def _hint_for(status: int) -> str:
    return {
        400: "the request was malformed; nothing in this batch was sent",
        401: f"check {API_KEY_ENV}",
        403: "the key lacks Mail Send permission, or the sender is not verified",
        413: "the message is too large (SendGrid allows 30 MB per request)",
    }.get(status, "nothing in this batch was sent")
