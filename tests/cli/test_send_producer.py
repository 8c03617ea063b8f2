"""The SendGrid first run's producer process: same result as the in-process path, and it dies with the sender.

``DIGEST_SEND_PRODUCER=0`` forces the in-process path; by default a first SendGrid run on Linux forks a producer
that reads, validates, dedupes and serializes the batches while the sender only claims, sends and records.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.test_send_sendgrid import KEY, digest, env_for, journal_states, make_issue, summary, write_recipients
from tests.conftest import REPO, shared_path
from tests.support.sendgrid_standin import SendGridStandIn

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the producer process is Linux-only")]

EXTRA = [["not-an-address", "x"], ["READER1@harbour-readers.org", "dup"], ["", "no address"],
         ["gone@harbour-readers.org", "suppressed"], ["reader5@HARBOUR-readers.org", "dup again"]]


def run_send(root: Path, producer: str) -> tuple[dict, dict[str, int], dict[str, str], list[str]]:
    root.mkdir()
    issue = make_issue(root, batch_size=300)
    from digest.deliver.suppressions import SUPPRESSIONS_NAME

    (root / SUPPRESSIONS_NAME).write_text("gone@harbour-readers.org\n", encoding="utf-8")
    csv_path = root / "r.csv"
    write_recipients(csv_path, 1000, extra=EXTRA)
    with SendGridStandIn(spec=shared_path("sendgrid", "tsg_mail_v3.json"), api_key=KEY) as sg:
        proc = digest(["send", str(issue), "--recipients", str(csv_path), "--backend", "sendgrid", "--json"],
                      env_for(sg, DIGEST_SEND_PRODUCER=producer))
        assert proc.returncode == 0, proc.stderr
        texts = sorted(f"{d.email}\n{d.text}" for d in sg.deliveries)
        return summary(proc), sg.delivered(), journal_states(issue), texts


def test_producer_and_in_process_paths_give_the_same_send(tmp_path: Path) -> None:
    with_producer = run_send(tmp_path / "producer", "1")
    in_process = run_send(tmp_path / "in-process", "0")
    out, delivered, states, texts = with_producer
    assert out["sent"] == 1000 and out["skipped"] == in_process[0]["skipped"] >= 4
    for key in ("sent", "skipped_by_reason", "problems", "problems_total", "batches", "this_run", "failed"):
        assert out[key] == in_process[0][key], key
    assert {p["line"] for p in out["problems"]} == {1002, 1003, 1004, 1005, 1006}  # each with its line
    assert delivered == in_process[1] and set(delivered.values()) == {1}
    assert states == in_process[2]
    assert texts == in_process[3]  # same personal bodies, same signed links


def children_of(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def test_sigkill_of_the_sender_leaves_no_child_behind(tmp_path: Path) -> None:
    issue = make_issue(tmp_path, batch_size=100, concurrency=1)  # one request out: the held one is the second
    csv_path = tmp_path / "r.csv"
    write_recipients(csv_path, 20_000)  # far more than the pipe holds: the producer is blocked, alive
    with SendGridStandIn(spec=shared_path("sendgrid", "tsg_mail_v3.json"), api_key=KEY) as sg:
        sg.fault("pass")
        sg.fault("hold", deliver=False)
        proc = subprocess.Popen([sys.executable, "-m", "digest.cli", "send", str(issue), "--recipients",
                                 str(csv_path), "--backend", "sendgrid", "--json"], cwd=REPO, env=env_for(sg),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert sg.held.wait(90), "the second request never reached the stand-in"
            kids = children_of(proc.pid)
            assert len(kids) == 1, "a first SendGrid run on Linux uses one producer process"
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)
            sg.release.set()

        def alive(pid: int) -> bool:
            try:
                return ") Z " not in Path(f"/proc/{pid}/stat").read_text()  # a zombie waiting for init: dead
            except OSError:
                return False

        deadline = time.monotonic() + 10
        while any(alive(k) for k in kids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(alive(k) for k in kids), "a child outlived the sender"
        assert sg.status_counts().get(202, 0) <= 2  # nothing sent after the kill (the producer never sends)
