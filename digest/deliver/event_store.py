"""The events SendGrid's Event Webhook reports, stored in their issue: ``events.sqlite`` in the issue folder,
each event once by ``sg_event_id``. ``parse_event`` reads one event of a post, ``store_events`` stores them,
``suppression_reason`` says which of them suppress the address. ``events.py`` receives and routes the posts.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..errors import DigestError
from ..folder import IssueFolder

ISSUE_ARG = "digest_issue"  # the custom argument a SendGrid send puts in every personalization


# ------------------------------------------------------------------------------------------ the issue store


_EVENTS_SCHEMA = """
-- A rowid table (rows append in arrival order) with a unique index on SendGrid's id: inserting a post's events
-- dirties a few pages; keyed by the random-looking sg_event_id itself, every insert landed on another page.
CREATE TABLE IF NOT EXISTS events (
    sg_event_id TEXT NOT NULL UNIQUE,
    event TEXT NOT NULL,            -- delivered | open | click | bounce | dropped | deferred | spamreport | ...
    key TEXT NOT NULL,              -- the address lower-cased: one recipient whatever the case
    email TEXT NOT NULL,
    ts REAL NOT NULL,               -- SendGrid's timestamp (unix seconds)
    url TEXT,                       -- click: the link
    machine INTEGER NOT NULL DEFAULT 0,  -- open: sg_machine_open (Apple Mail Privacy Protection and the like)
    type TEXT,                      -- bounce: bounce | blocked
    reason TEXT,
    received REAL NOT NULL,
    raw TEXT NOT NULL               -- the event as SendGrid sent it
);
CREATE INDEX IF NOT EXISTS events_by_kind ON events (event, key);
"""


def events_path(issue_dir: IssueFolder | Path | str) -> Path:
    return IssueFolder.of(issue_dir).events


def open_events(issue_dir: Path | str, *, readonly: bool = False) -> sqlite3.Connection | None:
    """The issue's event store (created unless ``readonly``; then None when there is none)."""
    path = events_path(issue_dir)
    try:
        if readonly:
            if not path.is_file():
                return None
            return sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, isolation_level=None)
        db = sqlite3.connect(path, isolation_level=None, timeout=30.0, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_EVENTS_SCHEMA)
        return db
    except sqlite3.DatabaseError as exc:
        raise DigestError(f"{path}: cannot open the event store ({exc})",
                          hint="move the file away; SendGrid's events since then are lost") from None


@dataclass(frozen=True)
class Event:
    """The fields digest uses from one webhook event (``raw`` keeps all of them)."""

    sg_event_id: str
    event: str
    email: str
    ts: float
    issue: str
    url: str | None
    machine: bool
    type: str | None
    reason: str | None
    raw: str


try:
    import orjson as _orjson

    def _dumps(item: Any) -> str:
        try:
            return _orjson.dumps(item).decode("utf-8")
        except TypeError:  # e.g. an integer beyond 64 bits: json writes it
            return json.dumps(item, ensure_ascii=False, separators=(",", ":"))

except ImportError:  # pragma: no cover - orjson is a dependency; json is the fallback

    def _dumps(item: Any) -> str:
        return json.dumps(item, ensure_ascii=False, separators=(",", ":"))


def parse_event(item: Any) -> Event | str:
    """An ``Event``, or why the item is malformed (never naming the address)."""
    if not isinstance(item, dict):
        return "not a JSON object"
    sg_id, kind, email, ts = item.get("sg_event_id"), item.get("event"), item.get("email"), item.get("timestamp")
    if not isinstance(sg_id, str) or not sg_id.strip():
        return "no sg_event_id"
    if not isinstance(kind, str) or not kind:
        return "no event name"
    if not isinstance(email, str) or "@" not in email:
        return "no email"
    if isinstance(ts, bool) or not isinstance(ts, int | float) or not math.isfinite(ts):
        return "no timestamp"
    issue = item.get(ISSUE_ARG)
    url = item.get("url")
    return Event(
        sg_event_id=sg_id.strip(), event=kind, email=email.strip(), ts=float(ts),
        issue=issue.strip() if isinstance(issue, str) else "",
        url=url if isinstance(url, str) and url else None,
        machine=item.get("sg_machine_open") is True or str(item.get("sg_machine_open")).lower() == "true",
        type=str(item["type"]) if item.get("type") is not None else None,
        reason=str(item["reason"])[:500] if item.get("reason") is not None else None,
        raw=_dumps(item),
    )


def store_events(db: sqlite3.Connection, events: Iterable[Event], received: float | None = None) -> int:
    """Insert the events not stored yet (by ``sg_event_id``), in one transaction; returns how many were new."""
    now = time.time() if received is None else received
    rows = [(e.sg_event_id, e.event, e.email.lower(), e.email, e.ts, e.url, int(e.machine), e.type, e.reason, now,
             e.raw) for e in events]
    db.execute("BEGIN IMMEDIATE")
    try:
        before = db.total_changes
        db.executemany("INSERT OR IGNORE INTO events (sg_event_id, event, key, email, ts, url, machine, type, reason, "
                       "received, raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        new = db.total_changes - before
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return new


_DROPPED_REASONS = (("bounced address", "bounce"), ("invalid", "invalid"), ("unsubscribed address", "unsubscribe"),
                    ("spam reporting address", "spam_report"))


def suppression_reason(e: Event) -> str | None:
    """The local suppression reason an event asks for, or None (deliveries, opens, soft blocks, deferrals...)."""
    if e.event == "bounce":
        return None if (e.type or "").lower() == "blocked" else "bounce"
    if e.event == "spamreport":
        return "spam_report"
    if e.event == "unsubscribe":
        return "unsubscribe"
    if e.event == "group_unsubscribe":
        return "group_unsubscribe"
    if e.event == "dropped":
        reason = (e.reason or "").lower()
        if "smtpapi" in reason:  # "Invalid SMTPAPI header": the request's fault, not the address's
            return None
        for words, why in _DROPPED_REASONS:
            if words in reason:
                return why
    return None
