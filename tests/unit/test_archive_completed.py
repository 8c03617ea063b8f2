"""The archive's completed-send check, read from the send journal: sent or skipped everyone → completed."""

from __future__ import annotations

from pathlib import Path

from digest.archive import send_completed
from digest.deliver.journal import Journal
from digest.folder import IssueFolder
from digest.model import Outcome

SLUG = "2026-05"
A, B, C = "ann@example.org", "bob@example.org", "cy@example.org"


def _journal(folder: Path, slug: str = SLUG) -> Journal:
    return Journal(IssueFolder(folder).journal, slug)


def test_everyone_sent_or_skipped_is_completed(tmp_path: Path) -> None:
    with _journal(tmp_path) as j:
        j.begin_batch(1, [A, B])
        j.record(1, [A, B], [Outcome(A, True, "<1@x>"), Outcome(B, True, "<1@x>")])
        j.add_skips([(4, "not-an-address", "invalid", "no @"), (5, C, "suppressed", "unsubscribed")])
    assert send_completed(tmp_path, SLUG)


def test_no_journal_or_another_issue_or_nobody_sent_is_not(tmp_path: Path) -> None:
    assert not send_completed(tmp_path, SLUG)
    with _journal(tmp_path, "other") as j:
        j.begin_batch(1, [A])
        j.record(1, [A], [Outcome(A, True, "<1@x>")])
    assert send_completed(tmp_path, "other")
    assert not send_completed(tmp_path, SLUG)
    skipped_only = tmp_path / "skipped-only"
    with _journal(skipped_only) as j:
        j.add_skips([(2, A, "suppressed", "unsubscribed")])
    assert not send_completed(skipped_only, SLUG)


def test_unknown_or_in_flight_is_not_completed(tmp_path: Path) -> None:
    with _journal(tmp_path) as j:
        j.begin_batch(1, [A, B])
    assert not send_completed(tmp_path, SLUG)  # in flight (a send running, or killed)
    with _journal(tmp_path) as j:
        assert j.recover() == 2
    assert not send_completed(tmp_path, SLUG)  # unknown: held until --resend-unknown


def test_pending_is_not_completed(tmp_path: Path) -> None:
    with _journal(tmp_path) as j:
        j.begin_batch(1, [A, B])
        j.record(1, [A, B], [Outcome(A, True, "<1@x>")], missing="pending")
    assert not send_completed(tmp_path, SLUG)


def test_a_failure_the_next_send_retries_is_not_completed_a_permanent_one_is(tmp_path: Path) -> None:
    with _journal(tmp_path) as j:
        j.begin_batch(1, [A, B, C])
        j.record(1, [A, B, C], [Outcome(A, True, "<1@x>"), Outcome(B, False, error="550 no such user",
                                                                    permanent=True),
                                Outcome(C, False, error="421 try later")])
    assert not send_completed(tmp_path, SLUG)
    with _journal(tmp_path) as j:
        j.begin_batch(2, [C])
        j.record(2, [C], [Outcome(C, True, "<2@x>")])
    assert send_completed(tmp_path, SLUG)


def test_an_unreadable_journal_is_not_completed(tmp_path: Path) -> None:
    IssueFolder(tmp_path).journal.write_bytes(b"not a database" * 200)
    assert not send_completed(tmp_path, SLUG)
