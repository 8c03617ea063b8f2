"""Exactly once across a crash: SIGKILL ``digest send`` while SendGrid holds a request unanswered, then resume.

The stand-in counts every delivery. Two cases of the request that was in flight when the process died:

* SendGrid accepted it but the answer never came back: resuming without ``--resend-unknown`` must not send
  it again (nobody gets two emails); its recipients are reported unknown.
* SendGrid never accepted it: resuming without the flag holds those recipients as unknown (each of them is
  reported, none is mailed); resuming with ``--resend-unknown`` then gives every recipient exactly one email.

These sends keep one request in flight (``concurrency = 1``) so that the held request is batch 2;
``test_send_exactly_once.py`` kills a send with several batches in flight.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.test_send_sendgrid import digest, env_for, journal_states, make_issue, summary, write_recipients
from tests.conftest import REPO
from tests.support.sendgrid_standin import SendGridStandIn

pytestmark = [pytest.mark.integration, pytest.mark.slow]

N = 2500
BATCH = 500


def send_args(issue: Path, csv_path: Path, *more: str) -> list[str]:
    return ["send", str(issue), "--recipients", str(csv_path), "--backend", "sendgrid", "--json", *more]


def kill_while_held(issue: Path, csv_path: Path, standin: SendGridStandIn, *, accepted: bool) -> None:
    """Start a send, let batch 1 through, hold batch 2 (accepted or not), SIGKILL the sender meanwhile."""
    standin.fault("pass")
    standin.fault("hold", deliver=accepted)
    proc = subprocess.Popen([sys.executable, "-m", "digest.cli", *send_args(issue, csv_path)], cwd=REPO,
                            env=env_for(standin), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert standin.held.wait(90), "the second request never reached the stand-in"
        # The batch is committed inflight before its request leaves.
        assert list(journal_states(issue).values()).count("inflight") == BATCH
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
        standin.release.set()
    assert proc.returncode == -signal.SIGKILL
    standin.faults.clear()


def test_an_accepted_request_whose_answer_was_lost_is_never_sent_twice(tmp_path: Path,
                                                                        standin: SendGridStandIn) -> None:
    issue = make_issue(tmp_path, batch_size=BATCH, concurrency=1)
    csv_path = tmp_path / "r.csv"
    emails = write_recipients(csv_path, N)
    kill_while_held(issue, csv_path, standin, accepted=True)
    assert sum(standin.delivered().values()) == 2 * BATCH  # batch 1, and batch 2 accepted but unanswered

    proc = digest(send_args(issue, csv_path), env_for(standin))
    out = summary(proc)
    assert proc.returncode == 1  # unknown recipients remain
    delivered = standin.delivered()
    assert max(delivered.values()) == 1  # nobody got two emails
    assert set(delivered) == set(emails)
    states = journal_states(issue)
    unknown = {e for e, s in states.items() if s == "unknown"}
    assert out["unknown"] == len(unknown) == BATCH
    assert out["sent"] == N - BATCH
    # Everyone the journal holds as unknown really was in the batch that was in flight.
    assert unknown == set(emails[BATCH:2 * BATCH])

    # Running again without the flag changes nothing and sends nothing.
    before = len(standin.records)
    proc = digest(send_args(issue, csv_path), env_for(standin))
    assert proc.returncode == 1 and summary(proc)["unknown"] == BATCH
    assert len(standin.records) == before


def test_a_request_that_never_arrived_is_held_then_resent_on_request(tmp_path: Path,
                                                                     standin: SendGridStandIn) -> None:
    issue = make_issue(tmp_path, batch_size=BATCH, concurrency=1)
    csv_path = tmp_path / "r.csv"
    emails = write_recipients(csv_path, N)
    kill_while_held(issue, csv_path, standin, accepted=False)
    assert sum(standin.delivered().values()) == BATCH

    # Without --resend-unknown: every recipient without an email is reported unknown (or failed).
    proc = digest(send_args(issue, csv_path), env_for(standin))
    out = summary(proc)
    assert proc.returncode == 1
    delivered = standin.delivered()
    assert max(delivered.values()) == 1
    without = set(emails) - set(delivered)
    states = journal_states(issue)
    assert without and all(states[e] in ("unknown", "failed") for e in without)
    assert out["unknown"] + out["failed"] == len(without) and out["sent"] == N - len(without)

    # With --resend-unknown: everyone has exactly one.
    proc = digest(send_args(issue, csv_path, "--resend-unknown"), env_for(standin))
    out = summary(proc)
    assert proc.returncode == 0, proc.stderr
    assert standin.delivered() == {e: 1 for e in emails}
    assert (out["sent"], out["unknown"], out["failed"]) == (N, 0, 0)
    assert set(journal_states(issue).values()) == {"sent"}


def test_a_second_send_while_one_runs_stops_and_changes_nothing(tmp_path: Path, standin: SendGridStandIn) -> None:
    """The run lock: a second `digest send` of the issue would otherwise take the first one's batch in flight
    for a crashed one (unknown) and mail the rest a second time."""
    issue = make_issue(tmp_path, batch_size=BATCH, concurrency=1)
    csv_path = tmp_path / "r.csv"
    emails = write_recipients(csv_path, N)
    standin.fault("pass")
    standin.fault("hold", answer=True)  # released, it is accepted and answered: the first send goes on
    first = subprocess.Popen([sys.executable, "-m", "digest.cli", *send_args(issue, csv_path)], cwd=REPO,
                             env=env_for(standin), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert standin.held.wait(90), "the second request never reached the stand-in"
        second = digest(send_args(issue, csv_path), env_for(standin))
        assert second.returncode == 1
        assert "another `digest send` of this issue is running" in second.stderr
        assert "Traceback" not in second.stderr
        assert list(journal_states(issue).values()).count("inflight") == BATCH  # the first's batch untouched
    finally:
        standin.release.set()
        out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert standin.delivered() == {e: 1 for e in emails}
