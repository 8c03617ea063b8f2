"""The send journal's state machine: pending → inflight → sent | failed | unknown, resume rules, summary."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from digest.deliver.base import Outcome
from digest.deliver.journal import Journal, journal_path, open_journal

EMAILS = [f"u{i}@example.com" for i in range(10)]


def _journal(tmp_path: Path, slug: str = "issue-1") -> Journal:
    return Journal(journal_path(tmp_path), slug)


def test_first_run_registers_everyone_pending(tmp_path: Path) -> None:
    with _journal(tmp_path) as j:
        assert j.register(EMAILS) == EMAILS
        assert j.summary().states == {"pending": 10}
        assert j.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_sent_is_never_selected_again(tmp_path: Path) -> None:
    with _journal(tmp_path) as j:
        j.register(EMAILS[:4])
        j.mark_inflight(1, EMAILS[:4])
        j.record(1, [Outcome(e, True, message_id=f"<{i}@x>") for i, e in enumerate(EMAILS[:4])])
    with _journal(tmp_path) as j:
        assert j.recover() == 0
        # The same people (in another case) and new ones: only the new ones are to send.
        again = [e.upper() for e in EMAILS[:4]] + EMAILS[4:]
        assert j.register(again) == EMAILS[4:]
        j.mark_inflight(2, EMAILS[:4])  # even when asked, a sent row does not go back in flight
        assert j.summary().states == {"sent": 4, "pending": 6}
        row = j.db.execute("SELECT message_id, attempts FROM recipients WHERE key = ?", (EMAILS[0],)).fetchone()
        assert row == ("<0@x>", 1)


def test_inflight_becomes_unknown_on_restart_and_is_held(tmp_path: Path) -> None:
    with _journal(tmp_path) as j:
        j.register(EMAILS[:3])
        j.mark_inflight(1, EMAILS[:3])
        # crash: no record()
    with _journal(tmp_path) as j:
        assert j.summary().states == {"inflight": 3}
        assert j.recover() == 3
        assert j.summary().states == {"unknown": 3}
        assert j.summary().unknown == 3
        assert j.register(EMAILS[:3]) == []  # held
        assert j.register(EMAILS[:3], resend_unknown=True) == EMAILS[:3]
        assert "may or may not" in (j.rows("unknown")[0][1] or "")


def test_failed_transient_is_retried_permanent_is_not(tmp_path: Path) -> None:
    with _journal(tmp_path) as j:
        j.register(EMAILS[:3])
        j.mark_inflight(1, EMAILS[:3])
        j.record(1, [Outcome(EMAILS[0], False, error="550 no such user", permanent=True),
                     Outcome(EMAILS[1], False, error="451 try later"),
                     Outcome(EMAILS[2], False, error="lost", unknown=True)])
        s = j.summary()
        assert (s.failed, s.unknown) == (2, 1)
    with _journal(tmp_path) as j:
        j.recover()
        assert j.register(EMAILS[:3]) == [EMAILS[1]]
        assert j.rows("failed", 5) == [(EMAILS[0], "550 no such user"), (EMAILS[1], "451 try later")]


def test_release_puts_a_refused_batch_back(tmp_path: Path) -> None:
    with _journal(tmp_path) as j:
        j.register(EMAILS[:2])
        j.mark_inflight(1, EMAILS[:2])
        j.release(EMAILS[:2])
        assert j.summary().states == {"pending": 2}
        assert j.db.execute("SELECT MAX(attempts) FROM recipients").fetchone()[0] == 0


def test_issues_are_kept_apart_and_skips_are_per_run(tmp_path: Path) -> None:
    with _journal(tmp_path, "a") as a:
        a.register(EMAILS[:2])
        a.start_run("outbox", 0)
        a.add_skips([(3, "x", "invalid", "bad"), (4, "u0@example.com", "duplicate", "dup")])
        assert a.summary().skipped == {"invalid": 1, "duplicate": 1}
    with _journal(tmp_path, "b") as b:
        assert b.register(EMAILS[:2]) == EMAILS[:2]
        assert b.summary().skipped == {}
    with _journal(tmp_path, "a") as a:
        a.start_run("outbox", 0)
        assert a.summary().skipped == {}  # a new run reads the CSV again and records its own skips


def test_readonly_open_creates_nothing(tmp_path: Path) -> None:
    assert open_journal(tmp_path, "x", readonly=True) is None
    assert not journal_path(tmp_path).exists()
    with _journal(tmp_path) as j:
        j.register(EMAILS[:1])
    ro = open_journal(tmp_path, "x", readonly=True)
    assert ro is not None and ro.summary().states == {}
    ro.close()


def test_large_registration_is_batched(tmp_path: Path) -> None:
    emails = [f"p{i}@example.org" for i in range(50_000)]
    with _journal(tmp_path) as j:
        for i in range(0, len(emails), 1000):
            assert len(j.register(emails[i:i + 1000])) == 1000
        assert j.summary().pending == 50_000
    assert sqlite3.connect(journal_path(tmp_path)).execute("SELECT COUNT(*) FROM recipients").fetchone() == (50_000,)
