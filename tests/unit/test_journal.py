"""The send journal's state machine: (new) → inflight → sent | failed | unknown, resume rules, summary."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from digest.deliver.base import Outcome
from digest.deliver.journal import Journal, JournalError, journal_path, open_journal

EMAILS = [f"u{i}@example.com" for i in range(10)]


def _journal(tmp_path: Path, slug: str = "issue-1") -> Journal:
    return Journal(journal_path(tmp_path), slug)


def _view(tmp_path: Path) -> dict[str, str]:
    db = sqlite3.connect(journal_path(tmp_path))
    try:
        return dict(db.execute("SELECT key, state FROM recipients"))
    finally:
        db.close()


def test_batch_is_inflight_before_it_leaves_and_sent_after(tmp_path: Path) -> None:
    with _journal(tmp_path) as j:
        assert j.sendable(EMAILS) == EMAILS
        assert j.begin_batch(1, EMAILS[:4]) == EMAILS[:4]
        # Committed: another connection (a crash right now) sees them in flight.
        assert set(_view(tmp_path).values()) == {"inflight"}
        j.record(1, EMAILS[:4], [Outcome(e, True, message_id="<batch-1>") for e in EMAILS[:4]])
        assert j.summary().states == {"sent": 4}
        assert j.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert j.rows("sent", 1) == [(EMAILS[0], None)]
        assert j.db.execute("SELECT message_id FROM recipients WHERE key = ?", (EMAILS[0],)).fetchone() == (
            "<batch-1>",)


def test_sent_is_never_sent_again(tmp_path: Path) -> None:
    with _journal(tmp_path) as j:
        j.begin_batch(1, EMAILS[:4])
        j.record(1, EMAILS[:4], [Outcome(e, True, message_id=f"<{i}@x>") for i, e in enumerate(EMAILS[:4])])
    with _journal(tmp_path) as j:
        assert j.recover() == 0
        again = [e.upper() for e in EMAILS[:4]] + EMAILS[4:]
        assert j.sendable(again) == EMAILS[4:]
        # Even when asked directly, a sent recipient is not claimed by a new batch.
        assert j.begin_batch(2, [EMAILS[0], EMAILS[5]]) == [EMAILS[5]]
        view = _view(tmp_path)
        assert view[EMAILS[0]] == "sent" and view[EMAILS[5]] == "inflight"
        assert j.db.execute("SELECT message_id, attempts FROM recipients WHERE key = ?",
                            (EMAILS[1],)).fetchone() == ("<1@x>", 1)


def test_inflight_becomes_unknown_on_restart_and_is_held(tmp_path: Path) -> None:
    with _journal(tmp_path) as j:
        j.begin_batch(1, EMAILS[:3])
        # crash: no record()
    with _journal(tmp_path) as j:
        assert j.summary().states == {"inflight": 3}
        assert j.recover() == 3
        assert j.summary().states == {"unknown": 3}
        assert j.summary().unknown == 3
        assert j.sendable(EMAILS[:3]) == []  # held
        assert j.sendable(EMAILS[:3], resend_unknown=True) == EMAILS[:3]
        assert "may or may not" in (j.rows("unknown")[0][1] or "")
        assert j.begin_batch(2, EMAILS[:3]) == EMAILS[:3]
        j.record(2, EMAILS[:3], [Outcome(e, True) for e in EMAILS[:3]])
        assert j.summary().states == {"sent": 3}
        assert j.db.execute("SELECT MAX(attempts) FROM recipients").fetchone() == (2,)


def test_outcomes_failed_unknown_and_missing(tmp_path: Path) -> None:
    with _journal(tmp_path) as j:
        j.begin_batch(1, EMAILS[:5])
        left = j.record(1, EMAILS[:5], [Outcome(EMAILS[0], False, error="550 no such user", permanent=True),
                                        Outcome(EMAILS[1], False, error="451 try later"),
                                        Outcome(EMAILS[2], False, error="lost", unknown=True),
                                        Outcome(EMAILS[3], True, message_id="<a>")])
        assert left == 1  # EMAILS[4] had no outcome: unknown (it may have left)
        s = j.summary()
        assert (s.sent, s.failed, s.unknown) == (1, 2, 2)
    with _journal(tmp_path) as j:
        j.recover()
        assert j.sendable(EMAILS[:5]) == [EMAILS[1]]  # the transient failure only
        assert j.rows("failed", 5) == [(EMAILS[0], "550 no such user"), (EMAILS[1], "451 try later")]


def test_missing_as_pending_when_the_batch_never_left(tmp_path: Path) -> None:
    with _journal(tmp_path) as j:
        j.begin_batch(1, EMAILS[:3])
        j.record(1, EMAILS[:3], [Outcome(EMAILS[0], True)], missing="pending")
        assert j.summary().states == {"sent": 1, "pending": 2}
        assert j.sendable(EMAILS[:3]) == EMAILS[1:3]


def test_whole_batch_unknown(tmp_path: Path) -> None:
    with _journal(tmp_path) as j:
        j.begin_batch(1, EMAILS[:3])
        j.batch_unknown(1, "backend crashed")
        assert j.summary().states == {"unknown": 3}
        assert j.rows("unknown", 1) == [(EMAILS[0], "backend crashed")]


def test_issues_are_kept_apart_and_skips_are_per_run(tmp_path: Path) -> None:
    with _journal(tmp_path, "a") as a:
        a.begin_batch(1, EMAILS[:2])
        a.start_run("outbox", 0)
        a.add_skips([(3, "x", "invalid", "bad"), (4, "u0@example.com", "duplicate", "dup")])
        assert a.summary().skipped == {"invalid": 1, "duplicate": 1}
    with _journal(tmp_path, "b") as b:
        assert b.sendable(EMAILS[:2]) == EMAILS[:2] and not b.has_rows()
        assert b.summary().skipped == {}
    with _journal(tmp_path, "a") as a:
        a.start_run("outbox", 0)
        assert a.summary().skipped == {}  # a new run reads the CSV again and records its own skips


def test_readonly_open_creates_nothing(tmp_path: Path) -> None:
    assert open_journal(tmp_path, "x", readonly=True) is None
    assert not journal_path(tmp_path).exists()
    with _journal(tmp_path) as j:
        j.begin_batch(1, EMAILS[:1])
    ro = open_journal(tmp_path, "x", readonly=True)
    assert ro is not None and ro.summary().states == {}
    ro.close()


def test_not_a_journal_is_a_clear_error(tmp_path: Path) -> None:
    journal_path(tmp_path).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(JournalError, match="cannot open the send journal"):
        _journal(tmp_path)


def test_large_send_is_one_insert_per_recipient(tmp_path: Path) -> None:
    emails = [f"p{i}@example.org" for i in range(50_000)]
    with _journal(tmp_path) as j:
        for n, i in enumerate(range(0, len(emails), 1000), start=1):
            assert len(j.begin_batch(n, emails[i:i + 1000])) == 1000
            j.record(n, emails[i:i + 1000], [Outcome(e, True, message_id="<x>") for e in emails[i:i + 1000]])
        assert j.summary().sent == 50_000
        # The per-recipient rows carry no state of their own: the batch row says "sent" for all of them.
        assert j.db.execute("SELECT COUNT(*) FROM entries WHERE state IS NOT NULL").fetchone() == (0,)


def test_claim_keeps_every_address_exactly(tmp_path: Path) -> None:
    odd = ['"quoted\\\\back\\"slash"@example.com', "Zoë.ÆØ@Example.org", "用户@例え.jp", "MiXeD+Tag@example.com",
           "plain@example.com", "tab\u2028sep@example.com", "x" * 200 + "@example.com"]
    with _journal(tmp_path) as j:
        assert j.begin_batch(1, odd) == odd
        rows = dict(j.db.execute("SELECT key, email FROM entries"))
        assert rows == {e.lower(): e for e in odd}
        # Outcomes in another order than the batch: the general path, same result as the fast one.
        j.record(1, odd, [Outcome(e, True, message_id="<m>") for e in reversed(odd)])
        assert j.summary().states == {"sent": len(odd)}
        assert j.begin_batch(2, [e.upper() for e in odd]) == []  # sent: never claimed again
