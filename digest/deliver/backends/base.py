"""The interface every backend implements, the optional capabilities a backend may have, and the error that
stops a send.

The send loop (``deliver/batching.py``) reads recipients, consults the journal and suppressions, groups
recipients into batches of ``backend.max_batch``, commits the batch ``inflight`` in the journal, calls
``send_batch`` and records each ``Outcome``. Backends do no journal work and no rendering: the issue was
rendered and inlined once (``Draft``); per recipient they get a ``Personal`` with the merge values already
computed. A backend with a capability below declares it by implementing it; the send loop asks with
``isinstance`` (each capability is a ``runtime_checkable`` Protocol), never by the backend's name.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ...errors import DigestError
from ...model import Outcome, Personal, Recipient

if TYPE_CHECKING:
    from ...compose.message import Draft
    from ...folder import IssueFolder
    from ..personal import PersonalMaker


class BatchAborted(DigestError):
    """Raised by ``send_batch`` to stop the whole send. ``outcomes`` are the recipients it did handle; every
    other recipient of the batch is guaranteed not to have left (the journal puts them back to pending)."""

    def __init__(self, message: str, outcomes: Sequence[Outcome] = (), hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.outcomes = list(outcomes)


class Backend(Protocol):
    """A way to deliver: outbox, smtp, sendgrid. ``delivers`` is False for a run that reaches no one (SendGrid's
    sandbox): the send then keeps no journal."""

    name: str
    max_batch: int
    delivers: bool

    def open(self, draft: Draft) -> None:
        """Prepare for sending ``draft`` (connect, check credentials). Raise DigestError when it cannot."""

    def send_batch(self, draft: Draft, batch: Sequence[Personal]) -> Sequence[Outcome]:
        """Deliver one batch; return one Outcome per recipient. Transient trouble is retried inside."""
        ...

    def close(self) -> None:
        """Release connections."""


@runtime_checkable
class WritesFolder(Protocol):
    """A backend that writes messages into a folder (the outbox): the report names it."""

    folder: Path


@runtime_checkable
class PreparesBatches(Protocol):
    """A backend that can build a batch's request before the batch is claimed (while another one is in flight),
    and send it later."""

    def prepare_batch(self, draft: Draft, batch: Sequence[Personal]) -> Any:
        """The request of one batch, built, not sent."""

    def send_prepared(self, draft: Draft, prepared: Any) -> Sequence[Outcome]:
        """Send a prepared batch: one outcome per recipient (errors as in ``send_batch``)."""
        ...


@runtime_checkable
class PreparesRows(Protocol):
    """A backend that builds requests straight from CSV rows (no ``Personal`` per recipient), and whose
    prepared batches can cross the producer process's pipe (``pack`` in the child, ``unpack`` in the parent)."""

    def prepare_rows(self, draft: Draft, rows: Sequence[Recipient], maker: PersonalMaker) -> Any:
        """The prepared batch for ``rows``; None when the links are not of the shape the row path takes."""

    def send_prepared(self, draft: Draft, prepared: Any) -> Sequence[Outcome]:
        """Send a prepared batch (as ``PreparesBatches.send_prepared``)."""
        ...

    def pack(self, prepared: Any, rows: Sequence[Recipient]) -> Any:
        """The prepared batch as picklable data; its first item is the batch's addresses in order."""

    def unpack(self, packed: Any) -> Any:
        """The prepared batch back from ``pack``'s data."""

    def narrow(self, prepared: Any, claimed: Collection[str]) -> None:
        """Keep only the ``claimed`` addresses in the prepared batch (the journal refused the others)."""


@runtime_checkable
class Schedules(Protocol):
    """A backend that sends at a later time as one cancellable batch (``batch_id``)."""

    batch_id: str | None

    def remember_schedule(self, folder: IssueFolder, send_at: int, run: int | None = None) -> Path:
        """Record the scheduled batch, and the journal ``run`` sending it, in the issue folder (for ``--cancel``)."""
        ...

    def cancel(self, batch_id: str) -> None:
        """Cancel the scheduled batch."""
