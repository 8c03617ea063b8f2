"""The send journal's file on disk: its SQL schema, the errors a damaged, missing or foreign file gives, the
marker beside it (which issues it journals, so that a journal gone missing is noticed) and ``--new-journal``'s
setting aside. ``journal.py`` holds the ``Journal`` that reads and writes it.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from pathlib import Path

from ..errors import DigestError
from ..folder import JOURNAL_MARKER_NAME, IssueFolder


class JournalError(DigestError):
    """The journal file cannot be opened or is not a digest journal."""


SCHEMA = """
CREATE TABLE IF NOT EXISTS issues (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    created REAL NOT NULL
);
-- One row per batch (request): its state is the state of every recipient in it that has no mark.
CREATE TABLE IF NOT EXISTS batches (
    issue INTEGER NOT NULL,
    id INTEGER NOT NULL,
    state TEXT NOT NULL,            -- inflight | sent | unknown | pending (its scheduled send was cancelled)
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
FROM_2 = """
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

CURRENT_CLAIMS = """
CREATE TEMP TABLE IF NOT EXISTS current_claims (key TEXT PRIMARY KEY, batch INTEGER NOT NULL) WITHOUT ROWID
"""
INDEX_CLAIMS = """
INSERT OR REPLACE INTO temp.current_claims (key, batch)
    SELECT IIF(j.type = 'text', j.value, json_extract(j.value, '$[0]')), c.batch
    FROM claims c, json_each(c.members) AS j WHERE c.issue = ? ORDER BY c.batch
"""


def db_error(path: Path, exc: sqlite3.Error, *, opening: bool = False) -> JournalError:
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
        return not_this_issue(path, "", f"it cannot be read as a send journal ({text})")
    return JournalError(f"{path}: the send journal failed ({text})",
                        "run the same `digest send` again once the cause is fixed: it resumes from the journal")


def not_this_issue(path: Path, slug: str, why: str) -> JournalError:
    issue = f" of {slug}" if slug else ""
    return JournalError(f"{path}: refusing to use this file as the send journal{issue}: {why}",
                        "look at it first (a damaged copy? another issue's?); restore the right journal, or start "
                        f"an empty one with `digest send {path.parent} ... --new-journal` (it keeps this file aside; "
                        "recipients already mailed would be mailed again)")


def marker_path(path: Path) -> Path:
    """The small file beside the journal that says which issues it journals (so a missing journal is noticed)."""
    return path.parent / JOURNAL_MARKER_NAME


def write_marker(path: Path, slug: str) -> None:
    marker = marker_path(path)
    slugs = read_marker(marker)
    if slug in slugs:
        return
    try:
        marker.write_text("".join(f"{s}\n" for s in [*slugs, slug]), encoding="utf-8")
    except OSError as exc:
        raise JournalError(f"{marker}: cannot record that this folder has a send journal ({exc.strerror or exc})",
                           f"make the folder {path.parent} writable by this user, then send again") from None


def read_marker(marker: Path) -> list[str]:
    try:
        return [line.strip() for line in marker.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError):
        return []


def check_file(path: Path) -> bool:
    """Whether the journal file exists; refuses an empty one, and a missing one the marker says was there."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        marker = marker_path(path)
        if marker.exists():
            slugs = ", ".join(read_marker(marker)) or "an issue"
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
        raise not_this_issue(path, "", "it is empty (0 bytes: a failed copy, a full disk, a sync tool?)")
    return True


def set_aside(directory: IssueFolder | Path | str) -> Path | None:
    """``--new-journal``: move the issue folder's journal (and its WAL files) aside under a dated name and forget
    the marker, so the next send starts an empty journal. Returns the new name of the journal, if there was one."""
    path = IssueFolder.of(directory).journal
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


class Transaction:
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
            raise db_error(self.path, exc) from None
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
                    raise db_error(self.path, exc) from None
                return
            try:
                self.db.execute("COMMIT")
            except sqlite3.OperationalError as failed:
                with contextlib.suppress(sqlite3.Error):
                    self.db.execute("ROLLBACK")
                raise db_error(self.path, failed) from None
        finally:
            self.lock.release()
