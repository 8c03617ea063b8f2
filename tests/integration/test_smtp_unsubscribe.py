"""Unsubscribe end to end: a one-click POST over real HTTP, then the next send skips the address."""

from __future__ import annotations

import email
import email.policy
import threading
import urllib.error
import urllib.request
from pathlib import Path
from wsgiref.simple_server import make_server

import pytest

from digest.deliver.send import send_issue
from digest.deliver.unsubscribe import UnsubscribeApp
from tests.support.newsletter import SECRET, make_issue, write_csv
from tests.support.smtpserver import Recorder, SmtpServer

KEY = SECRET.encode()


@pytest.mark.integration
@pytest.mark.parametrize("backend", ["outbox", "smtp"])
def test_one_click_over_http_then_the_next_send_skips_the_address(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str) -> None:
    monkeypatch.setenv("DIGEST_UNSUBSCRIBE_SECRET", SECRET)
    monkeypatch.delenv("DIGEST_SUPPRESSIONS", raising=False)
    rec = Recorder()
    with SmtpServer(rec) as srv:
        issue = make_issue(tmp_path, smtp={"host": "127.0.0.1", "port": srv.port, "timeout": 5})
        # The first issue goes out; its List-Unsubscribe URL is the recipient's own.
        send_issue(issue, write_csv(tmp_path / "a.csv", ["ann@example.com,Ann", "bo@example.com,Bo"]), "outbox")
        msg = email.message_from_bytes(next((issue / "outbox").glob("ann@*.eml")).read_bytes(),
                                       policy=email.policy.default)
        url = str(msg["List-Unsubscribe"]).split(",")[0].strip().strip("<>")
        token = url.split("t=", 1)[1]
        app = UnsubscribeApp(issue.parent / "suppressions.csv", KEY)
        with make_server("127.0.0.1", 0, app) as httpd:
            thread = threading.Thread(target=httpd.serve_forever, daemon=True)
            thread.start()
            base = f"http://127.0.0.1:{httpd.server_port}/unsub?t="
            req = urllib.request.Request(base + token[:-1] + ("x" if token[-1] != "x" else "y"),
                                         data=b"List-Unsubscribe=One-Click", method="POST")
            with pytest.raises(urllib.error.HTTPError) as info:
                urllib.request.urlopen(req, timeout=5)
            assert info.value.code == 403
            req = urllib.request.Request(base + token, data=b"List-Unsubscribe=One-Click", method="POST")
            with urllib.request.urlopen(req, timeout=5) as resp:
                assert resp.status == 200
            httpd.shutdown()
        # The next issue (a fresh folder: a new journal) skips ann on either backend.
        nxt = make_issue(tmp_path / "next", smtp={"host": "127.0.0.1", "port": srv.port, "timeout": 5})
        (nxt.parent / "suppressions.csv").write_bytes((issue.parent / "suppressions.csv").read_bytes())
        report = send_issue(nxt, write_csv(tmp_path / "b.csv", ["ann@example.com,Ann", "bo@example.com,Bo"]),
                            backend)
    assert report.ok and report.summary.skipped == {"suppressed": 1} and report.summary.sent == 1
    if backend == "smtp":
        assert rec.received() == ["bo@example.com"]
    else:
        assert [p.name.split("-")[0] for p in (nxt / "outbox").glob("*.eml")] == ["bo@example.com"]
