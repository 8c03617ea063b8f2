"""The in-process send loop: chunks of rows → suppressions and journal look-ups → batches, each prepared while
the previous one is in flight (``Flight``), claimed, sent and settled.

``deliver`` (a batch of rows, here) and ``deliver_built`` (a batch the producer process prepared, see
``producer.py``) are side by side below: both claim the batch in the journal before the request leaves and
settle it with the same bookkeeping (``summary.settle``).
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..errors import DigestError
from ..model import Personal, Recipient
from .backends.base import Backend, BatchAborted, PreparesBatches, PreparesRows
from .journal import Journal
from .personal import PersonalMaker
from .recipients import RecipientStream, RowProblem
from .summary import SendReport, count_batch, record_problems, settle

Notify = Callable[[str], None]
PREPARE_AHEAD = 2  # batches the send loop may have prepared while one is in flight: see loop


class StopFlag:
    """Set by SIGINT/SIGTERM (first signal: finish the batch in flight; second Ctrl-C: stop now)."""

    def __init__(self, notify: Notify | None = None) -> None:
        self.event = threading.Event()
        self.notify = notify
        self._old: dict[int, Any] = {}

    def __bool__(self) -> bool:
        return self.event.is_set()

    def _handler(self, signum: int, frame: Any) -> None:
        if self.event.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.event.set()
        if self.notify:
            self.notify(f"{signal.Signals(signum).name}: stopping after the batch in flight "
                        "(Ctrl-C again to stop at once)")

    def __enter__(self) -> StopFlag:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(ValueError, OSError):
                    self._old[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def chunks(stream: Iterable[Recipient], size: int) -> Iterator[list[Recipient]]:
    rows = iter(stream)
    while chunk := list(itertools.islice(rows, size)):
        yield chunk


def drop_suppressed(chunk: list[Recipient], suppressed: set[str], problems: list[RowProblem]) -> list[Recipient]:
    """The rows of ``chunk`` not on the suppression list; the others become ``suppressed`` row problems."""
    if not suppressed:
        return chunk
    fresh: list[Recipient] = []
    for r in chunk:
        if r.email.lower() in suppressed:
            problems.append(RowProblem(r.line, r.email, "suppressed", "on the suppression list"))
        else:
            fresh.append(r)
    return fresh


def full_batches(queue: list[Recipient], fresh: list[Recipient],
                  max_batch: int) -> tuple[list[list[Recipient]], list[Recipient]]:
    """``queue + fresh`` cut into full batches of ``max_batch``, and the rest that waits for more rows."""
    rows = queue + fresh if queue else fresh
    cut = len(rows) - len(rows) % max_batch
    return [rows[i:i + max_batch] for i in range(0, cut, max_batch)], rows[cut:]


class Flight:
    """The one batch in flight: claimed, sent and settled in a worker thread while the send loop prepares the next.

    The journal rules do not change: a batch is committed ``inflight`` (``begin_batch``) before its request
    leaves and settled (``record``) as soon as its answer arrives, both in the worker; the next batch is handed
    over only after this one's answer, so there is never more than one request out. What overlaps is the send
    loop's own work (reading, validating and personalizing the next batch) with this batch's journal commit and
    request, which mostly wait on SQLite and the network without holding the GIL.
    """

    def __init__(self, journal: Journal | None, backend: Backend | None, draft: Any, report: SendReport,
                 maker: PersonalMaker) -> None:
        self.journal = journal
        self.maker = maker
        # What the backend can do, asked once per send (no ``Backend``: a dry run, nothing is prepared).
        self.rows_backend = backend if isinstance(backend, PreparesRows) else None
        self.batches_backend = backend if isinstance(backend, PreparesBatches) else None
        self.backend = backend
        self.draft = draft
        self.report = report
        self.thread: threading.Thread | None = None
        self.number = 0
        self.error: str | None = None  # why the send must stop (the backend refused or gave up)
        self.crash: BaseException | None = None  # anything else: re-raised in the send loop's thread

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

    def start(self, number: int, batch: list[Recipient], personals: list[Personal] | None,
              prepared: Any = None) -> None:
        assert self.thread is None, "one batch in flight at a time"
        self.number = number
        self.thread = threading.Thread(target=self._work, args=(number, batch, personals, prepared),
                                       name="digest-send-batch", daemon=True)
        self.thread.start()

    def start_built(self, number: int, emails: list[str], built: Any) -> None:
        """``start`` for a batch the producer process prepared (its addresses and request, no rows)."""
        assert self.thread is None and self.journal is not None, "one batch in flight at a time"
        self.number = number
        self.thread = threading.Thread(target=self._work_built, args=(number, emails, built),
                                       name="digest-send-batch", daemon=True)
        self.thread.start()

    def _work_built(self, number: int, emails: list[str], built: Any) -> None:
        assert self.journal is not None
        try:
            assert self.rows_backend is not None, "only a backend that prepares rows has a producer"
            self.error = deliver_built(self.journal, self.rows_backend, self.draft, number, emails, built, self.report)
        except BaseException as exc:  # noqa: BLE001 - handed to the send loop's thread by wait()
            self.crash = exc

    def _work(self, number: int, batch: list[Recipient], personals: list[Personal] | None, prepared: Any) -> None:
        try:
            assert self.backend is not None, "a dry run starts no batch"
            self.error = deliver(self.journal, self.backend, self.draft, number, batch, personals, self.maker,
                                  self.report, prepared)
        except BaseException as exc:  # noqa: BLE001 - handed to the send loop's thread by wait()
            self.crash = exc

    def idle(self) -> bool:
        """No batch in flight, or its thread has finished (``wait`` then returns at once)."""
        return self.thread is None or not self.thread.is_alive()

    def wait(self) -> bool:
        """Wait for the batch in flight to be settled; False when the send must stop (``report.error`` set)."""
        thread = self.thread
        if thread is None:
            return True
        thread.join()
        self.thread = None
        if self.crash is not None:
            crash, self.crash = self.crash, None
            raise crash
        if self.error is not None:
            self.report.error = self.error
            return False
        return True

    def abandon(self) -> None:
        """The send loop is going down (a crash, a second Ctrl-C): the batch in flight, if its answer has not
        been recorded, may or may not be delivered."""
        thread = self.thread
        if thread is not None and thread.is_alive() and self.journal is not None:
            with contextlib.suppress(Exception):
                self.journal.batch_unknown(self.number, "the send crashed during this batch")


def deliver(journal: Journal | None, backend: Backend, draft: Any, number: int, batch: list[Recipient],
             personals: list[Personal] | None, maker: PersonalMaker, report: SendReport,
             prepared: Any = None) -> str | None:
    """Claim, send and settle one batch (in the flight's thread); the reason to stop, or None."""
    emails = [r.email for r in batch]
    if journal is not None:
        claimed = journal.begin_batch(number, emails)  # committed before the request leaves
        if len(claimed) != len(emails):
            keep = set(claimed)
            batch = [r for r in batch if r.email in keep]
            emails = [r.email for r in batch]
            personals = None
            prepared = None  # built for recipients this batch did not get: build again
    if prepared is None and personals is None:
        personals = [maker(r) for r in batch]
    try:
        if not emails:
            outcomes = []
        elif prepared is not None:
            assert isinstance(backend, (PreparesBatches, PreparesRows))  # only those prepare
            outcomes = backend.send_prepared(draft, prepared)
        else:
            assert personals is not None
            outcomes = backend.send_batch(draft, personals)
    except BatchAborted as exc:
        settle(journal, number, emails, exc.outcomes, report, missing="pending")
        return exc.message + (f" ({exc.hint})" if exc.hint else "")
    except DigestError as exc:
        if journal is not None:
            journal.batch_unknown(number, f"the backend failed during the batch: {exc.message}")
        report.unknown_now += len(emails)
        return exc.message
    except BaseException:
        if journal is not None:
            journal.batch_unknown(number, "the send crashed during this batch")
        raise
    settle(journal, number, emails, outcomes, report, missing="unknown")
    return None


def deliver_built(journal: Journal, backend: PreparesRows, draft: Any, number: int, emails: list[str], built: Any,
                  report: SendReport) -> str | None:
    """``deliver`` for a batch the producer prepared: claim, send, settle (in the flight's thread)."""
    claimed = journal.begin_batch(number, emails)  # committed before the request leaves
    if len(claimed) != len(emails):
        emails = claimed
        backend.narrow(built, claimed)
    try:
        outcomes = backend.send_prepared(draft, built) if emails else []
    except BatchAborted as exc:
        settle(journal, number, emails, exc.outcomes, report, missing="pending")
        return exc.message + (f" ({exc.hint})" if exc.hint else "")
    except DigestError as exc:
        journal.batch_unknown(number, f"the backend failed during the batch: {exc.message}")
        report.unknown_now += len(emails)
        return exc.message
    except BaseException:
        journal.batch_unknown(number, "the send crashed during this batch")
        raise
    settle(journal, number, emails, outcomes, report, missing="unknown")
    return None


def loop(stream: RecipientStream, problems: list[RowProblem], suppressed: set[str], journal: Journal | None,
         readonly: Journal | None, backend: Backend | None, maker: PersonalMaker, max_batch: int, report: SendReport,
         resend_unknown: bool, stop: StopFlag, progress: Any, max_problems: int, flight: Flight) -> None:
    queue: list[Recipient] = []
    # Batches prepared (read, personalized, serialized) but not handed over yet: never claimed in the journal.
    ready: collections.deque[tuple[list[Recipient], list[Personal] | None, Any]] = collections.deque()
    batch_no = journal.next_batch_number() if journal is not None else 1
    resuming = journal is not None and journal.has_rows()  # a first run needs no look-ups
    known = journal if journal is not None and resuming else readonly
    done = 0

    def flush_problems() -> None:
        record_problems(journal, report, problems, max_problems)
        del problems[:]  # memory stays flat on a file full of bad rows: recorded rows are forgotten

    def launch(batch: list[Recipient]) -> bool:
        """Prepare one batch, then hand it over once the batch in flight is settled; False when the send stops."""
        nonlocal batch_no
        if backend is None:  # dry run
            count_batch(report, batch_no, len(batch), batch[0].email, batch[-1].email)
            batch_no += 1
            report.would_send += len(batch)
            return True
        ready.append((batch, *flight.prepare(batch)))  # while the previous batch's request is out
        return hand_over(block=False)

    def hand_over(*, block: bool) -> bool:
        """Start the prepared batches, in order, one at a time: when the flight is free, when ``PREPARE_AHEAD``
        are waiting, or (``block``, at the end) all of them; False when the send stops."""
        nonlocal batch_no
        while ready and (block or len(ready) >= PREPARE_AHEAD or flight.idle()):
            if not flight.wait():
                return False
            if stop:  # Ctrl-C / SIGTERM: the batch in flight was finished; nothing new leaves
                report.interrupted = True
                return False
            batch, personals, prepared = ready.popleft()
            count_batch(report, batch_no, len(batch), batch[0].email, batch[-1].email)
            flight.start(batch_no, batch, personals, prepared)
            batch_no += 1
        return True

    for chunk in chunks(stream, max_batch):
        fresh = drop_suppressed(chunk, suppressed, problems)
        if known is not None and fresh:
            sendable = set(known.sendable([r.email for r in fresh], resend_unknown=resend_unknown))
            if len(sendable) != len(fresh):
                fresh = [r for r in fresh if r.email in sendable]
        full, queue = full_batches(queue, fresh, max_batch)
        flush_problems()
        for batch in full:
            if not launch(batch):
                flight.wait()
                return
            if progress is not None:
                done_now = report.sent_now + report.failed_now + report.unknown_now
                progress.update(max(done, stream.rows), done_now)
        done = stream.rows
        if progress is not None:
            progress.update(done, report.sent_now)
        if stop:
            if flight.wait():
                report.interrupted = True
            return
    if (queue and not launch(queue)) or not hand_over(block=True):
        flight.wait()
        flush_problems()
        return
    flight.wait()
    flush_problems()
    if progress is not None:
        progress.update(stream.rows, report.sent_now, force=True)


