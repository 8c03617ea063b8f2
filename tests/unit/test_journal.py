"""The send journal's state machine: (new) → inflight → sent | failed | unknown, resume rules, summary."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from digest.deliver.journal import Journal, JournalError, journal_path, open_journal
from digest.model import Outcome

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
        assert j.db.execute("SELECT message_id, attempts, permanent FROM recipients WHERE key = ?",
                            (EMAILS[1],)).fetchone() == ("<1@x>", 1, 0)  # delivered: no permanent failure


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
        assert "may or may not" in (j.rows("unknown", 5)[0][1] or "")
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
        # Only the refusal said to be permanent is: an unknown recipient is never a permanent failure.
        assert dict(j.db.execute("SELECT key, permanent FROM recipients")) == {
            EMAILS[0]: 1, EMAILS[1]: 0, EMAILS[2]: 0, EMAILS[3]: 0, EMAILS[4]: 0}
        # What the editor reads beside each unknown recipient: the backend's reason, or that no answer came.
        assert j.rows("unknown", 5) == [(EMAILS[2], "lost"), (EMAILS[4], "the backend returned no outcome")]
    with _journal(tmp_path) as j:
        j.recover()
        assert j.sendable(EMAILS[:5]) == [EMAILS[1]]  # the transient failure only
        assert j.rows("failed", 5) == [(EMAILS[0], "550 no such user"), (EMAILS[1], "451 try later")]


def test_a_refusal_or_a_lost_answer_without_a_reason_still_says_which(tmp_path: Path) -> None:
    with _journal(tmp_path) as j:
        j.begin_batch(1, EMAILS[:3])
        j.record(1, EMAILS[:3], [Outcome(EMAILS[0], False), Outcome(EMAILS[1], False, unknown=True),
                                 Outcome(EMAILS[2], True, "<m>")])
        assert j.rows("failed", 5) == [(EMAILS[0], "failed")]
        assert j.rows("unknown", 5) == [(EMAILS[1], "delivery unknown")]


def test_missing_as_pending_when_the_batch_never_left(tmp_path: Path) -> None:
    with _journal(tmp_path) as j:
        j.begin_batch(1, EMAILS[:3])
        j.record(1, EMAILS[:3], [Outcome(EMAILS[0], True)], missing="pending")
        assert j.summary().states == {"sent": 1, "pending": 2}
        assert j.sendable(EMAILS[:3]) == EMAILS[1:3]
        assert j.db.execute("SELECT SUM(permanent) FROM recipients").fetchone() == (0,)  # nothing failed for good
        assert j.rows("pending", 5) == [(EMAILS[1], None), (EMAILS[2], None)]  # never tried: no error to show


def test_whole_batch_unknown(tmp_path: Path) -> None:
    with _journal(tmp_path) as j:
        j.begin_batch(1, EMAILS[:3])
        j.batch_unknown(1, "backend crashed")
        assert j.summary().states == {"unknown": 3}
        assert j.rows("unknown", 1) == [(EMAILS[0], "backend crashed")]


def test_another_issues_journal_is_refused_and_skips_are_per_run(tmp_path: Path) -> None:
    with _journal(tmp_path, "a") as a:
        a.begin_batch(1, EMAILS[:2])
        a.start_run("outbox", 0)
        a.add_skips([(3, "x", "invalid", "bad"), (4, "u0@example.com", "duplicate", "dup")])
        assert a.summary().skipped == {"invalid": 1, "duplicate": 1}
    with pytest.raises(JournalError, match="send journal of b: it holds the sends of a") as info:
        _journal(tmp_path, "b")  # a journal copied in from another issue is never taken as a fresh one
    assert "--new-journal" in str(info.value)
    with _journal(tmp_path, "a") as a:
        a.start_run("outbox", 0)
        assert a.summary().skipped == {}  # a new run reads the CSV again and records its own skips


def test_readonly_open_creates_nothing(tmp_path: Path) -> None:
    assert open_journal(tmp_path, "x", readonly=True) is None
    assert not journal_path(tmp_path).exists()
    with _journal(tmp_path) as j:
        j.begin_batch(1, EMAILS[:1])
    ro = open_journal(tmp_path, "issue-1", readonly=True)
    assert ro is not None and ro.summary().states == {"inflight": 1}
    ro.close()
    with pytest.raises(JournalError, match="holds the sends of issue-1"):
        open_journal(tmp_path, "x", readonly=True)


def test_not_a_journal_is_a_clear_error(tmp_path: Path) -> None:
    journal_path(tmp_path).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(JournalError, match="refusing to use this file as the send journal"):
        _journal(tmp_path)


@pytest.mark.parametrize("unchecked", [False, True])
def test_large_send_is_one_row_per_batch(tmp_path: Path, unchecked: bool) -> None:
    emails = [f"p{i}@example.org" for i in range(50_000)]
    with _journal(tmp_path) as j:
        assert j.lock_run()
        j.claims_unchecked = unchecked  # what a first run does: same rows either way
        for n, i in enumerate(range(0, len(emails), 1000), start=1):
            assert len(j.begin_batch(n, emails[i:i + 1000])) == 1000
            j.record(n, emails[i:i + 1000], [Outcome(e, True, message_id="<x>") for e in emails[i:i + 1000]])
        assert j.summary().states == {"sent": 50_000}
        # One claim row per batch and no recipient with a state of its own: the batch row says "sent".
        assert j.db.execute("SELECT COUNT(*) FROM claims").fetchone() == (50,)
        assert j.db.execute("SELECT COUNT(*) FROM marks").fetchone() == (0,)
        assert j.db.execute("SELECT COUNT(*), COUNT(DISTINCT key) FROM recipients WHERE state = 'sent'").fetchone() \
            == (50_000, 50_000)
    with _journal(tmp_path) as j:  # the next run looks every address up
        assert j.sendable(emails[::997] + ["new@example.org"]) == ["new@example.org"]


def test_claim_keeps_every_address_exactly(tmp_path: Path) -> None:
    odd = ['"quoted\\\\back\\"slash"@example.com', "Zoë.ÆØ@Example.org", "用户@例え.jp", "MiXeD+Tag@example.com",
           "plain@example.com", "tab\u2028sep@example.com", "x" * 200 + "@example.com"]
    with _journal(tmp_path) as j:
        assert j.begin_batch(1, odd) == odd
        rows = dict(j.db.execute("SELECT key, email FROM recipients"))
        assert rows == {e.lower(): e for e in odd}
        # Outcomes in another order than the batch: the general path, same result as the fast one.
        j.record(1, odd, [Outcome(e, True, message_id="<m>") for e in reversed(odd)])
        assert j.summary().states == {"sent": len(odd)}
        assert j.begin_batch(2, [e.upper() for e in odd]) == []  # sent: never claimed again


def test_claimed_again_after_a_transient_failure_counts_once(tmp_path: Path) -> None:
    with _journal(tmp_path) as j:
        j.begin_batch(1, EMAILS[:3])
        j.record(1, EMAILS[:3], [Outcome(EMAILS[0], True, message_id="<a>"),
                                 Outcome(EMAILS[1], False, error="451 later"),
                                 Outcome(EMAILS[2], False, error="550 gone", permanent=True)])
    with _journal(tmp_path) as j:
        assert j.sendable(EMAILS[:3]) == [EMAILS[1]]
        # Twice in one batch, and a sent one: claimed once, the sent one not at all.
        assert j.begin_batch(2, [EMAILS[1], EMAILS[1].upper(), EMAILS[0]]) == [EMAILS[1]]
        j.record(2, [EMAILS[1]], [Outcome(EMAILS[1], True, message_id="<b>")])
        assert j.summary().states == {"sent": 2, "failed": 1}
        view = {k: (state, batch, attempts) for k, state, batch, attempts in
                j.db.execute("SELECT key, state, batch, attempts FROM recipients")}
        assert view == {EMAILS[0]: ("sent", 1, 1), EMAILS[1]: ("sent", 2, 2), EMAILS[2]: ("failed", 1, 1)}
        # A pending recipient (never left) claimed again is not a second attempt.
        j.begin_batch(3, [EMAILS[5]])
        j.record(3, [EMAILS[5]], [], missing="pending")
        assert j.begin_batch(4, [EMAILS[5]]) == [EMAILS[5]]
        assert j.db.execute("SELECT state, attempts FROM recipients WHERE key = ?", (EMAILS[5],)).fetchone() == (
            "inflight", 1)
        assert j.summary().states == {"sent": 2, "failed": 1, "inflight": 1}


def test_outcomes_of_other_addresses_are_ignored(tmp_path: Path) -> None:
    with _journal(tmp_path) as j:
        j.begin_batch(1, EMAILS[:2])
        j.record(1, EMAILS[:2], [Outcome(EMAILS[0], True, "<a>"), Outcome(EMAILS[9], False, error="not ours"),
                                 Outcome(EMAILS[1], True, "<b>")])
        assert j.summary().states == {"sent": 2}
        assert dict(j.db.execute("SELECT key, message_id FROM recipients")) == {EMAILS[0]: "<a>", EMAILS[1]: "<b>"}


def _handles_on(path: Path) -> int:
    """How many file descriptors of this process are open on ``path`` (Linux's /proc)."""
    import os

    fds = Path("/proc/self/fd")
    if not fds.is_dir():
        pytest.skip("no /proc/self/fd here")
    found = 0
    for fd in os.listdir(fds):
        with contextlib.suppress(OSError):  # the listing's own descriptor is gone by now
            found += os.readlink(fds / fd) == str(path.resolve())
    return found


def test_run_lock_keeps_a_second_send_out(tmp_path: Path) -> None:
    from digest.folder import JOURNAL_LOCK_NAME

    first = _journal(tmp_path)
    assert first.lock_run()
    second = _journal(tmp_path)
    with pytest.raises(JournalError, match="another `digest send` of this issue is running") as refused:
        second.lock_run()
    # While the refused send reports the error, the only handle on the lock file is the first send's.
    assert _handles_on(tmp_path / JOURNAL_LOCK_NAME) == 1 and refused.value.hint
    first.close()
    assert second.lock_run()  # released with the first journal
    second.close()


_SCHEMA_2 = """
CREATE TABLE issues (id INTEGER PRIMARY KEY, slug TEXT NOT NULL UNIQUE, created REAL NOT NULL);
CREATE TABLE batches (issue INTEGER NOT NULL, id INTEGER NOT NULL, state TEXT NOT NULL, message_id TEXT,
    size INTEGER NOT NULL, started REAL NOT NULL, finished REAL, error TEXT, PRIMARY KEY (issue, id)) WITHOUT ROWID;
CREATE TABLE entries (issue INTEGER NOT NULL, key TEXT NOT NULL, email TEXT NOT NULL, batch INTEGER NOT NULL,
    state TEXT, message_id TEXT, attempts INTEGER NOT NULL DEFAULT 1, last_error TEXT,
    permanent INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL, updated REAL, PRIMARY KEY (issue, key)) WITHOUT ROWID;
CREATE VIEW recipients AS SELECT e.issue AS issue, e.key AS key, COALESCE(e.state, b.state) AS state
    FROM entries e LEFT JOIN batches b ON b.issue = e.issue AND b.id = e.batch;
CREATE TABLE skips (issue INTEGER NOT NULL, line INTEGER NOT NULL, email TEXT NOT NULL, kind TEXT NOT NULL,
    reason TEXT NOT NULL);
CREATE TABLE runs (id INTEGER PRIMARY KEY, issue INTEGER NOT NULL, started REAL NOT NULL, finished REAL,
    backend TEXT NOT NULL, recovered_unknown INTEGER NOT NULL DEFAULT 0, note TEXT);
INSERT INTO issues VALUES (1, 'old', 0);
INSERT INTO batches VALUES (1, 1, 'sent', '<m1>', 3, 0, 1, NULL), (1, 2, 'inflight', NULL, 1, 2, NULL, NULL);
INSERT INTO entries (issue, key, email, batch, state, last_error, permanent, created) VALUES
    (1, 'a@example.com', 'A@example.com', 1, NULL, NULL, 0, 0),
    (1, 'b@example.com', 'b@example.com', 1, 'failed', '550 gone', 1, 0),
    (1, 'c@example.com', 'c@example.com', 1, 'failed', '451 later', 0, 0),
    (1, 'd@example.com', 'd@example.com', 2, NULL, NULL, 0, 2),
    (1, 'g@example.com', 'g@example.com', 2, 'failed', '451 later', 0, 2);
INSERT INTO entries (issue, key, email, batch, state, message_id, created) VALUES
    (1, 'f@example.com', 'f@example.com', 1, NULL, '<own-f>', 0);
PRAGMA user_version = 2;
"""


def test_a_schema_2_journal_is_upgraded_with_its_states(tmp_path: Path) -> None:
    db = sqlite3.connect(journal_path(tmp_path))
    db.executescript(_SCHEMA_2)
    db.close()
    with pytest.raises(JournalError, match="another version"):
        Journal(journal_path(tmp_path), "old", readonly=True)  # a dry run reads; it does not upgrade
    with _journal(tmp_path, "old") as j:
        assert j.db.execute("PRAGMA user_version").fetchone() == (3,)
        assert j.summary().states == {"sent": 2, "failed": 3, "inflight": 1}
        assert j.recover() == 1  # d: in flight when the old version stopped; g had failed, and stays failed
        assert j.summary().states == {"sent": 2, "failed": 3, "unknown": 1}
        assert j.sendable(["a@example.com", "B@example.com", "c@example.com", "d@example.com", "e@example.com"]) == [
            "c@example.com", "e@example.com"]
        assert j.db.execute("SELECT email, message_id FROM recipients WHERE key = 'a@example.com'").fetchone() == (
            "A@example.com", "<m1>")
        # A recipient with a message id of its own (per-recipient ids) keeps it.
        assert j.db.execute("SELECT state, message_id FROM recipients WHERE key = 'f@example.com'").fetchone() == (
            "sent", "<own-f>")


def test_all_accepted_is_recorded_like_the_list_of_outcomes(tmp_path: Path) -> None:
    from digest.model import AllAccepted

    accepted = AllAccepted(EMAILS[:4], "<batch>")
    assert list(accepted) == [Outcome(e, True, message_id="<batch>") for e in EMAILS[:4]]
    assert accepted[-1] == Outcome(EMAILS[3], True, message_id="<batch>") and len(accepted[1:3]) == 2
    with _journal(tmp_path) as j:
        j.begin_batch(1, EMAILS[:4])
        assert j.record(1, EMAILS[:4], accepted) == 0
        j.begin_batch(2, EMAILS[4:6])
        # Not this batch's addresses in its order: the general path (EMAILS[5] had no outcome: unknown).
        assert j.record(2, EMAILS[4:6], AllAccepted([EMAILS[4]], "<b2>")) == 1
        assert j.summary().states == {"sent": 5, "unknown": 1}
        assert dict(j.db.execute("SELECT key, message_id FROM recipients WHERE state = 'sent'")) == {
            **{e: "<batch>" for e in EMAILS[:4]}, EMAILS[4]: "<b2>"}


def test_a_read_only_journal_answers_look_ups(tmp_path: Path) -> None:
    """What a dry run asks of an existing journal (its look-up index lives in TEMP, not in the file)."""
    with _journal(tmp_path) as j:
        j.begin_batch(1, EMAILS[:2])
        j.record(1, EMAILS[:2], [Outcome(EMAILS[0], True, "m"), Outcome(EMAILS[1], False, error="451 later")])
    ro = open_journal(tmp_path, "issue-1", readonly=True)
    assert ro is not None
    try:
        assert ro.sendable(EMAILS[:3]) == EMAILS[1:3]
        assert ro.summary().states == {"sent": 1, "failed": 1}
    finally:
        ro.close()


def test_no_flock_on_the_file_system_means_no_run_lock_not_an_error(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import errno
    import fcntl

    from digest.folder import JOURNAL_LOCK_NAME as LOCK_NAME

    def refuse(fd: int, op: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", refuse)
    with _journal(tmp_path) as j:
        assert j.lock_run() is False  # the send then claims with look-ups
        assert _handles_on(tmp_path / LOCK_NAME) == 0  # nothing left open on the lock file
        assert j.begin_batch(1, EMAILS[:2]) == EMAILS[:2]


def test_an_empty_journal_file_is_refused_not_started_afresh(tmp_path: Path) -> None:
    with _journal(tmp_path) as j:
        j.begin_batch(1, EMAILS[:2])
    for extra in ("-wal", "-shm"):
        journal_path(tmp_path).with_name(journal_path(tmp_path).name + extra).unlink(missing_ok=True)
    journal_path(tmp_path).write_bytes(b"")  # truncated by a failed copy
    with pytest.raises(JournalError, match="it is empty") as info:
        _journal(tmp_path)
    assert "--new-journal" in (info.value.hint or "")
    assert journal_path(tmp_path).stat().st_size == 0  # left as it was, for the editor to look at
    with pytest.raises(JournalError, match="it is empty"):
        open_journal(tmp_path, "issue-1", readonly=True)


def test_another_sqlite_file_is_not_taken_as_a_journal(tmp_path: Path) -> None:
    db = sqlite3.connect(journal_path(tmp_path))
    db.execute("CREATE TABLE notes (body TEXT)")
    db.close()
    with pytest.raises(JournalError, match="not a digest send journal"):
        _journal(tmp_path)
    db = sqlite3.connect(journal_path(tmp_path))
    assert [r[0] for r in db.execute("SELECT name FROM sqlite_master")] == ["notes"]  # untouched
    assert db.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # not switched to WAL either
    db.close()


def test_a_missing_journal_of_an_issue_already_sent_is_refused(tmp_path: Path) -> None:
    with _journal(tmp_path) as j:
        j.begin_batch(1, EMAILS[:2])
        j.record(1, EMAILS[:2], [Outcome(e, True, "m") for e in EMAILS[:2]])
    for extra in ("", "-wal", "-shm"):
        journal_path(tmp_path).with_name(journal_path(tmp_path).name + extra).unlink(missing_ok=True)
    with pytest.raises(JournalError, match="the send journal is missing.*issue-1"):
        _journal(tmp_path)
    with pytest.raises(JournalError, match="the send journal is missing"):
        open_journal(tmp_path, "issue-1", readonly=True)
    assert not journal_path(tmp_path).exists()


def test_set_aside_keeps_the_old_journal_and_allows_an_empty_one(tmp_path: Path) -> None:
    from digest.deliver.journal import set_aside

    with _journal(tmp_path) as j:
        j.begin_batch(1, EMAILS[:2])
        j.record(1, EMAILS[:2], [Outcome(e, True, "m") for e in EMAILS[:2]])
    journal_path(tmp_path).write_bytes(b"")
    aside = set_aside(tmp_path)
    assert aside is not None and aside.exists() and aside.name.startswith("send-journal.sqlite.set-aside-")
    with _journal(tmp_path) as j:
        assert j.sendable(EMAILS[:2]) == EMAILS[:2] and not j.has_rows()


def test_disk_full_is_a_clear_error_and_keeps_what_was_recorded(tmp_path: Path) -> None:
    emails = [f"someone.with.a.long.address.{i}@example.org" for i in range(3000)]
    with _journal(tmp_path) as j:
        j.begin_batch(1, EMAILS[:2])
        j.record(1, EMAILS[:2], [Outcome(e, True, "m") for e in EMAILS[:2]])
        pages = j.db.execute("PRAGMA page_count").fetchone()[0]
        j.db.execute(f"PRAGMA max_page_count = {pages}")  # the disk is full from here on
        with pytest.raises(JournalError, match="the disk is full") as info:
            j.begin_batch(2, emails)
        assert "--new-journal" not in str(info.value) and "resumes" in (info.value.hint or "")
    with _journal(tmp_path) as j:
        assert j.summary().states == {"sent": 2}
        assert j.next_batch_number() == 2


def _make_read_only(path: Path) -> None:
    import os
    import subprocess

    if os.geteuid() != 0:
        path.chmod(0o555 if path.is_dir() else 0o444)
        return
    # root writes through file modes: the immutable attribute stops it (ext4, tmpfs, xfs, ...).
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("cannot make a file read-only for root here (no chattr +i)")


def _make_writable(path: Path) -> None:
    import os
    import subprocess

    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)
    path.chmod(0o755 if path.is_dir() else 0o644)


@pytest.mark.parametrize("what", ["file", "dir"])
def test_a_read_only_journal_never_suggests_a_fresh_one(tmp_path: Path, what: str) -> None:
    issue = tmp_path / "issue"
    with _journal(issue) as j:
        j.begin_batch(1, EMAILS[:2])
        j.record(1, EMAILS[:2], [Outcome(e, True, "m") for e in EMAILS[:2]])
    target = journal_path(issue) if what == "file" else issue
    _make_read_only(target)
    try:
        with pytest.raises(JournalError, match="cannot be written") as info, _journal(issue) as j:
            j.start_run("outbox", 0)
            j.begin_batch(2, EMAILS[2:4])
        text = str(info.value)
        assert "writable" in text and "--new-journal" not in text and "fresh" not in text
    finally:
        _make_writable(target)
    with _journal(issue) as j:
        assert j.summary().states == {"sent": 2}


# --- one batch's fate never spills onto another ------------------------------------------------------


def _states(j: Journal) -> dict[str, str]:
    return dict(j.db.execute("SELECT key, state FROM recipients WHERE issue = ?", (j.issue_id,)))


def test_a_batch_whose_fate_is_unknown_leaves_the_other_batches_as_they_were(tmp_path: Path) -> None:
    with _journal(tmp_path) as j:
        j.begin_batch(1, EMAILS[:3])
        j.record(1, EMAILS[:3], [Outcome(e, True, "<m1>") for e in EMAILS[:3]])
        j.begin_batch(2, EMAILS[3:5])
        j.batch_unknown(2, "the connection dropped after the request left")
        j.begin_batch(3, EMAILS[5:7])  # still in flight
        assert j.summary().states == {"sent": 3, "unknown": 2, "inflight": 2}
        # --resend-unknown sends the unknown batch again, never the recipients already mailed.
        assert j.sendable(EMAILS[:5], resend_unknown=True) == EMAILS[3:5]
        assert j.rows("sent", 10) == [(e, None) for e in EMAILS[:3]]


def test_an_accepted_batch_never_turns_an_earlier_unknown_batch_into_sent(tmp_path: Path) -> None:
    from digest.model import AllAccepted

    with _journal(tmp_path) as j:
        j.begin_batch(1, EMAILS[:2])
        j.batch_unknown(1, "lost")
        # Accepted in the three ways a backend reports it: AllAccepted, one id in order, per-recipient ids.
        j.begin_batch(2, EMAILS[2:4])
        assert j.record(2, EMAILS[2:4], AllAccepted(EMAILS[2:4], "<m2>")) == 0
        j.begin_batch(3, EMAILS[4:6])
        assert j.record(3, EMAILS[4:6], [Outcome(e, True, "<m3>") for e in EMAILS[4:6]]) == 0
        j.begin_batch(4, EMAILS[6:8])
        assert j.record(4, EMAILS[6:8], [Outcome(EMAILS[7], True, "<a>"), Outcome(EMAILS[6], True, "<b>")]) == 0
        assert j.summary().states == {"unknown": 2, "sent": 6}
        assert j.sendable(EMAILS[:8]) == []
        assert j.sendable(EMAILS[:8], resend_unknown=True) == EMAILS[:2]
        assert dict(j.db.execute("SELECT key, message_id FROM recipients WHERE state = 'sent'")) == {
            EMAILS[2]: "<m2>", EMAILS[3]: "<m2>", EMAILS[4]: "<m3>", EMAILS[5]: "<m3>",
            EMAILS[6]: "<b>", EMAILS[7]: "<a>"}


@pytest.mark.parametrize("permanent", [False, True])
def test_a_batch_refused_for_everyone_is_failed_not_sent(tmp_path: Path, permanent: bool) -> None:
    with _journal(tmp_path) as j:
        j.begin_batch(1, EMAILS[:3])
        refused = [Outcome(e, False, error="554 rejected", permanent=permanent) for e in EMAILS[:3]]
        assert j.record(1, EMAILS[:3], refused) == 0
        assert j.summary().states == {"failed": 3}
        assert j.rows("failed", 5) == [(e, "554 rejected") for e in EMAILS[:3]]
        assert j.sendable(EMAILS[:3]) == ([] if permanent else EMAILS[:3])


def test_one_refused_among_accepted_under_one_id_is_failed(tmp_path: Path) -> None:
    with _journal(tmp_path) as j:
        j.begin_batch(1, EMAILS[:3])
        j.record(1, EMAILS[:3], [Outcome(EMAILS[0], True, "<m>"), Outcome(EMAILS[1], False, error="550 gone",
                                                                           permanent=True),
                                 Outcome(EMAILS[2], True, "<m>")])
        assert _states(j) == {EMAILS[0]: "sent", EMAILS[1]: "failed", EMAILS[2]: "sent"}
        # The batch row carries the shared id: only the refused recipient needs a row of its own.
        assert j.db.execute("SELECT key FROM marks").fetchall() == [(EMAILS[1],)]
        # Fewer outcomes than recipients, all accepted: the one without an answer may or may not have left.
        j.begin_batch(2, EMAILS[3:6])
        assert j.record(2, EMAILS[3:6], [Outcome(e, True, "<n>") for e in EMAILS[3:5]]) == 1
        assert _states(j)[EMAILS[5]] == "unknown"
        assert j.rows("unknown", 5) == [(EMAILS[5], "the backend returned no outcome")]


def test_an_address_still_in_flight_is_not_claimed_again(tmp_path: Path) -> None:
    with _journal(tmp_path) as j:
        j.begin_batch(1, EMAILS[:2])  # its answer has not come yet (another thread is sending it)
        assert j.begin_batch(2, [EMAILS[1].upper(), EMAILS[2]]) == [EMAILS[2]]
        assert j.sendable(EMAILS[:3]) == []
        assert _states(j) == {EMAILS[0]: "inflight", EMAILS[1]: "inflight", EMAILS[2]: "inflight"}
        assert j.db.execute("SELECT batch FROM recipients WHERE key = ?", (EMAILS[1],)).fetchone() == (1,)


def test_a_claim_that_cannot_be_written_is_rolled_back_whole(tmp_path: Path) -> None:
    bad = "bad\udcff@example.com"  # a lone surrogate (undecodable CSV bytes): SQLite cannot store it
    with _journal(tmp_path) as j:
        with pytest.raises((TypeError, UnicodeEncodeError)):
            j.begin_batch(1, [EMAILS[0], bad])
        # Nothing of batch 1 stays (no inflight batch without its addresses), and the journal still works.
        assert j.summary().states == {} and j.next_batch_number() == 1
        assert j.begin_batch(1, EMAILS[:2]) == EMAILS[:2]
        j.record(1, EMAILS[:2], [Outcome(e, True, "<m>") for e in EMAILS[:2]])
    with _journal(tmp_path) as j:
        assert j.summary().states == {"sent": 2}


def test_a_journal_locked_by_another_program_is_a_clear_error_and_nothing_is_half_written(tmp_path: Path) -> None:
    import threading

    with _journal(tmp_path) as j:
        j.begin_batch(1, EMAILS[:1])
        j.db.execute("PRAGMA busy_timeout = 50")  # the default waits 30 s for the other writer
        other = sqlite3.connect(journal_path(tmp_path), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # e.g. a SQLite browser holding a write transaction
        try:
            with pytest.raises(JournalError, match="send journal failed.*locked") as info:
                j.begin_batch(2, EMAILS[1:3])
            assert "resumes" in (info.value.hint or "")
            # The journal's own lock was released: the send's request thread, which records outcomes through
            # the same journal, is not stuck.
            seen: list[object] = []
            worker = threading.Thread(target=lambda: seen.append(j.summary().states), daemon=True)
            worker.start()
            worker.join(10)
            assert seen == [{"inflight": 1}], "the journal's lock was left held after the failed BEGIN"
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert j.summary().states == {"inflight": 1}  # batch 2 was not written, not even in part
        assert j.begin_batch(2, EMAILS[1:3]) == EMAILS[1:3]


def test_ctrl_c_while_waiting_for_the_file_leaves_the_journal_usable_by_the_other_thread(tmp_path: Path) -> None:
    """Ctrl-C during BEGIN (waiting for another writer): the send's request thread must still record its answers."""
    import threading

    class Interrupted:  # the connection, as Ctrl-C reaches it inside BEGIN IMMEDIATE
        def __init__(self, db: sqlite3.Connection) -> None:
            self.real = db

        def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
            if sql == "BEGIN IMMEDIATE":
                raise KeyboardInterrupt
            return self.real.execute(sql, *args)

    with _journal(tmp_path) as j:
        j.begin_batch(1, EMAILS[:1])
        j.db = Interrupted(j.db)  # type: ignore[assignment]
        with pytest.raises(KeyboardInterrupt):
            j.begin_batch(2, EMAILS[1:2])
        seen: list[object] = []
        worker = threading.Thread(target=lambda: seen.append(j.summary().states), daemon=True)
        worker.start()
        worker.join(10)
        j.db = j.db.real  # type: ignore[attr-defined]
        assert seen == [{"inflight": 1}], "the journal's lock was left held after Ctrl-C in BEGIN"


def test_leaving_the_with_block_releases_the_run_lock_and_the_file(tmp_path: Path) -> None:
    with _journal(tmp_path) as first:
        assert first.lock_run()
        assert first.lock_run()  # asking again while holding it is fine
    with pytest.raises(sqlite3.ProgrammingError):
        first.summary()  # closed
    with _journal(tmp_path) as second:
        assert second.lock_run()  # the first send ended: the next one may start


def test_a_run_records_its_start_end_and_note(tmp_path: Path) -> None:
    with _journal(tmp_path) as j:
        j.finish_run("no run started")  # nothing to finish: no row
        assert j.start_run("sendgrid", 4) == j.run_id
        j.finish_run("stopped by Ctrl-C")
    with _journal(tmp_path) as j:
        assert j.start_run("outbox", 0) != 0
    db = sqlite3.connect(journal_path(tmp_path))
    try:
        rows = db.execute("SELECT backend, recovered_unknown, finished IS NOT NULL, note FROM runs ORDER BY id"
                          ).fetchall()
    finally:
        db.close()
    assert rows == [("sendgrid", 4, 1, "stopped by Ctrl-C"), ("outbox", 0, 0, None)]


_SCHEMA_1 = """
CREATE TABLE recipients (email TEXT PRIMARY KEY, state TEXT NOT NULL, message_id TEXT, attempts INTEGER);
INSERT INTO recipients VALUES ('a@example.com', 'sent', '<m>', 1);
"""


@pytest.mark.parametrize("version", [0, 1, 4])
def test_a_journal_of_another_schema_is_refused_and_left_as_it_was(tmp_path: Path, version: int) -> None:
    db = sqlite3.connect(journal_path(tmp_path))
    db.executescript(_SCHEMA_1 + f"PRAGMA user_version = {version};")
    db.close()
    for readonly in (True, False):
        with pytest.raises(JournalError, match=f"another version of digest \\(schema {version}\\)"):
            Journal(journal_path(tmp_path), "issue-1", readonly=readonly)
    db = sqlite3.connect(journal_path(tmp_path))
    try:
        assert db.execute("PRAGMA user_version").fetchone() == (version,)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        assert [r[0] for r in db.execute("SELECT name FROM sqlite_master")] == ["recipients",
                                                                               "sqlite_autoindex_recipients_1"]
        assert db.execute("SELECT * FROM recipients").fetchall() == [("a@example.com", "sent", "<m>", 1)]
    finally:
        db.close()


def test_the_counts_the_editor_sees() -> None:
    from digest.deliver.journal import Summary

    empty = Summary()
    assert (empty.sent, empty.failed, empty.unknown, empty.pending, empty.skipped_total) == (0, 0, 0, 0, 0)
    s = Summary({"sent": 5, "failed": 2, "unknown": 3, "inflight": 1, "pending": 4},
                {"invalid": 2, "duplicate": 1, "suppressed": 6})
    # In flight at the end of a run is as unknown as unknown: both are held until --resend-unknown.
    assert (s.sent, s.failed, s.unknown, s.pending, s.skipped_total) == (5, 2, 4, 4, 9)


def test_the_first_send_from_a_new_folder_makes_it(tmp_path: Path) -> None:
    path = journal_path(tmp_path / "issues" / "2026-12")
    with Journal(path, "2026-12") as j:
        assert j.begin_batch(1, EMAILS[:1]) == EMAILS[:1]
    assert path.exists()


def test_a_damaged_journal_is_refused_with_the_way_out(tmp_path: Path) -> None:
    with _journal(tmp_path) as j:
        j.begin_batch(1, EMAILS[:2])
    data = bytearray(journal_path(tmp_path).read_bytes())
    data[100:4000] = b"\xff" * 3900  # the schema page overwritten (a bad copy, a bad disk)
    journal_path(tmp_path).write_bytes(bytes(data))
    with pytest.raises(JournalError, match="refusing to use this file.*malformed") as info:
        _journal(tmp_path)
    assert "--new-journal" in (info.value.hint or "")
    assert journal_path(tmp_path).read_bytes() == bytes(data)  # left as it was


def test_a_folder_where_the_journal_should_be_is_a_clear_error(tmp_path: Path) -> None:
    journal_path(tmp_path).mkdir()
    with pytest.raises(JournalError, match="cannot be written"):
        _journal(tmp_path)


def test_no_lock_file_possible_means_checked_claims(tmp_path: Path) -> None:
    from digest.folder import JOURNAL_LOCK_NAME as LOCK_NAME

    (tmp_path / LOCK_NAME).mkdir()  # something in the way of the lock file
    with _journal(tmp_path) as j:
        assert j.lock_run() is False
        j.begin_batch(1, EMAILS[:2])
        assert j.begin_batch(2, EMAILS[1:3]) == [EMAILS[2]]  # the journal itself still guards each claim


def test_per_recipient_message_ids_in_batch_order_are_kept(tmp_path: Path) -> None:
    with _journal(tmp_path) as j:
        j.begin_batch(1, EMAILS[:3])
        assert j.record(1, EMAILS[:3], [Outcome(e, True, f"<{i}@smtp>") for i, e in enumerate(EMAILS[:3])]) == 0
        assert dict(j.db.execute("SELECT key, message_id FROM recipients")) == {
            e: f"<{i}@smtp>" for i, e in enumerate(EMAILS[:3])}
        assert j.summary().states == {"sent": 3}
        assert j.rows("sent", 5) == [(e, None) for e in EMAILS[:3]]  # no error text on a recipient accepted


def test_set_aside_in_a_folder_that_cannot_be_written_says_so(tmp_path: Path) -> None:
    from digest.deliver.journal import set_aside

    issue = tmp_path / "issue"
    with _journal(issue) as j:
        j.begin_batch(1, EMAILS[:1])
    _make_read_only(issue)
    try:
        with pytest.raises(JournalError, match="cannot set the old journal aside"):
            set_aside(issue)
    finally:
        _make_writable(issue)
    assert journal_path(issue).exists()
    assert set_aside(tmp_path / "nothing-here") is None


def test_a_journal_has_rows_once_someone_was_claimed(tmp_path: Path) -> None:
    """What decides that a resumed send looks every address up (a first run needs no look-ups)."""
    with _journal(tmp_path) as j:
        assert not j.has_rows()
        assert j.begin_batch(1, []) == [] and not j.has_rows()  # an empty batch claims nobody
        j.begin_batch(2, EMAILS[:1])
        assert j.has_rows()
    with _journal(tmp_path) as j:
        assert j.has_rows()


def test_a_batch_of_addresses_all_claimed_before_counts_nobody(tmp_path: Path) -> None:
    with _journal(tmp_path) as j:
        j.begin_batch(1, EMAILS[:2])
        j.record(1, EMAILS[:2], [Outcome(e, True, "<m>") for e in EMAILS[:2]])
        assert j.begin_batch(2, EMAILS[:2]) == []  # e.g. a resumed run whose batch was all sent already
        assert j.summary().states == {"sent": 2}
        j.batch_unknown(2, "lost")
        assert j.summary().states == {"sent": 2} and j.summary().unknown == 0


def test_a_commit_that_fails_is_rolled_back_and_said(tmp_path: Path) -> None:
    """Where WAL is unavailable (some network file systems) a reader blocks the writer's COMMIT."""
    with _journal(tmp_path) as j:
        j.db.execute("PRAGMA journal_mode=DELETE")
        j.db.execute("PRAGMA busy_timeout = 50")
        j.begin_batch(1, EMAILS[:1])
        reader = sqlite3.connect(journal_path(tmp_path), isolation_level=None)
        reader.execute("BEGIN")
        reader.execute("SELECT COUNT(*) FROM batches").fetchone()  # a read transaction holds its lock
        try:
            with pytest.raises(JournalError, match="send journal failed.*locked") as info:
                j.begin_batch(2, EMAILS[1:3])
            assert "resumes" in (info.value.hint or "")
        finally:
            reader.execute("ROLLBACK")
            reader.close()
        assert j.summary().states == {"inflight": 1}  # batch 2 is not there, not even for this connection
        assert j.begin_batch(2, EMAILS[1:3]) == EMAILS[1:3]
        assert j.summary().states == {"inflight": 3}


def test_a_closed_journal_cannot_be_used_by_mistake(tmp_path: Path) -> None:
    j = _journal(tmp_path)
    j.close()
    with pytest.raises(sqlite3.ProgrammingError):
        j.begin_batch(1, EMAILS[:1])
    with pytest.raises(sqlite3.ProgrammingError):
        j.start_run("outbox", 0)


def test_an_ab_test_is_recorded_once_with_its_variants_and_its_winner_once(tmp_path: Path) -> None:
    with _journal(tmp_path) as j:
        assert j.ab_test() is None and j.ab_variants() == {}
        members = [("a@x.org", 1), ("b@x.org", 2), ("c@x.org", 1)]
        assert j.start_ab_test("ab" * 16, 0.2, ["Wall", "Ferry"], members)
        assert not j.start_ab_test("cd" * 16, 0.5, ["Other", "Subjects"], [("d@x.org", 1)])  # the first one stays
        j.choose_ab_winner(2, "auto")
        j.choose_ab_winner(1, "hand")  # a winner once recorded is kept
    with open_journal(tmp_path, "issue-1", readonly=True) as j:  # type: ignore[union-attr]
        test = j.ab_test()
        assert test is not None
        assert (test.seed, test.share, test.subjects, test.sizes) == ("ab" * 16, 0.2, ["Wall", "Ferry"], [2, 1])
        assert (test.winner, test.chosen_by) == (2, "auto")
        assert j.ab_variants() == dict(members) and j.ab_variants(1) == {"a@x.org": 1, "c@x.org": 1}


def test_a_cancelled_scheduled_run_releases_its_recipients_to_pending(tmp_path: Path) -> None:
    with _journal(tmp_path) as j:
        j.start_run("sendgrid", 0)  # an earlier, immediate send: not part of the schedule
        j.begin_batch(1, EMAILS[:2])
        j.record(1, EMAILS[:2], [Outcome(e, True, "m1") for e in EMAILS[:2]])
        scheduled = j.start_run("sendgrid", 0)
        j.begin_batch(2, EMAILS[2:6])
        j.record(2, EMAILS[2:6], [Outcome(EMAILS[2], True, "m2"),
                                  Outcome(EMAILS[3], False, error="bad", permanent=True),
                                  Outcome(EMAILS[4], False, unknown=True), Outcome(EMAILS[5], True, "m2")])
        j.begin_batch(3, EMAILS[6:8])
        j.batch_unknown(3, "lost")
        assert j.release_runs([scheduled], "cancelled") == 5  # 2, 4, 5 and 6, 7; not 3 (failed) nor 0, 1
        states = _view(tmp_path)
        assert [states[e] for e in EMAILS[:8]] == ["sent", "sent", "pending", "failed", "pending", "pending",
                                                   "pending", "pending"]
        assert j.sendable(EMAILS[:8]) == EMAILS[2:3] + EMAILS[4:8]
        assert j.summary().states == {"sent": 2, "failed": 1, "pending": 5}
        j.begin_batch(4, EMAILS[2:3] + EMAILS[4:8])  # sent again: claimed once more, counted once
        j.record(4, EMAILS[2:3] + EMAILS[4:8], [Outcome(e, True, "m4") for e in EMAILS[2:3] + EMAILS[4:8]])
        assert j.summary().states == {"sent": 7, "failed": 1}
        assert j.release_runs([], "nothing") == 0


def test_cancelling_a_scheduled_run_leaves_the_runs_after_it_sent(tmp_path: Path) -> None:
    with _journal(tmp_path) as j:
        j.start_run("sendgrid", 0)
        j.begin_batch(1, EMAILS[:2])
        j.record(1, EMAILS[:2], [Outcome(e, True, "m1") for e in EMAILS[:2]])
        scheduled = j.start_run("sendgrid", 0)
        j.begin_batch(2, EMAILS[2:4])
        j.record(2, EMAILS[2:4], [Outcome(e, True, "m2") for e in EMAILS[2:4]])
        j.start_run("sendgrid", 0)  # a later, immediate send of the rest
        j.begin_batch(3, EMAILS[4:6])
        j.record(3, EMAILS[4:6], [Outcome(e, True, "m3") for e in EMAILS[4:6]])
        assert j.release_runs([scheduled], "cancelled") == 2
        assert [_view(tmp_path)[e] for e in EMAILS[:6]] == ["sent", "sent", "pending", "pending", "sent", "sent"]
        assert j.sendable(EMAILS[:6]) == EMAILS[2:4]


def test_a_journal_from_before_ab_tests_has_none(tmp_path: Path) -> None:
    with _journal(tmp_path) as j:
        j.begin_batch(1, EMAILS[:1])
        j.db.execute("DROP TABLE ab_variants")  # as a journal written before A/B tests existed
        j.db.execute("DROP TABLE ab_tests")
    ro = open_journal(tmp_path, "issue-1", readonly=True)  # a dry run does not add the tables
    assert ro is not None
    try:
        assert ro.ab_test() is None and ro.ab_variants() == {} and ro.ab_variants(1) == {}
    finally:
        ro.close()
    with _journal(tmp_path) as j:  # a real send adds them
        assert j.ab_test() is None
        assert j.start_ab_test("s" * 32, 0.5, ["A", "B", "C"], [("a@x.org", 3), ("b@x.org", 1), ("c@x.org", 3)])
        test = j.ab_test()
        assert test is not None and test.sizes == [1, 0, 2] and test.subjects == ["A", "B", "C"]
        assert test.winner is None and test.chosen is None and test.chosen_by is None
        assert j.ab_variants(2) == {} and j.ab_variants(3) == {"a@x.org": 3, "c@x.org": 3}


def test_a_folder_whose_marker_cannot_be_written_is_refused(tmp_path: Path) -> None:
    from digest.deliver.journal import marker_path

    with _journal(tmp_path) as j:
        j.begin_batch(1, EMAILS[:1])
    marker_path(journal_path(tmp_path)).unlink()
    marker_path(journal_path(tmp_path)).mkdir()  # something in the way of the marker file
    with pytest.raises(JournalError, match="cannot record that this folder has a send journal"):
        _journal(tmp_path)


def test_a_journal_path_that_cannot_be_looked_at_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "issue").write_text("a file where the issue folder should be\n")
    with pytest.raises(JournalError, match="cannot read the send journal"):
        _journal(tmp_path / "issue")
    with pytest.raises(JournalError, match="cannot read the send journal"):
        open_journal(tmp_path / "issue", "issue-1", readonly=True)


def test_set_aside_after_a_crash_keeps_the_last_commits_with_the_old_journal(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from digest.deliver.journal import set_aside

    crash = ("import os, sys\nfrom digest.deliver.journal import Journal, journal_path\n"
             "j = Journal(journal_path(sys.argv[1]), 'issue-1')\nj.begin_batch(1, ['a@example.com', 'b@example.com'])\n"
             "os._exit(9)  # killed: the last commits are only in the WAL file\n")
    subprocess.run([sys.executable, "-c", crash, str(tmp_path)], check=False, timeout=60,
                   env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    wal = journal_path(tmp_path).with_name(journal_path(tmp_path).name + "-wal")
    assert wal.exists() and wal.stat().st_size > 0
    aside = set_aside(tmp_path)
    shm = wal.with_name(wal.name.replace("-wal", "-shm"))
    assert aside is not None and not wal.exists() and not shm.exists()  # nothing of it left under the old name
    old = Journal(aside, "issue-1", readonly=True)
    try:
        assert old.summary().states == {"inflight": 2}  # the batch committed before the crash is there
    finally:
        old.close()
    with _journal(tmp_path) as j:
        assert j.summary().states == {} and j.sendable(["a@example.com"]) == ["a@example.com"]
