"""The preview server for real: HTTP on loopback, live rebuilds over server-sent events, files, signals.

The issue is the fixture newsletter (tests/fixtures/preview) built by the real compose pipeline; file
changes go through the real watcher (watchfiles). The browser side is in test_preview_browser.py.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from digest.errors import UsageError
from digest.preview.page import ALWAYS
from digest.preview.server import Running, iter_events, start

pytestmark = pytest.mark.integration

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "preview"


@pytest.fixture
def letter(tmp_path: Path) -> Path:
    shutil.copytree(FIX, tmp_path / "letter")
    (tmp_path / "secret.txt").write_text("top secret\n")
    return tmp_path / "letter"


@pytest.fixture
def running(letter: Path) -> Iterator[Running]:
    r = start(letter / "issue", port=0, recipients=letter / "recipients.csv", checks=False)
    try:
        yield r
    finally:
        r.stop()


def get(r: Running, path: str, host: str | None = None) -> tuple[int, bytes, dict[str, str]]:
    """A raw GET: the path goes on the request line exactly as given (no client-side normalising)."""
    conn = http.client.HTTPConnection(r.server.server_name, r.server.server_port, timeout=10)
    conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", host or f"127.0.0.1:{r.server.server_port}")
    conn.endheaders()
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, body, {k.lower(): v for k, v in resp.getheaders()}


def state(r: Running, reader: int = 0) -> dict[str, Any]:
    status, body, _ = get(r, f"/api/state?r={reader}")
    assert status == 200
    return json.loads(body)


class Events:
    """Reads /events in a thread; ``items`` collects (name, data) as they arrive."""

    def __init__(self, r: Running) -> None:
        self.items: list[tuple[str, dict[str, Any]]] = []
        self.conn = http.client.HTTPConnection("127.0.0.1", r.server.server_port, timeout=30)
        self.conn.request("GET", "/events")
        self.resp = self.conn.getresponse()
        assert self.resp.getheader("Content-Type", "").startswith("text/event-stream")
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        assert self.wait(lambda: any(n == "hello" for n, _ in self.items))

    def _read(self) -> None:
        try:
            for item in iter_events(iter(self.resp.readline, b"")):
                self.items.append(item)
        except (OSError, ValueError):
            pass

    def builds(self) -> list[dict[str, Any]]:
        return [d for n, d in self.items if n == "build"]

    def wait(self, cond, timeout: float = 5.0) -> bool:  # noqa: ANN001
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if cond():
                return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def events(running: Running) -> Iterator[Events]:
    ev = Events(running)
    yield ev
    ev.close()


def set_subject(issue: Path, subject: str) -> None:
    path = issue / "issue.toml"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(f'subject = "{subject}"\n' if ln.startswith("subject =") else ln for ln in lines))


# --- serving ------------------------------------------------------------------------------------


def test_page_state_and_email_for_each_recipient(running: Running) -> None:
    status, body, headers = get(running, "/")
    assert status == 200 and b'id="email-frame"' in body
    assert headers["cache-control"] == "no-store"
    s = state(running)
    assert s["ok"] and s["subject"] == "Allotment Letter: water butts, a seed swap and compost"
    assert [r["label"] for r in s["readers"]] == ["Ruth", "Omar"]
    assert [a["title"] for a in s["articles"]] == ["The society buys forty new water butts",
                                                   "Seed swap returns to the pavilion in March",
                                                   "New compost bays open by the gate"]
    assert all(a["words"] and a["words"] > 80 for a in s["articles"])
    assert any("alt text" in w for w in s["articles"][0]["warnings"])
    _, first, _ = get(running, "/email.html")
    _, second, _ = get(running, "/email.html?r=1")
    assert b"Hi Ruth," in first and b"Hi Omar," in second
    assert b"e=omar%40allotments.example" in second  # the unsubscribe link is the recipient's
    assert b"__DG_" not in first + second
    _, text, headers = get(running, "/email.txt?r=1")
    assert headers["content-type"].startswith("text/plain") and b"Hi Omar," in text


def test_dark_and_light_versions_force_the_theme_rules(running: Running) -> None:
    _, dark, _ = get(running, "/email.html?scheme=dark")
    _, light, _ = get(running, "/email.html?scheme=light")
    assert f"@media {ALWAYS}".encode() in dark and f"@media {ALWAYS}".encode() not in light
    assert b"color-scheme:dark !important" in dark


def test_images_copied_by_the_build_are_served(running: Running) -> None:
    _, html, _ = get(running, "/email.html")
    src = html.split(b'src="/images/', 1)[1].split(b'"', 1)[0].decode()
    status, body, headers = get(running, f"/images/{src}")
    assert status == 200 and headers["content-type"] == "image/png" and body.startswith(b"\x89PNG")


@pytest.mark.parametrize("path", [
    "/../../etc/passwd", "/../secret.txt", "/../../secret.txt", "/%2e%2e/%2e%2e/secret.txt",
    "/%2e%2e%2f%2e%2e%2fsecret.txt", "/%252e%252e/%252e%252e/secret.txt", "/..%5c..%5csecret.txt",
    "/..\\..\\secret.txt", "/static/../../../secret.txt", "/images/../../../secret.txt", "//etc/passwd",
    "/issue.toml", "/recipients.csv", "/.cache/", "/build/draft.json/../../../secret.txt", "/etc/passwd",
])
def test_traversal_and_non_issue_files_are_404(running: Running, path: str) -> None:
    status, body, _ = get(running, path)
    assert status == 404
    assert b"secret" not in body and b"root:" not in body


def test_a_foreign_host_name_is_refused(running: Running) -> None:
    assert get(running, "/api/state", host="attacker.example:80")[0] == 403
    assert get(running, "/api/state", host=f"localhost:{running.server.server_port}")[0] == 200


def _raw(r: Running, request: bytes) -> bytes:
    """One request written as raw bytes on a fresh connection; the answer's status line."""
    with socket.create_connection(("127.0.0.1", r.server.server_port), timeout=10) as sock:
        sock.sendall(request)
        return sock.makefile("rb").readline()


@pytest.mark.parametrize("host", ["127.attacker.example", "127.0.0.1.evil.example", "localhost.evil",
                                  "evil-localhost", "127.0.0.2", "0.0.0.0", "[::1].evil", "127.0.0.1 ", "",
                                  "127.0.0.1@evil.example"])
def test_a_host_that_is_not_exactly_loopback_is_refused(running: Running, host: str) -> None:
    port = running.server.server_port
    for value in (f"{host}:{port}", host):
        line = _raw(running, f"GET /api/state HTTP/1.1\r\nHost: {value}\r\nConnection: close\r\n\r\n".encode())
        assert line.split()[1] == b"403", (value, line)


def test_loopback_hosts_need_the_servers_port(running: Running) -> None:
    port = running.server.server_port
    for name in ("127.0.0.1", "localhost", "LOCALHOST", "[::1]"):
        line = _raw(running, f"GET /api/state HTTP/1.1\r\nHost: {name}:{port}\r\nConnection: close\r\n\r\n".encode())
        assert line.split()[1] == b"200", (name, line)
        other = _raw(running, f"GET /api/state HTTP/1.1\r\nHost: {name}:{port + 1}\r\nConnection: close\r\n\r\n"
                     .encode())
        assert other.split()[1] == b"403", (name, other)
    two = _raw(running, f"GET /api/state HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nHost: evil.example\r\n\r\n".encode())
    assert two.split()[1] == b"403"


def test_open_event_streams_are_capped(running: Running) -> None:
    from digest.preview.server import MAX_STREAMS

    port = running.server.server_port
    request = f"GET /events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    streams = []
    try:
        for _ in range(MAX_STREAMS):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(request)
            reader = sock.makefile("rb")
            assert reader.readline().split()[1] == b"200"
            streams.append((sock, reader))
        assert _raw(running, request).split()[1] == b"503"
        assert _raw(running, request.replace(b"/events", b"/api/state")).split()[1] == b"200"  # the rest still works
    finally:
        for sock, reader in streams:
            reader.close()
            sock.close()


# --- live rebuilds ------------------------------------------------------------------------------


def test_one_edit_gives_exactly_one_build_event(running: Running, events: Events, letter: Path) -> None:
    set_subject(letter / "issue", "Frost is coming: cover your brassicas")
    # how fast is measured in benchmarks/build.py; here only that it comes, and once
    assert events.wait(lambda: len(events.builds()) == 1, timeout=10)
    time.sleep(1.5)  # a late duplicate would show up here
    assert len(events.builds()) == 1
    assert state(running)["subject"] == "Frost is coming: cover your brassicas"


def test_no_event_without_a_change(running: Running, events: Events, letter: Path) -> None:
    issue = letter / "issue"
    (issue / "issue.toml").touch()  # saved without a change
    (issue / "build" / "email.html").write_text("scribble")  # the build's own output
    (issue / ".cache" / "junk.json").write_text("{}")
    (issue / "journal.sqlite").write_bytes(b"x")
    (issue / "notes.txt").write_text("not an input")
    time.sleep(2.0)
    assert events.builds() == []


def test_an_article_edit_rebuilds_with_the_new_text(running: Running, events: Events, letter: Path) -> None:
    article = letter / "articles" / "seed-swap.txt"
    article.write_text(article.read_text().replace("Seed swap returns", "Great seed swap returns", 1))
    assert events.wait(lambda: len(events.builds()) == 1)
    assert state(running)["articles"][1]["title"] == "Great seed swap returns to the pavilion in March"


def test_a_template_error_shows_file_and_line_and_the_server_stays_up(
        running: Running, events: Events, letter: Path) -> None:
    templates = letter / "templates"
    templates.mkdir()
    bad = templates / "email.html"
    bad.write_text('{% extends "theme/email.html" %}\n{% block greeting %}\n<p>Hello {{ reader | nosuch }}</p>\n'
                   "{% endblock %}\n")
    assert events.wait(lambda: len(events.builds()) == 1)
    s = state(running)
    assert s["ok"] is False
    assert s["error"]["file"].endswith("email.html") and s["error"]["line"] == 3
    assert "nosuch" in s["error"]["message"]
    status, html, _ = get(running, "/email.html")
    assert status == 200 and b"Hi Ruth," in html  # the last good email stays
    bad.write_text('{% extends "theme/email.html" %}\n{% block greeting %}<p>Ahoy {{ merge("first_name", "you") }}</p>'
                   "{% endblock %}\n")
    assert events.wait(lambda: len(events.builds()) == 2)
    assert state(running)["ok"] is True
    assert b"Ahoy Ruth" in get(running, "/email.html")[1]


def test_a_broken_issue_file_shows_the_line(running: Running, events: Events, letter: Path) -> None:
    path = letter / "issue" / "issue.toml"
    path.write_text(path.read_text().replace('date = "2026-11-27"', "date = 2026-11-27-oops"))
    assert events.wait(lambda: len(events.builds()) == 1)
    err = state(running)["error"]
    assert err["file"].endswith("issue.toml") and err["line"] == 4


@pytest.mark.slow
def test_slow_checks_arrive_later_as_a_check_event_not_a_build(letter: Path) -> None:
    r = start(letter / "issue", port=0, checks=True)
    ev = Events(r)
    try:
        assert ev.wait(lambda: any(n == "check" for n, _ in ev.items), timeout=60)
        assert ev.builds() == []  # findings never reload the email
        checks = {f["check"] for f in state(r)["findings"]}
        assert {"caniemail", "spam", "html-validate"} <= checks
        assert "size" in checks  # the quick in-process checks come with the build itself
    finally:
        ev.close()
        r.stop()


def test_a_first_build_that_fails_still_serves_the_error_and_recovers(letter: Path) -> None:
    path = letter / "issue" / "issue.toml"
    good = path.read_text()
    path.write_text(good.replace('subject = "Allotment', 'subject = Allotment'))  # line 2: bad TOML
    r = start(letter / "issue", port=0, checks=False)
    ev = Events(r)
    try:
        s = state(r)
        assert s["ok"] is False and s["has_email"] is False
        assert s["error"]["file"].endswith("issue.toml") and s["error"]["line"] == 2
        status, body, _ = get(r, "/email.html")
        assert status == 200 and b"first build failed" in body
        path.write_text(good)
        assert ev.wait(lambda: len(ev.builds()) == 1)
        assert state(r)["ok"] is True and b"Hi Alex," in get(r, "/email.html")[1]  # example values
    finally:
        ev.close()
        r.stop()


# --- the command --------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _spawn(letter: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "digest.cli", "preview", str(letter / "issue"), "--no-open", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_port_in_use_is_exit_2_never_another_port(letter: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = _spawn(letter, "--port", str(port), "--no-checks")
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert out == ""  # no URL printed
    assert f"port {port} on 127.0.0.1 is already in use" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_prints_the_url_then_stops_cleanly_on_signal(letter: Path, sig: signal.Signals) -> None:
    port = _free_port()
    proc = _spawn(letter, "--port", str(port), "--no-checks")
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line == f"http://127.0.0.1:{port}/"
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/events")  # an open event stream must not hold the shutdown up
        resp = conn.getresponse()
        assert resp.status == 200
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert "digest preview: stopped" in err and "Traceback" not in err
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_a_stopped_preview_starts_again_on_its_port_at_once(letter: Path) -> None:
    """The editor stops the preview (its event stream open in the page) and starts it again: the connections it
    closed wait in TIME_WAIT on its side for a minute; that is no reason to say the port is in use."""
    port = _free_port()
    for attempt in range(2):
        proc = _spawn(letter, "--port", str(port), "--no-checks")
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == f"http://127.0.0.1:{port}/", (attempt, proc.stderr.read()
                                                                                   if proc.poll() is not None else "")
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/events")
            stream = conn.getresponse()
            assert stream.status == 200
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=15)
            stream.read()  # the page reads its stream to the end the server made, then goes: TIME_WAIT is
            conn.close()  # on the server's side
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 0


def test_missing_issue_is_a_one_line_error(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "digest.cli", "preview", str(tmp_path / "nope"), "--no-open"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert "issue.toml not found" in proc.stderr and "Traceback" not in proc.stderr


def test_a_missing_recipients_file_is_a_one_line_error(letter: Path) -> None:
    proc = _spawn(letter, "--recipients", str(letter / "nope.csv"), "--port", "0", "--no-checks")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1 and out == ""
    assert "nope.csv" in err and err.startswith("digest: error:") and "Traceback" not in err


def test_without_a_display_no_browser_is_started(monkeypatch: pytest.MonkeyPatch) -> None:
    import webbrowser

    from digest.preview import server

    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url, *a, **k: opened.append(url))
    for name in ("BROWSER", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert server.open_in_browser("http://127.0.0.1:1/") is False
    monkeypatch.setenv("BROWSER", "true")
    assert server.open_in_browser("http://127.0.0.1:1/") is True
    time.sleep(0.2)
    assert opened == ["http://127.0.0.1:1/"]


def test_start_refuses_a_busy_port_with_a_usage_error(letter: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(UsageError):
            start(letter / "issue", port=busy.getsockname()[1], watch=False, checks=False)


def test_the_results_page_shows_the_issue_report(running: Running, letter: Path) -> None:
    status, body, headers = get(running, "/report.html")
    assert status == 200 and b"not sent yet" in body and b"<script" not in body
    from digest.deliver.events import open_events, parse_event, store_events

    db = open_events(letter / "issue")
    assert db is not None
    store_events(db, [parse_event({"event": "click", "email": f"r{i}@example.org", "timestamp": 1_800_000_000,
                                   "sg_event_id": f"c{i}", "url": "https://example.org/read-more"})
                      for i in range(3)])  # type: ignore[misc]
    db.close()
    status, body, headers = get(running, "/report.html")
    assert status == 200 and b"<title>clicked: 3</title>" in body and b"example.org/read-more" in body
    assert headers["content-security-policy"] == "sandbox"
