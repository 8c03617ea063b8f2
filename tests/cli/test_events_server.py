"""``digest events-server`` as a real process over HTTP/1.1, fed events signed with a throwaway P-256 key, and
``digest report --json`` / the next send reading what it stored."""

from __future__ import annotations

import base64
import http.client
import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.cli.test_send_sendgrid import digest, env_for, make_issue, write_recipients
from tests.conftest import REPO
from tests.support.sendgrid_standin import SendGridStandIn

pytestmark = pytest.mark.integration


class Signer:
    """Signs bodies as SendGrid does: ECDSA P-256 / SHA-256 over the timestamp header followed by the body."""

    def __init__(self) -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())
        der = self.private.public_key().public_bytes(serialization.Encoding.DER,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo)
        self.public = base64.b64encode(der).decode()

    def headers(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        sig = self.private.sign(ts.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {"X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(sig).decode(),
                "X-Twilio-Email-Event-Webhook-Timestamp": ts}


class EventsServer:
    """A real ``python3 -m digest.cli events-server`` process on a free loopback port."""

    def __init__(self, root: Path, key: str, env: dict[str, str] | None = None) -> None:
        env = dict(env or {k: v for k, v in os.environ.items() if not k.startswith(("SENDGRID", "DIGEST_"))})
        env.update(DIGEST_SENDGRID_WEBHOOK_KEY=key, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen([sys.executable, "-m", "digest.cli", "events-server", "--port", "0",
                                      "--dir", str(root)], env=env, cwd=REPO, stderr=subprocess.PIPE, text=True)
        assert self.proc.stderr is not None
        line = self.proc.stderr.readline()
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert found, line + self.proc.stderr.read()
        self.port = int(found.group(1))
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def post(self, body: bytes, headers: dict[str, str], path: str = "/sendgrid/events") -> tuple[int, bytes]:
        self.conn.request("POST", path, body=body, headers={"Content-Type": "application/json", **headers})
        resp = self.conn.getresponse()
        return resp.status, resp.read()

    def counters(self) -> dict[str, int]:
        self.conn.request("GET", "/")
        resp = self.conn.getresponse()
        assert resp.status == 200
        return json.loads(resp.read())

    def settle(self, posts: int, timeout: float = 60) -> dict[str, int]:
        """The counters once ``posts`` posts were accepted and none is waiting to be processed."""
        end = time.monotonic() + timeout
        while True:
            c = self.counters()
            if c["posts"] >= posts and c["pending"] == 0:
                return c
            assert time.monotonic() < end, c
            time.sleep(0.05)

    def stop(self) -> str:
        self.conn.close()
        self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err


@pytest.fixture
def signer() -> Signer:
    return Signer()


def event(kind: str, email: str, issue: str, n: int, **extra: Any) -> dict[str, Any]:
    return {"email": email, "timestamp": int(time.time()) + n % 50, "event": kind, "sg_event_id": f"ev-{kind}-{n}",
            "sg_message_id": f"msg{n}.filter", "digest_issue": issue, **extra}


def dumps(events: list[dict[str, Any]]) -> bytes:
    return json.dumps(events, separators=(",", ":")).encode()


def events_in_store(issue: Path) -> int:
    import sqlite3

    db = sqlite3.connect(issue / "events.sqlite")
    try:
        return int(db.execute("SELECT COUNT(*) FROM events").fetchone()[0])
    finally:
        db.close()


def test_unsigned_altered_and_old_posts_are_refused_on_one_keep_alive_connection(
        tmp_path: Path, signer: Signer) -> None:
    issue = make_issue(tmp_path)
    server = EventsServer(tmp_path, signer.public)
    try:
        body = dumps([event("delivered", f"r{i}@harbour-readers.org", "issue", i) for i in range(3)])
        good = signer.headers(body)
        assert server.post(body, {})[0] == 403  # unsigned
        altered = body.replace(b"r1@", b"x1@")
        assert server.post(altered, good)[0] == 403  # the signature is the original body's
        assert server.post(body, {**good, "X-Twilio-Email-Event-Webhook-Timestamp": str(int(time.time()) + 1)})[0] \
            == 403  # the timestamp is signed too
        assert server.post(body, signer.headers(body, int(time.time()) - 3600))[0] == 403  # an hour old
        assert server.post(body, Signer().headers(body))[0] == 403  # another key
        sock = server.conn.sock
        status, answer = server.post(body, good)
        assert status == 200, answer
        assert server.conn.sock is sock  # every answer kept the same HTTP/1.1 connection open
        c = server.settle(1)
        assert (c["refused_unsigned"], c["refused_bad_signature"], c["refused_old"]) == (1, 3, 1)
        assert (c["posts"], c["stored"]) == (1, 3)
        assert events_in_store(issue) == 3
    finally:
        err = server.stop()
    assert "harbour-readers.org" not in err  # refusals are logged without addresses


def test_a_replayed_post_is_counted_once_and_survives_a_restart(tmp_path: Path, signer: Signer) -> None:
    issue = make_issue(tmp_path)
    body = dumps([event("delivered", f"r{i}@harbour-readers.org", "issue", i) for i in range(5)]
                 + [event("open", "r0@harbour-readers.org", "issue", 100)])
    server = EventsServer(tmp_path, signer.public)
    try:
        headers = signer.headers(body)
        assert server.post(body, headers)[0] == 200
        assert server.post(body, headers)[0] == 200  # SendGrid retries: same body, same signature
        c = server.settle(2)
        assert (c["events"], c["stored"], c["duplicates"]) == (12, 6, 6)
    finally:
        server.stop()
    server = EventsServer(tmp_path, signer.public)  # a restart keeps what was stored, and still dedupes
    try:
        assert server.post(body, signer.headers(body))[0] == 200
        c = server.settle(3)
        assert (c["stored"], c["duplicates"]) == (6, 12)
    finally:
        server.stop()
    assert events_in_store(issue) == 6
    out = json.loads(subprocess.run([sys.executable, "-m", "digest.cli", "report", str(issue), "--json"],
                                    capture_output=True, text=True, cwd=REPO, check=True).stdout)
    assert (out["delivered"], out["opened"]) == (5, 1)


def test_two_thousand_recipients_report_exact_unique_counts_and_suppress_for_the_next_send(
        tmp_path: Path, signer: Signer, standin: SendGridStandIn) -> None:
    from digest.compose.build import build_issue
    from digest.compose.issue_file import add_sources, new_issue

    issue = make_issue(tmp_path)
    csv_path = tmp_path / "r.csv"
    emails = write_recipients(csv_path, 2000)
    proc = digest(["send", str(issue), "--recipients", str(csv_path), "--backend", "sendgrid", "--json"],
                  env_for(standin))
    assert proc.returncode == 0, proc.stderr
    deliveries = standin.deliveries
    assert len(deliveries) == 2000 and {d.custom_args["digest_issue"] for d in deliveries} == {"issue"}

    rng = random.Random(16)
    people = [d.email for d in deliveries]
    rng.shuffle(people)
    bounced, blocked, deferred_then_ok = people[:40], people[40:50], people[50:80]
    delivered = people[50:]
    readers, machine_only = delivered[:900], delivered[900:1000]
    machine_too = readers[:150]  # Apple Mail fetched it, then the reader opened it too
    clickers_a, clickers_b = readers[:250], readers[200:420]  # 50 clicked both links
    complainers, unsubscribers = readers[500:507], readers[600:605]
    args = {d.email: d.custom_args for d in deliveries}
    n = 0
    events: list[dict[str, Any]] = []

    def add(kind: str, who: list[str], **extra: Any) -> None:
        nonlocal n
        for email in who:
            n += 1
            # SendGrid echoes the personalization's custom_args as top-level fields of each event.
            events.append({**event(kind, email, "", n, **extra), **args[email]})

    add("processed", people)
    add("bounce", bounced, type="bounce", reason="550 5.1.1 user unknown")
    add("bounce", blocked, type="blocked", reason="451 try later")
    add("deferred", deferred_then_ok, response="421 busy")
    add("delivered", delivered)
    add("open", readers, sg_machine_open=False)
    add("open", readers, sg_machine_open=False)  # two opens per reader
    add("open", machine_only + machine_too, sg_machine_open=True)
    add("click", clickers_a, url="https://harbour-notes.org/wall")
    add("click", clickers_a[:100], url="https://harbour-notes.org/wall")  # a second click counts once
    add("click", clickers_b, url="https://harbour-notes.org/ferry")
    add("spamreport", complainers)
    add("unsubscribe", unsubscribers[:3])
    add("group_unsubscribe", unsubscribers[3:], asm_group_id=7)
    args["editor@harbour-notes.org"] = {"digest_issue": "issue"}  # a --test copy: same custom_args, no journal row
    add("delivered", ["editor@harbour-notes.org"])
    add("open", ["editor@harbour-notes.org"])
    rng.shuffle(events)
    extra_bad = [{"event": "delivered", "email": "lost@harbour-readers.org", "timestamp": 1, "sg_event_id": "u1",
                  "digest_issue": "no-such-issue"}, {"event": "open"}, "not an object"]

    server = EventsServer(tmp_path, signer.public)
    try:
        posts = 0
        for i in range(0, len(events), 1000):
            chunk = events[i:i + 1000] + (extra_bad if i == 0 else [])
            body = dumps(chunk)
            status, answer = server.post(body, signer.headers(body))
            assert status == 200, answer
            posts += 1
        c = server.settle(posts)
        assert (c["stored"], c["unknown_issue"], c["malformed"]) == (len(events), 1, 2)
    finally:
        err = server.stop()
    assert "@harbour-readers.org" not in err  # unknown and malformed events are logged without addresses
    assert "no-such-issue" in err

    proc = subprocess.run([sys.executable, "-m", "digest.cli", "report", str(issue), "--json",
                           "--html", str(tmp_path / "report.html")],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)  # stdout is exactly one JSON object
    expected = {"sent": 2000, "delivered": 1950, "bounced": 50, "deferred": 30, "dropped": 0, "opened": 900,
                "clicked": 420, "spam_reports": 7, "unsubscribed": 5, "machine_opens": 250}
    assert {k: out[k] for k in expected} == expected
    assert out["outside_journal"] == 1 and "left out" in out["note"]
    assert out["rates"]["opened"] == round(900 / 1950, 4)  # machine opens are not in the open rate
    assert out["rates"]["delivered"] == round(1950 / 2000, 4)
    assert out["links"] == [{"url": "https://harbour-notes.org/wall", "clickers": 250},
                            {"url": "https://harbour-notes.org/ferry", "clickers": 220}]
    spread = out["milestones"]["delivered"]
    assert 0 <= spread["first"] <= spread["median"] <= spread["last"] <= 120
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<svg" in page and "<script" not in page and "https://harbour-notes.org/ferry" in page

    listed = {row.split(",")[0]: row.split(",")[1]
              for row in (tmp_path / "suppressions.csv").read_text(encoding="utf-8").splitlines()[1:]}
    assert {e for e, why in listed.items() if why == "bounce"} == set(bounced)
    assert {e for e, why in listed.items() if why == "spam_report"} == set(complainers)
    assert set(listed) == set(bounced) | set(complainers) | set(unsubscribers)  # soft blocks are not suppressed

    # The next issue, sent to the same list through the outbox, skips every suppressed address.
    nxt = tmp_path / "next"
    new_issue(nxt, "Harbour notes, next week", "More")
    assert not add_sources(nxt, [str(tmp_path / "harbour-wall.txt")], None).errors
    build_issue(nxt)
    proc = digest(["send", str(nxt), "--recipients", str(csv_path), "--json"], env_for(standin))
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["sent"] == 2000 - len(listed)
    mailed = set()
    for f in (nxt / "outbox").glob("*.eml"):
        to = re.search(rb"^To: *(?:.*<)?([^<>\s]+@[^<>\s]+?)>?\r?$", f.read_bytes(), re.M)
        assert to, f
        mailed.add(to.group(1).decode().lower())
    assert mailed == {e.lower() for e in emails} - set(listed)


def test_missing_key_bad_settings_and_missing_issue_are_one_clear_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SENDGRID", "DIGEST_"))}
    run = [sys.executable, "-m", "digest.cli"]
    proc = subprocess.run([*run, "events-server", "--dir", str(tmp_path), "--port", "0"], env=env,
                          capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 1 and "DIGEST_SENDGRID_WEBHOOK_KEY is not set" in proc.stderr
    (tmp_path / "digest.toml").write_text("[events]\nmax_age = \"forever\"\n", encoding="utf-8")
    proc = subprocess.run([*run, "events-server", "--dir", str(tmp_path), "--port", "0"],
                          env={**env, "DIGEST_SENDGRID_WEBHOOK_KEY": Signer().public}, capture_output=True, text=True,
                          cwd=REPO, timeout=60)
    assert proc.returncode == 1 and "digest.toml: `[events] max_age` must be a number" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = subprocess.run([*run, "report", str(tmp_path / "nope"), "--json"], env=env, capture_output=True,
                          text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 1 and proc.stdout == "" and "nope: no such issue folder" in proc.stderr
    assert "Traceback" not in proc.stderr
