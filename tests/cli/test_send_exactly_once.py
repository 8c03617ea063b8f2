"""``digest send --backend sendgrid`` when answers are lost, requests overlap, or a scheduled send is cancelled.

Every test counts deliveries at the SendGrid stand-in (HTTP/1.1 keep-alive, 127.0.0.1): nobody may get two
emails unless the editor asked for it with ``--resend-unknown``.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.test_send_sendgrid import digest, env_for, journal_states, make_issue, summary, write_recipients
from tests.conftest import REPO
from tests.support.sendgrid_standin import SendGridStandIn

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def send_args(issue: Path, csv_path: Path, *more: str) -> list[str]:
    return ["send", str(issue), "--recipients", str(csv_path), "--backend", "sendgrid", "--json", *more]


def wait_for(condition: object, seconds: float = 30.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


# --------------------------------------------------------------------------------------- issue 12: lost answers


@pytest.mark.parametrize("fault", ["drop_after_accept", "slow"])
def test_a_lost_answer_holds_the_batch_unknown_and_nobody_gets_two(tmp_path: Path, standin: SendGridStandIn,
                                                                   fault: str) -> None:
    issue = make_issue(tmp_path, batch_size=5, timeout=1.0)
    csv_path = tmp_path / "r.csv"
    emails = write_recipients(csv_path, 20)
    standin.fault("pass")
    standin.fault(fault, delay=3.0)  # slow: accepted at once, answered after the client's 1 s timeout
    proc = digest(send_args(issue, csv_path), env_for(standin))
    out = summary(proc)
    assert proc.returncode == 1, proc.stderr
    delivered = standin.delivered()
    assert max(delivered.values()) == 1
    states = journal_states(issue)
    unknown = {e for e, s in states.items() if s == "unknown"}
    assert out["unknown"] == len(unknown) == 5
    assert unknown <= set(delivered)  # the lost answer's batch was accepted: it is held, not lost
    assert "may have been accepted" in (out["error"] or "")

    proc = digest(send_args(issue, csv_path), env_for(standin))  # resume: the rest, not the unknown batch
    assert proc.returncode == 1 and summary(proc)["unknown"] == 5
    assert standin.delivered() == {e: 1 for e in emails}

    proc = digest(send_args(issue, csv_path, "--resend-unknown"), env_for(standin))
    assert proc.returncode == 0, proc.stderr
    assert standin.delivered() == {e: 2 if e in unknown else 1 for e in emails}  # asked for, knowing the risk


# ------------------------------------------------------------------------------------ issue 12: --cancel


@pytest.mark.parametrize("later", ["at", "now"])
def test_cancel_releases_the_recipients_and_a_later_send_mails_them_once(tmp_path: Path, standin: SendGridStandIn,
                                                                         later: str) -> None:
    issue = make_issue(tmp_path, batch_size=2)
    csv_path = tmp_path / "r.csv"
    emails = write_recipients(csv_path, 4)
    at = int(time.time()) + 2 * 3600
    proc = digest(send_args(issue, csv_path, "--at", str(at)), env_for(standin))
    assert proc.returncode == 0, proc.stderr
    assert summary(proc)["sent"] == 4
    cancelled = standin.deliveries[0].batch_id
    assert cancelled
    proc = digest(["send", str(issue), "--cancel"], env_for(standin))
    assert proc.returncode == 0, proc.stderr
    assert "4 recipient(s)" in proc.stdout and "pending" in proc.stdout
    assert set(journal_states(issue).values()) == {"pending"}
    assert not standin.delivered()  # SendGrid cancelled the scheduled messages: nobody gets them

    more = ["--at", str(at + 600)] if later == "at" else []
    proc = digest(send_args(issue, csv_path, *more), env_for(standin))
    assert proc.returncode == 0, proc.stderr
    out = summary(proc)
    assert out["sent"] == 4 and out["this_run"]["sent"] == 4
    assert standin.delivered() == {e: 1 for e in emails}
    again = {d.batch_id for d in standin.deliveries[4:]}
    if later == "at":  # a new SendGrid batch: the cancelled one would cancel these too
        assert len(again) == 1 and None not in again and cancelled not in again
    else:
        assert again == {None}


# ---------------------------------------------------------------------- issue 12: warnings before sending


def test_dry_run_reports_an_at_time_in_the_past(tmp_path: Path, standin: SendGridStandIn) -> None:
    issue = make_issue(tmp_path)
    csv_path = tmp_path / "r.csv"
    write_recipients(csv_path, 3)
    proc = digest(["send", str(issue), "--recipients", str(csv_path), "--backend", "sendgrid", "--dry-run",
                   "--at", "2020-01-01T09:00+00:00"], env_for(standin))
    assert proc.returncode == 2, proc.stderr
    assert "in the past" in proc.stderr and "Traceback" not in proc.stderr
    assert not standin.records


def test_plain_http_host_other_than_loopback_is_warned(tmp_path: Path, standin: SendGridStandIn) -> None:
    issue = make_issue(tmp_path)
    csv_path = tmp_path / "r.csv"
    write_recipients(csv_path, 3)
    args = ["send", str(issue), "--recipients", str(csv_path), "--backend", "sendgrid", "--dry-run", "--json"]
    proc = digest(args, env_for(standin, DIGEST_SENDGRID_HOST="http://sendgrid-proxy.example.net"))
    assert proc.returncode == 0, proc.stderr
    warned = [w for w in summary(proc)["warnings"] if "sendgrid-proxy.example.net" in w]
    assert warned and "plain http" in warned[0] and "warning:" in proc.stderr
    proc = digest(args, env_for(standin))  # http://127.0.0.1:PORT: loopback, no warning
    assert proc.returncode == 0 and not [w for w in summary(proc)["warnings"] if "plain http" in w]


# ---------------------------------------------------------------------------- issue 13: requests in flight


def test_requests_overlap_over_kept_alive_connections(tmp_path: Path, standin: SendGridStandIn) -> None:
    standin.latency = 0.3
    issue = make_issue(tmp_path, batch_size=10, concurrency=4)
    csv_path = tmp_path / "r.csv"
    emails = write_recipients(csv_path, 200)
    proc = digest(send_args(issue, csv_path), env_for(standin))
    assert proc.returncode == 0, proc.stderr
    out = summary(proc)
    assert standin.delivered() == {e: 1 for e in emails}
    assert set(journal_states(issue).values()) == {"sent"}
    stats = standin.stats()
    assert 2 <= stats["max_inflight"] <= 4  # overlapping at the receiver, never more than asked
    assert stats["connections"] <= 4 < stats["requests"]  # kept alive and reused
    assert 2 <= out["max_in_flight"] <= 4 and out["rate_limited"] == 0


def test_a_429_storm_completes_with_nobody_twice(tmp_path: Path, standin: SendGridStandIn) -> None:
    standin.rate_limit_every = 4
    standin.retry_after = 1.0
    issue = make_issue(tmp_path, batch_size=5, concurrency=4)
    csv_path = tmp_path / "r.csv"
    emails = write_recipients(csv_path, 60)
    proc = digest(send_args(issue, csv_path), env_for(standin))
    assert proc.returncode == 0, proc.stderr
    out = summary(proc)
    assert standin.delivered() == {e: 1 for e in emails}
    assert out["rate_limited"] == standin.rate_limited >= 3
    assert standin.status_counts()[429] == standin.rate_limited


def test_a_rate_limit_without_retry_after_is_waited_out(tmp_path: Path, standin: SendGridStandIn) -> None:
    """SendGrid's kind of limit: N requests a second, the rest 429 with only X-RateLimit-Reset (no Retry-After):
    the sender waits for the reset (``rate_limit_delay``), retries, and mails everyone once."""
    standin.rate_limit = 4
    standin.latency = 0.05
    issue = make_issue(tmp_path, batch_size=5, concurrency=8)
    csv_path = tmp_path / "r.csv"
    emails = write_recipients(csv_path, 100)  # 20 batches: five seconds at the limit
    proc = digest(send_args(issue, csv_path), env_for(standin))
    assert proc.returncode == 0, proc.stderr
    out = summary(proc)
    assert standin.delivered() == {e: 1 for e in emails}
    assert out["rate_limited"] == standin.rate_limited >= 1
    assert standin.status_counts()[202] == 20


def test_a_kill_with_several_batches_in_flight_leaves_each_unknown(tmp_path: Path,
                                                                   standin: SendGridStandIn) -> None:
    standin.latency = 60.0  # accepted at once, answered a minute later: the kill comes first
    issue = make_issue(tmp_path, batch_size=10, concurrency=3)
    csv_path = tmp_path / "r.csv"
    emails = write_recipients(csv_path, 100)
    proc = subprocess.Popen([sys.executable, "-m", "digest.cli", *send_args(issue, csv_path)], cwd=REPO,
                            env=env_for(standin), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: standin.inflight == 3, 20), "three requests never overlapped"
        states = collections.Counter(journal_states(issue).values())
        assert states["inflight"] == 30  # each committed inflight before its request left
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    standin.latency = 0.0
    proc2 = digest(send_args(issue, csv_path), env_for(standin))
    out = summary(proc2)
    assert proc2.returncode == 1
    assert out["unknown"] == 30 and out["sent"] == 70
    assert standin.delivered() == {e: 1 for e in emails}  # the three batches in flight were not sent again


def test_ctrl_c_waits_for_every_batch_in_flight(tmp_path: Path, standin: SendGridStandIn) -> None:
    standin.latency = 1.0
    issue = make_issue(tmp_path, batch_size=10, concurrency=3)
    csv_path = tmp_path / "r.csv"
    emails = write_recipients(csv_path, 300)
    proc = subprocess.Popen([sys.executable, "-m", "digest.cli", *send_args(issue, csv_path)], cwd=REPO,
                            env=env_for(standin), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: sum(standin.delivered().values()) >= 30 and standin.inflight == 3, 30)
        proc.send_signal(signal.SIGINT)
        out_text, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    assert proc.returncode == 1, err
    import json

    out = json.loads(out_text)
    assert out["interrupted"] is True and out["unknown"] == 0
    states = collections.Counter(journal_states(issue).values())
    assert "inflight" not in states and "unknown" not in states  # every batch out was answered and settled
    delivered = standin.delivered()
    assert states["sent"] == out["sent"] == len(delivered) < len(emails)
    proc2 = digest(send_args(issue, csv_path), env_for(standin))
    assert proc2.returncode == 0, proc2.stderr
    assert standin.delivered() == {e: 1 for e in emails}


class Progress:
    """Records what the progress bar would draw: (recipients settled or skipped, sent)."""

    enabled = True

    def __init__(self) -> None:
        self.total: int | None = None
        self.updates: list[tuple[int, int]] = []

    def update(self, done: int, sent: int, *, force: bool = False) -> None:
        self.updates.append((done, sent))

    def close(self) -> None:
        pass


def test_progress_counts_recipients_settled_not_rows_read(tmp_path: Path, standin: SendGridStandIn,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from test_send_sendgrid import SECRET

    from digest.deliver.send import send_issue

    standin.latency = 0.2  # rows are read long before their answers come
    issue = make_issue(tmp_path, batch_size=10, concurrency=3)
    csv_path = tmp_path / "r.csv"
    write_recipients(csv_path, 60, extra=[["not-an-address", "x"]])
    for k, v in env_for(standin, DIGEST_UNSUBSCRIBE_SECRET=SECRET).items():
        monkeypatch.setenv(k, v)
    progress = Progress()
    report = send_issue(issue, csv_path, "sendgrid", progress=progress, json_output=True)
    assert report.ok and progress.total == 61
    delivered_after = [sum(standin.delivered().values())]  # nothing can have been counted before delivery
    assert progress.updates and progress.updates[-1] == (61, 60)
    for done, sent in progress.updates:
        assert sent % 10 == 0 and done - sent in (0, 1)  # whole batches answered, plus the skipped row
        assert sent <= delivered_after[0]
    assert progress.updates[0][1] >= 10  # the first update follows the first answer, not the first rows read
