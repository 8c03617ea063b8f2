"""digest.sources.fetch: decoding rules (unit) and real HTTP against a local http.server (integration)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from digest import __version__
from digest.errors import SourceError
from digest.sources import load
from digest.sources.fetch import USER_AGENT, FetchError, decode, fetch, looks_binary, parse_content_type

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "sources"
PARA = "<p>The harbour master said the new pier would open in spring, weather permitting, and ferries would follow.</p>"


# ---------------------------------------------------------------- decoding (unit)


def test_user_agent() -> None:
    expected = f"digest/{__version__} (+newsletter composer)"
    assert expected == USER_AGENT


def test_decode_prefers_bom_then_utf8() -> None:
    assert decode("\ufeffcaf\u00e9".encode())[0] == "caf\u00e9"
    assert decode("caf\u00e9".encode("utf-16"))[0] == "caf\u00e9"
    assert decode("caf\u00e9 \u2014 ok".encode(), "iso-8859-1") == ("caf\u00e9 \u2014 ok", "utf-8")


def test_decode_declared_charsets() -> None:
    raw = "<meta charset='windows-1252'><p>\u201cquoted\u201d caf\u00e9</p>".encode("cp1252")
    assert decode(raw)[0].endswith("\u201cquoted\u201d caf\u00e9</p>")
    # latin-1 labels mean windows-1252 (as browsers do), so curly quotes survive a wrong label
    assert decode("\u201cx\u201d".encode("cp1252"), "iso-8859-1")[0] == "\u201cx\u201d"
    assert decode("\u0416\u0438\u0437\u043d\u044c".encode("koi8-r"), "koi8-r")[0] == "\u0416\u0438\u0437\u043d\u044c"


def test_decode_undeclared_latin_text() -> None:
    text = "Le caf\u00e9 de la gare a rouvert ses portes apr\u00e8s des ann\u00e9es de travaux. " * 5
    out, _ = decode(text.encode("latin-1"))
    assert out == text


def test_decode_never_raises() -> None:
    out, enc = decode(bytes(range(128, 256)) * 3)
    assert isinstance(out, str) and enc


def test_looks_binary() -> None:
    assert looks_binary(b"GIF89a\x00\x01")
    assert not looks_binary("plain caf\u00e9\n".encode())
    assert not looks_binary("utf16".encode("utf-16"))


def test_parse_content_type() -> None:
    assert parse_content_type('text/HTML; Charset="ISO-8859-1"') == ("text/html", "iso-8859-1")
    assert parse_content_type(None) == ("", None)


# ---------------------------------------------------------------- a real local server (integration)


class _Handler(BaseHTTPRequestHandler):
    seen_agents: list[str] = []

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (timeouts)
            self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        _Handler.seen_agents.append(self.headers.get("User-Agent", ""))
        path = self.path
        if path == "/article":
            self._send(200, (FIX / "article.html").read_bytes(), "text/html; charset=utf-8")
        elif path == "/redirect":
            self._send(302, b"", "text/plain", {"Location": "/article"})
        elif path == "/loop":
            self._send(302, b"", "text/plain", {"Location": "/loop"})
        elif path == "/missing":
            self._send(404, b"<h1>Not found</h1>", "text/html")
        elif path == "/broken":
            self._send(503, b"down", "text/plain")
        elif path == "/slow":
            time.sleep(2.5)
            self._send(200, b"<html><body><p>late</p></body></html>", "text/html")
        elif path == "/huge":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()  # no Content-Length: the cap must stop the streamed read
            try:
                for _ in range(400):
                    self.wfile.write(b"<p>" + b"x" * 8189 + b"</p>")
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif path == "/cp1252":
            page = ("<html><head><title>Caf\u00e9 \u201cLe Nord\u201d reopens</title></head><body><article>"
                    "<p>The caf\u00e9\u2019s cr\u00e8me br\u00fbl\u00e9e costs \u20ac5 again, and regulars queue "
                    "from nine on Saturdays to get a table by the window.</p>" * 3 + "</article></body></html>")
            self._send(200, page.encode("cp1252"), "text/html")  # no charset anywhere
        elif path == "/feed":
            self._send(200, (FIX / "atom.xml").read_bytes(), "application/atom+xml")
        elif path == "/image.png":
            self._send(200, b"\x89PNG\r\n\x1a\n\x00\x00", "image/png")
        else:
            self._send(404, b"", "text/plain")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()




@pytest.mark.integration
def test_fetch_article_with_user_agent(server: str) -> None:
    [a] = load(f"{server}/article")
    assert a.kind == "html" and a.source == f"{server}/article"
    assert a.title == "Harbour town votes to keep its ferry"
    assert _Handler.seen_agents[-1] == USER_AGENT


@pytest.mark.integration
def test_redirect_is_followed(server: str) -> None:
    got = fetch(f"{server}/redirect")
    assert got.url == f"{server}/article" and got.status == 200
    [a] = load(f"{server}/redirect")
    assert a.source == f"{server}/redirect"


@pytest.mark.integration
def test_redirect_loop_is_bounded(server: str) -> None:
    with pytest.raises(FetchError, match="too many redirects"):
        fetch(f"{server}/loop", max_redirects=3)


@pytest.mark.integration
@pytest.mark.parametrize(("path", "status"), [("/missing", "404"), ("/broken", "503")])
def test_http_errors(server: str, path: str, status: str) -> None:
    with pytest.raises(SourceError, match=f"HTTP {status}") as info:
        load(server + path)
    assert info.value.source == server + path


@pytest.mark.integration
def test_slow_answer_times_out(server: str) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError, match="timed out"):
        fetch(f"{server}/slow", read_timeout=0.5)
    assert time.monotonic() - started < 2.4


@pytest.mark.integration
def test_oversize_body_stops_at_the_cap(server: str) -> None:
    with pytest.raises(SourceError, match="too large"):
        load(f"{server}/huge", max_size=256 * 1024)


@pytest.mark.integration
def test_cp1252_page_without_charset(server: str) -> None:
    [a] = load(f"{server}/cp1252")
    assert "cr\u00e8me br\u00fbl\u00e9e costs \u20ac5" in a.text
    assert a.title == "Caf\u00e9 \u201cLe Nord\u201d reopens"


@pytest.mark.integration
def test_feed_by_content_type(server: str) -> None:
    arts = load(f"{server}/feed", limit=1)
    assert [a.url for a in arts] == ["https://carnet.example.fr/lyon"]
    assert arts[0].source == f"{server}/feed"


@pytest.mark.integration
def test_binary_content_type(server: str) -> None:
    with pytest.raises(SourceError, match="not an article"):
        load(f"{server}/image.png")


@pytest.mark.integration
def test_unreachable() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(SourceError, match="unreachable") as info:
        load(f"http://127.0.0.1:{port}/story")
    assert "\n" not in str(info.value)
