"""``digest suppressions pull``: SendGrid's suppression lists merged into the local one.

What is fetched (SendGrid v3, ``shared/sendgrid/tsg_suppressions_v3.json``), each into the local list with
its reason (``source`` is ``sendgrid``, or ``sendgrid asm group N``):

=================================== ================== ================================================
GET /v3/suppression/unsubscribes    ``unsubscribe``    global unsubscribes
GET /v3/suppression/bounces         ``bounce``
GET /v3/suppression/spam_reports    ``spam_report``
GET /v3/suppression/invalid_emails  ``invalid``
GET /v3/suppression/blocks          ``block``          only with ``blocks=True``: SendGrid itself keeps
                                                       mailing blocked addresses (a block is often temporary)
GET /v3/asm/groups/{id}/suppressions ``unsubscribe``   the unsubscribe group's list (not paged, no dates)
=================================== ================== ================================================

The four ``suppression/*`` lists answer ``[{"email", "created", ...}]`` and are paged with ``limit`` (at most
500) and ``offset`` until a page comes back short; ``since`` becomes ``start_time`` (unix seconds, inclusive).
The group list answers a bare ``["a@example.com", ...]``.

Each pull remembers, per list, when it started (``.<list name>-pulled.json`` beside the local list); the next
pull without ``since`` asks each paged list only for what was created from an hour before that (the hour
covers a clock that differs from SendGrid's), so a daily pull of a large account is a few requests, not
thousands. ``full=True`` (``--all``) fetches everything again; an explicit ``since`` wins over both.

Requests go through the real ``sendgrid`` client (``SendGridAPIClient(key, host=settings.sendgrid_host())``),
each with a socket ``timeout``. 401/403 stop with a message about the key (never the key itself); 429 waits
for ``Retry-After`` / ``X-RateLimit-Reset`` and retries; 5xx, timeouts and connection errors retry with
bounded exponential backoff (these are reads: retrying is always safe); any other 4xx stops with SendGrid's
``errors[]`` message. Each kind is merged as soon as all its pages are in, so a failure later on keeps it.
"""

from __future__ import annotations

import datetime as _dt
import http.client
import json
import logging
import random
import re
import time
import urllib.error
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from ....config import Settings, load_settings
from ....errors import ConfigError, DigestError, UsageError
from ... import suppressions
from ...recipients import clean_value, validate_address
from ...transport import Pool
from .client import (
    API_KEY_ENV,
    MAX_RATE_LIMIT_WAIT,
    api_key,
    backoff_delay,
    deadline,
    describe_error,
    make_client,
    rate_limit_delay,
)

logging.getLogger("python_http_client").setLevel(logging.WARNING)
log = logging.getLogger(__name__)

PAGE_LIMIT = 500  # the documented maximum page size of the suppression/* lists
PULL_OVERLAP = 3600  # seconds re-asked before the remembered start of the last pull
MAX_PAGES = 100_000  # 50 million entries: past this something is wrong with the paging
MAX_RATE_LIMITED = 20  # 429 answers tolerated for one request before giving up


@dataclass(frozen=True)
class Kind:
    """One SendGrid list: where it is and what it means locally."""

    name: str  # for output and JSON: "unsubscribes", "bounces", ..., "asm_group_42"
    path: str  # after /v3/
    reason: str  # the reason recorded in the local list
    source: str = "sendgrid"
    paged: bool = True  # limit/offset/start_time apply
    strings: bool = False  # the answer is a list of bare addresses, not of objects


UNSUBSCRIBES = Kind("unsubscribes", "suppression/unsubscribes", "unsubscribe")
BOUNCES = Kind("bounces", "suppression/bounces", "bounce")
SPAM_REPORTS = Kind("spam_reports", "suppression/spam_reports", "spam_report")
INVALID_EMAILS = Kind("invalid_emails", "suppression/invalid_emails", "invalid")
BLOCKS = Kind("blocks", "suppression/blocks", "block")
GLOBAL_KINDS = (UNSUBSCRIBES, BOUNCES, SPAM_REPORTS, INVALID_EMAILS)


def asm_group_kind(group_id: int) -> Kind:
    """GET /v3/asm/groups/{group_id}/suppressions: the addresses unsubscribed from that group."""
    return Kind(f"asm_group_{group_id}", f"asm/groups/{group_id}/suppressions", "unsubscribe",
                source=f"sendgrid asm group {group_id}", paged=False, strings=True)


def kinds_for(group_id: int | None, *, blocks: bool = False) -> list[Kind]:
    out = list(GLOBAL_KINDS)
    if blocks:
        out.append(BLOCKS)
    if group_id:
        out.append(asm_group_kind(group_id))
    return out


# ----------------------------------------------------------------------------------------------- pure parts

_RELATIVE = re.compile(r"^\s*(\d+)\s*([dhw])\s*$", re.IGNORECASE)


def parse_since(value: str, now: float | None = None) -> int:
    """``--since``: a date (``2026-01-31``, UTC midnight), an ISO datetime (naive is UTC), unix seconds, or
    ``30d`` / ``12h`` / ``2w`` ago. Returns unix seconds; a time in the future is a ``UsageError``."""
    now = time.time() if now is None else now
    text = value.strip()
    ts: float
    rel = _RELATIVE.match(text)
    if rel:
        n, unit = int(rel.group(1)), rel.group(2).lower()
        ts = now - n * {"h": 3600, "d": 86400, "w": 7 * 86400}[unit]
    elif text.isdigit():
        ts = float(text)
    else:
        try:
            parsed = _dt.datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
        except ValueError:
            raise UsageError(f"--since {value!r} is not a date",
                             hint="give 2026-01-31, 2026-01-31T09:00+01:00, unix seconds, or 30d / 12h") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=_dt.UTC)
        ts = parsed.timestamp()
    if ts > now + 60:
        raise UsageError(f"--since {value!r} is in the future")
    return max(0, int(ts))


class UnexpectedAnswer(DigestError):
    """SendGrid answered 2xx with a body that is not the documented list."""


def parse_page(kind: Kind, body: bytes | str | None) -> tuple[list[str], int]:
    """The addresses of one answer, and how many items held no readable address.

    Objects ``{"email": ..., "created": ...}`` for the ``suppression/*`` lists, bare strings for a group.
    Anything but a JSON array is an ``UnexpectedAnswer``; an item without an address is counted, not fatal.
    """
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
    try:
        data = json.loads(text) if text.strip() else []
    except ValueError:
        raise UnexpectedAnswer(f"SendGrid answered GET /v3/{kind.path} with a body that is not JSON: "
                               f"{' '.join(text.split())[:120]!r}") from None
    if not isinstance(data, list):
        raise UnexpectedAnswer(f"SendGrid answered GET /v3/{kind.path} with a JSON {type(data).__name__}, "
                               "not the documented list")
    emails: list[str] = []
    unreadable = 0
    for item in data:
        raw = item if kind.strings else (item.get("email") if isinstance(item, dict) else None)
        if isinstance(raw, str) and raw.strip():
            emails.append(raw.strip())
        else:
            unreadable += 1
    return emails, unreadable


GetPage = Callable[[Kind, Mapping[str, int]], "bytes | str | None"]


@dataclass
class Fetched:
    emails: list[str] = field(default_factory=list)
    unreadable: int = 0
    requests: int = 0


def fetch_kind(get: GetPage, kind: Kind, *, since: int | None = None, page_size: int = PAGE_LIMIT) -> Fetched:
    """Every address of ``kind``: pages of ``page_size`` (limit/offset) until a short page.

    ``get(kind, query)`` makes one request and returns the body. A server that ignores ``offset`` (the same
    full page again) is an ``UnexpectedAnswer`` rather than an endless loop.
    """
    out = Fetched()
    if not kind.paged:
        emails, bad = parse_page(kind, get(kind, {}))
        out.emails, out.unreadable, out.requests = emails, bad, 1
        return out
    limit = max(1, min(int(page_size), PAGE_LIMIT))
    offset = 0
    previous: list[str] | None = None
    while True:
        query: dict[str, int] = {"limit": limit, "offset": offset}
        if since is not None:
            query["start_time"] = since
        body = get(kind, query)
        out.requests += 1
        emails, bad = parse_page(kind, body)
        out.unreadable += bad
        count = len(emails) + bad
        if count > limit:
            raise UnexpectedAnswer(f"SendGrid answered GET /v3/{kind.path} with {count} items for limit={limit}")
        if count == limit and previous is not None and emails == previous:
            raise UnexpectedAnswer(f"SendGrid answered GET /v3/{kind.path} offset={offset} with the same page as "
                                   "before: the list cannot be paged")
        out.emails.extend(emails)
        if count < limit:
            return out
        if out.requests >= MAX_PAGES:
            raise UnexpectedAnswer(f"SendGrid GET /v3/{kind.path}: still full pages after {MAX_PAGES} requests")
        previous = emails
        offset += limit


# --------------------------------------------------------------------------------------------------- merging


@dataclass
class KindResult:
    kind: str
    reason: str
    source: str
    fetched: int  # items SendGrid returned (an address listed twice counts twice)
    unique: int  # distinct addresses among them (case-insensitive)
    new: int  # added to the local list
    already: int  # already on the local list (or added by an earlier kind of this pull)
    unreadable: int = 0
    requests: int = 0
    since: int | None = None  # the start_time asked (None: everything)
    since_last_pull: bool = False  # that start_time came from the remembered last pull

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def pull_state_path(path: Path) -> Path:
    """Where the start times of the last pulls of the list at ``path`` are remembered."""
    return path.parent / f".{path.stem}-pulled.json"


def read_pull_state(path: Path) -> dict[str, int]:
    """Kind name → unix time the last complete pull of that kind started ({} when unknown or unreadable)."""
    try:
        data = json.loads(pull_state_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): int(v) for k, v in data.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def remember_pull(path: Path, kind: str, started: float) -> None:
    """Record that ``kind`` was pulled completely from ``started`` on (atomically: a crash keeps the old file)."""
    state = read_pull_state(path)
    state[kind] = int(started)
    target = pull_state_path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(target)


def merge_kind(path: Path, kind: Kind, emails: Iterable[str], *, unreadable: int = 0,
               requests: int = 0) -> KindResult:
    """Append ``emails`` to the local list with ``kind``'s reason and source; counts new vs already listed."""
    entries: list[suppressions.Entry] = []
    seen: set[str] = set()
    fetched = 0
    for raw in emails:
        fetched += 1
        cleaned = clean_value(raw)
        if not cleaned:
            unreadable += 1
            continue
        k = suppressions.key(cleaned)
        if k in seen:
            continue
        seen.add(k)
        normalized, _ = validate_address(cleaned)
        # An address SendGrid lists as invalid may not pass validation: it is kept as SendGrid spells it.
        entries.append(suppressions.Entry(normalized or cleaned, kind.reason, kind.source))
    new = suppressions.add(path, entries) if entries else 0
    return KindResult(kind.name, kind.reason, kind.source, fetched, len(entries), new, len(entries) - new,
                      unreadable, requests)


# -------------------------------------------------------------------------------------------------- the I/O


class Requester:
    """One GET through the ``sendgrid`` client, with the error policy of the module docstring."""

    def __init__(self, client: Any, *, timeout: float = 30.0, max_attempts: int = 5, deadline: float = 300.0,
                 backoff_base: float = 0.5, backoff_cap: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None, notify: Callable[[str], None] | None = None) -> None:
        self.client = client
        self.timeout = timeout
        self.max_attempts = max(1, max_attempts)
        self.deadline = deadline
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.requests = 0
        self.retries = 0
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._notify = notify

    def __call__(self, kind: Kind, query: Mapping[str, int]) -> bytes | str | None:
        from python_http_client.exceptions import HTTPError

        what = f"GET /v3/{kind.path}"
        end = self._clock() + self.deadline
        failures = 0
        limited = 0
        while True:
            remaining = end - self._clock()
            if remaining <= 0:
                raise DigestError(f"SendGrid {what}: no answer within the {self.deadline:.0f}s deadline")
            node = self.client.client
            for segment in kind.path.split("/"):
                node = node._(segment)
            try:
                self.requests += 1
                resp = node.get(query_params=dict(query) or None, timeout=min(self.timeout, remaining))
                return cast("bytes | str | None", resp.body)
            except HTTPError as exc:
                status = int(getattr(exc, "status_code", 0) or 0)
                if status == 429:
                    limited += 1
                    delay = min(rate_limit_delay(getattr(exc, "headers", None) or {}, time.time(), self.backoff_cap),
                                MAX_RATE_LIMIT_WAIT)
                    reason = f"HTTP 429 rate limited (asked to wait {delay:.1f}s)"
                    if limited > MAX_RATE_LIMITED:
                        raise DigestError(f"SendGrid {what}: still rate limited after {limited} tries",
                                          hint="run digest suppressions pull again later") from None
                elif status >= 500:
                    failures += 1
                    reason = describe_error(status, exc.body)
                    delay = None
                else:
                    raise refused(what, status, exc.body, kind) from None
            except (TimeoutError, urllib.error.URLError, http.client.HTTPException, ConnectionError, OSError) as exc:
                failures += 1
                reason = network_reason(exc)
                delay = None
            if failures >= self.max_attempts:
                raise DigestError(f"SendGrid {what}: gave up after {failures} attempts: {reason}",
                                  hint="nothing of this list was merged; run digest suppressions pull again later")
            if delay is None:
                delay = backoff_delay(failures, self.backoff_base, self.backoff_cap, self._rng)
            if self._clock() + delay >= end:
                raise DigestError(f"SendGrid {what}: {reason}; the next try would pass the "
                                  f"{self.deadline:.0f}s deadline", hint="run digest suppressions pull again later")
            self.retries += 1
            line = f"SendGrid {what}: {reason}; retrying in {delay:.1f}s"
            log.info("%s", line)
            if self._notify:
                self._notify(line)
            self._sleep(delay)


def refused(what: str, status: int, body: bytes | str | None, kind: Kind | None = None) -> DigestError:
    """The error for a 4xx other than 429: about the key for 401/403, else SendGrid's ``errors[]``."""
    detail = describe_error(status, body)
    if status == 401:
        return DigestError(f"SendGrid refused the API key for {what} ({detail})",
                           hint=f"{API_KEY_ENV} is wrong, revoked or expired")
    if status == 403:
        need = "Suppressions (read)" if kind is None or kind.paged else "Suppressions > Unsubscribe Groups (read)"
        return DigestError(f"SendGrid refused {what} for this API key ({detail})",
                           hint=f"the key in {API_KEY_ENV} needs the {need} permission")
    hint = None
    if status == 404 and kind is not None and not kind.paged:
        hint = "no such unsubscribe group: check --group or [sendgrid] asm_group_id"
    return DigestError(f"SendGrid refused {what}: {detail}", hint=hint)


def network_reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        return f"could not reach SendGrid: {exc.reason}"
    if isinstance(exc, TimeoutError):
        return "timed out waiting for SendGrid's answer"
    return f"connection lost waiting for SendGrid's answer: {type(exc).__name__}"


@dataclass
class PullResult:
    path: Path
    kinds: list[KindResult]
    requests: int = 0
    retries: int = 0

    @property
    def new(self) -> int:
        return sum(k.new for k in self.kinds)

    @property
    def already(self) -> int:
        return sum(k.already for k in self.kinds)

    def as_dict(self) -> dict[str, Any]:
        return {"file": str(self.path), "new": self.new, "already": self.already, "requests": self.requests,
                "retries": self.retries, "kinds": {k.kind: k.as_dict() for k in self.kinds}}


def group_from(settings: Settings, group: int | None) -> int | None:
    if group is not None:
        if group <= 0:
            raise UsageError(f"--group {group}: an unsubscribe group id is a positive number")
        return group
    return settings.sendgrid.asm_group_id or None  # validated as a number when digest.toml was read


def pull(folder: Path | str, *, since: int | None = None, group: int | None = None, blocks: bool = False,
         full: bool = False, file: Path | None = None, client: Any = None, page_size: int = PAGE_LIMIT,
         sleep: Callable[[float], None] = time.sleep, notify: Callable[[str], None] | None = None,
         on_kind: Callable[[KindResult], None] | None = None, settings: Settings | None = None) -> PullResult:
    """Fetch every list of ``kinds_for(group, blocks=blocks)`` and merge each into the local suppression list.

    ``folder`` is the newsletter folder (digest.toml there or above); ``file`` overrides the list's path.
    Without ``since`` each paged list is asked only for entries since its last complete pull (less an hour),
    unless ``full``. ``notify`` gets a line per retry (for stderr); ``on_kind`` each kind's counts as soon as
    it is merged.
    """
    folder = Path(folder)
    settings = settings if settings is not None else load_settings(folder)
    path = file if file is not None else suppressions.suppressions_path(folder, settings, issue_dir=False)
    group_id = group_from(settings, group)
    sg = settings.sendgrid
    if client is None:
        try:
            key = api_key()
        except ConfigError:
            raise ConfigError(f"{API_KEY_ENV} is not set: pulling suppressions needs a SendGrid API key with "
                              "Suppressions read permission", hint=f"export {API_KEY_ENV}=SG....") from None
        client = make_client(settings, key, Pool(settings.sendgrid_host()))
    requester = Requester(
        client,
        timeout=sg.timeout, max_attempts=sg.max_attempts, deadline=deadline(settings),
        backoff_base=sg.backoff_base, backoff_cap=sg.backoff_cap,
        sleep=sleep, notify=notify)
    result = PullResult(path, [])
    remembered = {} if full or since is not None else read_pull_state(path)
    for kind in kinds_for(group_id, blocks=blocks):
        before = requester.requests
        started = time.time()
        last = remembered.get(kind.name) if kind.paged else None
        kind_since = since if since is not None else (max(0, last - PULL_OVERLAP) if last is not None else None)
        try:
            got = fetch_kind(requester, kind, since=kind_since, page_size=page_size)
        finally:
            result.requests, result.retries = requester.requests, requester.retries
        merged = merge_kind(path, kind, got.emails, unreadable=got.unreadable, requests=requester.requests - before)
        merged.since = kind_since if kind.paged else None
        merged.since_last_pull = since is None and last is not None
        if since is None:  # a complete pull of this list (a partial one, --since, says nothing about the rest)
            remember_pull(path, kind.name, started)
        result.kinds.append(merged)
        if on_kind:
            on_kind(merged)
    return result


def describe_kind(k: KindResult) -> str:
    label = k.kind.replace("asm_group_", "asm group ").replace("_", " ")
    extra = f", {k.unreadable} without an address" if k.unreadable else ""
    if k.since is not None:
        when = _dt.datetime.fromtimestamp(k.since, _dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        extra += f" (created since {when}{', an hour before the last pull' if k.since_last_pull else ''})"
    return f"{label}: {k.unique} address(es), {k.new} new, {k.already} already listed{extra}"
