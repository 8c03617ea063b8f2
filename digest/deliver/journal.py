"""The send journal: every recipient's state in SQLite, so that a send can stop anywhere and resume.

States::

    (new) ──► inflight ──► sent              (the answer arrived: accepted)
                   │    └──► failed          (the answer arrived: refused; ``permanent`` or retried next run)
                   └──(crash/kill)──► unknown  (found inflight at start-up: the request may have been accepted)

``inflight`` is committed *before* a batch leaves and ``sent``/``failed`` as soon as the answer arrives, so
a crash between the two is exactly the ``unknown`` case: held and reported, sent again only when the
editor asks (``--resend-unknown``), never silently. A ``sent`` recipient is never selected again.

The file lives in the issue folder (``DIR/send-journal.sqlite``, WAL mode), keyed by the issue's slug. An
existing file is never replaced silently: empty, unreadable, not a journal, or without this issue's slug, it is
refused (``JournalError``) until the editor sets it aside (``set_aside``, ``digest send --new-journal``); the
marker ``.send-journal.issues`` beside it names the issues journaled there, so a *missing* journal of an issue
already sent is refused too. SQLite failures (disk full, read-only) become a ``JournalError`` naming the file;
what was committed stays. It is written as a log of batches, because a recipient's state is almost always its
batch's:

- ``batches``: one small row per request (state, X-Message-Id, times, error);
- ``claims``: the batch's addresses, written once when the batch is formed, in the same transaction that
  makes the batch ``inflight`` (one row per batch: appending it costs a fraction of a microsecond a recipient,
  where a row per recipient in a table keyed by address cost ~5 µs: every batch dirtied ~1000 pages of a
  B-tree ordered by address);
- ``marks``: only the recipients whose state differs from their batch's (failed with the reason, unknown,
  pending, their own message id), and ``superseded`` on an earlier claim of a recipient claimed again.

The ``recipients`` view shows one row per recipient with its effective state (read it with any SQLite tool).
Rows skipped while reading the CSV (invalid, duplicate, suppressed) are recorded per run in ``skips``. An A/B
subject test (``abtest.py``) keeps its seed, share, subjects and winner in ``ab_tests`` and each of its
recipients' variant in ``ab_variants``.

A send holds the journal's run lock (``lock_run``, an ``flock`` on ``.send-journal.lock`` beside it) from
start to end: two sends of one issue never run at once. Look-ups by address (a resumed run) go through an
index of the current claims built once per connection in a TEMP table; a first run needs none: the
recipient stream never yields an address twice, so the send marks its claims ``unchecked``.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, cast

import orjson

from ..errors import DigestError
from ..model import AllAccepted, Outcome

try:
    import fcntl as _fcntl
except ImportError:  # pragma: no cover - not on Windows: no run lock there
    _fcntl = None  # type: ignore[assignment]

JOURNAL_NAME = "send-journal.sqlite"
LOCK_NAME = ".send-journal.lock"
MARKER_NAME = ".send-journal.issues"
SCHEMA_VERSION = 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS issues (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    created REAL NOT NULL
);
-- One row per batch (request): its state is the state of every recipient in it that has no mark.
CREATE TABLE IF NOT EXISTS batches (
    issue INTEGER NOT NULL,
    id INTEGER NOT NULL,
    state TEXT NOT NULL,            -- inflight | sent | unknown
    message_id TEXT,                -- when one id covers the batch (SendGrid's X-Message-Id)
    size INTEGER NOT NULL,          -- the addresses in its claim
    started REAL NOT NULL,
    finished REAL,
    error TEXT,
    PRIMARY KEY (issue, id)
) WITHOUT ROWID;
-- The addresses of each batch, written once with the batch: a JSON array of "address" (when it is its own
-- key, the usual case) or ["key", "address"] (key: the address lower-cased, one person whatever the case).
CREATE TABLE IF NOT EXISTS claims (
    issue INTEGER NOT NULL,
    batch INTEGER NOT NULL,
    members TEXT NOT NULL,
    PRIMARY KEY (issue, batch)
);
-- A recipient whose state differs from its batch's (or who has a message id of its own).
CREATE TABLE IF NOT EXISTS marks (
    issue INTEGER NOT NULL,
    batch INTEGER NOT NULL,
    key TEXT NOT NULL,
    state TEXT,                     -- failed | unknown | pending | superseded (claimed again later); NULL: the batch's
    message_id TEXT,
    last_error TEXT,
    permanent INTEGER NOT NULL DEFAULT 0,
    prior TEXT,                     -- superseded: the state this claim had
    updated REAL,
    PRIMARY KEY (issue, batch, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS marks_key ON marks (issue, key);
-- The journal as one row per recipient with its effective state (json_each, json_extract, IIF: SQLite 3.32 or later).
CREATE VIEW IF NOT EXISTS recipients AS
    SELECT c.issue AS issue, IIF(j.type = 'text', j.value, json_extract(j.value, '$[0]')) AS key,
           IIF(j.type = 'text', j.value, json_extract(j.value, '$[1]')) AS email, c.batch AS batch,
           COALESCE(m.state, b.state) AS state,
           COALESCE(m.message_id, b.message_id) AS message_id,
           1 + (SELECT COUNT(*) FROM marks p WHERE p.issue = c.issue AND p.key = IIF(j.type = 'text', j.value,
                json_extract(j.value, '$[0]')) AND p.state = 'superseded' AND p.prior IS NOT 'pending') AS attempts,
           COALESCE(m.last_error, b.error) AS last_error, COALESCE(m.permanent, 0) AS permanent,
           b.started AS created, COALESCE(m.updated, b.finished, b.started) AS updated
    FROM claims c
    JOIN batches b ON b.issue = c.issue AND b.id = c.batch
    JOIN json_each(c.members) AS j
    LEFT JOIN marks m ON m.issue = c.issue AND m.batch = c.batch
                     AND m.key = IIF(j.type = 'text', j.value, json_extract(j.value, '$[0]'))
    WHERE m.state IS NOT 'superseded';
CREATE TABLE IF NOT EXISTS skips (
    issue INTEGER NOT NULL,
    line INTEGER NOT NULL,
    email TEXT NOT NULL,
    kind TEXT NOT NULL,             -- invalid | duplicate | suppressed | bad_row
    reason TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS skips_issue ON skips (issue, kind);
-- An A/B subject test (abtest.py): its seed, share and subjects, and the winner once chosen; one per issue.
CREATE TABLE IF NOT EXISTS ab_tests (
    issue INTEGER PRIMARY KEY,
    seed TEXT NOT NULL,
    share REAL NOT NULL,            -- the share of the recipients in the test (0.2: 20 %)
    subjects TEXT NOT NULL,         -- JSON array: variant 1 is subjects[0]
    created REAL NOT NULL,
    winner INTEGER,                 -- the variant the rest was sent (1-based), once chosen
    chosen REAL,
    chosen_by TEXT                  -- auto | hand
);
-- The test's recipients, each with its variant (1-based).
CREATE TABLE IF NOT EXISTS ab_variants (
    issue INTEGER NOT NULL,
    key TEXT NOT NULL,
    variant INTEGER NOT NULL,
    PRIMARY KEY (issue, key)
) WITHOUT ROWID;
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

# Schema 2 (a row per recipient in ``entries``) → 3: each batch's entries become its claim, and every entry
# with a state or a message id of its own a mark. Attempts before the upgrade are not carried over.
_FROM_2 = """
DROP VIEW IF EXISTS recipients;
CREATE TABLE IF NOT EXISTS claims (issue INTEGER NOT NULL, batch INTEGER NOT NULL, members TEXT NOT NULL,
                                   PRIMARY KEY (issue, batch));
INSERT INTO claims (issue, batch, members)
    SELECT issue, batch, json_group_array(IIF(key = email, key, json_array(key, email)))
    FROM entries GROUP BY issue, batch;
UPDATE batches SET size = (SELECT COUNT(*) FROM entries e WHERE e.issue = batches.issue AND e.batch = batches.id);
CREATE TABLE IF NOT EXISTS marks (issue INTEGER NOT NULL, batch INTEGER NOT NULL, key TEXT NOT NULL, state TEXT,
    message_id TEXT, last_error TEXT, permanent INTEGER NOT NULL DEFAULT 0, prior TEXT, updated REAL,
    PRIMARY KEY (issue, batch, key)) WITHOUT ROWID;
INSERT INTO marks (issue, batch, key, state, message_id, last_error, permanent, updated)
    SELECT issue, batch, key, state, message_id, last_error, permanent, updated FROM entries
    WHERE state IS NOT NULL OR message_id IS NOT NULL;
DROP TABLE entries;
"""

_CURRENT = """
CREATE TEMP TABLE IF NOT EXISTS current_claims (key TEXT PRIMARY KEY, batch INTEGER NOT NULL) WITHOUT ROWID
"""
_INDEX_CLAIMS = """
INSERT OR REPLACE INTO temp.current_claims (key, batch)
    SELECT IIF(j.type = 'text', j.value, json_extract(j.value, '$[0]')), c.batch
    FROM claims c, json_each(c.members) AS j WHERE c.issue = ? ORDER BY c.batch
"""


def _json_array(rows: list[str | list[str]]) -> str:
    """``rows`` as compact JSON text (orjson: ~5x faster than json on a batch of 1000 addresses). A lone
    surrogate (undecodable CSV bytes; the recipients reader refuses them first) raises TypeError."""
    return orjson.dumps(rows).decode("utf-8")


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
        existed = _check_file(self.path)
        try:
            if readonly:
                self.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None)
                version = self.db.execute("PRAGMA user_version").fetchone()[0]
                if version != SCHEMA_VERSION:
                    raise JournalError(f"{self.path}: written by another version of digest (schema {version})",
                                       "a real `digest send` upgrades it (a dry run only reads it)")
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                # check_same_thread=False: the send loop commits from its request thread too; every use of
                # the connection is serialized by ``self.lock``.
                self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30.0, check_same_thread=False)
                version = self.db.execute("PRAGMA user_version").fetchone()[0]
                if version not in (0, 2, SCHEMA_VERSION) or (version == 0 and self._has_table("recipients")):
                    raise JournalError(f"{self.path}: written by another version of digest (schema {version})",
                                       "finish that send with the version that started it, or move the file away")
                if existed and version == 0:
                    raise _not_this_issue(self.path, slug, "it is not a digest send journal")
                # Only now, on a file that is ours: WAL + NORMAL. A commit survives a crash or kill of the process
                # (it is in the WAL file); only an OS crash or power loss right after it can lose the last commits.
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
                if version == 2:
                    self._upgrade_from_2()
                self.db.executescript(_SCHEMA)
                self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            row = self.db.execute("SELECT id FROM issues WHERE slug = ?", (slug,)).fetchone()
            if row is None and existed:
                others = [r[0] for r in self.db.execute("SELECT slug FROM issues ORDER BY id LIMIT 3")]
                raise _not_this_issue(self.path, slug, f"it holds the sends of {', '.join(others) or 'no issue'}")
            if row is None and not readonly:
                self.db.execute("INSERT INTO issues (slug, created) VALUES (?, ?)", (slug, time.time()))
                row = self.db.execute("SELECT id FROM issues WHERE slug = ?", (slug,)).fetchone()
            if not readonly:
                _write_marker(self.path, slug)
        except JournalError:
            self._close_quietly()
            raise
        except sqlite3.DatabaseError as exc:
            self._close_quietly()
            raise _db_error(self.path, exc, opening=True) from None
        self.issue_id: int = row[0] if row else -1
        self.run_id: int | None = None
        self.lock = threading.RLock()  # one statement or transaction at a time, whichever thread asks
        # Set by a send that holds the run lock and found no claim for the issue: its recipient stream never
        # yields an address twice, so its claims need no look-up (see ``begin_batch``).
        self.claims_unchecked = False
        self._indexed = False  # temp.current_claims holds this issue's current claims
        self._lock_file: IO[bytes] | None = None

    def _close_quietly(self) -> None:
        db = getattr(self, "db", None)
        if db is not None:
            with contextlib.suppress(sqlite3.Error):
                db.close()

    def _has_table(self, name: str) -> bool:
        return self.db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                               (name,)).fetchone() is not None

    def _upgrade_from_2(self) -> None:
        with _Transaction(self.db, threading.RLock(), self.path) as db:
            for statement in _FROM_2.split(";"):
                if statement.strip():
                    db.execute(statement)

    # -- context manager -------------------------------------------------------------------------
    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self.lock:
            self.db.close()
            if self._lock_file is not None:
                self._lock_file.close()  # releases the run lock
                self._lock_file = None

    def _tx(self) -> _Transaction:
        return _Transaction(self.db, self.lock, self.path)

    # -- runs ------------------------------------------------------------------------------------
    def lock_run(self) -> bool:
        """Take the run lock (held until ``close``): False where there is none (Windows, a file system without
        ``flock``); the send then checks every claim against the journal.

        Raises JournalError when another process holds it: a send of this issue is running.
        """
        if _fcntl is None:  # pragma: no cover - Windows: no flock
            return False
        if self._lock_file is not None:
            return True
        try:
            fh = (self.path.parent / LOCK_NAME).open("ab")
        except OSError:
            return False  # a folder we cannot write a lock file in: the journal itself still guards each claim
        try:
            _fcntl.flock(fh.fileno(), _fcntl.LOCK_EX | _fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise JournalError(f"{self.path}: another `digest send` of this issue is running",
                               "wait for it to finish (or stop it with Ctrl-C); it can be resumed later") from None
        except OSError:  # a file system without flock (some network mounts): no run lock, checked claims
            fh.close()
            return False
        self._lock_file = fh
        return True

    def recover(self) -> int:
        """At start-up: every batch still ``inflight`` (its answer never came) becomes ``unknown``.

        Returns the number of recipients concerned (those following their batch's state).
        """
        with self._tx() as db:
            size = db.execute("SELECT SUM(size) FROM batches WHERE issue = ? AND state = 'inflight'",
                              (self.issue_id,)).fetchone()[0] or 0
            own = db.execute(
                "SELECT COUNT(*) FROM marks m JOIN batches b ON b.issue = m.issue AND b.id = m.batch "
                "WHERE m.issue = ? AND b.state = 'inflight' AND m.state IS NOT NULL", (self.issue_id,)).fetchone()[0]
            db.execute(
                "UPDATE batches SET state = 'unknown', finished = ?, error = ? WHERE issue = ? AND state = 'inflight'",
                (time.time(), "the send stopped while this request was in flight: it may or may not have been "
                 "delivered", self.issue_id))
        return int(size - own)

    def start_run(self, backend: str, recovered: int) -> int:
        with self._tx() as db:
            cur = db.execute("INSERT INTO runs (issue, started, backend, recovered_unknown) VALUES (?, ?, ?, ?)",
                             (self.issue_id, time.time(), backend, recovered))
            run_id = cast(int, cur.lastrowid)  # an INSERT into a rowid table always sets it
            self.run_id = run_id
            db.execute("DELETE FROM skips WHERE issue = ?", (self.issue_id,))  # this run's CSV decides skips
        return run_id

    def finish_run(self, note: str = "") -> None:
        if self.run_id is not None:
            with self._tx() as db:
                db.execute("UPDATE runs SET finished = ?, note = ? WHERE id = ?", (time.time(), note, self.run_id))

    def has_rows(self) -> bool:
        """Whether any recipient of this issue was ever claimed."""
        row = self.db.execute("SELECT 1 FROM batches WHERE issue = ? AND size > 0 LIMIT 1",
                              (self.issue_id,)).fetchone()
        return row is not None

    # -- what to send -----------------------------------------------------------------------------
    def _index(self) -> None:
        """Build the look-up of current claims (key → batch) for this connection, once."""
        if self._indexed:
            return
        with self.lock:
            self.db.execute(_CURRENT)  # a TEMP table: new and empty on each connection
            self.db.execute(_INDEX_CLAIMS, (self.issue_id,))
            self._indexed = True

    def _current(self, keys: Sequence[str]) -> dict[str, tuple[str, int, int]]:
        """key → (effective state, permanent, batch) of the keys' current claims."""
        self._index()
        out: dict[str, tuple[str, int, int]] = {}
        issue = self.issue_id
        for i in range(0, len(keys), 900):
            chunk = keys[i:i + 900]
            marks = ",".join("?" * len(chunk))
            with self.lock:
                found = self.db.execute(
                    "SELECT t.key, COALESCE(m.state, b.state), COALESCE(m.permanent, 0), t.batch "
                    "FROM temp.current_claims t JOIN batches b ON b.issue = ? AND b.id = t.batch "
                    "LEFT JOIN marks m ON m.issue = ? AND m.batch = t.batch AND m.key = t.key "
                    f"WHERE t.key IN ({marks})", (issue, issue, *chunk)).fetchall()
            for key, state, permanent, batch in found:
                out[key] = (state, permanent, batch)
        return out

    def states_of(self, keys: Sequence[str]) -> dict[str, tuple[str, int]]:
        """key → (effective state, permanent) for the keys the journal knows."""
        return {k: (state, permanent) for k, (state, permanent, _) in self._current(keys).items()}

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

        An address already sent or in flight is never claimed again (it is left out of the result), nor one
        twice in a batch. With ``claims_unchecked`` (a first run under the run lock: the stream yields each
        address once) the look-up is skipped and every address is claimed.
        """
        now = time.time()
        issue = self.issue_id
        superseded: list[tuple[int, int, str, str, float]] = []
        if not self.claims_unchecked:
            self._index()  # outside the transaction: a rolled-back claim must not take the index with it
        with self._tx() as db:
            if self.claims_unchecked:
                claimed = list(emails)
            else:
                current = self._current([e.lower() for e in emails])
                claimed = []
                seen: set[str] = set()
                for e in emails:
                    key = e.lower()
                    if key in seen:
                        continue
                    seen.add(key)
                    found = current.get(key)
                    if found is not None:
                        state, _, old = found
                        if state in ("sent", "inflight"):
                            continue
                        superseded.append((issue, old, key, state, now))
                    claimed.append(e)
            rows = [k if (k := e.lower()) == e else [k, e] for e in claimed]
            db.execute("INSERT INTO batches (issue, id, state, size, started) VALUES (?, ?, 'inflight', ?, ?)",
                       (issue, batch, len(claimed), now))
            db.execute("INSERT INTO claims (issue, batch, members) VALUES (?, ?, ?)", (issue, batch, _json_array(rows)))
            if superseded:
                db.executemany("INSERT OR REPLACE INTO marks (issue, batch, key, state, prior, updated) "
                               "VALUES (?, ?, ?, 'superseded', ?, ?)", superseded)
            if self._indexed:
                db.executemany("INSERT OR REPLACE INTO temp.current_claims (key, batch) VALUES (?, ?)",
                               [(e.lower(), batch) for e in claimed])
        return claimed

    def record(self, batch: int, emails: Sequence[str], outcomes: Iterable[Outcome], *,
               missing: str = "unknown", missing_reason: str = "the backend returned no outcome") -> int:
        """Commit what came back, in one transaction: the batch becomes ``sent``; each recipient that was
        not accepted gets a mark of its own (failed with the reason, or unknown). Recipients of the batch with
        no outcome become ``missing`` (``pending``: they never left; ``unknown``: they may have).
        Returns how many had no outcome."""
        now = time.time()
        issue = self.issue_id
        if isinstance(outcomes, AllAccepted) and list(outcomes.emails) == list(emails):
            with self._tx() as db:  # the usual answer: everyone accepted under one message id, in batch order
                db.execute("UPDATE batches SET state = 'sent', message_id = ?, finished = ? "
                           "WHERE issue = ? AND id = ?", (outcomes.message_id, now, issue, batch))
            return 0
        outcomes = list(outcomes)
        if all(o.ok for o in outcomes):
            ids = {o.message_id for o in outcomes}
            if len(ids) == 1 and [o.email for o in outcomes] == list(emails):
                # The common case: everyone accepted under one message id, in batch order: the batch row says it.
                with self._tx() as db:
                    db.execute("UPDATE batches SET state = 'sent', message_id = ?, finished = ? "
                               "WHERE issue = ? AND id = ?", (ids.pop(), now, issue, batch))
                return 0
        members = {e.lower() for e in emails}
        seen: set[str] = set()
        ids: set[str | None] = set()
        oks: list[tuple[str, str | None]] = []
        marks: list[tuple[int, int, str, str | None, str | None, str | None, int, float]] = []
        for o in outcomes:
            key = o.email.lower()
            if key not in members or key in seen:
                continue  # not this batch's (or said twice): the first outcome counts
            seen.add(key)
            if o.ok:
                oks.append((key, o.message_id))
                ids.add(o.message_id)
            elif o.unknown:
                marks.append((issue, batch, key, "unknown", None, o.error or "delivery unknown", 0, now))
            else:
                marks.append((issue, batch, key, "failed", None, o.error or "failed", int(o.permanent), now))
        rest = [k for e in emails if (k := e.lower()) not in seen]
        for key in dict.fromkeys(rest):
            if missing == "pending":
                marks.append((issue, batch, key, "pending", None, None, 0, now))
            else:
                marks.append((issue, batch, key, "unknown", None, missing_reason, 0, now))
        shared = next(iter(ids)) if len(ids) == 1 else None
        if len(ids) > 1:
            marks.extend((issue, batch, key, None, mid, None, 0, now) for key, mid in oks)
        with self._tx() as db:
            db.execute("UPDATE batches SET state = 'sent', message_id = ?, finished = ? WHERE issue = ? AND id = ?",
                       (shared, now, issue, batch))
            if marks:
                db.executemany("INSERT OR REPLACE INTO marks (issue, batch, key, state, message_id, last_error, "
                               "permanent, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", marks)
        return len(rest)

    def batch_unknown(self, batch: int, reason: str) -> None:
        """The whole batch's fate is unknown (the backend failed in the middle of the request)."""
        with self._tx() as db:
            db.execute("UPDATE batches SET state = 'unknown', error = ?, finished = ? WHERE issue = ? AND id = ?",
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
        """Batch sizes by state, corrected by the marks: as cheap for a million recipients as for ten."""
        issue = self.issue_id
        states: dict[str, int] = dict(self.db.execute(
            "SELECT state, SUM(size) FROM batches WHERE issue = ? GROUP BY state", (issue,)))
        for batch_state, own, n in self.db.execute(
                "SELECT b.state, m.state, COUNT(*) FROM marks m JOIN batches b ON b.issue = m.issue AND b.id = m.batch "
                "WHERE m.issue = ? AND m.state IS NOT NULL GROUP BY b.state, m.state", (issue,)):
            states[batch_state] -= n  # a batch with marks has members: its state was counted above
            if own != "superseded":
                states[own] = states.get(own, 0) + n
        skipped = {k: n for k, n in self.db.execute(
            "SELECT kind, COUNT(*) FROM skips WHERE issue = ? GROUP BY kind", (issue,))}
        return Summary({s: n for s, n in states.items() if n}, skipped)

    def rows(self, state: str, limit: int = 20) -> list[tuple[str, str | None]]:
        """(email, last error) of up to ``limit`` recipients in ``state``."""
        return list(self.db.execute(
            "SELECT email, last_error FROM recipients WHERE issue = ? AND state = ? ORDER BY email LIMIT ?",
            (self.issue_id, state, limit)))

    # -- the A/B subject test (abtest.py) ---------------------------------------------------------
    def ab_test(self) -> AbTest | None:
        """The issue's A/B test, or None when none was started (or the journal predates them)."""
        if not self._has_table("ab_tests"):
            return None
        with self.lock:
            row = self.db.execute("SELECT seed, share, subjects, created, winner, chosen, chosen_by FROM ab_tests "
                                  "WHERE issue = ?", (self.issue_id,)).fetchone()
            if row is None:
                return None
            sizes = dict(self.db.execute("SELECT variant, COUNT(*) FROM ab_variants WHERE issue = ? GROUP BY variant",
                                         (self.issue_id,)))
        seed, share, subjects, created, winner, chosen, chosen_by = row
        names = [str(x) for x in json.loads(subjects)]
        counts = [int(sizes.get(i, 0)) for i in range(1, len(names) + 1)]
        return AbTest(seed, float(share), names, float(created), counts, winner, chosen, chosen_by)

    def start_ab_test(self, seed: str, share: float, subjects: Sequence[str],
                      members: Iterable[tuple[str, int]]) -> bool:
        """Record a new A/B test with its recipients' variants ((key, variant 1-based) pairs) in one transaction.
        False (nothing written) when the issue already has one: the caller reads that one instead."""
        with self._tx() as db:
            if db.execute("SELECT 1 FROM ab_tests WHERE issue = ?", (self.issue_id,)).fetchone() is not None:
                return False
            db.execute("INSERT INTO ab_tests (issue, seed, share, subjects, created) VALUES (?, ?, ?, ?, ?)",
                       (self.issue_id, seed, share, json.dumps(list(subjects), ensure_ascii=False), time.time()))
            db.executemany("INSERT INTO ab_variants (issue, key, variant) VALUES (?, ?, ?)",
                           ((self.issue_id, key, variant) for key, variant in members))
        return True

    def ab_variants(self, variant: int | None = None) -> dict[str, int]:
        """key → variant of the test's recipients (only those of ``variant`` when given)."""
        if not self._has_table("ab_variants"):
            return {}
        sql = "SELECT key, variant FROM ab_variants WHERE issue = ?"
        args: tuple[int, ...] = (self.issue_id,)
        if variant is not None:
            sql, args = sql + " AND variant = ?", (*args, variant)
        with self.lock:
            return dict(self.db.execute(sql, args))

    def choose_ab_winner(self, variant: int, chosen_by: str) -> None:
        """Record the variant the rest is sent (once: a winner already recorded stays)."""
        with self._tx() as db:
            db.execute("UPDATE ab_tests SET winner = ?, chosen = ?, chosen_by = ? WHERE issue = ? AND winner IS NULL",
                       (variant, time.time(), chosen_by, self.issue_id))


@dataclass
class AbTest:
    """An issue's A/B subject test as the journal holds it."""

    seed: str
    share: float
    subjects: list[str]
    created: float
    sizes: list[int]  # recipients per variant, variant 1 first
    winner: int | None
    chosen: float | None
    chosen_by: str | None


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on any exception, including KeyboardInterrupt), holding
    the journal's lock throughout."""

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock, path: Path) -> None:
        self.db = db
        self.lock = lock
        self.path = path

    def __enter__(self) -> sqlite3.Connection:
        self.lock.acquire()
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            self.lock.release()
            raise _db_error(self.path, exc) from None
        except BaseException:
            self.lock.release()
            raise
        return self.db

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is not None:
                with contextlib.suppress(sqlite3.Error):  # a failed statement may have rolled back already
                    self.db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.OperationalError):
                    raise _db_error(self.path, exc) from None
                return
            try:
                self.db.execute("COMMIT")
            except sqlite3.OperationalError as failed:
                with contextlib.suppress(sqlite3.Error):
                    self.db.execute("ROLLBACK")
                raise _db_error(self.path, failed) from None
        finally:
            self.lock.release()


def _db_error(path: Path, exc: sqlite3.Error, *, opening: bool = False) -> JournalError:
    """A clear error for a journal SQLite refused to read or write; what was committed before stays."""
    text = str(exc)
    code = getattr(exc, "sqlite_errorcode", None)  # absent on an error Python raised itself
    primary = code & 0xFF if isinstance(code, int) else None  # SQLITE_READONLY_DBMOVED -> SQLITE_READONLY, ...
    if primary == sqlite3.SQLITE_FULL:
        return JournalError(f"{path}: the disk is full ({text}); nothing after the last recorded batch was written",
                            "free some space, then run the same `digest send` again: it resumes from the journal")
    if primary in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN):
        return JournalError(f"{path}: the send journal cannot be written ({text})",
                            f"make {path.name} and its folder {path.parent} writable by this user, then run the same "
                            "`digest send` again: it resumes from the journal")
    if opening or primary == sqlite3.SQLITE_NOTADB:
        return _not_this_issue(path, "", f"it cannot be read as a send journal ({text})")
    return JournalError(f"{path}: the send journal failed ({text})",
                        "run the same `digest send` again once the cause is fixed: it resumes from the journal")


def _not_this_issue(path: Path, slug: str, why: str) -> JournalError:
    issue = f" of {slug}" if slug else ""
    return JournalError(f"{path}: refusing to use this file as the send journal{issue}: {why}",
                        "look at it first (a damaged copy? another issue's?); restore the right journal, or start "
                        f"an empty one with `digest send {path.parent} ... --new-journal` (it keeps this file aside; "
                        "recipients already mailed would be mailed again)")


def marker_path(path: Path) -> Path:
    """The small file beside the journal that says which issues it journals (so a missing journal is noticed)."""
    return path.parent / MARKER_NAME


def _write_marker(path: Path, slug: str) -> None:
    marker = marker_path(path)
    slugs = _read_marker(marker)
    if slug in slugs:
        return
    try:
        marker.write_text("".join(f"{s}\n" for s in [*slugs, slug]), encoding="utf-8")
    except OSError as exc:
        raise JournalError(f"{marker}: cannot record that this folder has a send journal ({exc.strerror or exc})",
                           f"make the folder {path.parent} writable by this user, then send again") from None


def _read_marker(marker: Path) -> list[str]:
    try:
        return [line.strip() for line in marker.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError):
        return []


def _check_file(path: Path) -> bool:
    """Whether the journal file exists; refuses an empty one, and a missing one the marker says was there."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        marker = marker_path(path)
        if marker.exists():
            slugs = ", ".join(_read_marker(marker)) or "an issue"
            raise JournalError(f"{path}: the send journal is missing, but {marker.name} beside it says {slugs} "
                               "was already sent from this folder",
                               "restore the journal (from a backup or where it was moved); if it is lost, check who "
                               f"already got the issue, then start an empty one with `digest send {path.parent} ... "
                               "--new-journal` (recipients already mailed would be mailed again)") from None
        return False
    except OSError as exc:
        raise JournalError(f"{path}: cannot read the send journal ({exc.strerror or exc})",
                           "make it readable by this user, then send again") from None
    if size == 0:
        raise _not_this_issue(path, "", "it is empty (0 bytes: a failed copy, a full disk, a sync tool?)")
    return True


def set_aside(directory: Path | str) -> Path | None:
    """``--new-journal``: move the issue folder's journal (and its WAL files) aside under a dated name and forget
    the marker, so the next send starts an empty journal. Returns the new name of the journal, if there was one."""
    path = journal_path(directory)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    aside = path.with_name(f"{path.name}.set-aside-{stamp}")
    moved: Path | None = None
    try:
        for suffix in ("", "-wal", "-shm"):
            src = path.with_name(path.name + suffix)
            if src.exists():
                src.rename(aside.with_name(aside.name + suffix))
                if not suffix:
                    moved = aside
        marker_path(path).unlink(missing_ok=True)
    except OSError as exc:
        raise JournalError(f"{path}: cannot set the old journal aside ({exc.strerror or exc})",
                           f"make the folder {path.parent} writable by this user") from None
    return moved


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
    if readonly and not _check_file(path):
        return None
    return Journal(path, slug, readonly=readonly)
