"""The SendGrid backend: one v3 ``mail/send`` request per batch of up to 1000 recipients.

The issue is rendered once (``Draft``); its subject, text and HTML travel once per request and every
recipient is a ``personalization`` whose ``substitutions`` are that recipient's merge values (one token per
field and context, see ``digest.merge``). Per-recipient headers (List-Unsubscribe with the recipient's own
link) go in ``personalizations[].headers``; SendGrid makes each message's Message-ID.

Request bodies are plain dicts (the library's helper classes cost ~16 µs a recipient). Errors:

* 429 → wait for ``Retry-After`` / ``X-RateLimit-Reset``, then retry;
* 5xx, connections refused or lost before the request was written → exponential backoff with jitter, at most
  ``[sendgrid] max_attempts``;
* a timeout or lost connection after the request was written → not sent again: its recipients are unknown;
* any other 4xx → ``SendGridRejected`` showing SendGrid's ``errors[]`` (field and message): the send stops.

Up to ``[sendgrid] concurrency`` batches are sent at once (``concurrency``; ``deliver/flights.py`` runs them and
sets ``throttle``), over kept-alive connections shared by the request threads.

Every call has a socket ``timeout`` and every batch an overall deadline (``[sendgrid] deadline``). The API key
comes from ``SENDGRID_API_KEY`` only; it is never printed, logged or written, and the ``python_http_client``
logger (which logs the bearer key and whole bodies at DEBUG) is kept at WARNING.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ....errors import DigestError
from ....model import AllAccepted, Outcome, Personal, Recipient
from ...throttle import Throttle
from ...transport import Pool
from .body import JSON_HEADERS, BatchBody, JsonBody, Personalizer, build_batch, dumps, static_body
from .client import (
    RetryingClient,
    SendGridRejected,
    SendGridUnavailable,
    api_key,
    deadline,
    header_value,
    host_warning,
    make_client,
)
from .rows import RowPath, build_rows, row_path
from .schedule import check_send_at, load_schedule, save_schedule

if TYPE_CHECKING:
    from ....compose.message import Draft
    from ....config import Settings
    from ....folder import IssueFolder
    from ...personal import PersonalMaker
    from ..base import Backend, PreparesBatches, PreparesRows, Schedules

MAX_PERSONALIZATIONS = 1000  # per request
MAX_CONCURRENCY = 64  # [sendgrid] concurrency at most

class SendGridBackend(RetryingClient):
    """``Backend`` over SendGrid's v3 Mail Send API, with prepared rows (``PreparesRows``, ``PreparesBatches``)
    and scheduling (``Schedules``): see ``backends.base``."""

    name = "sendgrid"

    def __init__(
        self,
        settings: Settings,
        *,
        sandbox: bool = False,
        send_at: int | None = None,
        batch_id: str | None = None,
        client: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        sg = settings.sendgrid
        self.settings = settings
        self.sandbox = sandbox
        self.delivers = not sandbox  # a sandbox run is accepted by SendGrid but reaches no one
        self.send_at = send_at
        self.batch_id = batch_id
        self.max_batch = batch_size(settings)
        self.timeout = sg.timeout
        self.max_attempts = max(1, sg.max_attempts)
        self.deadline = deadline(settings)
        self.backoff_base = sg.backoff_base
        self.backoff_cap = sg.backoff_cap
        self.asm_group = sg.asm_group_id
        self.concurrency = max(1, min(MAX_CONCURRENCY, sg.concurrency))
        self.throttle: Throttle | None = None  # set by the send loop when several requests may be out at once
        self.requests = 0
        self._count_lock = threading.Lock()
        self._pool: Pool | None = None
        self._client = client
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._static: dict[str, Any] | None = None
        self._personalizer: Personalizer | None = None
        self._row_path: tuple[PersonalMaker, RowPath | None, dict[str, Any] | None] | None = None

    # -- protocol -------------------------------------------------------------------------------------------
    def open(self, draft: Draft) -> None:
        if self.send_at is not None:
            check_send_at(self.send_at)
        if self._client is None:
            self._pool = Pool(self.settings.sendgrid_host())
            self._client = make_client(self.settings, api_key(), self._pool)
            self._bounded = True
        if self.send_at is not None and not self.batch_id:
            self.batch_id = self.create_batch_id()
        self._static = static_body(draft, self.settings, sandbox=self.sandbox, send_at=self.send_at,
                                   batch_id=self.batch_id)
        self._personalizer = Personalizer(draft, asm=bool(self.asm_group),
                                          custom_args={"digest_issue": draft.slug or "issue"})
        self._row_path = None

    def send_batch(self, draft: Draft, batch: Sequence[Personal]) -> list[Outcome]:
        return self.send_prepared(draft, self.prepare_batch(draft, batch))

    def prepare_batch(self, draft: Draft, batch: Sequence[Personal]) -> BatchBody:
        """The request of one batch, built and serialized, not sent (pure: the send loop prepares the next batch
        while one is in flight)."""
        if self._static is None:
            self.open(draft)
        assert self._static is not None and self._personalizer is not None
        built = build_batch(self._static, batch, self._personalizer)
        if built.emails:
            built.raw = dumps(built.body)
        return built

    def prepare_rows(self, draft: Draft, rows: Sequence[Recipient], maker: PersonalMaker) -> BatchBody | None:
        """``prepare_batch`` straight from ``Recipient`` rows (``maker`` makes what a ``Personal`` would hold);
        None when the links are not the common shape (then use ``prepare_batch``)."""
        if self._static is None:
            self.open(draft)
        assert self._static is not None and self._personalizer is not None
        cached = self._row_path
        if cached is None or cached[0] is not maker:
            path = row_path(self._personalizer, maker)
            cached = self._row_path = (maker, path, path.rewrite(self._static) if path else None)
        path, static = cached[1], cached[2]
        if path is None:
            return None
        assert static is not None  # rewritten whenever there is a row path
        built = build_rows(static, rows, path.make, path.write)
        if built.emails and built.raw is None:
            built.raw = dumps(built.body)
        return built

    def send_prepared(self, draft: Draft, built: BatchBody) -> list[Outcome]:
        """Send a batch made by ``prepare_batch``: one outcome per recipient (errors as in ``send_batch``)."""
        outcomes = list(built.refused)
        if not built.emails:
            return outcomes
        try:
            headers = self._post(built.raw if built.raw is not None else built.body)
        except SendGridUnavailable as exc:
            # Recipients refused while building never left; the batch's others left when the answer was lost.
            exc.outcomes = outcomes + ([Outcome(e, False, error=exc.message, unknown=True) for e in built.emails]
                                       if exc.maybe_accepted else [])
            raise
        except SendGridRejected as exc:
            exc.outcomes = outcomes
            raise
        message_id = header_value(headers, "X-Message-Id")
        if not outcomes:
            return AllAccepted(built.emails, message_id)  # type: ignore[return-value]
        outcomes.extend([Outcome(e, True, message_id) for e in built.emails])
        return outcomes

    def close(self) -> None:
        self._client = None
        self._bounded = False
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    # -- the producer process's pipe -------------------------------------------------------------------------
    @staticmethod
    def pack(built: BatchBody, rows: Sequence[Recipient]) -> Packed:
        """A prepared batch as it crosses the producer's pipe: (addresses, body bytes, addresses in the body when
        some were refused, refused outcomes); the addresses are the batch's unless some were refused."""
        return (built.emails if not built.refused else [r.email for r in rows],
                built.raw.raw if built.raw is not None else None, built.emails if built.refused else None,
                built.refused)

    @staticmethod
    def unpack(packed: Packed) -> BatchBody:
        emails, raw, body_emails, refused = packed
        return BatchBody(None, emails if body_emails is None else body_emails, refused,
                         JsonBody(raw) if raw is not None else None)

    @staticmethod
    def narrow(built: BatchBody, claimed: Collection[str]) -> None:
        """The prepared body for only the ``claimed`` addresses (the journal refused some: never on a first run)."""
        keep = set(claimed)
        body = json.loads(built.raw.raw) if built.raw is not None else dict(built.body)
        body["personalizations"] = [p for p in body["personalizations"] if p["to"][0]["email"] in keep]
        built.emails = [e for e in built.emails if e in keep]
        built.refused = [o for o in built.refused if o.email in keep]
        built.body = body
        built.raw = dumps(body) if built.emails else None

    # -- scheduled sends -------------------------------------------------------------------------------------
    def remember_schedule(self, folder: IssueFolder, send_at: int, run: int | None = None) -> Path:
        """Record the scheduled batch in the issue folder, with the journal run sending it (``digest send DIR
        --cancel`` reads it)."""
        assert self.batch_id is not None
        return save_schedule(folder, self.batch_id, send_at, run)

    # -- batch ids ---------------------------------------------------------------------------------------
    def create_batch_id(self) -> str:
        """POST /v3/mail/batch: the id that groups a scheduled send so it can be cancelled."""
        data = self._call("batch id", lambda c, t: c.client.mail.batch.post(timeout=t))
        batch_id = data.get("batch_id") if isinstance(data, dict) else None
        if not batch_id:
            raise DigestError("SendGrid returned no batch_id for the scheduled send")
        return str(batch_id)

    def cancel(self, batch_id: str) -> None:
        """POST /v3/user/scheduled_sends {batch_id, status: cancel}."""
        body = dumps({"batch_id": batch_id, "status": "cancel"})
        self._call("cancel", lambda c, t: c.client.user.scheduled_sends.post(
            request_body=body, request_headers=JSON_HEADERS, timeout=t))


Packed = tuple[list[str], "bytes | None", "list[str] | None", list[Outcome]]


def create(folder: IssueFolder, settings: Settings, *, sandbox: bool = False, send_at: int | None = None,
           test: bool = False) -> SendGridBackend:
    """The registry's factory: a resumed scheduled send keeps the batch id recorded in the issue folder."""
    batch_id = None
    if send_at is not None and not test:
        schedule = load_schedule(folder)
        if schedule and schedule.get("status") == "scheduled" and schedule.get("batch_id"):
            batch_id = schedule["batch_id"]
    kwargs: dict[str, Any] = {"sandbox": sandbox, "send_at": send_at}
    if batch_id is not None:
        kwargs["batch_id"] = batch_id
    return SendGridBackend(settings, **kwargs)


def preflight(settings: Settings, *, sandbox: bool = False, send_at: int | None = None) -> list[str]:
    """What a send (a dry run too) checks before anything is read or sent: ``--at`` in the next 72 hours
    (raises otherwise); a warning for a plain-http API host that is not this machine."""
    if send_at is not None:
        check_send_at(send_at)
    warning = host_warning(settings.sendgrid_host())
    return [warning] if warning else []


def batch_size(settings: Settings) -> int:
    """Personalizations per request (``[sendgrid] batch_size``, 1 to 1000)."""
    return max(1, min(settings.sendgrid.batch_size, MAX_PERSONALIZATIONS))


def own_unsubscribe(settings: Settings) -> tuple[str, bool]:
    """SendGrid's unsubscribe groups: with ``[sendgrid] asm_group_id`` SendGrid makes the unsubscribe links."""
    return "[sendgrid] asm_group_id", settings.sendgrid.asm_group_id > 0


if TYPE_CHECKING:  # mypy (CI) checks the class against the Protocols it implements, signatures and all

    def _implements(backend: SendGridBackend) -> tuple[Backend, PreparesBatches, PreparesRows, Schedules]:
        return backend, backend, backend, backend
