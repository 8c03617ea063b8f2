"""``digest send --ab-test SHARE`` and ``--ab-winner auto|N`` end to end: deliveries counted at the SendGrid
stand-in (or read from the outbox's raw files), click events signed and posted to a real ``digest
events-server`` process, and ``digest report --json`` reading each variant's figures."""

from __future__ import annotations

import collections
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_events_server import EventsServer, Signer, dumps, event, signer  # noqa: F401 - fixtures
from tests.cli.test_send_sendgrid import SECRET, digest, env_for, make_issue, write_recipients
from tests.support.sendgrid_standin import SendGridStandIn

pytestmark = pytest.mark.integration

SUBJECTS = ["Harbour notes: the wall", "The ferry keeps its berth"]


def with_variants(issue: Path, subjects: list[str] = SUBJECTS) -> None:
    """Put ``subject_variants`` beside ``subject`` in issue.toml (top level, before the [[articles]] tables)."""
    from digest.compose.build import build_issue

    path = issue / "issue.toml"
    text = path.read_text(encoding="utf-8")
    line = "subject_variants = " + json.dumps(subjects, ensure_ascii=False) + "\n"
    text = re.sub(r"^(subject = .*\n)", lambda m: m.group(1) + line, text, count=1, flags=re.M)
    path.write_text(text, encoding="utf-8")
    build_issue(issue)


def outbox_mail(issue: Path) -> list[tuple[str, bytes]]:
    """(recipient, raw Subject header value) of every message in the outbox, read as bytes."""
    found = []
    for f in (issue / "outbox").glob("*.eml"):
        raw = f.read_bytes()
        to = re.search(rb"^To: *(?:.*<)?([^<>\s]+@[^<>\s]+?)>?\r?$", raw, re.M)
        subject = re.search(rb"^Subject: (.*?)\r?$", raw, re.M)
        assert to and subject, f
        found.append((to.group(1).decode().lower(), subject.group(1)))
    return found


def outbox_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SENDGRID", "DIGEST_"))}
    env.update(DIGEST_UNSUBSCRIBE_SECRET=SECRET, PYTHONUNBUFFERED="1")
    return env


def last_json(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert proc.stdout.count("\n") == 1, proc.stdout  # exactly one JSON object on stdout
    return json.loads(proc.stdout)


def test_ab_test_splits_a_fifth_evenly_and_auto_sends_the_rest_the_subject_clicked_most(
        tmp_path: Path, signer: Signer, standin: SendGridStandIn) -> None:  # noqa: F811 - signer is a fixture
    issue = make_issue(tmp_path, batch_size=100)
    with_variants(issue)
    csv_path = tmp_path / "r.csv"
    emails = write_recipients(csv_path, 1500, extra=[["not-an-address", "x"]])
    env = env_for(standin)
    send = ["send", str(issue), "--recipients", str(csv_path), "--backend", "sendgrid", "--json"]

    proc = digest([*send, "--ab-test", "20%"], env)
    assert proc.returncode == 0, proc.stderr
    out = last_json(proc)
    assert out["ab"]["test_recipients"] == [150, 150] and out["ab"]["eligible"] == 1500
    by_subject = collections.Counter(d.subject for d in standin.deliveries)
    assert by_subject == {SUBJECTS[0]: 150, SUBJECTS[1]: 150}  # 20 % of 1,500, split evenly
    assert set(standin.delivered().values()) == {1}
    variant_of = {d.email: SUBJECTS.index(d.subject) + 1 for d in standin.deliveries}

    again = digest([*send, "--ab-test", "20%"], env)  # the same command again: the same people, all sent
    assert again.returncode == 0, again.stderr
    assert len(standin.deliveries) == 300 and last_json(again)["ab"]["resumed"] is True
    assert "resuming the test" in again.stderr

    # Events: every test recipient delivered; variant 1 opened more, variant 2 clicked more.
    args = {d.email: d.custom_args for d in standin.deliveries}
    group = {n: sorted(e for e, v in variant_of.items() if v == n) for n in (1, 2)}
    events: list[dict[str, Any]] = []

    def add(kind: str, who: list[str], **extra: Any) -> None:
        for email in who:
            events.append({**event(kind, email, "", len(events), **extra), **args[email]})

    add("delivered", group[1] + group[2])
    add("open", group[1][:100], sg_machine_open=False)
    add("open", group[1][100:], sg_machine_open=True)  # Apple Mail: left out of the open rate
    add("open", group[2][:60], sg_machine_open=False)
    add("click", group[1][:15], url="https://harbour-notes.org/wall")
    add("click", group[2][:45], url="https://harbour-notes.org/ferry")
    add("click", group[2][:45], url="https://harbour-notes.org/ferry")  # a second click counts once
    server = EventsServer(tmp_path, signer.public)
    try:
        body = dumps(events)
        status, answer = server.post(body, signer.headers(body))
        assert status == 200, answer
        assert server.settle(1)["stored"] == len(events)
    finally:
        server.stop()

    proc = digest([*send, "--ab-winner", "auto"], env)
    assert proc.returncode == 0, proc.stderr
    out = last_json(proc)
    assert (out["ab"]["winner"], out["ab"]["chosen_by"]) == (2, "auto")
    # The figures it chose on: the click rates of delivered (and the opens, without machine opens).
    assert f"1. {SUBJECTS[0]!r}: sent 150, delivered 150, clicked 15 (10.00%), opened 100 (66.67%)" in proc.stderr
    assert f"2. {SUBJECTS[1]!r}: sent 150, delivered 150, clicked 45 (30.00%), opened 60 (40.00%)" in proc.stderr
    assert out["this_run"]["sent"] == 1200 and out["sent"] == 1500
    assert standin.delivered() == {e: 1 for e in emails}  # every address exactly once over both steps
    rest = [d for d in standin.deliveries if d.email not in variant_of]
    assert len(rest) == 1200 and {d.subject for d in rest} == {SUBJECTS[1]}

    again = digest([*send, "--ab-winner", "auto"], env)
    assert again.returncode == 0, again.stderr
    assert last_json(again)["this_run"]["sent"] == 0 and len(standin.deliveries) == 1500
    assert digest([*send, "--ab-test", "20%"], env).returncode == 0 and len(standin.deliveries) == 1500

    report = last_json(digest(["report", str(issue), "--json"], env))
    got = [{k: v[k] for k in ("variant", "subject", "recipients", "sent", "delivered", "opened", "machine_opens",
                              "clicked", "winner")} for v in report["variants"]]
    assert got == [
        {"variant": 1, "subject": SUBJECTS[0], "recipients": 150, "sent": 150, "delivered": 150, "opened": 100,
         "machine_opens": 50, "clicked": 15, "winner": False},
        {"variant": 2, "subject": SUBJECTS[1], "recipients": 150, "sent": 150, "delivered": 150, "opened": 60,
         "machine_opens": 0, "clicked": 45, "winner": True},
    ]
    assert report["variants"][1]["rates"]["clicked"] == 0.3
    html = tmp_path / "report.html"
    assert digest(["report", str(issue), "--html", str(html)], env).returncode == 0
    page = html.read_text(encoding="utf-8")
    assert "A/B subjects" in page and "The ferry keeps its berth" in page and "<script" not in page


def test_too_few_recipients_for_the_share_is_one_clear_error_and_sends_nothing(
        tmp_path: Path, standin: SendGridStandIn) -> None:
    issue = make_issue(tmp_path)
    with_variants(issue)
    csv_path = tmp_path / "r.csv"
    write_recipients(csv_path, 900)
    proc = digest(["send", str(issue), "--recipients", str(csv_path), "--backend", "sendgrid", "--ab-test", "20%"],
                  env_for(standin))
    assert proc.returncode == 2, proc.stderr
    assert ("digest: error: --ab-test 20%: 20% of 900 recipient(s) is 180, 90 per subject for 2 subjects; an A/B "
            "test needs at least 100 per subject") in proc.stderr
    assert "Traceback" not in proc.stderr
    assert standin.status_counts() == {} and not (issue / "send-journal.sqlite").exists()

    proc = digest(["send", str(issue), "--recipients", str(csv_path), "--ab-winner", "auto"], env_for(standin))
    assert proc.returncode == 2 and "has no A/B test to choose a winner of" in proc.stderr


def test_winner_by_hand_on_the_outbox_mails_everyone_once(tmp_path: Path) -> None:
    issue = make_issue(tmp_path)
    with_variants(issue, ["Harbour notes: the wall", "Harbour notes: the ferry", "Harbour notes: the museum"])
    csv_path = tmp_path / "r.csv"
    emails = write_recipients(csv_path, 1300)
    send = ["send", str(issue), "--recipients", str(csv_path)]
    env = outbox_env()

    proc = digest([*send, "--ab-test", "25%"], env)
    assert proc.returncode == 0, proc.stderr
    mail = outbox_mail(issue)
    # 25 % of 1,300 is 325: 108 per subject (the even split leaves the odd one for the rest).
    assert collections.Counter(s for _, s in mail) == {b"Harbour notes: the wall": 108,
                                                       b"Harbour notes: the ferry": 108,
                                                       b"Harbour notes: the museum": 108}
    tested = {to for to, _ in mail}

    proc = digest([*send, "--ab-test", "30%"], env)  # another share than the test was started with
    assert proc.returncode == 2 and "was started with --ab-test 25%, not 30%" in proc.stderr
    proc = digest([*send, "--ab-winner", "auto"], env)  # the outbox has no events
    assert proc.returncode == 2 and "--ab-winner auto needs SendGrid's events" in proc.stderr
    proc = digest([*send, "--ab-winner", "4"], env)
    assert proc.returncode == 2 and "has 3 subjects" in proc.stderr
    proc = digest(send, env)  # a plain send would mail the rest the issue's own subject
    assert proc.returncode == 2 and "waiting for its winner" in proc.stderr
    assert len(outbox_mail(issue)) == 324

    proc = digest([*send, "--ab-winner", "2", "--json"], env)
    assert proc.returncode == 0, proc.stderr
    assert last_json(proc)["ab"]["chosen_by"] == "hand"
    mail = outbox_mail(issue)
    assert collections.Counter(to for to, _ in mail) == {e.lower(): 1 for e in emails}
    assert {s for to, s in mail if to not in tested} == {b"Harbour notes: the ferry"}

    proc = digest([*send, "--ab-winner", "3"], env)  # the rest already went out with variant 2's subject
    assert proc.returncode == 2 and "variant 2 was already chosen" in proc.stderr
    proc = digest(send, env)
    assert proc.returncode == 2 and "resume with --ab-winner auto" in proc.stderr
    assert len(outbox_mail(issue)) == 1300
