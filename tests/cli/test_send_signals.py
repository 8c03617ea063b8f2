"""A real `digest send` process stopped by SIGTERM / Ctrl-C mid-send (slow SMTP server) resumes cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from digest.deliver.journal import Journal, journal_path
from tests.support.newsletter import SECRET, make_issue, write_csv
from tests.support.smtpserver import Recorder, SmtpServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]
PEOPLE = [f"reader{i}@example.com" for i in range(24)]
BATCH = 3


def _send(issue: Path, csv: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "DIGEST_UNSUBSCRIBE_SECRET": SECRET}
    env.pop("DIGEST_SUPPRESSIONS", None)
    return subprocess.Popen([sys.executable, "-m", "digest.cli", "send", str(issue), "--recipients", str(csv),
                             "--backend", "smtp", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_after_the_batch_in_flight_and_resume_sends_the_rest(tmp_path: Path, sig: int) -> None:
    rec = Recorder(delay=0.05)
    with SmtpServer(rec) as srv:
        issue = make_issue(tmp_path, smtp={"host": "127.0.0.1", "port": srv.port, "timeout": 10,
                                           "batch_size": BATCH})
        csv = write_csv(tmp_path / "r.csv", [f"{p},N" for p in PEOPLE])
        proc = _send(issue, csv)
        deadline = time.monotonic() + 60
        while len(rec.received()) < 4 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 1, err
        data = json.loads(out)
        assert data["interrupted"] is True
        received = rec.received()
        assert 4 <= len(received) < len(PEOPLE)
        assert len(received) % BATCH == 0  # the batch in flight was finished, nothing begun after it
        assert data["sent"] == len(received)
        with Journal(journal_path(issue), "issue-7") as j:
            states = dict(j.db.execute("SELECT state, COUNT(*) FROM recipients GROUP BY state"))
        assert "inflight" not in states and "unknown" not in states
        assert states["sent"] == len(received)
        assert "stopping after the batches in flight" in err

        proc = _send(issue, csv)
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    data = json.loads(out)
    assert data["sent"] == len(PEOPLE) and data["this_run"]["sent"] == len(PEOPLE) - len(received)
    assert sorted(rec.received()) == sorted(PEOPLE)  # every reader exactly once over the two runs
