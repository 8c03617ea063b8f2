"""The HTTP/1.1 host's request bodies: a chunked body decoded as the app reads it (RFC 9112 7.1)."""

from __future__ import annotations

import socket
import threading
from io import BufferedReader, BytesIO
from typing import Any

import pytest

from digest.deliver.http11 import MAX_DRAIN, BadChunk, ChunkedInput, _Body, make_server


def chunked(raw: bytes) -> ChunkedInput:
    return ChunkedInput(BufferedReader(BytesIO(raw)))  # type: ignore[arg-type]


def test_chunks_with_extensions_and_trailers_decode_to_the_body_and_leave_the_next_request() -> None:
    stream = BufferedReader(BytesIO(b"5;name=value\r\nList-\r\n15\r\nUnsubscribe=One-Click\r\n0\r\n"
                                    b"Expires: never\r\n\r\nGET / HTTP/1.1\r\n"))
    body = ChunkedInput(stream)  # type: ignore[arg-type]
    assert body.read(3) + body.read() == b"List-Unsubscribe=One-Click"
    assert body.finished and body.read() == b"" and body.drain()
    assert stream.readline() == b"GET / HTTP/1.1\r\n"  # nothing of the body is left for the next request


def test_lines_are_read_across_chunk_boundaries() -> None:
    body = chunked(b"4\r\nab\nc\r\n3\r\nd\nx\r\n0\r\n\r\n")
    assert list(body) == [b"ab\n", b"cd\n", b"x"]


@pytest.mark.parametrize("raw", [
    b"zz\r\nab\r\n0\r\n\r\n",  # not a hexadecimal size
    b"-2\r\nab\r\n0\r\n\r\n",  # a sign is not allowed
    b"4\r\nab",  # the body ends inside a chunk
    b"2\r\nabXY0\r\n\r\n",  # a chunk not followed by CRLF
    b"2\r\nab\r\n",  # no last chunk
])
def test_a_malformed_chunked_body_is_an_error_not_a_short_body(raw: bytes) -> None:
    with pytest.raises(BadChunk):
        chunked(raw).read()


def test_a_huge_announced_chunk_is_read_in_bounded_pieces() -> None:
    body = chunked(b"ffffffffffff\r\n" + b"x" * 10)
    assert body.read(4) == b"xxxx"  # no 280 TB buffer asked for
    assert not body.drain()  # the rest is not worth waiting for: the connection closes


def test_drain_reads_at_most_max_drain_bytes_of_what_the_app_left() -> None:
    small = chunked(b"%x\r\n%s\r\n0\r\n\r\n" % (MAX_DRAIN, b"y" * MAX_DRAIN))
    assert small.drain() and small.finished
    big = chunked(b"%x\r\n%s\r\n0\r\n\r\n" % (MAX_DRAIN + 1, b"y" * (MAX_DRAIN + 1)))
    assert not big.drain()
    plain = _Body(BufferedReader(BytesIO(b"z" * (MAX_DRAIN + 1))), MAX_DRAIN + 1)  # type: ignore[arg-type]
    assert not plain.finished and plain.unread == MAX_DRAIN + 1 and not plain.drain()


def body(raw: bytes, length: int) -> tuple[_Body, BufferedReader]:
    stream = BufferedReader(BytesIO(raw))
    return _Body(stream, length), stream  # type: ignore[arg-type]


def test_a_content_length_body_is_read_to_its_last_byte_and_no_further() -> None:
    got, stream = body(b"List-Unsubscribe=One-ClickGET / HTTP/1.1\r\n", 26)
    assert got.read(25) + got.read(1) + got.read(1) == b"List-Unsubscribe=One-Click"  # byte by byte at its end
    assert got.finished and got.unread == 0 and got.read() == b"" and got.readline() == b""
    assert stream.readline() == b"GET / HTTP/1.1\r\n"  # the next request is left where it was


def test_lines_of_a_content_length_body_stop_at_its_end() -> None:
    got, stream = body(b"a=1\nb=2\nc=3\nNEXT", 11)
    assert list(got) == [b"a=1\n", b"b=2\n", b"c=3"]
    assert stream.read() == b"\nNEXT"


def test_a_body_cut_short_by_the_client_ends_the_reading() -> None:
    got, _ = body(b"abc", 10)  # the client announced 10 bytes and sent 3
    assert got.read() == b"abc" and got.read() == b"" and got.finished


def test_drain_reads_what_the_app_left_of_a_small_body() -> None:
    got, stream = body(b"x" * 100 + b"NEXT", 100)
    got.read(10)
    assert got.unread == 90 and not got.finished
    assert got.drain() and got.finished and stream.read() == b"NEXT"
    cut, _ = body(b"x" * 5, 100)  # the client left mid-body: the connection cannot be kept
    assert not cut.drain()


def _ok(environ: dict[str, object], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok\n"]


def _get(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


def test_a_restarted_server_binds_its_port_again_at_once_but_never_beside_another() -> None:
    """The server closed the connections it served (TIME_WAIT on its side): a restart on the same port must not
    fail with "address in use" for a minute; a port another server listens on is still refused."""
    first = make_server("127.0.0.1", 0, _ok)
    port = first.server_port
    thread = threading.Thread(target=first.serve_forever, daemon=True)
    thread.start()
    try:
        answer = _get(port)
        assert answer.startswith(b"HTTP/1.1 200") and b"Server: digest\r\n" in answer  # no Python version shown
        assert b"Content-Length: 3\r\n" in answer and answer.endswith(b"\r\n\r\nok\n")
        with pytest.raises(OSError):
            make_server("127.0.0.1", port, _ok)
    finally:
        first.shutdown()
        first.server_close()
    again = make_server("127.0.0.1", port, _ok)
    again.server_close()


@pytest.mark.parametrize("size", [1, 2, 3, 4, 7, 100])
def test_a_chunked_body_read_in_any_piece_size_is_the_body(size: int) -> None:
    data = b"List-Unsubscribe=One-Click\nsecond line\n"
    raw = b"".join(b"%x\r\n%s\r\n" % (len(data[i:i + 5]), data[i:i + 5]) for i in range(0, len(data), 5)) + b"0\r\n\r\n"
    by_read = chunked(raw)
    pieces = list(iter(lambda: by_read.read(size), b""))
    assert b"".join(pieces) == data and all(len(p) <= size for p in pieces) and by_read.finished
    by_line = chunked(raw)
    lines = list(iter(lambda: by_line.readline(size), b""))
    assert b"".join(lines) == data and all(len(p) <= size for p in lines)
    assert all(p.endswith(b"\n") or len(p) == size or p is lines[-1] for p in lines)  # a line ends at its newline


def test_endless_trailer_fields_are_refused() -> None:
    with pytest.raises(BadChunk):
        chunked(b"2\r\nab\r\n0\r\n" + b"X-Filler: 1\r\n" * 100 + b"\r\n").read()


def _serve(app: Any) -> tuple[Any, int]:
    server = make_server("127.0.0.1", 0, app)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_port


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


def test_the_app_gets_a_wsgi_environ_as_pep_3333_describes() -> None:
    seen: list[dict[str, Any]] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(dict(environ, body=environ["wsgi.input"].read()))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    server, port = _serve(app)
    try:
        _raw(port, b"POST /unsub%20me/x?t=abc&y=1 HTTP/1.1\r\nHost: news.example\r\nContent-Type: text/plain\r\n"
                   b"X-Thing: a\r\nX-Thing: b\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
    finally:
        server.shutdown()
        server.server_close()
    env = seen[0]
    assert (env["REQUEST_METHOD"], env["SCRIPT_NAME"], env["PATH_INFO"], env["QUERY_STRING"]) == \
        ("POST", "", "/unsub me/x", "t=abc&y=1")
    assert (env["SERVER_NAME"], env["SERVER_PORT"], env["SERVER_PROTOCOL"]) == ("127.0.0.1", str(port), "HTTP/1.1")
    assert (env["CONTENT_TYPE"], env["CONTENT_LENGTH"], env["body"]) == ("text/plain", "5", b"hello")
    assert "HTTP_CONTENT_TYPE" not in env and "HTTP_CONTENT_LENGTH" not in env
    assert env["HTTP_X_THING"] == "a,b" and env["HTTP_HOST"] == "news.example"
    assert env["wsgi.version"] == (1, 0) and env["wsgi.url_scheme"] == "http"
    assert (env["wsgi.multithread"], env["wsgi.multiprocess"], env["wsgi.run_once"]) == (True, False, False)
    assert env["wsgi.input_terminated"] is False and env["REMOTE_ADDR"] == "127.0.0.1"


def test_a_failing_app_is_a_500_logged_and_a_bad_length_a_400(caplog: pytest.LogCaptureFixture) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ["PATH_INFO"] == "/boom":
            raise RuntimeError("boom")
        start_response("204 No Content", [])
        return []

    server, port = _serve(app)
    try:
        boom = _raw(port, b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n")
        bad = _raw(port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1e3\r\n\r\n")
        empty = _raw(port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    finally:
        server.shutdown()
        server.server_close()
    assert boom.startswith(b"HTTP/1.1 500 ") and b"Connection: close" in boom
    assert any("the WSGI app failed" in r.getMessage() for r in caplog.records)
    assert bad.startswith(b"HTTP/1.1 400 ") and bad.endswith(b"bad Content-Length\n")
    assert empty.startswith(b"HTTP/1.1 204 ") and b"Content-Length" not in empty  # RFC 9110 8.6
