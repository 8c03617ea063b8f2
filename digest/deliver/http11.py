"""A small threaded HTTP/1.1 server for a WSGI app, with correct keep-alive.

wsgiref's server speaks HTTP/1.0 and closes every connection; webhook senders keep theirs open. Here each
response carries ``Content-Length`` (or the connection is closed after it), the request body is read to its
end before the next request on the connection is parsed (or the connection is closed when the app left
more than ``MAX_DRAIN`` bytes unread, e.g. after a 413), a body with ``Transfer-Encoding`` gets 411 and a
close, and an idle connection is closed after ``IDLE_TIMEOUT`` seconds.
"""

from __future__ import annotations

import contextlib
import logging
import socket
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


class _Body:
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

    def readlines(self, hint: int = -1) -> list[bytes]:
        return list(iter(self.readline, b""))

    def __iter__(self) -> Any:
        return iter(self.readline, b"")

    def drain(self) -> bool:
        """Read the rest of the body; False when it is too long to bother (the connection is then closed)."""
        if self.left > MAX_DRAIN:
            return False
        while self.left > 0:
            if not self.read(1 << 16):
                return False
        return True


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False  # a port in use is an error

    def __init__(self, address: tuple[str, int], app: WsgiApp) -> None:
        self.app = app
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, Handler)

    def server_bind(self) -> None:  # no reverse DNS lookup (HTTPServer calls getfqdn)
        self.socket.bind(self.server_address)
        self.server_address = self.socket.getsockname()
        self.server_name = str(self.server_address[0])
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

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("%s - %s", self.address_string(), format % args)

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
        if self.headers.get("Transfer-Encoding"):
            self._plain(411, "send the body with a Content-Length\n")
            return
        raw_length = self.headers.get("Content-Length")
        try:
            length = int(raw_length) if raw_length is not None else 0
        except ValueError:
            length = -1
        if length < 0:
            self._plain(400, "bad Content-Length\n")
            return
        path, _, query = self.path.partition("?")
        body = _Body(self.rfile, length)
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
        }
        for name, value in self.headers.items():
            key = "HTTP_" + name.upper().replace("-", "_")
            if key not in ("HTTP_CONTENT_LENGTH", "HTTP_CONTENT_TYPE"):
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
        except Exception:
            log.exception("the WSGI app failed")
            self._plain(500, "internal error\n")
            return
        if not body.drain():
            self.close_connection = True
        status = str(answer.get("status", "500 Internal Server Error"))
        code, _, reason = status.partition(" ")
        data = out.getvalue()
        self.send_response(int(code), reason or None)
        names = set()
        for name, value in answer.get("headers", []):
            names.add(name.lower())
            self.send_header(name, value)
        if "content-length" not in names and int(code) not in (204, 304) and int(code) >= 200:
            self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def handle_one_request(self) -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            super().handle_one_request()

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _wsgi  # noqa: N815 - stdlib names


def make_server(host: str, port: int, app: WsgiApp) -> Server:
    return Server((host, port), app)
