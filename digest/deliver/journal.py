"""The send journal: one SQLite row per recipient and issue, so that a send can stop anywhere and resume.

States::

    (new) ──► inflight ──► sent              (the answer arrived: accepted)
                   │    └──► failed          (the answer arrived: refused; ``permanent`` or retried next run)
                   └──(crash/kill)──► unknown  (found inflight at start-up: the request may have been accepted)

``inflight`` is committed *before* a batch leaves and ``sent``/``failed`` as soon as the answer arrives, so
a crash between the two is exactly the ``unknown`` case: held and reported, sent again only when the
editor asks (``--resend-unknown``), never silently. A ``sent`` recipient is never selected again.

The file lives in the issue folder (``DIR/send-journal.sqlite``, WAL mode) and can hold several issues
(keyed by slug). A recipient's row is written once, when its batch is formed (``begin_batch``: the row
points at a ``batches`` row in state ``inflight``, committed before the request leaves); the answer
updates the one batch row (``sent``) and only the recipients that were not accepted get a state of their
own (``failed``, ``unknown``, ``pending`` for those that never left). So the common path costs one insert
per recipient and one update per batch, in one transaction each: a million recipients cost seconds.
The ``recipients`` view shows one row per recipient with its effective state. Rows skipped while reading
the CSV (invalid, duplicate, suppressed) are recorded per run in ``skips`` for the summary.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DigestError
from .base import Outcome

try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - orjson is a dependency; json is the fallback
    _orjson = None  # type: ignore[assignment]

JOURNAL_NAME = "send-journal.sqlite"
STATES = ("pending", "inflight", "sent", "failed", "unknown")
SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS issues (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    created REAL NOT NULL
);
-- One row per batch: its state is the state of every recipient in it that has no state of its own.
CREATE TABLE IF NOT EXISTS batches (
    issue INTEGER NOT NULL,
    id INTEGER NOT NULL,
    state TEXT NOT NULL,            -- inflight | sent | unknown
    message_id TEXT,                -- when one id covers the batch (SendGrid's X-Message-Id)
    size INTEGER NOT NULL,
    started REAL NOT NULL,
    finished REAL,
    error TEXT,
    PRIMARY KEY (issue, id)
) WITHOUT ROWID;
-- One row per recipient, written once when its batch is formed; ``state`` only when it differs from the
-- batch's (failed, unknown, pending), so the common path costs one insert per recipient.
CREATE TABLE IF NOT EXISTS entries (
    issue INTEGER NOT NULL,
    key TEXT NOT NULL,              -- lower-cased address: one row per person, whatever the case
    email TEXT NOT NULL,            -- the address as it is sent to
    batch INTEGER NOT NULL,
    state TEXT,                     -- NULL: the batch's state
    message_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 1,
    last_error TEXT,
    permanent INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    updated REAL,
    PRIMARY KEY (issue, key)
) WITHOUT ROWID;
-- The journal as one row per recipient with its effective state (read it with any SQLite tool).
CREATE VIEW IF NOT EXISTS recipients AS
    SELECT e.issue AS issue, e.key AS key, e.email AS email, e.batch AS batch,
           COALESCE(e.state, b.state, 'pending') AS state,
           COALESCE(e.message_id, b.message_id) AS message_id,
           e.attempts AS attempts, COALESCE(e.last_error, b.error) AS last_error, e.permanent AS permanent,
           e.created AS created, COALESCE(e.updated, b.finished, b.started) AS updated
    FROM entries e LEFT JOIN batches b ON b.issue = e.issue AND b.id = e.batch;
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

# A batch's recipients are claimed in one statement over a JSON array (``"key"`` when the address is its own
# key, the usual case, else ``[key, email]``): SQLite runs the whole insert without the GIL (one call, not a
# thousand executemany steps), so the send loop's other thread keeps working meanwhile. A plain string is
# read as ``j.value`` without parsing it again (``->>`` on every row cost ~1.5 µs a recipient).
_CLAIM = """
INSERT INTO entries (issue, key, email, batch, created)
SELECT ?1, IIF(j.type = 'text', j.value, j.value ->> 0), IIF(j.type = 'text', j.value, j.value ->> 1), ?2, ?3
FROM json_each(?4) AS j WHERE true
ON CONFLICT (issue, key) DO UPDATE SET
    batch = excluded.batch, email = excluded.email, state = NULL, message_id = NULL, last_error = NULL,
    permanent = 0, attempts = entries.attempts + 1, updated = excluded.created
WHERE COALESCE(entries.state,
               (SELECT b.state FROM batches b WHERE b.issue = entries.issue AND b.id = entries.batch),
               'pending') NOT IN ('sent', 'inflight')
"""


def _json_array(rows: list[str | list[str]]) -> str:
    """``rows`` as compact JSON text (orjson when installed: ~5x faster on a batch of 1000 addresses)."""
    if _orjson is not None:
        try:
            return _orjson.dumps(rows).decode("utf-8")
        except TypeError:  # e.g. a lone surrogate: json writes it; SQLite then refuses it as before
            pass
    return json.dumps(rows, ensure_ascii=False, separators=(",", ":"))


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
                # check_same_thread=False: the send loop commits from its request thread too; every use of
                # the connection is serialized by ``self.lock``.
                self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30.0, check_same_thread=False)
                self.db.execute("PRAGMA journal_mode=WAL")
                # WAL + NORMAL: a commit survives a crash or kill of the process (it is in the WAL file); only an
                # OS crash or power loss right after it can lose the last commits (no fsync per commit).
                self.db.execute("PRAGMA synchronous=NORMAL")
                version = self.db.execute("PRAGMA user_version").fetchone()[0]
                if version not in (0, SCHEMA_VERSION) or (version == 0 and self._has_table("recipients")):
                    raise JournalError(f"{self.path}: written by another version of digest (schema {version})",
                                       "finish that send with the version that started it, or move the file away")
                self.db.executescript(_SCHEMA)
                self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            row = self.db.execute("SELECT id FROM issues WHERE slug = ?", (slug,)).fetchone()
            if row is None and not readonly:
                self.db.execute("INSERT INTO issues (slug, created) VALUES (?, ?)", (slug, time.time()))
                row = self.db.execute("SELECT id FROM issues WHERE slug = ?", (slug,)).fetchone()
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{self.path}: cannot open the send journal ({exc})",
                               "move the file away to start a fresh journal (recipients may be mailed twice)") from None
        self.issue_id: int = row[0] if row else -1
        self.run_id: int | None = None
        self.lock = threading.RLock()  # one statement or transaction at a time, whichever thread asks

    def _has_table(self, name: str) -> bool:
        return self.db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                               (name,)).fetchone() is not None

    # -- context manager -------------------------------------------------------------------------
    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self.lock:
            self.db.close()

    def _tx(self) -> _Transaction:
        return _Transaction(self.db, self.lock)

    # -- runs ------------------------------------------------------------------------------------
    def recover(self) -> int:
        """At start-up: every batch still ``inflight`` (its answer never came) becomes ``unknown``.

        Returns the number of recipients concerned (those following their batch's state).
        """
        n = self.db.execute(
            "SELECT COUNT(*) FROM entries e JOIN batches b ON b.issue = e.issue AND b.id = e.batch "
            "WHERE e.issue = ? AND b.state = 'inflight' AND e.state IS NULL", (self.issue_id,)).fetchone()[0]
        self.db.execute(
            "UPDATE batches SET state = 'unknown', finished = ?, error = ? WHERE issue = ? AND state = 'inflight'",
            (time.time(), "the send stopped while this request was in flight: it may or may not have been delivered",
             self.issue_id))
        return int(n)

    def start_run(self, backend: str, recovered: int) -> int:
        cur = self.db.execute("INSERT INTO runs (issue, started, backend, recovered_unknown) VALUES (?, ?, ?, ?)",
                              (self.issue_id, time.time(), backend, recovered))
        self.run_id = int(cur.lastrowid or 0)
        self.db.execute("DELETE FROM skips WHERE issue = ?", (self.issue_id,))  # this run's CSV decides skips
        return self.run_id

    def finish_run(self, note: str = "") -> None:
        if self.run_id is not None:
            with self.lock:
                self.db.execute("UPDATE runs SET finished = ?, note = ? WHERE id = ?", (time.time(), note, self.run_id))

    def has_rows(self) -> bool:
        row = self.db.execute("SELECT 1 FROM entries WHERE issue = ? LIMIT 1", (self.issue_id,)).fetchone()
        return row is not None

    # -- what to send -----------------------------------------------------------------------------
    def states_of(self, keys: Sequence[str]) -> dict[str, tuple[str, int]]:
        """key → (effective state, permanent) for the keys the journal knows."""
        out: dict[str, tuple[str, int]] = {}
        for i in range(0, len(keys), 900):
            chunk = keys[i:i + 900]
            marks = ",".join("?" * len(chunk))
            with self.lock:
                found = self.db.execute(
                    f"SELECT key, state, permanent FROM recipients WHERE issue = ? AND key IN ({marks})",
                    (self.issue_id, *chunk)).fetchall()
            for key, state, permanent in found:
                out[key] = (state, permanent)
        return out

    def sendable(self, emails: Sequence[str], *, resend_unknown: bool = False) -> list[str]:
        """The addresses of ``emails`` to send now: new, pending, transiently failed, unknown only when asked.

        Never sent, inflight or permanently failed ones.
        """
        states = self.states_of([e.lower() for e in emails])
        if not states:
            return list(emails)
        return [e for e in emails if would_send(states.get(e.lower()), resend_unknown)]

    # -- a batch --------------------------------------------------------------------------------
    def next_batch_number(self) -> int:
        row = self.db.execute("SELECT MAX(id) FROM batches WHERE issue = ?", (self.issue_id,)).fetchone()
        return int(row[0] or 0) + 1

    def begin_batch(self, batch: int, emails: Sequence[str]) -> list[str]:
        """Commit the batch ``inflight`` before the request leaves; returns the addresses it claimed.

        An address already sent or in flight is never claimed again (it is left out of the result).
        """
        now = time.time()
        issue = self.issue_id
        with self._tx() as db:
            db.execute("INSERT INTO batches (issue, id, state, size, started) VALUES (?, ?, 'inflight', ?, ?)",
                       (issue, batch, len(emails), now))
            before = db.total_changes
            rows = [k if (k := e.lower()) == e else [k, e] for e in emails]
            db.execute(_CLAIM, (issue, batch, now, _json_array(rows)))
            claimed = db.total_changes - before
            if claimed != len(emails):
                mine = {k for (k,) in db.execute("SELECT key FROM entries WHERE issue = ? AND batch = ?",
                                                 (issue, batch))}
                emails = [e for e in emails if e.lower() in mine]
                db.execute("UPDATE batches SET size = ? WHERE issue = ? AND id = ?", (len(emails), issue, batch))
        return list(emails)

    def record(self, batch: int, emails: Sequence[str], outcomes: Iterable[Outcome], *,
               missing: str = "unknown", missing_reason: str = "the backend returned no outcome") -> int:
        """Commit what came back, in one transaction: the batch becomes ``sent``; each recipient that was
        not accepted gets its own state (failed with the reason, or unknown). Recipients of the batch with
        no outcome become ``missing`` (``pending``: they never left; ``unknown``: they may have).
        Returns how many had no outcome."""
        now = time.time()
        issue = self.issue_id
        outcomes = list(outcomes)
        if len(outcomes) == len(emails) and all(o.ok for o in outcomes):
            ids = {o.message_id for o in outcomes}
            if len(ids) == 1 and [o.email for o in outcomes] == list(emails):
                # The common case: everyone accepted under one message id, in batch order: the batch row says it.
                with self._tx() as db:
                    db.execute("UPDATE batches SET state = 'sent', message_id = ?, finished = ? "
                               "WHERE issue = ? AND id = ?", (ids.pop(), now, issue, batch))
                return 0
        seen: set[str] = set()
        ids: set[str | None] = set()
        oks: list[Outcome] = []
        failed: list[tuple[str, int, float, int, str]] = []
        unknown: list[tuple[str, float, int, str]] = []
        for o in outcomes:
            key = o.email.lower()
            seen.add(key)
            if o.ok:
                oks.append(o)
                ids.add(o.message_id)
            elif o.unknown:
                unknown.append((o.error or "delivery unknown", now, issue, key))
            else:
                failed.append((o.error or "failed", int(o.permanent), now, issue, key))
        rest = [e.lower() for e in emails if e.lower() not in seen]
        shared = next(iter(ids)) if len(ids) == 1 else None
        with self._tx() as db:
            db.execute("UPDATE batches SET state = 'sent', message_id = ?, finished = ? WHERE issue = ? AND id = ?",
                       (shared, now, issue, batch))
            if len(ids) > 1:
                db.executemany("UPDATE entries SET message_id = ? WHERE issue = ? AND key = ?",
                               [(o.message_id, issue, o.email.lower()) for o in oks])
            if failed:
                db.executemany("UPDATE entries SET state = 'failed', last_error = ?, permanent = ?, updated = ? "
                               "WHERE issue = ? AND key = ?", failed)
            if unknown:
                db.executemany("UPDATE entries SET state = 'unknown', last_error = ?, updated = ? "
                               "WHERE issue = ? AND key = ?", unknown)
            if rest:
                if missing == "pending":
                    db.executemany("UPDATE entries SET state = 'pending', attempts = MAX(attempts - 1, 0), "
                                   "updated = ? WHERE issue = ? AND key = ?", [(now, issue, k) for k in rest])
                else:
                    db.executemany("UPDATE entries SET state = 'unknown', last_error = ?, updated = ? "
                                   "WHERE issue = ? AND key = ?", [(missing_reason, now, issue, k) for k in rest])
        return len(rest)

    def batch_unknown(self, batch: int, reason: str) -> None:
        """The whole batch's fate is unknown (the backend failed in the middle of the request)."""
        with self.lock:
            self.db.execute("UPDATE batches SET state = 'unknown', error = ?, finished = ? WHERE issue = ? AND id = ?",
                            (reason, time.time(), self.issue_id, batch))

    # -- skips and the summary ------------------------------------------------------------------
    def add_skips(self, rows: Iterable[tuple[int, str, str, str]]) -> None:
        """(line, email, kind, reason) rows for this run."""
        with self._tx() as db:
            db.executemany("INSERT INTO skips (issue, line, email, kind, reason) VALUES (?, ?, ?, ?, ?)",
                           [(self.issue_id, line, email, kind, reason) for line, email, kind, reason in rows])

    def summary(self) -> Summary:
        with self.lock:
            return self._summary()

    def _summary(self) -> Summary:
        states = {s: n for s, n in self.db.execute(
            "SELECT state, COUNT(*) FROM recipients WHERE issue = ? GROUP BY state", (self.issue_id,))}
        skipped = {k: n for k, n in self.db.execute(
            "SELECT kind, COUNT(*) FROM skips WHERE issue = ? GROUP BY kind", (self.issue_id,))}
        return Summary(states, skipped)

    def rows(self, state: str, limit: int = 20) -> list[tuple[str, str | None]]:
        """(email, last error) of up to ``limit`` recipients in ``state``."""
        return list(self.db.execute(
            "SELECT email, last_error FROM recipients WHERE issue = ? AND state = ? ORDER BY email LIMIT ?",
            (self.issue_id, state, limit)))


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on any exception, including KeyboardInterrupt), holding
    the journal's lock throughout."""

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock) -> None:
        self.db = db
        self.lock = lock

    def __enter__(self) -> sqlite3.Connection:
        self.lock.acquire()
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.lock.release()
            raise
        return self.db

    def __exit__(self, exc_type: object, *rest: object) -> None:
        try:
            self.db.execute("ROLLBACK" if exc_type is not None else "COMMIT")
        finally:
            self.lock.release()


def would_send(state: tuple[str, int] | None, resend_unknown: bool) -> bool:
    """Whether a recipient in ``state`` ((effective state, permanent) or None when new) is sent now."""
    if state is None:
        return True
    name, permanent = state
    return name == "pending" or (name == "failed" and not permanent) or (name == "unknown" and resend_unknown)


def journal_path(directory: Path | str) -> Path:
    return Path(directory) / JOURNAL_NAME


def open_journal(directory: Path | str, slug: str, *, readonly: bool = False) -> Journal | None:
    """The journal of the issue in ``directory``; with ``readonly`` None when there is none yet."""
    path = journal_path(directory)
    if readonly and not path.exists():
        return None
    return Journal(path, slug, readonly=readonly)
