"""The unsubscribe server for real: the WSGI app on its HTTP/1.1 server, raw requests over a socket.

RFC 8058 one-click POSTs arrive urlencoded or as multipart/form-data, with a Content-Length or chunked;
several requests may share one keep-alive connection.
"""

from __future__ import annotations

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
    app = make_app(tmp_path, suppressions_file=tmp_path / "lists" / "s.csv",
                   environ={"DIGEST_UNSUBSCRIBE_SECRET": SECRET})
    assert app.suppressions_file == tmp_path / "lists" / "s.csv"
    assert not app.suppressions_file.exists() and list((tmp_path / "lists").iterdir()) == []  # nothing left behind
