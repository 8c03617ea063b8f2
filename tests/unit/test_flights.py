"""Batches in flight: claimed and settled on the send loop's thread, sent by request threads, at most
``concurrency`` out, stopping cleanly on a refusal and leaving unsettled batches unknown on a crash."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from digest.deliver.backends.base import BatchAborted
from digest.deliver.flights import Flights
from digest.deliver.journal import Journal, journal_path
from digest.deliver.personal import PersonalMaker
from digest.deliver.summary import SendReport
from digest.deliver.unsubscribe import Links
from digest.model import Outcome, Personal, Recipient


class Backend:
    """Answers each batch after ``delay`` seconds from whichever request thread took it."""

    def __init__(self, concurrency: int, delay: float = 0.05, refuse: int | None = None) -> None:
        self.concurrency = concurrency
        self.delay = delay
        self.refuse = refuse
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0
        self.threads: set[str] = set()
        self.gate = threading.Event()
        self.gate.set()

    def send_batch(self, draft: Any, batch: Sequence[Personal]) -> list[Outcome]:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
            self.threads.add(threading.current_thread().name)
        try:
            self.gate.wait(10)
            time.sleep(self.delay)
            if self.refuse is not None and batch[0].email == f"r{self.refuse}@example.com":
                raise BatchAborted("refused")
            return [Outcome(p.email, True, "m") for p in batch]
        finally:
            with self.lock:
                self.now -= 1


class Draft:
    subject = text = html = ""
    merge_defaults: dict[str, str] = {}

    def merge_fields(self) -> set[str]:
        return set()


class WatchedJournal(Journal):
    """A journal that notes which threads wrote to it."""

    writers: set[str]

    def begin_batch(self, batch: int, emails: Sequence[str]) -> list[str]:
        self.writers.add(threading.current_thread().name)
        return super().begin_batch(batch, emails)

    def record(self, *args: Any, **kwargs: Any) -> int:
        self.writers.add(threading.current_thread().name)
        return super().record(*args, **kwargs)


def _flights(tmp_path: Path, backend: Backend) -> tuple[Flights, WatchedJournal, SendReport]:
    journal = WatchedJournal(journal_path(tmp_path), "issue")
    journal.writers = set()
    report = SendReport(slug="issue", backend="fake")
    maker = PersonalMaker(Draft(), Links("", "leave@example.com", b"k" * 32))
    return Flights(journal, backend, Draft(), report, maker), journal, report


def _batch(i: int, size: int = 3) -> list[Recipient]:
    return [Recipient(f"r{i * size + k}@example.com", {}, i * size + k) for k in range(size)]


def test_at_most_concurrency_out_and_the_journal_written_by_one_thread(tmp_path: Path) -> None:
    backend = Backend(4)
    flights, journal, report = _flights(tmp_path, backend)
    for n in range(1, 21):
        assert flights.room()
        flights.start(n, _batch(n), None)
    assert flights.drain()
    flights.close()
    assert backend.most == 4 and report.max_in_flight == 4 and len(backend.threads) == 4
    assert journal.writers == {threading.current_thread().name}  # claims and answers: the send loop's thread
    assert journal.summary().states == {"sent": 60} and report.sent_now == 60
    journal.close()


def test_a_refusal_starts_nothing_new_and_settles_what_is_out(tmp_path: Path) -> None:
    backend = Backend(3, refuse=6)  # the batch starting at r6 (number 2) is refused
    flights, journal, report = _flights(tmp_path, backend)
    started = []
    for n in range(1, 30):
        if not flights.room():
            break
        flights.start(n, _batch(n - 1), None)
        started.append(n)
    assert not flights.drain() and report.error and "refused" in report.error
    assert len(started) < 29
    states = journal.summary().states
    assert states.get("inflight", 0) == 0 and states["pending"] == 3  # the refused batch never left
    assert states["sent"] == 3 * (len(started) - 1)
    journal.close()


def test_a_crash_leaves_every_batch_out_unknown(tmp_path: Path) -> None:
    backend = Backend(3, delay=0)
    backend.gate.clear()  # no answer comes back
    flights, journal, _ = _flights(tmp_path, backend)
    for n in range(1, 4):
        assert flights.room()
        flights.start(n, _batch(n), None)
    assert journal.summary().states == {"inflight": 9}  # claimed before the requests left
    flights.abandon()
    assert journal.summary().states == {"unknown": 9}
    backend.gate.set()
    flights.close()
    journal.close()
