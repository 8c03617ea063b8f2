"""Fetching safely, against real local servers: keep-alive redirects, a dripping server, and URLs from content
(redirects, feed entries, links) that point at loopback/private/link-local addresses.

Addresses outside loopback are never connected to: ``socket.socket.connect`` is wrapped to record every
attempt and refuse anything that is not loopback, so a test can also assert that no connection was made.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from digest.cli import cli
from digest.errors import SourceError
from digest.sources import load
from digest.sources.fetch import FetchError, fetch

pytestmark = pytest.mark.integration

ARTICLE = ("<html><head><title>Harbour wall repaired</title></head><body><article><h1>Harbour wall repaired</h1>"
           + "<p>The council finished the repair of the old harbour wall on Friday, two weeks ahead of the winter "
             "storms, and the fishing boats can moor along it again from Monday morning.</p>" * 4
           + "</article></body></html>").encode()


class _KeepAlive(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive and an exact Content-Length on every answer, redirects included."""

    protocol_version = "HTTP/1.1"
    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.server.hits.append(self.path)  # type: ignore[attr-defined]
        status, headers, body = self.server.routes.get(  # type: ignore[attr-defined]
            self.path, (404, {"Content-Type": "text/plain"}, b"not here\n"))
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Site:
    def __init__(self, routes: dict[str, tuple[int, dict[str, str], bytes]]) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _KeepAlive)
        self.httpd.daemon_threads = True
        self.httpd.routes = routes  # type: ignore[attr-defined]
        self.httpd.hits = []  # type: ignore[attr-defined]
        self.connections = 0
        original = self.httpd.process_request

        def counted(request: Any, address: Any) -> None:
            self.connections += 1
            original(request, address)

        self.httpd.process_request = counted  # type: ignore[method-assign]
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def hits(self) -> list[str]:
        return self.httpd.hits  # type: ignore[attr-defined,no-any-return]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def target() -> Iterator[Site]:
    """A local server that content must not reach (it counts connections)."""
    site = Site({"/article": (200, {"Content-Type": "text/html; charset=utf-8"}, ARTICLE)})
    yield site
    site.close()


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every address a socket tried to connect to; anything but loopback is refused without touching the network."""
    seen: list[Any] = []
    real = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> None:
        seen.append(address)
        host = str(address[0])
        if host not in ("127.0.0.1", "::1"):
            raise ConnectionRefusedError(f"test: no connection to {host}")
        real(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return seen


def site_with(routes: dict[str, tuple[int, dict[str, str], bytes]]) -> Site:
    return Site(routes)


def html(body: bytes = ARTICLE) -> tuple[int, dict[str, str], bytes]:
    return 200, {"Content-Type": "text/html; charset=utf-8"}, body


def redirect(to: str) -> tuple[int, dict[str, str], bytes]:
    return 302, {"Location": to, "Content-Type": "text/html"}, b"<p>Moved: follow the link.</p>"


# --- keep-alive redirects ----------------------------------------------------------------------------


def test_a_same_host_redirect_on_a_keep_alive_server_is_followed() -> None:
    site = site_with({"/old": redirect("/article"), "/article": html()})
    try:
        got = fetch(f"{site.url}/old")
        assert got.status == 200 and got.url == f"{site.url}/article" and got.body == ARTICLE
        assert site.hits == ["/old", "/article"]
        [article] = load(f"{site.url}/old")
        assert article.title == "Harbour wall repaired"
    finally:
        site.close()


# --- the overall deadline against a drip ----------------------------------------------------------------


class Drip:
    """Answers every connection one byte at a time, ``every`` seconds apart, for at most ``limit`` seconds."""

    def __init__(self, head: bytes, every: float = 0.1, limit: float = 20.0) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/slow"
        self.head, self.every, self.limit = head, every, limit
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        end = time.monotonic() + self.limit
        with conn:
            conn.recv(65536)
            data = self.head + b"x" * 100_000
            try:
                for i in range(len(data)):
                    if time.monotonic() > end:
                        return
                    conn.sendall(data[i:i + 1])
                    time.sleep(self.every)
            except OSError:
                return

    def close(self) -> None:
        self.sock.close()


@pytest.mark.parametrize("where", ["body", "headers"])
def test_the_overall_deadline_holds_against_a_dripping_server(where: str) -> None:
    head = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n"
            if where == "body" else b"")
    drip = Drip(head if where == "body" else b"HTTP/1.1 200 OK\r\nX-Slow: ", every=0.05)
    try:
        started = time.monotonic()
        with pytest.raises(FetchError, match=r"took longer than 1 s"):
            fetch(drip.url, total_timeout=1.0, read_timeout=5.0)
        assert time.monotonic() - started < 10  # the drip would go on for 20 s (and its body for 80 min)
    finally:
        drip.close()


# --- URLs from content never reach local or private addresses --------------------------------------------


@pytest.mark.parametrize("to", ["http://10.20.30.40/admin", "http://169.254.169.254/latest/meta-data/",
                                "http://192.168.1.1/", "http://[fd00::1]/", "http://0.0.0.0:{port}/article",
                                "http://127.0.0.1:{port}/article", "http://localhost:{port}/article",
                                "http://[::ffff:127.0.0.1]:{port}/article", "http://127.1:{port}/article"])
def test_a_redirect_to_a_local_or_private_address_is_refused_before_connecting(
        to: str, target: Site, connects: list[Any]) -> None:
    site = site_with({"/go": redirect(to.format(port=target.port))})
    try:
        with pytest.raises(SourceError, match=r"refused .*\[fetch\] allow_hosts"):
            load(f"{site.url}/go")  # the editor named site.url; the redirect came from its answer
        assert [a[1] for a in connects] == [site.port]  # one connection: to the page the editor named
        assert target.connections == 0
    finally:
        site.close()


def test_allow_hosts_lets_a_redirect_reach_a_listed_host(target: Site, connects: list[Any]) -> None:
    site = site_with({"/go": redirect(f"http://localhost:{target.port}/article")})
    try:
        [article] = load(f"{site.url}/go", allow_hosts=["localhost"])
        assert article.title == "Harbour wall repaired" and target.hits == ["/article"]
    finally:
        site.close()


def test_a_url_from_content_is_checked_but_an_editor_named_one_may_be_local(target: Site,
                                                                              connects: list[Any]) -> None:
    with pytest.raises(SourceError, match="refused 127.0.0.1: a loopback address"):
        load(f"{target.url}/article", trusted=False, allow_hosts=[])
    with pytest.raises(SourceError, match="not an http"):
        load("/etc/hostname", trusted=False, allow_hosts=[])
    assert connects == [] and target.connections == 0
    assert load(f"{target.url}/article")[0].title == "Harbour wall repaired"  # named by the editor


def test_every_resolved_address_is_checked_and_the_checked_one_is_connected(
        monkeypatch: pytest.MonkeyPatch, connects: list[Any]) -> None:
    calls: list[str] = []
    # Public addresses here are never reached: the ``connects`` fixture refuses them before the network.
    answers = {"mixed.example": ["93.184.215.14", "10.0.0.7"], "rebind.example": ["93.184.215.15"]}

    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        calls.append(host)
        if host == "rebind.example" and calls.count(host) > 1:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]  # a second answer: loopback
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in answers[host]]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with pytest.raises(FetchError, match="refused mixed.example: a private address"):
        fetch("http://mixed.example/story", trusted=False, allow_hosts=[])
    assert connects == []
    with pytest.raises(FetchError, match="unreachable"):
        fetch("http://rebind.example/story", trusted=False, allow_hosts=[])
    assert calls.count("rebind.example") == 1  # resolved once; connected to the address that was checked
    assert [a[0] for a in connects] == ["93.184.215.15"]


# --- what `add` takes from a feed or a page -----------------------------------------------------------------


FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Harbour News</title><link>https://harbour.example/</link>
<item><title>Wall repaired</title><link>https://harbour.example/wall</link>
<description>The council finished the repair of the old harbour wall.</description></item>
<item><title>Secret file</title><link>file:///etc/passwd</link><description>Read this.</description></item>
<item><title>No link at all</title><description>An entry without a link.</description></item>
</channel></rss>
"""


def test_a_feed_entry_without_an_http_link_is_reported_and_skipped(tmp_path: Path) -> None:
    issue = tmp_path / "issue"
    issue.mkdir()
    (issue / "issue.toml").write_text('subject = "Harbour"\n')
    feed = tmp_path / "feed.xml"
    feed.write_text(FEED)
    result = CliRunner().invoke(cli, ["add", str(issue), str(feed)])
    assert result.exit_code == 1
    assert "added: Wall repaired" in result.stdout
    assert "'Secret file' has no http(s) link" in result.stderr
    assert "'No link at all' has no http(s) link" in result.stderr
    text = (issue / "issue.toml").read_text()
    assert "/etc/passwd" not in text and "No link at all" not in text and text.count("[[articles]]") == 1


def test_a_page_with_no_article_text_is_refused_at_add(tmp_path: Path) -> None:
    menu = (b'<div class="menu"><a href="/">Home</a> <a href="/news">News</a> <a href="/sport">Sport</a></div>'
            b'<div id="footer"><a href="/privacy">Privacy</a> <a href="/cookies">Cookies</a></div>')
    site = site_with({"/menu": (200, {}, menu)})
    issue = tmp_path / "issue"
    issue.mkdir()
    (issue / "issue.toml").write_text('subject = "Harbour"\n')
    try:
        result = CliRunner().invoke(cli, ["add", str(issue), f"{site.url}/menu"])
    finally:
        site.close()
    assert result.exit_code == 1
    assert "no article text found" in result.stderr and "Traceback" not in result.stderr
    assert "[[articles]]" not in (issue / "issue.toml").read_text()


def test_a_remote_markdown_source_cannot_name_a_local_image(tmp_path: Path) -> None:
    from PIL import Image

    secret = tmp_path / "private" / "scan.png"
    secret.parent.mkdir()
    Image.new("RGB", (40, 30), "red").save(secret)
    story = ("---\ntitle: Harbour wall repaired\nimage: " + str(secret) + "\n---\n\n"
             + "The council finished the repair of the old harbour wall on Friday, ahead of the storms. " * 4
             ).encode()
    site = site_with({"/story.md": (200, {"Content-Type": "text/markdown; charset=utf-8"}, story)})
    (tmp_path / "digest.toml").write_text('[newsletter]\nname = "Harbour"\nimages_base_url = '
                                          '"https://harbour.example/img/"\n')
    issue = tmp_path / "issue"
    issue.mkdir()
    (issue / "issue.toml").write_text('subject = "Harbour"\n')
    try:
        runner = CliRunner()
        added = runner.invoke(cli, ["add", str(issue), f"{site.url}/story.md"])
        assert added.exit_code == 0, added.stderr
        built = runner.invoke(cli, ["build", str(issue)])
    finally:
        site.close()
    assert built.exit_code == 0, built.stderr
    assert "cannot name a local file" in built.stderr
    images = issue / "build" / "images"
    assert not images.exists() or list(images.iterdir()) == []
    assert "scan" not in (issue / "build" / "email.html").read_text()


def test_a_feed_entry_gone_from_its_feed_is_not_fetched_from_a_local_address(tmp_path: Path, target: Site,
                                                                             connects: list[Any]) -> None:
    from digest.compose.issue_file import Entry, load_entry

    feed = tmp_path / "feed.xml"
    feed.write_text(FEED)  # the editor's feed no longer lists the entry: the build would fetch its link
    issue = tmp_path / "issue"
    issue.mkdir()
    entry = Entry(index=1, source=f"{target.url}/article", feed=str(feed))
    with pytest.raises(SourceError, match="refused 127.0.0.1: a loopback address"):
        load_entry(issue, entry)
    assert target.connections == 0 and connects == []


def test_check_links_requests_no_local_address_from_content(target: Site, connects: list[Any]) -> None:
    from digest.compose.check import CheckReport, check_links

    html_doc = (f'<html><body><table><tr><td class="dg-article"><a href="{target.url}/article">Story</a></td></tr>'
                f'</table><img src="http://169.254.169.254/latest/meta-data/x.png" alt="x"></body></html>')
    report = CheckReport(Path("."))
    check_links(html_doc, report)
    messages = [f.message for f in report.findings]
    assert any("unreachable: refused 127.0.0.1" in m for m in messages), messages
    assert any("169.254.169.254" in m and "refused" in m for m in messages), messages
    assert target.connections == 0 and connects == []
