"""The unsubscribe server for real: the WSGI app on its HTTP/1.1 server, raw requests over a socket.

RFC 8058 one-click POSTs arrive urlencoded or as multipart/form-data, with a Content-Length or chunked;
several requests may share one keep-alive connection.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from digest.deliver import suppressions
from digest.deliver.unsubscribe import UnsubscribeApp, make_app, make_token, make_unsubscribe_server
from digest.errors import ConfigError
from tests.support.newsletter import SECRET

pytestmark = pytest.mark.integration

KEY = SECRET.encode()


class Server:
    def __init__(self, supp: Path) -> None:
        self.supp = supp
        self.httpd = make_unsubscribe_server(UnsubscribeApp(supp, KEY, "Harbour Notes"), "127.0.0.1", 0)
        self.port = self.httpd.server_port
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    s = Server(tmp_path / "suppressions.csv")
    try:
        yield s
    finally:
        s.httpd.shutdown()
        s.httpd.server_close()


def read_response(reader: object) -> tuple[bytes, dict[str, str], bytes]:
    """Status line, headers and a Content-Length body, read from the raw stream."""
    status = reader.readline()  # type: ignore[attr-defined]
    headers: dict[str, str] = {}
    while (line := reader.readline()) not in (b"\r\n", b""):  # type: ignore[attr-defined]
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = reader.read(int(headers.get("content-length", "0")))  # type: ignore[attr-defined]
    return status, headers, body


def post(server: Server, path: str, body: bytes, content_type: str, *, chunked: bool = False,
         conn: socket.socket | None = None) -> tuple[bytes, dict[str, str], bytes]:
    sock = conn or server.connect()
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Type: {content_type}\r\n"
    if chunked:
        half = len(body) // 2
        parts = [body[:half], body[half:]]
        payload = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts if p) + b"0\r\n\r\n"
        head += "Transfer-Encoding: chunked\r\n"
    else:
        payload = body
        head += f"Content-Length: {len(body)}\r\n"
    sock.sendall(head.encode() + b"\r\n" + payload)
    reader = sock.makefile("rb")
    try:
        return read_response(reader)
    finally:
        reader.close()
        if conn is None:
            sock.close()


def multipart(fields: dict[str, str], boundary: str = "----digestBoundary7MA4YWxk") -> tuple[bytes, str]:
    lines = []
    for name, value in fields.items():
        lines += [f"--{boundary}", f'Content-Disposition: form-data; name="{name}"', "", value]
    lines += [f"--{boundary}--", ""]
    return "\r\n".join(lines).encode(), f"multipart/form-data; boundary={boundary}"


URLENCODED = "application/x-www-form-urlencoded"


@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.parametrize("kind", ["urlencoded", "multipart"])
def test_one_click_post_in_every_encoding_unsubscribes(server: Server, kind: str, chunked: bool) -> None:
    token = make_token("ann@example.com", KEY)
    if kind == "multipart":
        body, ctype = multipart({"List-Unsubscribe": "One-Click"})
    else:
        body, ctype = b"List-Unsubscribe=One-Click", URLENCODED
    status, headers, page = post(server, f"/unsub?t={token}", body, ctype, chunked=chunked)
    assert status.startswith(b"HTTP/1.1 200"), (status, page)
    assert b"will get no more email" in page
    assert suppressions.load(server.supp) == {"ann@example.com"}


@pytest.mark.parametrize("chunked", [False, True])
def test_a_multipart_post_without_the_one_click_field_changes_nothing(server: Server, chunked: bool) -> None:
    token = make_token("ann@example.com", KEY)
    body, ctype = multipart({"Something": "else"})
    status, _, _ = post(server, f"/unsub?t={token}", body, ctype, chunked=chunked)
    assert status.startswith(b"HTTP/1.1 400")
    assert not server.supp.exists()


def test_requests_share_a_keep_alive_connection(server: Server) -> None:
    conn = server.connect()
    try:
        for address in ("ann@example.com", "bo@example.com", "cy@example.com"):
            token = make_token(address, KEY)
            status, headers, _ = post(server, f"/unsub?t={token}", b"List-Unsubscribe=One-Click", URLENCODED,
                                      chunked=address.startswith("bo"), conn=conn)
            assert status.startswith(b"HTTP/1.1 200") and headers.get("connection", "").lower() != "close"
    finally:
        conn.close()
    assert suppressions.load(server.supp) == {"ann@example.com", "bo@example.com", "cy@example.com"}


def test_a_malformed_or_oversized_chunked_body_is_refused(server: Server) -> None:
    token = make_token("ann@example.com", KEY)
    sock = server.connect()
    head = (f"POST /unsub?t={token} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {URLENCODED}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n").encode()
    sock.sendall(head + b"zz\r\nList-Unsubscribe=One-Click\r\n0\r\n\r\n")
    reader = sock.makefile("rb")
    assert read_response(reader)[0].startswith(b"HTTP/1.1 400")
    reader.close()
    sock.close()
    big = b"x" * 20_000
    sock = server.connect()
    sock.sendall(head + b"%x\r\n%s\r\n0\r\n\r\n" % (len(big), big))
    reader = sock.makefile("rb")
    assert read_response(reader)[0].startswith(b"HTTP/1.1 413")
    reader.close()
    sock.close()
    assert not server.supp.exists()


def test_start_up_refuses_a_short_secret_and_an_unwritable_list(tmp_path: Path) -> None:
    (tmp_path / "digest.toml").write_text('[newsletter]\nname = "Harbour Notes"\n')
    with pytest.raises(ConfigError, match="too short"):
        make_app(tmp_path, environ={"DIGEST_UNSUBSCRIBE_SECRET": "short-secret"})
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the list's folder should be\n")
    with pytest.raises(ConfigError, match="cannot write the suppression list"):
        make_app(tmp_path, suppressions_file=blocker / "suppressions.csv",
                 environ={"DIGEST_UNSUBSCRIBE_SECRET": SECRET})
    with pytest.raises(ConfigError, match="cannot write the suppression list"):
        make_app(tmp_path, suppressions_file=tmp_path, environ={"DIGEST_UNSUBSCRIBE_SECRET": SECRET})
    listed = tmp_path / "lists" / "2026" / "s.csv"  # its folders are made at start-up, not at the first unsubscribe
    app = make_app(tmp_path, suppressions_file=listed, environ={"DIGEST_UNSUBSCRIBE_SECRET": SECRET})
    assert app.suppressions_file == listed
    assert not listed.exists() and list(listed.parent.iterdir()) == []  # nothing left behind


# --- the server as deployed: `digest unsubscribe-server` and the module-level WSGI `application` ------------

PRIVATE_HEADERS = (b"Cache-Control: no-store\r\n", b"Referrer-Policy: no-referrer\r\n",
                   b"X-Content-Type-Options: nosniff\r\n",
                   b"Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; form-action 'self'\r\n")


def _env(**extra: str) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SENDGRID", "DIGEST_"))}
    env.update(PYTHONUNBUFFERED="1", **extra)
    return env


class ServerProcess:
    """A real ``python3 -m digest.cli unsubscribe-server --port 0`` process (wsgiref, threaded, HTTP/1.1)."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        import re
        import subprocess
        import sys

        from tests.conftest import REPO

        self.proc = subprocess.Popen([sys.executable, "-m", "digest.cli", "unsubscribe-server", "--port", "0",
                                      "--dir", str(root)], env=env, cwd=REPO, stderr=subprocess.PIPE)
        assert self.proc.stderr is not None
        self.banner = self.proc.stderr.readline().decode()
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", self.banner)
        assert found, self.banner + self.stop()
        self.port = int(found.group(1))

    def stop(self) -> str:
        """Stop the process (Ctrl-C, as an editor would); what it wrote to stderr after the banner."""
        import signal

        self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=20)
        except Exception:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err.decode()


def test_the_server_as_deployed_confirms_unsubscribes_and_keeps_the_token_private(tmp_path: Path) -> None:
    (tmp_path / "digest.toml").write_text('[newsletter]\nname = "Harbour Notes"\n')
    server = ServerProcess(tmp_path, _env(DIGEST_UNSUBSCRIBE_SECRET=SECRET))
    try:
        token = make_token("ann@example.com", KEY)
        host = f"Host: 127.0.0.1:{server.port}\r\n"
        # HEAD, GET and the one-click POST on one keep-alive connection: HEAD has no body, so the GET's
        # status line comes right after HEAD's headers.
        form = b"List-Unsubscribe=One-Click"
        raw = (f"HEAD /unsub?t={token} HTTP/1.1\r\n{host}\r\n"
               f"GET /unsub?t={token} HTTP/1.1\r\n{host}\r\n"
               f"POST /unsub?t={token} HTTP/1.1\r\n{host}Content-Type: {URLENCODED}\r\n"
               f"Content-Length: {len(form)}\r\n\r\n").encode() + form
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        try:
            sock.sendall(raw)
            reader = sock.makefile("rb")
            head_status, head_headers, _ = _read_head(reader)
            get_status, get_headers, get_page = read_response(reader)
            post_status, _, post_page = read_response(reader)
            reader.close()
        finally:
            sock.close()
        assert head_status.startswith(b"HTTP/1.1 200") and get_status.startswith(b"HTTP/1.1 200"), get_page
        assert head_headers["content-length"] == get_headers["content-length"] == str(len(get_page))
        assert b"Harbour Notes" in get_page and b"ann@example.com" in get_page and b'method="post"' in get_page
        assert post_status.startswith(b"HTTP/1.1 200") and b"will get no more email" in post_page
        assert suppressions.load(tmp_path / "suppressions.csv") == {"ann@example.com"}
        # The private headers, byte for byte, on the confirmation page and on a refusal.
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        try:
            sock.sendall(f"GET /unsub?t={token} HTTP/1.1\r\n{host}\r\n"
                         f"GET /unsub?t=forged.token HTTP/1.1\r\n{host}Connection: close\r\n\r\n".encode())
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        finally:
            sock.close()
        pages = data.split(b"HTTP/1.1 ")[1:]
        assert [p[:3] for p in pages] == [b"200", b"403"]
        for page in pages:
            for header in PRIVATE_HEADERS:
                assert header in page.split(b"\r\n\r\n", 1)[0] + b"\r\n", (header, page[:400])
    finally:
        err = server.stop()
    assert token not in err and token not in server.banner  # the token is a credential: never logged
    assert "Traceback" not in err


def _read_head(reader: object) -> tuple[bytes, dict[str, str], bytes]:
    """A HEAD response: status and headers only (its Content-Length is the GET page's, with no body)."""
    status = reader.readline()  # type: ignore[attr-defined]
    headers: dict[str, str] = {}
    while (line := reader.readline()) not in (b"\r\n", b""):  # type: ignore[attr-defined]
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, b""


@pytest.mark.parametrize("secret,needle", [("", "DIGEST_UNSUBSCRIBE_SECRET is not set"),
                                           ("short", "DIGEST_UNSUBSCRIBE_SECRET is too short")])
def test_the_server_does_not_start_without_a_usable_secret(tmp_path: Path, secret: str, needle: str) -> None:
    import subprocess
    import sys

    from tests.conftest import REPO

    env = _env(**({"DIGEST_UNSUBSCRIBE_SECRET": secret} if secret else {}))
    done = subprocess.run([sys.executable, "-m", "digest.cli", "unsubscribe-server", "--port", "0",
                           "--dir", str(tmp_path)], env=env, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert needle in done.stderr and "Traceback" not in done.stderr
    assert done.stderr.startswith("digest: error: ") and done.stderr.count("digest: error:") == 1, done.stderr
    assert not (tmp_path / "suppressions.csv").exists()


def test_make_app_reads_the_newsletter_folder(tmp_path: Path) -> None:
    news = tmp_path / "news"
    news.mkdir()
    (news / "digest.toml").write_text('[newsletter]\nname = "Harbour Notes"\n[suppressions]\nfile = "lists/s.csv"\n')
    with pytest.raises(ConfigError, match="DIGEST_UNSUBSCRIBE_SECRET is not set"):
        make_app(news, environ={})
    app = make_app(news, environ={"DIGEST_UNSUBSCRIBE_SECRET": SECRET})
    assert app.suppressions_file == news / "lists" / "s.csv" and app.newsletter == "Harbour Notes"
    assert app.secret == KEY
    listed = news / "lists" / "s.csv"
    listed.parent.mkdir(exist_ok=True)  # made by the check above
    listed.write_text("email,reason\nold@example.com,manual\n")
    assert make_app(news, environ={"DIGEST_UNSUBSCRIBE_SECRET": SECRET}).suppressions_file == listed  # an existing list
    assert listed.read_text() == "email,reason\nold@example.com,manual\n"  # checked, not changed
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "digest.toml").write_text('[newsletter]\nname = ""\n')
    app = make_app(bare, environ={"DIGEST_UNSUBSCRIBE_SECRET": "x" * 16})  # exactly the shortest secret allowed
    assert app.newsletter == "this newsletter" and app.suppressions_file == bare / "suppressions.csv"


def test_the_module_level_wsgi_application_for_any_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``digest.deliver.unsubscribe:application`` under a plain WSGI server, configured from the environment."""
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from digest.deliver import unsubscribe

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - wsgiref's signature
            return

    (tmp_path / "digest.toml").write_text('[newsletter]\nname = "Harbour Notes"\n')
    monkeypatch.setattr(unsubscribe, "_app", None)
    monkeypatch.setenv("DIGEST_NEWSLETTER_DIR", str(tmp_path))
    monkeypatch.setenv("DIGEST_UNSUBSCRIBE_SECRET", SECRET)
    monkeypatch.setenv("DIGEST_SUPPRESSIONS", str(tmp_path / "first.csv"))
    httpd = make_server("127.0.0.1", 0, unsubscribe.application, handler_class=Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        def ask(method: str, address: str) -> tuple[bytes, bytes]:
            body = b"List-Unsubscribe=One-Click" if method == "POST" else b""
            sock = socket.create_connection(("127.0.0.1", httpd.server_port), timeout=10)
            try:
                sock.sendall(f"{method} /u/{make_token(address, KEY)} HTTP/1.0\r\nContent-Type: {URLENCODED}\r\n"
                             f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
                data = b""
                while chunk := sock.recv(65536):
                    data += chunk
            finally:
                sock.close()
            return data.split(b"\r\n", 1)[0], data

        status, page = ask("GET", "ann@example.com")
        assert b" 200 " in status and b"Harbour Notes" in page and b"no-store" in page
        status, _ = ask("POST", "ann@example.com")
        assert b" 200 " in status
        # Configured once, on first use: the environment read then stays (one app for every request).
        monkeypatch.setenv("DIGEST_SUPPRESSIONS", str(tmp_path / "second.csv"))
        status, _ = ask("POST", "bo@example.com")
        assert b" 200 " in status
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert suppressions.load(tmp_path / "first.csv") == {"ann@example.com", "bo@example.com"}
    assert not (tmp_path / "second.csv").exists()


def _until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def _until_quiet(sock: socket.socket, quiet: float = 1.0) -> tuple[bytes, bool]:
    """What the server sends until it closes the connection (True) or says nothing for ``quiet`` s (False)."""
    sock.settimeout(quiet)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except TimeoutError:
        return data, False
    return data, True


def test_a_body_the_app_did_not_read_is_never_taken_for_a_request(server: Server) -> None:
    """A GET's body holding a one-click POST (request smuggling): read and dropped, never answered or obeyed."""
    token = make_token("ann@example.com", KEY)
    smuggled = f"POST /unsub?t={token} HTTP/1.1\r\nHost: x\r\nContent-Length: 26\r\n\r\nList-Unsubscribe=One-Click"
    for head in (f"GET /unsub?t={token} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(smuggled)}\r\n\r\n",
                 f"GET /unsub?t={token} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                 f"{len(smuggled):x}\r\n"):
        sock = server.connect()
        try:
            sock.sendall(head.encode() + smuggled.encode() + (b"\r\n0\r\n\r\n" if "chunked" in head else b""))
            data, _ = _until_quiet(sock)
            assert data.count(b"HTTP/1.1 ") == 1 and data.startswith(b"HTTP/1.1 200"), data[:200]
            # the connection still serves the next request
            sock.sendall(f"GET /unsub?t={token} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            data, closed = _until_quiet(sock)
            assert data.startswith(b"HTTP/1.1 200") and closed
        finally:
            sock.close()
    assert not server.supp.exists()


def test_a_long_unread_body_ends_the_connection(server: Server) -> None:
    token = make_token("ann@example.com", KEY)
    sock = server.connect()
    try:
        sock.sendall(f"GET /unsub?t={token} HTTP/1.1\r\nHost: x\r\nContent-Length: {1 << 20}\r\n\r\n".encode())
        data, closed = _until_quiet(sock, 5.0)
    finally:
        sock.close()
    assert data.startswith(b"HTTP/1.1 200") and b"Connection: close" in data and closed


def test_an_oversized_post_is_refused_and_the_connection_closed(server: Server) -> None:
    token = make_token("ann@example.com", KEY)
    sock = server.connect()
    try:
        sock.sendall(f"POST /unsub?t={token} HTTP/1.1\r\nHost: x\r\nContent-Type: {URLENCODED}\r\n"
                     f"Content-Length: {16 * 1024 + 1}\r\n\r\n".encode() + b"List-Unsubscribe=One-Click")
        data = _until_closed(sock)
    finally:
        sock.close()
    assert data.startswith(b"HTTP/1.1 413") and data.count(b"HTTP/1.1 ") == 1
    assert not server.supp.exists()


def test_a_request_line_beyond_64_kib_is_refused(server: Server) -> None:
    sock = server.connect()
    try:
        sock.sendall(b"GET /" + b"a" * (65_537 - 5))  # exactly what the server reads of a line: nothing left over
        data = _until_closed(sock)
    finally:
        sock.close()
    assert data.startswith(b"HTTP/1.1 414") and data.count(b"HTTP/1.1 ") == 1


def test_a_client_that_leaves_is_not_an_error(server: Server) -> None:
    sock = server.connect()
    sock.sendall(b"GET /unsub?t=x HTTP/1.1\r\nHost: x\r\n")  # then gone, mid-request
    sock.close()
    sock = server.connect()  # the server still answers
    try:
        sock.sendall(b"GET /unsub?t=x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert _until_closed(sock).startswith(b"HTTP/1.1 403")
    finally:
        sock.close()


def test_no_log_line_holds_a_token(server: Server, caplog: pytest.LogCaptureFixture) -> None:
    """A token is a bearer credential for one address: not in the log at any level, bad requests included."""
    token = make_token("ann@example.com", KEY)
    caplog.set_level(logging.DEBUG)
    for raw in (f"GET /unsub?t={token} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                f"GET /unsub/{token} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                f"GET /unsub?t={token} HTTP/9.9\r\nHost: x\r\n\r\n",  # refused by the stdlib, which quotes the line
                f"GET /unsub?t={token}\r\n\r\n"):
        sock = server.connect()
        try:
            sock.sendall(raw.encode())
            assert _until_quiet(sock)[0]  # an answer (an HTTP/0.9-style error page for the last two)
        finally:
            sock.close()
    assert any(r.getMessage() == "GET 200" for r in caplog.records), "the server logs method and status at DEBUG"
    assert all(token not in r.getMessage() and token.split(".")[0] not in r.getMessage() for r in caplog.records)


def test_the_module_level_application_reads_the_working_folder_by_default(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Without DIGEST_NEWSLETTER_DIR the app is the newsletter's in the server's working folder."""
    from digest.deliver import unsubscribe

    (tmp_path / "digest.toml").write_text('[newsletter]\nname = "Harbour Notes"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(unsubscribe, "_app", None)
    monkeypatch.delenv("DIGEST_NEWSLETTER_DIR", raising=False)
    monkeypatch.delenv("DIGEST_SUPPRESSIONS", raising=False)
    monkeypatch.setenv("DIGEST_UNSUBSCRIBE_SECRET", SECRET)
    answer: list[str] = []
    page = b"".join(unsubscribe.application(
        {"REQUEST_METHOD": "GET", "QUERY_STRING": f"t={make_token('ann@example.com', KEY)}", "PATH_INFO": "/u"},
        lambda status, headers: answer.append(status)))
    assert answer == ["200 OK"] and b"Harbour Notes" in page
