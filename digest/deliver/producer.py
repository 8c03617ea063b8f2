"""The producer process (a first run of a backend with prepared rows, on Linux): a forked child reads the CSV
and prepares each batch's request (``read`` into a ``Builder``); this process claims, sends and records them
(``consume``) with the same ``Flights`` and bookkeeping as the in-process loop."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from ..errors import DigestError
from ..model import Recipient
from .backends.base import Backend, PreparesRows
from .batching import StopFlag, chunks, drop_suppressed, full_batches
from .flights import Flights
from .journal import Journal
from .personal import PersonalMaker
from .recipients import RecipientStream, RowProblem
from .summary import SendReport, count_batch, record_problems, settled

# --- the producer process (SendGrid, first run) --------------------------------------------------------

PRODUCER_ENV = "DIGEST_SEND_PRODUCER"  # "0": never use the producer process (the in-process path does it all)
PR_SET_PDEATHSIG = 1


def producer_possible(stream: RecipientStream, journal: Journal | None, readonly: Journal | None,
                      backend: Backend | None, draft: Any, maker: PersonalMaker) -> PreparesRows | None:
    """The backend, when the producer process applies to this send; None when it does not.

    It applies to a first run (an empty journal: nothing to look up) of a backend that prepares rows
    (``PreparesRows``) for links of the row path's shape, on Linux (``fork`` and ``PR_SET_PDEATHSIG``), before
    the CSV is read.
    """
    if os.environ.get(PRODUCER_ENV, "1") == "0" or not sys.platform.startswith("linux"):
        return None
    if journal is None or readonly is not None or journal.has_rows():
        return None
    if not isinstance(backend, PreparesRows) or stream.rows != 0:
        return None
    if backend.prepare_rows(draft, [], maker) is None:  # links of another shape: the general path
        return None
    return backend


def _die_with_parent(parent: int) -> None:
    """In the producer: SIGKILL when the parent dies (Linux), and exit now if it already has."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(0)


def read(sink: Builder, stream: RecipientStream, suppressed: set[str], max_batch: int) -> None:
    """The reader: CSV → validation → dedupe → suppressions, as rows to ``sink`` (the builder).

    One message per chunk of ``max_batch`` rows read: ``("rows", problems, rows read, rows)``, then
    ``("end", problems, rows read, rows)``.
    """
    problems: list[RowProblem] = stream.problems
    for chunk in chunks(stream, max_batch):
        fresh = drop_suppressed(chunk, suppressed, problems)
        sink.send(("rows", list(problems), stream.rows, fresh))
        del problems[:]
    sink.send(("end", list(problems), stream.rows, []))


class Builder:
    """The builder: the reader's messages in (``send``), serialized batches out to ``conn`` (to the parent).

    One message per message of the reader: ``("chunk", problems, rows read, batches)``, each batch
    ``(emails, body bytes, emails in the body, refused outcomes)``; then ``("end", problems, rows, batches)``
    (an exception becomes ``("error", ...)`` in ``_child_main``). It never talks to SendGrid and never writes
    the journal. ``conn.send`` blocks while the parent has not read the previous message: the back-pressure.
    """

    def __init__(self, conn: Any, prepare: Callable[[list[Recipient]], Any],
                 pack: Callable[[Any, list[Recipient]], Any], max_batch: int) -> None:
        self.conn = conn
        self.prepare = prepare
        self.pack = pack
        self.max_batch = max_batch
        self.queue: list[Recipient] = []

    def _batch(self, batch: list[Recipient]) -> Any:
        return self.pack(self.prepare(batch), batch)

    def send(self, message: tuple[Any, ...]) -> None:
        kind, problems, rows, fresh = message
        full, self.queue = full_batches(self.queue, fresh, self.max_batch)
        batches = [self._batch(batch) for batch in full]
        if kind == "end":
            queue, self.queue = self.queue, []
            self.conn.send(("end", problems, rows, batches + ([self._batch(queue)] if queue else [])))
        else:
            self.conn.send(("chunk", problems, rows, batches))


def _child_main(conn: Any, parent: int, work: Callable[[], None]) -> None:
    """A forked child's whole life: never returns (``os._exit``), never runs the parent's cleanup.

    ``work`` runs; an exception goes down ``conn`` as ``("error", exception or its message)``."""
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it stops after the batches in flight
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _die_with_parent(parent)
        try:
            work()
        except (BrokenPipeError, EOFError, ConnectionResetError):
            code = 0  # the next process stopped reading: nothing to do
        except BaseException as exc:  # noqa: BLE001 - handed down the pipe, the parent raises it
            with contextlib.suppress(BaseException):
                try:
                    conn.send(("error", exc))
                except Exception:  # noqa: BLE001 - an exception that does not pickle: its message
                    conn.send(("error", f"{type(exc).__name__}: {exc}"))
            code = 1
    finally:
        with contextlib.suppress(BaseException):
            conn.close()
        os._exit(code)


class Producer:
    """The parent's side: the forked producer (``read`` into a ``Builder``) and the read end of its pipe.

    One child, not two: a reader process handing rows to a builder process was measured (1M recipients,
    three runs each): 20.2-21.3 s against 17.6-20.1 s, because passing the rows costs more CPU than the
    second process wins on a machine the stand-in and this process already keep busy.
    """

    def __init__(self, stream: RecipientStream, suppressed: set[str], backend: PreparesRows, draft: Any,
                 maker: PersonalMaker, max_batch: int) -> None:
        from multiprocessing.connection import Pipe

        reader, writer = Pipe(duplex=False)
        _widen(writer.fileno())
        parent = os.getpid()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child
            reader.close()
            builder = Builder(writer, lambda rows: backend.prepare_rows(draft, rows, maker), backend.pack, max_batch)
            _child_main(writer, parent, lambda: read(builder, stream, suppressed, max_batch))
        writer.close()
        _trim()  # the parent keeps only the journal and the requests: give freed heap back (RSS)
        self.pids = [pid]
        self.conn = reader

    def recv(self) -> tuple[Any, ...]:
        try:
            return self.conn.recv()  # type: ignore[no-any-return]
        except EOFError:
            raise DigestError("the recipients reader stopped unexpectedly (its process died)") from None

    def close(self) -> None:
        """Stop the children (if still running) and reap them; their CPU time then counts as this process's."""
        with contextlib.suppress(OSError):
            self.conn.close()
        for pid in self.pids:
            with contextlib.suppress(OSError):
                done, _ = os.waitpid(pid, os.WNOHANG)
                if done == 0:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)


def _widen(fd: int) -> None:
    """A pipe that holds a whole request body (Linux: 1 MB instead of 64 KB, where allowed): the producer
    writes a batch in one go instead of waking the sender a dozen times per batch."""
    with contextlib.suppress(Exception):
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)


def _trim() -> None:
    """glibc ``malloc_trim(0)``: return free heap pages to the system (nothing on other C libraries)."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)


def consume(producer: Producer, journal: Journal, backend: PreparesRows, draft: Any, report: SendReport,
            stop: StopFlag, progress: Any, max_problems: int, flights: Flights) -> None:
    """The parent's loop with a producer: record skipped rows, claim and hand over each prepared batch in order
    (``_run`` then waits for the batches still in flight)."""
    batch_no = journal.next_batch_number()

    while True:
        message = producer.recv()  # while the request threads send the batches out
        kind = message[0]
        if kind == "error":
            exc = message[1]
            if isinstance(exc, BaseException):
                raise exc
            raise DigestError(f"reading the recipients failed: {exc}")
        _, problems, _rows, batches = message
        record_problems(journal, report, problems, max_problems)
        for packed in batches:
            emails = packed[0]
            if not flights.room():
                return
            if stop:  # Ctrl-C / SIGTERM: nothing new leaves; the batches in flight are waited for
                report.interrupted = True
                return
            built = backend.unpack(packed)
            count_batch(report, batch_no, len(emails), emails[0], emails[-1])
            flights.start_built(batch_no, emails, built)
            batch_no += 1
        if kind == "end":
            break
        if stop:
            report.interrupted = True
            return
    if progress is not None:
        progress.update(settled(report), report.sent_now, force=True)
