"""The send journal: one SQLite row per recipient and issue, so that a send can stop anywhere and resume.

States::

    pending ──► inflight ──► sent            (the answer arrived: accepted)
                   │    └──► failed          (the answer arrived: refused; ``permanent`` or retried next run)
                   └──(crash/kill)──► unknown  (found inflight at start-up: the request may have been accepted)

``inflight`` is committed *before* a batch leaves and ``sent``/``failed`` as soon as the answer arrives, so
a crash between the two is exactly the ``unknown`` case: held and reported, sent again only when the
editor asks (``--resend-unknown``), never silently. A ``sent`` recipient is never selected again.

The file lives in the issue folder (``DIR/send-journal.sqlite``, WAL mode) and can hold several issues
(keyed by slug). Writes are grouped: one transaction per batch, ``executemany`` throughout, so a
million recipients cost seconds, not minutes. Rows skipped while reading the CSV (invalid, duplicate,
suppressed) are recorded per run in ``skips`` for the summary.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DigestError
from .base import Outcome

JOURNAL_NAME = "send-journal.sqlite"
STATES = ("pending", "inflight", "sent", "failed", "unknown")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS issues (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS recipients (
    issue INTEGER NOT NULL,
    key TEXT NOT NULL,              -- lower-cased address: one row per person, whatever the case
    email TEXT NOT NULL,            -- the address as it is sent to
    state TEXT NOT NULL DEFAULT 'pending',
    batch INTEGER,
    message_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    permanent INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (issue, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS recipients_batch ON recipients (issue, batch);
CREATE INDEX IF NOT EXISTS recipients_state ON recipients (issue, state);
CREATE TABLE IF NOT EXISTS skips (
    issue INTEGER NOT NULL,
    line INTEGER NOT NULL,
    email TEXT NOT NULL,
    kind TEXT NOT NULL,             -- invalid | duplicate | suppressed | bad_row
    reason TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS skips_issue ON skips (issue, kind);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    issue INTEGER NOT NULL,
    started REAL NOT NULL,
    finished REAL,
    backend TEXT NOT NULL,
    recovered_unknown INTEGER NOT NULL DEFAULT 0,
    note TEXT
);
"""


class JournalError(DigestError):
    """The journal file cannot be opened or is not a digest journal."""


@dataclass
class Summary:
    """Counts over the whole journal of one issue (every run), plus the latest run's skips by kind."""

    states: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def sent(self) -> int:
        return self.states.get("sent", 0)

    @property
    def failed(self) -> int:
        return self.states.get("failed", 0)

    @property
    def unknown(self) -> int:
        return self.states.get("unknown", 0) + self.states.get("inflight", 0)

    @property
    def pending(self) -> int:
        return self.states.get("pending", 0)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())


class Journal:
    """One issue's view of the journal file. Use as a context manager, or call ``close()``."""

    def __init__(self, path: Path | str, slug: str, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.slug = slug
        self.readonly = readonly
        try:
            if readonly:
                self.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at each checkpoint
                self.db.executescript(_SCHEMA)
            row = self.db.execute("SELECT id FROM issues WHERE slug = ?", (slug,)).fetchone()
            if row is None and not readonly:
                self.db.execute("INSERT INTO issues (slug, created) VALUES (?, ?)", (slug, time.time()))
                row = self.db.execute("SELECT id FROM issues WHERE slug = ?", (slug,)).fetchone()
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{self.path}: cannot open the send journal ({exc})",
                               "move the file away to start a fresh journal (recipients may be mailed twice)") from None
        self.issue_id: int | None = row[0] if row else None
        self.run_id: int | None = None

    # -- context manager -------------------------------------------------------------------------
    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    # -- runs ------------------------------------------------------------------------------------
    def recover(self) -> int:
        """At start-up: every ``inflight`` row (a batch whose answer never came) becomes ``unknown``."""
        cur = self.db.execute(
            "UPDATE recipients SET state = 'unknown', last_error = ?, updated = ? "
            "WHERE issue = ? AND state = 'inflight'",
            ("the send stopped while this request was in flight: it may or may not have been delivered",
             time.time(), self.issue_id))
        return cur.rowcount

    def start_run(self, backend: str, recovered: int) -> int:
        cur = self.db.execute("INSERT INTO runs (issue, started, backend, recovered_unknown) VALUES (?, ?, ?, ?)",
                              (self.issue_id, time.time(), backend, recovered))
        self.run_id = int(cur.lastrowid or 0)
        self.db.execute("DELETE FROM skips WHERE issue = ?", (self.issue_id,))  # this run's CSV decides skips
        return self.run_id

    def finish_run(self, note: str = "") -> None:
        if self.run_id is not None:
            self.db.execute("UPDATE runs SET finished = ?, note = ? WHERE id = ?", (time.time(), note, self.run_id))

    def has_rows(self) -> bool:
        if self.issue_id is None:
            return False
        row = self.db.execute("SELECT 1 FROM recipients WHERE issue = ? LIMIT 1", (self.issue_id,)).fetchone()
        return row is not None

    # -- registering recipients -----------------------------------------------------------------
    def register(self, emails: Sequence[str], *, resend_unknown: bool = False) -> list[str]:
        """Add new addresses as ``pending`` (one transaction) and return those of ``emails`` to send now.

        Sendable: pending, failed without ``permanent``, and unknown only with ``resend_unknown``.
        Never sent, inflight or permanently failed rows.
        """
        if not emails:
            return []
        now = time.time()
        issue = self.issue_id
        keys = [e.lower() for e in emails]
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO recipients (issue, key, email, state, created, updated) "
                "VALUES (?, ?, ?, 'pending', ?, ?)",
                [(issue, k, e, now, now) for k, e in zip(keys, emails, strict=True)])
            inserted = db.total_changes - before
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        if inserted == len(emails):
            return list(emails)  # all new: all pending (the common case of a first run)
        states = self._states(keys)
        out = []
        for key, email in zip(keys, emails, strict=True):
            state, permanent = states.get(key, ("pending", 0))
            if state == "pending" or (state == "failed" and not permanent) or (state == "unknown" and resend_unknown):
                out.append(email)
        return out

    def _states(self, keys: Sequence[str]) -> dict[str, tuple[str, int]]:
        out: dict[str, tuple[str, int]] = {}
        for i in range(0, len(keys), 900):
            chunk = keys[i:i + 900]
            marks = ",".join("?" * len(chunk))
            for key, state, permanent in self.db.execute(
                    f"SELECT key, state, permanent FROM recipients WHERE issue = ? AND key IN ({marks})",
                    (self.issue_id, *chunk)):
                out[key] = (state, permanent)
        return out

    def state_of(self, email: str) -> str | None:
        row = self.db.execute("SELECT state FROM recipients WHERE issue = ? AND key = ?",
                              (self.issue_id, email.lower())).fetchone()
        return row[0] if row else None

    # -- a batch --------------------------------------------------------------------------------
    def next_batch_number(self) -> int:
        row = self.db.execute("SELECT MAX(batch) FROM recipients WHERE issue = ?", (self.issue_id,)).fetchone()
        return int(row[0] or 0) + 1

    def mark_inflight(self, batch: int, emails: Sequence[str]) -> None:
        """Committed before the request leaves."""
        now = time.time()
        self._write(
            "UPDATE recipients SET state = 'inflight', batch = ?, attempts = attempts + 1, updated = ? "
            "WHERE issue = ? AND key = ? AND state != 'sent'",
            [(batch, now, self.issue_id, e.lower()) for e in emails])

    def record(self, batch: int, outcomes: Iterable[Outcome]) -> None:
        """Committed as soon as the answer arrives: sent with its message id, failed with the reason."""
        now = time.time()
        sent: list[tuple[str | None, float, int, str]] = []
        failed: list[tuple[str, int, float, int, str]] = []
        unknown: list[tuple[str, float, int, str]] = []
        for o in outcomes:
            if o.ok:
                sent.append((o.message_id, now, self.issue_id or 0, o.email.lower()))
            elif o.unknown:
                unknown.append((o.error or "delivery unknown", now, self.issue_id or 0, o.email.lower()))
            else:
                failed.append((o.error or "failed", int(o.permanent), now, self.issue_id or 0, o.email.lower()))
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            if sent:
                db.executemany("UPDATE recipients SET state = 'sent', message_id = ?, last_error = NULL, "
                               "permanent = 0, updated = ? WHERE issue = ? AND key = ?", sent)
            if failed:
                db.executemany("UPDATE recipients SET state = 'failed', last_error = ?, permanent = ?, updated = ? "
                               "WHERE issue = ? AND key = ?", failed)
            if unknown:
                db.executemany("UPDATE recipients SET state = 'unknown', last_error = ?, updated = ? "
                               "WHERE issue = ? AND key = ?", unknown)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def release(self, emails: Sequence[str]) -> None:
        """Back to ``pending``: these never left (the backend says so), e.g. a batch refused as a whole."""
        now = time.time()
        self._write("UPDATE recipients SET state = 'pending', attempts = MAX(attempts - 1, 0), updated = ? "
                    "WHERE issue = ? AND key = ? AND state = 'inflight'",
                    [(now, self.issue_id, e.lower()) for e in emails])

    def mark_unknown(self, emails: Sequence[str], reason: str) -> None:
        now = time.time()
        self._write("UPDATE recipients SET state = 'unknown', last_error = ?, updated = ? "
                    "WHERE issue = ? AND key = ? AND state = 'inflight'",
                    [(reason, now, self.issue_id, e.lower()) for e in emails])

    def _write(self, sql: str, rows: list[tuple[object, ...]]) -> None:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(sql, rows)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    # -- skips and the summary ------------------------------------------------------------------
    def add_skips(self, rows: Iterable[tuple[int, str, str, str]]) -> None:
        """(line, email, kind, reason) rows for this run."""
        self._write("INSERT INTO skips (issue, line, email, kind, reason) VALUES (?, ?, ?, ?, ?)",
                    [(self.issue_id, line, email, kind, reason) for line, email, kind, reason in rows])

    def summary(self) -> Summary:
        if self.issue_id is None:
            return Summary()
        states = {s: n for s, n in self.db.execute(
            "SELECT state, COUNT(*) FROM recipients WHERE issue = ? GROUP BY state", (self.issue_id,))}
        skipped = {k: n for k, n in self.db.execute(
            "SELECT kind, COUNT(*) FROM skips WHERE issue = ? GROUP BY kind", (self.issue_id,))}
        return Summary(states, skipped)

    def rows(self, state: str, limit: int = 20) -> list[tuple[str, str | None]]:
        """(email, last error) of up to ``limit`` rows in ``state``."""
        return list(self.db.execute(
            "SELECT email, last_error FROM recipients WHERE issue = ? AND state = ? ORDER BY email LIMIT ?",
            (self.issue_id, state, limit)))


def journal_path(directory: Path | str) -> Path:
    return Path(directory) / JOURNAL_NAME


def open_journal(directory: Path | str, slug: str, *, readonly: bool = False) -> Journal | None:
    """The journal of the issue in ``directory``; with ``readonly`` None when there is none yet."""
    path = journal_path(directory)
    if readonly and not path.exists():
        return None
    return Journal(path, slug, readonly=readonly)
