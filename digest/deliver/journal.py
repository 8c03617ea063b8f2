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
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal, cast

import orjson

from ..folder import JOURNAL_LOCK_NAME, IssueFolder
from ..folder import JOURNAL_NAME as JOURNAL_NAME  # re-exported
from ..model import AllAccepted, Outcome
from .journal_file import (
    CURRENT_CLAIMS,
    FROM_2,
    INDEX_CLAIMS,
    SCHEMA,
    check_file,
    db_error,
    not_this_issue,
    write_marker,
)
from .journal_file import JournalError as JournalError  # re-exported
from .journal_file import (
    Transaction as _Transaction,
)
from .journal_file import marker_path as marker_path  # re-exported
from .journal_file import set_aside as set_aside  # re-exported

try:
    import fcntl as _fcntl
except ImportError:  # pragma: no cover - not on Windows: no run lock there
    _fcntl = None  # type: ignore[assignment]

SCHEMA_VERSION = 3

def _json_array(rows: list[str | list[str]]) -> str:
    """``rows`` as compact JSON text (orjson: ~5x faster than json on a batch of 1000 addresses). A lone
    surrogate (undecodable CSV bytes; the recipients reader refuses them first) raises TypeError."""
    return orjson.dumps(rows).decode("utf-8")


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
        existed = check_file(self.path)
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
                    raise not_this_issue(self.path, slug, "it is not a digest send journal")
                # Only now, on a file that is ours: WAL + NORMAL. A commit survives a crash or kill of the process
                # (it is in the WAL file); only an OS crash or power loss right after it can lose the last commits.
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
                if version == 2:
                    self._upgrade_from_2()
                self.db.executescript(SCHEMA)
                self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            row = self.db.execute("SELECT id FROM issues WHERE slug = ?", (slug,)).fetchone()
            if row is None and existed:
                others = [r[0] for r in self.db.execute("SELECT slug FROM issues ORDER BY id LIMIT 3")]
                raise not_this_issue(self.path, slug, f"it holds the sends of {', '.join(others) or 'no issue'}")
            if row is None:  # a new journal (a read-only open of a missing file has failed above)
                self.db.execute("INSERT INTO issues (slug, created) VALUES (?, ?)", (slug, time.time()))
                row = self.db.execute("SELECT id FROM issues WHERE slug = ?", (slug,)).fetchone()
            if not readonly:
                write_marker(self.path, slug)
        except JournalError:
            self._close_quietly()
            raise
        except sqlite3.DatabaseError as exc:
            self._close_quietly()
            raise db_error(self.path, exc, opening=True) from None
        self.issue_id: int = row[0]
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
            for statement in FROM_2.split(";"):
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

    def _tx(self) -> _Transaction:
        return _Transaction(self.db, self.lock, self.path)

    # -- runs ------------------------------------------------------------------------------------
    def lock_run(self) -> bool:
        """Take the run lock (held until ``close``): False where there is none (Windows, a file system without
        ``flock``); the send then checks every claim against the journal.

        Raises JournalError when another process holds it: a send of this issue is running.
        """
        if _fcntl is None: return False  # noqa: E701  # pragma: no cover - Windows: no flock
        if self._lock_file is not None:
            return True
        try:
            fh = (self.path.parent / JOURNAL_LOCK_NAME).open("ab")
        except OSError:
            return False  # a folder we cannot write a lock file in: the journal itself still guards each claim
        try:
            _fcntl.flock(fh.fileno(), _fcntl.LOCK_EX | _fcntl.LOCK_NB)
        except OSError as exc:
            fh.close()
            if isinstance(exc, BlockingIOError):
                raise JournalError(f"{self.path}: another `digest send` of this issue is running",
                                   "wait for it to finish (or stop it with Ctrl-C); it can be resumed later") from None
            return False  # a file system without flock (some network mounts): no run lock, checked claims
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
            self.db.execute(CURRENT_CLAIMS)  # a TEMP table: new and empty on each connection
            self.db.execute(INDEX_CLAIMS, (self.issue_id,))
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
               missing: Literal["unknown", "pending"] = "unknown") -> int:
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
            if missing == "unknown":
                marks.append((issue, batch, key, "unknown", None, "the backend returned no outcome", 0, now))
            else:
                marks.append((issue, batch, key, "pending", None, None, 0, now))
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

    def release_runs(self, runs: Sequence[int], reason: str) -> int:
        """SendGrid cancelled a scheduled send: the recipients those runs sent (or left unknown) will get
        nothing, so they become ``pending`` again; failed ones stay failed. Returns how many were released.

        A run's batches are those begun between its start and the next run's (runs never overlap: the run lock).
        """
        now = time.time()
        issue = self.issue_id
        with self._tx() as db:
            starts = db.execute("SELECT id, started FROM runs WHERE issue = ? ORDER BY started, id",
                                (issue,)).fetchall()
            wanted = set(runs)
            ranges = [(start, starts[i + 1][1] if i + 1 < len(starts) else float("inf"))
                      for i, (run, start) in enumerate(starts) if run in wanted]
            # The run's batches sent or left unknown: a subquery, not a list of ids (SQL variables are limited).
            chosen = ("SELECT id FROM batches WHERE issue = ? AND started >= ? AND started < ? "
                      "AND state IN ('sent', 'unknown')")
            released = 0
            for start, end in ranges:
                args = (issue, issue, start, end)
                size = db.execute(f"SELECT COALESCE(SUM(size), 0) FROM batches WHERE issue = ? AND id IN ({chosen})",
                                  args).fetchone()[0]
                kept = db.execute(f"SELECT COUNT(*) FROM marks WHERE issue = ? AND batch IN ({chosen}) "
                                  "AND state IN ('failed', 'pending', 'superseded')", args).fetchone()[0]
                released += int(size) - int(kept)
                db.execute(f"UPDATE marks SET state = 'pending', last_error = ?, updated = ? WHERE issue = ? "
                           f"AND batch IN ({chosen}) AND state = 'unknown'", (reason, now, *args))
                db.execute(f"UPDATE batches SET state = 'pending', error = ?, finished = ? WHERE issue = ? "
                           f"AND id IN ({chosen})", (reason, now, *args))
        return released

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

    def rows(self, state: str, limit: int) -> list[tuple[str, str | None]]:
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
        names = [str(x) for x in orjson.loads(subjects)]
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
                       (self.issue_id, seed, share, _json_array(list(subjects)), time.time()))
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


def would_send(state: tuple[str, int] | None, resend_unknown: bool) -> bool:
    """Whether a recipient in ``state`` ((effective state, permanent) or None when new) is sent now."""
    if state is None:
        return True
    name, permanent = state
    return name == "pending" or (name == "failed" and not permanent) or (name == "unknown" and resend_unknown)


def journal_path(directory: IssueFolder | Path | str) -> Path:
    return IssueFolder.of(directory).journal


def open_journal(directory: IssueFolder | Path | str, slug: str, *, readonly: bool = False) -> Journal | None:
    """The journal of the issue in ``directory``; with ``readonly`` None when there is none yet."""
    path = journal_path(directory)
    if readonly and not check_file(path):
        return None
    return Journal(path, slug, readonly=readonly)
