"""The outbox backend (the default; needs no account): one complete .eml per recipient in ``DIR/outbox/``.

Each file is the exact message SMTP would carry (``personalize``: multipart/alternative, text/plain
first, own Message-ID, List-Unsubscribe). File names are derived from the address only (safe characters
plus a short hash of the lower-cased address), so sending again to someone rewrites their file instead of
adding a second one; files are written to a temporary name and renamed, so none is ever half written.
``--test`` copies go to ``DIR/outbox/test/``.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, cast

from ...errors import DigestError, UsageError
from ...folder import IssueFolder
from ...model import Outcome, Personal
from .base import BatchAborted

if TYPE_CHECKING:
    from email.policy import EmailPolicy

    from ...compose.message import Draft
    from ...config import Settings
    from .base import Backend, WritesFolder

_UNSAFE = re.compile(r"[^A-Za-z0-9._+@-]+")


def eml_name(email: str) -> str:
    """A portable file name for ``email``'s message: ``ann@example.com-1a2b3c4d.eml``."""
    digest = hashlib.sha256(email.lower().encode("utf-8")).hexdigest()[:10]
    safe = _UNSAFE.sub("_", email.lower()).strip("._") or "recipient"
    return f"{safe[:80]}-{digest}.eml"


class OutboxBackend:
    """Writes messages as files. ``max_batch`` only sets how often the journal commits."""

    name = "outbox"
    max_batch = 500
    delivers = True

    def __init__(self, directory: IssueFolder | Path | str, *, test: bool = False) -> None:
        base = IssueFolder.of(directory).outbox
        self.folder = base / "test" if test else base

    def open(self, draft: Draft) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DigestError(f"{self.folder}: cannot create the outbox: {exc.strerror or exc}") from None

    def send_batch(self, draft: Draft, batch: Sequence[Personal]) -> list[Outcome]:
        from ...compose.message import personalize

        outcomes: list[Outcome] = []
        for personal in batch:
            try:
                msg = personalize(draft, personal)
                try:
                    data = msg.as_bytes()
                except (UnicodeError, ValueError):  # a non-ASCII address needs SMTPUTF8 framing
                    data = msg.as_bytes(policy=cast("EmailPolicy", msg.policy).clone(utf8=True))
            except DigestError as exc:
                outcomes.append(Outcome(personal.email, False, error=exc.message, permanent=True))
                continue
            path = self.folder / eml_name(personal.email)
            tmp = path.with_suffix(".eml.tmp")
            try:
                tmp.write_bytes(data)
                os.replace(tmp, path)
            except OSError as exc:
                tmp.unlink(missing_ok=True)
                raise BatchAborted(f"{path}: cannot write: {exc.strerror or exc}", outcomes) from None
            outcomes.append(Outcome(personal.email, True, message_id=str(msg["Message-ID"])))
        return outcomes

    def close(self) -> None:
        return None


def create(folder: IssueFolder, settings: Settings, *, sandbox: bool = False, send_at: int | None = None,
           test: bool = False) -> OutboxBackend:
    """The registry's factory."""
    preflight(settings, sandbox=sandbox, send_at=send_at)
    return OutboxBackend(folder, test=test)


def preflight(settings: Settings, *, sandbox: bool = False, send_at: int | None = None) -> list[str]:
    """What a send (a dry run too) refuses before anything is read or sent; no warnings of its own."""
    if sandbox or send_at is not None:
        raise UsageError("--sandbox and --at need --backend sendgrid")
    return []


def batch_size(settings: Settings) -> int:
    """Recipients per batch (a dry run's listing; the journal commits once a batch)."""
    return OutboxBackend.max_batch


def own_unsubscribe(settings: Settings) -> tuple[str, bool]:
    """No unsubscribe handling of its own: the message's links are the only way out."""
    return "", False


if TYPE_CHECKING:  # mypy (CI) checks the class against the Protocols it implements, signatures and all

    def _implements(backend: OutboxBackend) -> tuple[Backend, WritesFolder]:
        return backend, backend
