"""The backends, by name: the registry the CLI's ``--backend`` choices and ``digest send`` read.

Each entry is a module with four functions: ``create(folder, settings, *, sandbox, send_at, test)`` (the
backend), ``batch_size(settings)`` (its batch size, for a dry run that makes no backend),
``own_unsubscribe(settings)`` (the setting of the provider's own unsubscribe handling and whether it is set;
``("", False)`` for none) and ``preflight(settings, *, sandbox, send_at)`` (what any send, a dry run too,
refuses or warns about before anything is read: returns the warnings, raises for a refusal). A module is
imported only when its backend is used. Adding a provider: one module
or folder here and one line below.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from ...errors import UsageError

if TYPE_CHECKING:  # the CLI reads BACKENDS at start-up: nothing heavy here (not even settings or the folder)
    from ...config import Settings
    from ...folder import IssueFolder
    from .base import Backend

BACKENDS: dict[str, str] = {
    "outbox": "digest.deliver.backends.outbox",
    "smtp": "digest.deliver.backends.smtp",
    "sendgrid": "digest.deliver.backends.sendgrid",
}


def _module(name: str) -> ModuleType:
    if name not in BACKENDS:
        raise UsageError(f"unknown backend {name!r}", f"choose one of: {', '.join(BACKENDS)}")
    return importlib.import_module(BACKENDS[name])


def make_backend(name: str, directory: IssueFolder | Path | str, settings: Settings, *, sandbox: bool = False,
                 send_at: int | None = None, test: bool = False) -> Backend:
    """The backend called ``name`` (a key of ``BACKENDS``) for the issue in ``directory``."""
    from ...folder import IssueFolder

    backend: Backend = _module(name).create(IssueFolder.of(directory), settings, sandbox=sandbox, send_at=send_at,
                                            test=test)
    return backend


def preflight(name: str, settings: Settings, *, sandbox: bool = False, send_at: int | None = None) -> list[str]:
    """Backend ``name``'s checks before a send or a dry run: its warnings (raises ``DigestError`` to refuse)."""
    return [str(w) for w in _module(name).preflight(settings, sandbox=sandbox, send_at=send_at)]


def default_batch(name: str, settings: Settings) -> int:
    """The batch size of backend ``name`` without making it (a dry run)."""
    return int(_module(name).batch_size(settings))


def own_unsubscribe(name: str, settings: Settings) -> tuple[str, bool]:
    """The setting that turns on backend ``name``'s own unsubscribe handling (e.g. ``[sendgrid] asm_group_id``)
    and whether it is set; ``("", False)`` for a backend without one."""
    key, on = _module(name).own_unsubscribe(settings)
    return str(key), bool(on)
