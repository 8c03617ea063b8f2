"""``digest send --backend sendgrid`` end to end against the local SendGrid stand-in (real HTTP, real client)."""

from __future__ import annotations

import csv
import html
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import KEY
from tests.conftest import REPO
from tests.support.sendgrid_standin import SendGridStandIn

pytestmark = pytest.mark.integration

SECRET = "unsubscribe-signing-secret-for-tests-0123456789"
ARTICLE = """Harbour wall repairs start on Monday

Contractors will begin repairing the north harbour wall on Monday, the port authority said.

The work closes the north quay to cars for three weeks. Pedestrians can still use the quay path, and the
ferry keeps its usual berth throughout the repairs.

The authority said the wall was damaged in last winter's storms and that the repair costs were covered.
"""


def make_issue(root: Path, *, asm_group: int = 0, batch_size: int = 1000, timeout: float = 10.0,
               **sendgrid: object) -> Path:
    """A built issue in ``root/issue`` with a digest.toml that can send (sender, unsubscribe, postal address);
    ``sendgrid`` adds keys to its [sendgrid] table."""
    from digest.compose.build import build_issue
    from digest.compose.issue_file import add_sources, new_issue

    (root / "digest.toml").write_text(
        "[newsletter]\nname = \"Harbour Notes\"\nfrom_email = \"news@harbour-notes.org\"\n"
        "postal_address = \"1 Quay Street, Portsmouth\"\n"
        "[unsubscribe]\nurl = \"https://harbour-notes.org/unsubscribe?t={token}\"\n"
        "mailto = \"leave@harbour-notes.org\"\n"
        f"[sendgrid]\nasm_group_id = {asm_group}\nbatch_size = {batch_size}\ntimeout = {timeout}\nmax_attempts = 3\n"
        "backoff_base = 0.05\nbackoff_cap = 0.2\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in sendgrid.items()),
        encoding="utf-8")
    article = root / "harbour-wall.txt"
    article.write_text(ARTICLE, encoding="utf-8")
    issue = root / "issue"
    new_issue(issue, "Harbour notes for you", "Wall repairs and more")
    result = add_sources(issue, [str(article)], None)
    assert not result.errors
    build_issue(issue)
    return issue


def write_recipients(path: Path, n: int, *, extra: list[list[str]] | None = None) -> list[str]:
    emails = [f"reader{i}@harbour-readers.org" for i in range(n)]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["email", "first_name"])
        for i, e in enumerate(emails):
            w.writerow([e, f"Reader {i}" if i % 2 else ""])
        for row in extra or []:
            w.writerow(row)
    return emails


def env_for(standin: SendGridStandIn, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SENDGRID", "DIGEST_"))}
    env.update(SENDGRID_API_KEY=KEY, DIGEST_SENDGRID_HOST=standin.url, DIGEST_UNSUBSCRIBE_SECRET=SECRET,
               PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def digest(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "digest.cli", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


def journal_states(issue: Path) -> dict[str, str]:
    db = sqlite3.connect(issue / "send-journal.sqlite")
    try:
        return dict(db.execute("SELECT key, state FROM recipients"))
    finally:
        db.close()


def summary(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert proc.stdout.strip(), proc.stderr
    return json.loads(proc.stdout)


def test_send_delivers_each_recipient_once_with_personal_values(tmp_path: Path, standin: SendGridStandIn) -> None:
    issue = make_issue(tmp_path, batch_size=400)
    csv_path = tmp_path / "r.csv"
    emails = write_recipients(csv_path, 1000, extra=[["not-an-address", "x"], ["READER1@harbour-readers.org", "dup"]])
    proc = digest(["send", str(issue), "--recipients", str(csv_path), "--backend", "sendgrid", "--json"],
                  env_for(standin))
    assert proc.returncode == 0, proc.stderr
    out = summary(proc)
    assert (out["sent"], out["failed"], out["unknown"], out["skipped"]) == (1000, 0, 0, 2)
    assert standin.status_counts() == {202: 3}  # 400 + 400 + 200
    assert standin.delivered() == {e: 1 for e in emails}
    by = {d.email: d for d in standin.deliveries}
    assert "Hi Reader 1," in by["reader1@harbour-readers.org"].text
    assert "Hi there," in by["reader0@harbour-readers.org"].text  # empty value → the template's default
    h = by["reader7@harbour-readers.org"].headers
    assert h["List-Unsubscribe"].startswith("<https://harbour-notes.org/unsubscribe?t=")
    assert h["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = h["List-Unsubscribe"].split(">")[0][1:]
    assert url in by["reader7@harbour-readers.org"].text  # the body's link is the recipient's own
    assert f'href="{html.escape(url)}"' in by["reader7@harbour-readers.org"].html
    assert all("__DG_" not in d.subject + d.text + d.html for d in standin.deliveries)  # every token substituted
    from digest.deliver import unsubscribe

    token = url.split("t=", 1)[1]
    assert unsubscribe.verify_token(token, SECRET.encode()) == "reader7@harbour-readers.org"
    assert set(journal_states(issue).values()) == {"sent"}
    assert KEY not in proc.stdout + proc.stderr


def test_missing_key_is_one_clear_line(tmp_path: Path, standin: SendGridStandIn) -> None:
    issue = make_issue(tmp_path)
    csv_path = tmp_path / "r.csv"
    write_recipients(csv_path, 3)
    env = env_for(standin)
    del env["SENDGRID_API_KEY"]
    proc = digest(["send", str(issue), "--recipients", str(csv_path), "--backend", "sendgrid"], env)
    assert proc.returncode == 1
    assert "SENDGRID_API_KEY is not set" in proc.stderr and "Traceback" not in proc.stderr
    assert not standin.records


def test_a_4xx_stops_the_send_shows_sendgrids_error_and_loses_nothing(tmp_path: Path,
                                                                    standin: SendGridStandIn) -> None:
    issue = make_issue(tmp_path, batch_size=10, concurrency=1)  # one request at a time: the 403 is batch 2's
    csv_path = tmp_path / "r.csv"
    emails = write_recipients(csv_path, 30)
    standin.fault("pass")
    standin.fault("403", field="from", message="The from address does not match a verified Sender Identity.")
    proc = digest(["send", str(issue), "--recipients", str(csv_path), "--backend", "sendgrid", "--json"],
                  env_for(standin))
    assert proc.returncode == 1
    out = summary(proc)
    assert "HTTP 403: from: The from address does not match a verified Sender Identity." in (out["error"] or "")
    assert "HTTP Error 403" not in proc.stdout + proc.stderr and "Traceback" not in proc.stderr
    assert out["sent"] == 10 and out["unknown"] == 0 and out["failed"] == 0
    assert len(standin.records) == 2  # stopped: no third request
    # The refused batch never left: back to pending, and the next run sends exactly the rest.
    proc = digest(["send", str(issue), "--recipients", str(csv_path), "--backend", "sendgrid", "--json"],
                  env_for(standin))
    assert proc.returncode == 0, proc.stderr
    assert standin.delivered() == {e: 1 for e in emails}


def test_rate_limit_and_server_errors_are_retried(tmp_path: Path, standin: SendGridStandIn) -> None:
    issue = make_issue(tmp_path, batch_size=5)
    csv_path = tmp_path / "r.csv"
    emails = write_recipients(csv_path, 12)
    standin.fault("429", retry_after=1)
    standin.fault("500")
    standin.fault("pass")
    standin.fault("502")
    t0 = time.monotonic()
    proc = digest(["send", str(issue), "--recipients", str(csv_path), "--backend", "sendgrid", "--json"],
                  env_for(standin))
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - t0 >= 1.0  # waited for Retry-After
    assert summary(proc)["sent"] == 12
    assert standin.delivered() == {e: 1 for e in emails}


def test_sandbox_marks_no_one_sent(tmp_path: Path, standin: SendGridStandIn) -> None:
    issue = make_issue(tmp_path)
    csv_path = tmp_path / "r.csv"
    write_recipients(csv_path, 5)
    proc = digest(["send", str(issue), "--recipients", str(csv_path), "--backend", "sendgrid", "--sandbox",
                   "--json"], env_for(standin))
    assert proc.returncode == 0, proc.stderr
    assert standin.sandboxed == 5 and not standin.deliveries
    assert "sent" not in journal_states(issue).values() if (issue / "send-journal.sqlite").exists() else True
    # A real send afterwards still sends to everyone.
    proc = digest(["send", str(issue), "--recipients", str(csv_path), "--backend", "sendgrid", "--json"],
                  env_for(standin))
    assert proc.returncode == 0 and summary(proc)["sent"] == 5 and len(standin.delivered()) == 5


def test_schedule_then_cancel(tmp_path: Path, standin: SendGridStandIn) -> None:
    issue = make_issue(tmp_path)
    csv_path = tmp_path / "r.csv"
    write_recipients(csv_path, 4)
    at = int(time.time()) + 2 * 3600
    proc = digest(["send", str(issue), "--recipients", str(csv_path), "--backend", "sendgrid", "--at", str(at),
                   "--json"], env_for(standin))
    assert proc.returncode == 0, proc.stderr
    batch_id = json.loads((issue / "sendgrid-schedule.json").read_text())["batch_id"]
    assert {(d.send_at, d.batch_id) for d in standin.deliveries} == {(at, batch_id)}
    proc = digest(["send", str(issue), "--cancel"], env_for(standin))
    assert proc.returncode == 0, proc.stderr
    assert standin.batches[batch_id] == "cancel"


def test_at_more_than_72_hours_ahead_is_refused(tmp_path: Path, standin: SendGridStandIn) -> None:
    issue = make_issue(tmp_path)
    csv_path = tmp_path / "r.csv"
    write_recipients(csv_path, 2)
    at = int(time.time()) + 73 * 3600
    proc = digest(["send", str(issue), "--recipients", str(csv_path), "--backend", "sendgrid", "--at", str(at)],
                  env_for(standin))
    assert proc.returncode == 2 and "72 hours" in proc.stderr and "Traceback" not in proc.stderr
    assert not standin.records


def test_asm_group_replaces_digests_own_unsubscribe(tmp_path: Path, standin: SendGridStandIn) -> None:
    issue = make_issue(tmp_path, asm_group=321)
    csv_path = tmp_path / "r.csv"
    write_recipients(csv_path, 3)
    proc = digest(["send", str(issue), "--recipients", str(csv_path), "--backend", "sendgrid", "--json"],
                  env_for(standin))
    assert proc.returncode == 0, proc.stderr
    for d in standin.deliveries:
        assert d.asm == {"group_id": 321}
        assert not any(k.lower() == "list-unsubscribe" for k in d.headers)
        assert "<%asm_group_unsubscribe_raw_url%>" in d.html


def test_debug_never_shows_the_key_or_bodies(tmp_path: Path, standin: SendGridStandIn) -> None:
    issue = make_issue(tmp_path)
    csv_path = tmp_path / "r.csv"
    write_recipients(csv_path, 3)
    proc = digest(["--debug", "send", str(issue), "--recipients", str(csv_path), "--backend", "sendgrid"],
                  env_for(standin))
    assert proc.returncode == 0, proc.stderr
    assert KEY not in proc.stdout + proc.stderr
    assert "PAYLOAD" not in proc.stderr and "reader1@harbour-readers.org" not in proc.stderr
