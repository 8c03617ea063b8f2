"""The in-process send loop: chunks of rows → suppressions and journal look-ups → batches, each prepared while
others are in flight, then claimed, sent and settled by ``flights.Flights`` (which the producer's loop,
``producer.consume``, shares): claimed in the journal before the request leaves, settled as its answer comes.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..model import Personal, Recipient
from .backends.base import Backend
from .flights import Flights
from .journal import Journal
from .personal import PersonalMaker
from .recipients import RecipientStream, RowProblem
from .summary import SendReport, count_batch, record_problems, settled

Notify = Callable[[str], None]
PREPARE_AHEAD = 2  # batches the send loop may have prepared while the window is full: see loop


class StopFlag:
    """Set by SIGINT/SIGTERM (first signal: start no new batch, wait for those in flight; second Ctrl-C: stop
    now, the batches in flight become unknown)."""

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
            self.notify(f"{signal.Signals(signum).name}: stopping after the batches in flight "
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


def loop(stream: RecipientStream, problems: list[RowProblem], suppressed: set[str], journal: Journal | None,
         readonly: Journal | None, backend: Backend | None, maker: PersonalMaker, max_batch: int, report: SendReport,
         resend_unknown: bool, stop: StopFlag, progress: Any, max_problems: int, flights: Flights) -> None:
    """Read, look up, batch and hand each batch to ``flights`` in order; returns when the file is read or the send
    stops (``_run`` then waits for the batches still in flight)."""
    queue: list[Recipient] = []
    # Batches prepared (read, personalized, serialized) but not handed over yet: never claimed in the journal.
    ready: collections.deque[tuple[list[Recipient], list[Personal] | None, Any]] = collections.deque()
    batch_no = journal.next_batch_number() if journal is not None else 1
    resuming = journal is not None and journal.has_rows()  # a first run needs no look-ups
    known = journal if journal is not None and resuming else readonly

    def flush_problems() -> None:
        record_problems(journal, report, problems, max_problems)
        del problems[:]  # memory stays flat on a file full of bad rows: recorded rows are forgotten

    def launch(batch: list[Recipient]) -> bool:
        """Prepare one batch, then hand it over when there is room; False when the send stops."""
        nonlocal batch_no
        if backend is None:  # dry run
            count_batch(report, batch_no, len(batch), batch[0].email, batch[-1].email)
            batch_no += 1
            report.would_send += len(batch)
            return True
        ready.append((batch, *flights.prepare(batch)))  # while other batches' requests are out
        return hand_over(block=False)

    def hand_over(*, block: bool) -> bool:
        """Start the prepared batches, in order: while there is room, or waiting for room when ``PREPARE_AHEAD``
        are waiting or (``block``, at the end) for all of them; False when the send stops."""
        nonlocal batch_no
        while ready and (block or len(ready) >= PREPARE_AHEAD or flights.has_room()):
            if not flights.room():
                return False
            if stop:  # Ctrl-C / SIGTERM: nothing new leaves; the batches in flight are waited for
                report.interrupted = True
                return False
            batch, personals, prepared = ready.popleft()
            count_batch(report, batch_no, len(batch), batch[0].email, batch[-1].email)
            flights.start(batch_no, batch, personals, prepared)
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
                return
        if progress is not None and backend is None:
            progress.update(stream.rows, 0)
        if stop:
            report.interrupted = True
            return
    if (queue and not launch(queue)) or not hand_over(block=True):
        flush_problems()
        return
    flush_problems()
    if progress is not None:
        progress.update(settled(report), report.sent_now, force=True)
