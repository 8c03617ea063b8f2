"""Batches in flight: claimed by the send loop, sent by request threads, settled by the send loop.

The journal rules do not change with several requests out at once:

* a batch is committed ``inflight`` (``Journal.begin_batch``) by the send loop's thread *before* its request is
  handed to a request thread, so a kill at any moment leaves every batch whose answer was not recorded
  ``inflight`` (``unknown`` at the next start);
* each answer is settled (``Journal.record``) by the send loop's thread as soon as it collects it: all SQLite
  work stays on one thread, and batches settle independently, in whatever order their answers come;
* a batch that failed in a way that stops the send (``BatchAborted``: refused, or gave up) stops new batches
  from starting; the ones already out are still waited for and settled. Ctrl-C does the same (``drain``).
  A crash of the send loop marks every batch still out ``unknown`` (``abandon``).

How many may be out: the backend's ``concurrency`` (SendGrid: ``[sendgrid] concurrency``; SMTP:
``[smtp] connections``; 1 otherwise), and below it, for a backend with a ``throttle`` attribute, the AIMD
window of ``throttle.Throttle`` (a 429 halves it and pauses new requests for the wait SendGrid asked for), and
below that only as many as the answers' round trip needs (Little's law): the round trip (the slower of its
moving average and the age of the oldest request out) over the time the send loop takes to have the next
batch ready, rounded up. Against a server that answers at once that is one or two (more requests in flight
would only share the CPUs with the producer and slow the send: 7.4-7.6 s for 1M recipients with one, 11-14 s
with up to 24); against a 200 ms round trip it is ~20.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from ..errors import DigestError
from ..model import Personal, Recipient
from .backends.base import Backend, BatchAborted, PreparesBatches, PreparesRows
from .journal import Journal
from .personal import PersonalMaker
from .summary import SendReport, settle
from .throttle import Throttle

MAX_CONCURRENCY = 64  # requests in flight at most, whatever the settings say
EWMA = 0.2  # weight of the newest sample in the moving averages of the round trip and the batch interval


class Flights:
    """The batches out at once, their request threads, and the queue their answers come back on."""

    def __init__(self, journal: Journal | None, backend: Backend | None, draft: Any, report: SendReport,
                 maker: PersonalMaker, *, on_settled: Callable[[], None] | None = None) -> None:
        self.journal = journal
        self.backend = backend
        self.draft = draft
        self.report = report
        self.maker = maker
        # What the backend can do, asked once per send (no ``Backend``: a dry run, nothing is prepared).
        self.rows_backend = backend if isinstance(backend, PreparesRows) else None
        self.batches_backend = backend if isinstance(backend, PreparesBatches) else None
        self._on_settled = on_settled
        self.concurrency = min(MAX_CONCURRENCY, max(1, int(getattr(backend, "concurrency", 1) or 1)))
        self.throttle: Throttle | None = None
        if backend is not None and hasattr(backend, "throttle"):  # SendGrid: it reports each answer to it
            self.throttle = Throttle(self.concurrency)
            setattr(backend, "throttle", self.throttle)  # noqa: B010 - not part of the Backend Protocol
        self.out: dict[int, float] = {}  # batch number → when its request was handed over, claimed, not settled
        self._rtt: float | None = None  # moving average: handed over → answered
        self._gap: float | None = None  # moving average: one batch handed over → the next one ready
        self._last_start: float | None = None
        self.max_in_flight = 0
        self.error: str | None = None  # why no new batch may start (the backend refused or gave up)
        self.crash: BaseException | None = None  # anything else: re-raised in the send loop's thread
        self._jobs: queue.SimpleQueue[tuple[int, list[str], list[Personal] | None, Any] | None] = queue.SimpleQueue()
        self._answers: queue.SimpleQueue[tuple[int, list[str], Any, BaseException | None, float]] = \
            queue.SimpleQueue()
        self._threads: list[threading.Thread] = []

    # -- before a batch is claimed ---------------------------------------------------------------------------
    def prepare(self, batch: list[Recipient]) -> tuple[list[Personal] | None, Any]:
        """What can be done before the batch is claimed: (personals, prepared request).

        A backend that prepares rows (SendGrid) builds and serializes the request straight from the rows
        (``prepare_rows``: no ``Personal`` per recipient) or, for links of another shape, from the personals
        (``prepare_batch``); the other backends get the personals.
        """
        if not batch:
            return [], None
        if self.rows_backend is not None:
            prepared = self.rows_backend.prepare_rows(self.draft, batch, self.maker)
            if prepared is not None:
                return None, prepared
        personals = [self.maker(r) for r in batch]
        prepare = self.batches_backend
        return personals, (prepare.prepare_batch(self.draft, personals) if prepare is not None else None)

    # -- the gate ------------------------------------------------------------------------------------------
    def limit(self) -> int:
        """Requests that may be out now: the ceiling, the throttle's window, and what the round trip needs."""
        cap = min(self.concurrency, self.throttle.limit) if self.throttle is not None else self.concurrency
        if cap <= 1 or self._gap is None:  # no batch has left yet: the first goes alone
            return 1
        rtt = self._rtt or 0.0
        if self.out:
            rtt = max(rtt, time.monotonic() - min(self.out.values()))  # the oldest request out is that slow
        # One more request only once the round trip is a whole batch interval longer than the ones out cover:
        # a second request out while the first is merely as slow as the feed gains nothing and costs CPU.
        return max(1, min(cap, math.ceil(rtt / max(self._gap, 1e-4) - 1)))

    def _ready(self) -> None:
        """The send loop has the next batch in hand: how long it took since the last one left (the feed)."""
        if self._last_start is not None:
            gap = time.monotonic() - self._last_start
            self._gap = gap if self._gap is None else self._gap + EWMA * (gap - self._gap)
            self._last_start = None

    def has_room(self) -> bool:
        """Whether another batch may start now (answers that arrived are settled first)."""
        self._ready()
        self.collect()
        return (len(self.out) < self.limit() and self.error is None
                and (self.throttle is None or self.throttle.pause_left() == 0))

    def room(self) -> bool:
        """Wait until another batch may start, settling answers meanwhile; False when the send must stop."""
        self._ready()
        while True:
            self.collect()
            if self.error is not None:
                return False
            pause = self.throttle.pause_left() if self.throttle is not None else 0.0
            if len(self.out) >= self.limit():
                # Full: the next answer frees a place, or the window grows as the requests out age.
                self.collect(wait=min(0.05, max(0.002, self._gap or 0.0)) if len(self.out) < self.concurrency
                             else None)
            elif pause == 0:
                return True
            elif self.out:
                self.collect(wait=pause)  # after a 429: settle what comes back while the pause lasts
            else:
                time.sleep(pause)

    # -- starting ------------------------------------------------------------------------------------------
    def start(self, number: int, batch: list[Recipient], personals: list[Personal] | None,
              prepared: Any = None) -> None:
        """Claim the batch (committed ``inflight``) and hand its request to a request thread."""
        emails = [r.email for r in batch]
        if self.journal is not None:
            claimed = self.journal.begin_batch(number, emails)  # committed before the request leaves
            if len(claimed) != len(emails):
                keep = set(claimed)
                batch = [r for r in batch if r.email in keep]
                emails = [r.email for r in batch]
                personals, prepared = [self.maker(r) for r in batch], None  # built for others: build again
        if prepared is None and personals is None:
            personals = [self.maker(r) for r in batch]
        self._submit(number, emails, personals, prepared)

    def start_built(self, number: int, emails: list[str], built: Any) -> None:
        """``start`` for a batch the producer process prepared (its addresses and request, no rows)."""
        assert self.journal is not None
        claimed = self.journal.begin_batch(number, emails)  # committed before the request leaves
        if len(claimed) != len(emails):
            emails = claimed
            assert self.rows_backend is not None, "only a backend that prepares rows has a producer"
            self.rows_backend.narrow(built, claimed)
        self._submit(number, emails, None, built)

    def _submit(self, number: int, emails: list[str], personals: list[Personal] | None, prepared: Any) -> None:
        now = time.monotonic()
        self.out[number] = now
        self._last_start = now
        self.max_in_flight = max(self.max_in_flight, len(self.out))
        busy = len(self.out)
        if len(self._threads) < min(busy, self.concurrency):
            thread = threading.Thread(target=self._work, name=f"digest-send-{len(self._threads) + 1}", daemon=True)
            self._threads.append(thread)
            thread.start()
        self._jobs.put((number, emails, personals, prepared))

    # -- a request thread ------------------------------------------------------------------------------------
    def _work(self) -> None:
        backend, draft = self.backend, self.draft
        assert backend is not None, "a dry run starts no batch"
        while True:
            job = self._jobs.get()
            if job is None:
                return
            number, emails, personals, prepared = job
            try:
                if not emails:
                    outcomes: Any = []
                elif prepared is not None:
                    assert isinstance(backend, (PreparesBatches, PreparesRows))  # only those prepare
                    outcomes = backend.send_prepared(draft, prepared)
                else:
                    assert personals is not None
                    outcomes = backend.send_batch(draft, personals)
            except BaseException as exc:  # noqa: BLE001 - settled (and re-raised if need be) by the send loop
                self._answers.put((number, emails, None, exc, time.monotonic()))
            else:
                self._answers.put((number, emails, outcomes, None, time.monotonic()))

    # -- settling (the send loop's thread) -----------------------------------------------------------------------
    def collect(self, *, wait: float | None = 0.0) -> int:
        """Settle the answers that came back; with ``wait`` (None: as long as it takes) wait for one first when
        there is none yet. Re-raises a request thread's crash. Returns how many were settled."""
        settled = 0
        block = wait is None or wait > 0
        while self.out:
            try:
                answer = self._answers.get(block=block, timeout=wait if block else None)
            except queue.Empty:
                break
            block = False
            self._settle_one(*answer)
            settled += 1
        if settled and self._on_settled is not None:
            self._on_settled()
        if self.crash is not None:
            crash, self.crash = self.crash, None
            raise crash
        return settled

    def _settle_one(self, number: int, emails: list[str], outcomes: Any, exc: BaseException | None,
                    answered: float) -> None:
        started = self.out.pop(number, None)
        if started is not None:
            rtt = answered - started
            self._rtt = rtt if self._rtt is None else self._rtt + EWMA * (rtt - self._rtt)
        journal, report = self.journal, self.report
        if exc is None:
            settle(journal, number, emails, outcomes, report, missing="unknown")
        elif isinstance(exc, BatchAborted):
            settle(journal, number, emails, exc.outcomes, report, missing="pending")
            self._stop(exc.message + (f" ({exc.hint})" if exc.hint else ""))
        elif isinstance(exc, DigestError):
            if journal is not None:
                journal.batch_unknown(number, f"the backend failed during the batch: {exc.message}")
            report.unknown_now += len(emails)
            self._stop(exc.message)
        else:
            if journal is not None:
                journal.batch_unknown(number, "the send crashed during this batch")
            self.crash = self.crash or exc

    def _stop(self, reason: str) -> None:
        if self.error is None:
            self.error = reason

    def idle(self) -> bool:
        """No batch out (answers that arrived are settled first)."""
        self.collect()
        return not self.out

    def drain(self) -> bool:
        """Wait for every batch out to be answered and settled; False when the send must stop."""
        while self.out:
            self.collect(wait=None)
        if self.error is not None:
            if not self.report.error:
                self.report.error = self.error
            return False
        return True

    def abandon(self) -> None:
        """The send loop is going down (a crash, a second Ctrl-C): every batch out whose answer has not been
        settled may or may not be delivered."""
        with_answers: list[tuple[int, list[str], Any, BaseException | None, float]] = []
        while True:  # answers already in are still recorded as they are
            try:
                with_answers.append(self._answers.get_nowait())
            except queue.Empty:
                break
        for answer in with_answers:
            try:
                self._settle_one(*answer)
            except Exception:  # noqa: BLE001 - going down anyway: what cannot be recorded stays inflight
                break
        if self.journal is not None:
            for number in list(self.out):
                try:
                    self.journal.batch_unknown(number, "the send crashed during this batch")
                except Exception:  # noqa: BLE001 - recovered as unknown at the next start anyway
                    break
        self.out.clear()

    def close(self) -> None:
        """Let the request threads end (each finishes the request it holds first)."""
        for _ in self._threads:
            self._jobs.put(None)
        self._threads.clear()
        if self.throttle is not None:
            self.report.rate_limited = self.throttle.rate_limited
        self.report.max_in_flight = self.max_in_flight
