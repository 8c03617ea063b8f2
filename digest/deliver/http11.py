"""A small threaded HTTP/1.1 server for a WSGI app, with correct keep-alive: the host of both of digest's
servers, the SendGrid event webhook (``deliver/events.py``) and the unsubscribe endpoint
(``deliver/unsubscribe.py``).

wsgiref's server speaks HTTP/1.0 and closes every connection; webhook senders and mail providers keep theirs
open. Here each response carries ``Content-Length`` (or the connection is closed after it); the request body is
read to its end before the next request on the connection is parsed (or the connection is closed when the app
left more than ``MAX_DRAIN`` bytes unread, e.g. after a 413), so a body's bytes are never taken for a request;
a ``Transfer-Encoding: chunked`` body is decoded as the app reads it (``wsgi.input_terminated``: the app reads
to its end, no ``CONTENT_LENGTH``), a malformed one gets 400 and a close, any other transfer coding 501; a
request line over 64 KiB gets 414; an idle connection is closed after ``IDLE_TIMEOUT`` seconds. Nothing of a
request's target is logged: an unsubscribe URL carries a bearer token.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import socketserver
import sys
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BufferedIOBase, BytesIO
from typing import Any
from urllib.parse import unquote

log = logging.getLogger(__name__)

IDLE_TIMEOUT = 75.0
MAX_DRAIN = 64 * 1024  # unread body bytes read and dropped to keep the connection; more: close it

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _Input:
    """What a WSGI ``wsgi.input`` offers beyond ``read`` and ``readline``."""

    def readline(self, size: int = -1) -> bytes:
        raise NotImplementedError

    def readlines(self, hint: int = -1) -> list[bytes]:
        return list(iter(self.readline, b""))

    def __iter__(self) -> Any:
        return iter(self.readline, b"")


class _Body(_Input):
    """``wsgi.input``: at most ``length`` bytes of the connection's stream."""

    def __init__(self, stream: BufferedIOBase, length: int) -> None:
        self.stream = stream
        self.left = length

    def read(self, size: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        n = self.left if size is None or size < 0 else min(size, self.left)
        data = self.stream.read(n)
        self.left -= len(data)
        if not data:
            self.left = 0
        return data

    def readline(self, size: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        n = self.left if size is None or size < 0 else min(size, self.left)
        data = self.stream.readline(n)
        self.left -= len(data)
        return data

    @property
    def finished(self) -> bool:
        return self.left <= 0

    @property
    def unread(self) -> int:
        return max(self.left, 0)

    def drain(self) -> bool:
        """Read the rest of the body; False when it is too long to bother (the connection is then closed)."""
        if self.left > MAX_DRAIN:
            return False
        while self.left > 0:
            if not self.read(1 << 16):
                return False
        return True


class BadChunk(Exception):
    """A chunked body that does not follow RFC 9112 7.1."""


class ChunkedInput(_Input):
    """``wsgi.input`` of a chunked body: decoded as it is read; empty at its end (``wsgi.input_terminated``)."""

    def __init__(self, stream: BufferedIOBase) -> None:
        self.stream = stream
        self.left = 0  # bytes left in the current chunk
        self.done = False

    def _next_chunk(self) -> None:
        if self.left:  # the end of a chunk is a CRLF
            return
        line = self.stream.readline(256)
        if not line.endswith(b"\n"):
            raise BadChunk("chunk size line")
        size_text = line.split(b";", 1)[0].strip()
        if not size_text or size_text.strip(b"0123456789abcdefABCDEF"):
            raise BadChunk("chunk size")
        self.left = int(size_text, 16)
        if self.left == 0:
            for _ in range(64):  # trailer fields, then the blank line
                if self.stream.readline(1024) in (b"\r\n", b"\n", b""):
                    self.done = True
                    return
            raise BadChunk("trailer")

    def _take(self, data: bytes) -> bytes:
        self.left -= len(data)
        if not data:
            raise BadChunk("body ended inside a chunk")
        if self.left == 0 and self.stream.readline(3) not in (b"\r\n", b"\n"):
            raise BadChunk("chunk not followed by CRLF")
        return data

    def _pull(self, size: int | None, line: bool) -> bytes:
        """Up to ``size`` decoded bytes (all when None or negative), stopping after a newline when ``line``."""
        out = bytearray()
        limit = -1 if size is None else size
        while not self.done and (limit < 0 or len(out) < limit) and not (line and out.endswith(b"\n")):
            self._next_chunk()
            if self.done:
                break
            want = min(self.left, 1 << 16) if limit < 0 else min(self.left, 1 << 16, limit - len(out))
            out += self._take(self.stream.readline(want) if line else self.stream.read(want))
        return bytes(out)

    def read(self, size: int = -1) -> bytes:
        return self._pull(size, line=False)

    def readline(self, size: int = -1) -> bytes:
        return self._pull(size, line=True)

    @property
    def finished(self) -> bool:
        return self.done

    @property
    def unread(self) -> int:
        return 0 if self.done else self.left  # what is known of it: the rest of the current chunk

    def drain(self) -> bool:
        """Read what the app left (at most ``MAX_DRAIN`` bytes); False when the connection must close."""
        try:
            return not self.read(MAX_DRAIN + 1)[MAX_DRAIN:]  # read() ends at the body's end or raises
        except BadChunk:
            return False


def _content_length(text: str) -> int:
    """The value of a Content-Length header, -1 when it is not a plain decimal number."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() else -1


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # SO_REUSEADDR on POSIX only: there a restart binds again at once although the connections it closed are in
    # TIME_WAIT, and a port another server listens on is still an error; on Windows it would share the port.
    allow_reuse_address = os.name == "posix"

    def __init__(self, address: tuple[str, int], app: WsgiApp) -> None:
        self.app = app
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, Handler)

    def server_bind(self) -> None:  # TCPServer's (SO_REUSEADDR, bind), not HTTPServer's reverse DNS lookup (getfqdn)
        socketserver.TCPServer.server_bind(self)
        self.server_port = int(self.server_address[1])


class Handler(BaseHTTPRequestHandler):
    server: Server
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT
    # Headers and body leave in two writes: with Nagle's algorithm the body waited for the client's delayed ACK
    # (~40 ms an answer on Linux).
    disable_nagle_algorithm = True

    def version_string(self) -> str:
        return "digest"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # the method and status only: the target may carry a bearer token (an unsubscribe link)
        log.debug("%s %s", self.command, code)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        # the stdlib's error messages quote the request line ("Bad request syntax ('GET /unsub?t=...')")
        log.debug("a request was refused or its connection lost")

    def _plain(self, status: int, text: str) -> None:
        data = text.encode()
        self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _wsgi(self) -> None:
        coding = self.headers.get("Transfer-Encoding")
        raw_length = self.headers.get("Content-Length")
        body: _Body | ChunkedInput
        if coding is not None:
            if coding.strip().lower() != "chunked" or raw_length is not None:  # RFC 9112 6.1: never both
                self._plain(501 if raw_length is None else 400, "only a chunked transfer coding is understood\n")
                return
            body, length = ChunkedInput(self.rfile), -1
        else:
            length = 0 if raw_length is None else _content_length(raw_length)
            if length < 0:
                self._plain(400, "bad Content-Length\n")
                return
            body = _Body(self.rfile, length)
        path, _, query = self.path.partition("?")
        host, port = self.server.server_address[:2]
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote(path, "latin-1"),
            "QUERY_STRING": query,
            "SERVER_NAME": str(host),
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "CONTENT_LENGTH": str(length) if raw_length is not None else "",
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": body,
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "wsgi.input_terminated": coding is not None,  # read a chunked body to its end (no CONTENT_LENGTH)
        }
        for name, value in self.headers.items():
            key = "HTTP_" + name.upper().replace("-", "_")
            if key not in ("HTTP_CONTENT_LENGTH", "HTTP_CONTENT_TYPE", "HTTP_TRANSFER_ENCODING"):
                environ[key] = f"{environ[key]},{value}" if key in environ else value
        answer: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[..., Any]:
            answer["status"], answer["headers"] = status, headers
            return lambda _data: None

        try:
            result = self.server.app(environ, start_response)
            try:
                out = BytesIO()
                for chunk in result:
                    out.write(chunk)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except BadChunk:
            self._plain(400, "malformed chunked body\n")
            return
        except Exception:
            log.exception("the WSGI app failed")
            self._plain(500, "internal error\n")
            return
        status = str(answer.get("status", "500 Internal Server Error"))
        code_text, _, reason = status.partition(" ")
        code = int(code_text)
        if not body.finished and (code >= 400 or body.unread > MAX_DRAIN):
            # a refused body (a 413, say) is not waited for, nor a long one: answer, then close
            self.close_connection = True
        data = out.getvalue()
        self.send_response(code, reason or None)
        names = set()
        for name, value in answer.get("headers", []):
            names.add(name.lower())
            self.send_header(name, value)
        if "content-length" not in names and code not in (204, 304) and code >= 200:
            self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        if not self.close_connection and not body.drain():  # the rest of the body, after the answer went
            self.close_connection = True

    def handle_one_request(self) -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            super().handle_one_request()

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _wsgi  # noqa: N815 - stdlib names


def make_server(host: str, port: int, app: WsgiApp) -> Server:
    return Server((host, port), app)
