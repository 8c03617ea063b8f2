"""The one small interface every backend implements, and the data it is handed.

The send loop (``send.py``) reads recipients, consults the journal and suppressions, groups recipients into
batches of ``backend.max_batch``, commits the batch ``inflight`` in the journal, calls ``send_batch`` and
records each ``Outcome``. Backends do no journal work and no rendering: the issue was rendered and inlined
once (``Draft``); per recipient they get a ``Personal`` with the merge values already computed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, overload

from ..errors import DigestError

if TYPE_CHECKING:
    from ..compose.message import Draft


@dataclass
class Personal:
    """One recipient's per-message data: token → value (``digest.merge.values``) and own header values."""

    email: str
    values: dict[str, str] = field(default_factory=dict)
    unsubscribe_url: str | None = None  # https one-click URL with the recipient's signed token
    unsubscribe_mailto: str | None = None


@dataclass
class Outcome:
    """What happened to one recipient in a batch. ``permanent`` failures are not retried."""

    email: str
    ok: bool
    message_id: str | None = None
    error: str | None = None
    permanent: bool = False
    unknown: bool = False  # the request left but no answer came (e.g. connection lost after DATA): may be delivered


class AllAccepted(Sequence[Outcome]):
    """Every address of a batch accepted under one message id, in batch order: the usual answer of a batch
    request, as a sequence of ``Outcome`` made only when someone looks at one (a million recipients are a
    thousand of these, not a million objects)."""

    __slots__ = ("emails", "message_id")

    def __init__(self, emails: Sequence[str], message_id: str | None) -> None:
        self.emails = emails
        self.message_id = message_id

    def __len__(self) -> int:
        return len(self.emails)

    @overload
    def __getitem__(self, index: int) -> Outcome: ...

    @overload
    def __getitem__(self, index: slice) -> list[Outcome]: ...

    def __getitem__(self, index: int | slice) -> Outcome | list[Outcome]:
        if isinstance(index, slice):
            return [Outcome(e, True, self.message_id) for e in self.emails[index]]
        return Outcome(self.emails[index], True, self.message_id)


class BatchAborted(DigestError):
    """Raised by ``send_batch`` to stop the whole send. ``outcomes`` are the recipients it did handle; every
    other recipient of the batch is guaranteed not to have left (the journal puts them back to pending)."""

    def __init__(self, message: str, outcomes: Sequence[Outcome] = (), hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.outcomes = list(outcomes)


class Backend(Protocol):
    """A way to deliver: outbox, smtp, sendgrid."""

    name: str
    max_batch: int

    def open(self, draft: Draft) -> None:
        """Prepare for sending ``draft`` (connect, check credentials). Raise DigestError when it cannot."""

    def send_batch(self, draft: Draft, batch: Sequence[Personal]) -> list[Outcome]:
        """Deliver one batch; return one Outcome per recipient. Transient trouble is retried inside."""
        ...

    def close(self) -> None:
        """Release connections."""
