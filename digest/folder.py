"""``IssueFolder``: the one owner of an issue folder's paths, and of its settings read once.

An issue folder holds::

    issue.toml                  what the editor writes (``digest new``, ``digest add``)
    .cache/                     one JSON file per extracted article, and teasers.json
    build/                      what ``digest build`` writes (email.html, email.txt, web.html, message.eml,
                                draft.json, images/)
    outbox/                     the outbox backend's .eml files (outbox/test/ for --test copies)
    send-journal.sqlite         the send journal, with its run lock .send-journal.lock and its marker
                                .send-journal.issues (the issues it journals) beside it
    events.sqlite               the provider's events of this issue (SendGrid's Event Webhook)
    {provider}-schedule.json    a provider's record of a scheduled send (sendgrid-schedule.json)

Every module asks the folder for these paths instead of joining names itself. The settings (``digest.toml``
in the folder or its nearest parent) are read the first time they are asked for and kept: one command that
passes the same ``IssueFolder`` along (build, check, send) reads them once.

Functions that take an issue folder accept an ``IssueFolder``, a ``Path`` or a ``str``, and turn it into a
folder with ``IssueFolder.of`` (which returns an ``IssueFolder`` unchanged, settings and all).
``os.fspath(folder)`` and ``Path(folder)`` give the folder's path.
"""

from __future__ import annotations

import os
from pathlib import Path

from .config import Settings, load_settings

ISSUE_NAME = "issue.toml"
CACHE_DIR = ".cache"
BUILD_DIR = "build"
OUTBOX_DIR = "outbox"
JOURNAL_NAME = "send-journal.sqlite"
JOURNAL_LOCK_NAME = ".send-journal.lock"
JOURNAL_MARKER_NAME = ".send-journal.issues"  # which issues the journal holds (a missing journal is noticed)
EVENTS_NAME = "events.sqlite"
DRAFT_NAME = "draft.json"
TEASER_CACHE_NAME = "teasers.json"
# Folders of an issue that never hold another issue (``find_issue_dirs`` skips them, and hidden ones).
NOT_ISSUES = frozenset({BUILD_DIR, OUTBOX_DIR, "node_modules"})


class IssueFolder:
    """An issue folder's paths, and its settings loaded once on first use."""

    __slots__ = ("path", "_loaded")

    def __init__(self, path: Path | str, settings: Settings | None = None) -> None:
        self.path = Path(path)
        # The settings once loaded: a one-item list shared with the folder's ``resolved()`` twin, so that
        # whichever of the two loads them first loads them for both.
        self._loaded: list[Settings] = [] if settings is None else [settings]

    @classmethod
    def of(cls, where: IssueFolder | Path | str) -> IssueFolder:
        """``where`` as an ``IssueFolder``: the same object when it is one already (its settings kept)."""
        return where if isinstance(where, IssueFolder) else cls(where)

    def resolved(self) -> IssueFolder:
        """The folder by its absolute path; the two share their settings (loaded once, by either)."""
        path = self.path.resolve()
        if path == self.path:
            return self
        twin = IssueFolder(path)
        twin._loaded = self._loaded
        return twin

    def __fspath__(self) -> str:
        return os.fspath(self.path)

    def __str__(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        return f"IssueFolder({str(self.path)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IssueFolder) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    # -- settings -----------------------------------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        """``digest.toml`` of this folder or its nearest parent (defaults when there is none), read once."""
        if not self._loaded:
            self._loaded.append(load_settings(self.path))
        return self._loaded[0]

    # -- what the editor writes -------------------------------------------------------------------------
    @property
    def issue_file(self) -> Path:
        return self.path / ISSUE_NAME

    @property
    def cache(self) -> Path:
        """``.cache/``: extracted articles (one JSON file each) and the teaser cache."""
        return self.path / CACHE_DIR

    def cache_file(self, key: str) -> Path:
        return self.cache / f"{key}.json"

    @property
    def teaser_cache(self) -> Path:
        return self.cache / TEASER_CACHE_NAME

    # -- what build writes ----------------------------------------------------------------------------------
    @property
    def build(self) -> Path:
        return self.path / BUILD_DIR

    @property
    def draft(self) -> Path:
        """``build/draft.json``: what a send needs of the built issue."""
        return self.build / DRAFT_NAME

    # -- what a send writes ---------------------------------------------------------------------------------
    @property
    def outbox(self) -> Path:
        return self.path / OUTBOX_DIR

    @property
    def journal(self) -> Path:
        return self.path / JOURNAL_NAME

    @property
    def journal_lock(self) -> Path:
        """The send journal's run lock (an ``flock`` on this file, beside the journal)."""
        return self.path / JOURNAL_LOCK_NAME

    @property
    def journal_marker(self) -> Path:
        """The journal's marker: which issues it journals, so that a journal gone missing is noticed."""
        return self.path / JOURNAL_MARKER_NAME

    @property
    def events(self) -> Path:
        """``events.sqlite``: the provider's delivery, open and click events of this issue (Event Webhook)."""
        return self.path / EVENTS_NAME

    def schedule_file(self, provider: str) -> Path:
        """A provider's record of the scheduled send of this issue (``sendgrid-schedule.json``)."""
        return self.path / f"{provider}-schedule.json"
