"""Keep-alive HTTP under the ``sendgrid`` client: pooled persistent connections, failures told apart by when.

python-http-client (under ``sendgrid.SendGridAPIClient``) opens a new connection for every request through
``urllib`` (which sends ``Connection: close``): over a real network that is a TCP and TLS handshake per
request. ``pooled_client`` swaps the client's ``python_http_client.Client`` for ``PooledClient``, the same
class with one method replaced (``_make_request``, the library's own hook): the request the library built (URL,
headers with the bearer key, body) goes out over a ``Pool`` connection that stays open for the next request.
Everything else (URL building, headers, error classes) is still the library's.

Failures keep urllib's shape, which the SendGrid backend classifies:

* anything before the request was completely written (connecting, TLS, writing the headers or the body)
  raises ``urllib.error.URLError``: the server cannot have accepted it, it is safe to send again;
* anything after (a timeout or a lost connection while waiting for or reading the answer) is raised bare
  (``TimeoutError``, ``ConnectionResetError``, ``http.client.RemoteDisconnected``…): the server may have
  accepted the request.

A connection is reused only when the server has not closed it (checked without blocking just before reuse)
and it has been idle less than ``idle_timeout`` seconds, so a request rarely meets a connection the server
dropped while it was idle; when it does, that failure counts as *after* the request was written, like any
other: never resent on its own.

``timeout`` is the socket timeout of every step and, one second later, the bound of the whole request: one
watchdog thread per pool shuts down the socket of a request still running then (a server that drips its
answer a byte at a time cannot hold a request for longer), and the request raises ``TimeoutError``.
"""

from __future__ import annotations

import contextlib
import heapq
import http.client
import io
import ipaddress
import itertools
import select
import socket
import ssl
import threading
import time
import urllib.error
from email.message import Message
from typing import Any
from urllib.parse import urlsplit

IDLE_TIMEOUT = 20.0  # seconds a connection may sit idle and still be reused
MAX_IDLE = 32  # idle connections kept at most
GRACE = 1.0  # seconds past the socket timeout before the watchdog ends a request


class _Watchdog:
    """Ends requests that outlive their bound: one thread for all of a pool's requests, asleep until the
    earliest bound (no thread per request)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[list[Any]] = []  # [bound, sequence, connection or None when done, fired]
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, bound: float, conn: http.client.HTTPConnection) -> list[Any]:
        entry = [bound, next(self._seq), conn, False]
        with self._cond:
            heapq.heappush(self._heap, entry)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="digest-http-watchdog", daemon=True)
                self._thread.start()
            elif self._heap[0] is entry:
                self._cond.notify()
        return entry

    def done(self, entry: list[Any]) -> bool:
        """The request is over; True when the watchdog ended it."""
        with self._cond:
            entry[2] = None
            return bool(entry[3])

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                heap = self._heap
                while heap and (heap[0][2] is None or heap[0][0] <= now):
                    entry = heapq.heappop(heap)
                    conn = entry[2]
                    if conn is not None:
                        entry[3] = True
                        sock = conn.sock
                        if sock is not None:
                            with contextlib.suppress(OSError):
                                sock.shutdown(socket.SHUT_RDWR)  # the blocked read or write returns at once
                self._cond.wait(heap[0][0] - now if heap else None)


class PooledResponse:
    """What python-http-client's ``Response`` reads from a urllib response: ``getcode``, ``read``, ``info``."""

    __slots__ = ("status", "reason", "headers", "body")

    def __init__(self, status: int, reason: str, headers: Message, body: bytes) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body

    def getcode(self) -> int:
        return self.status

    def read(self) -> bytes:
        return self.body

    def info(self) -> Message:
        return self.headers


class Pool:
    """Persistent HTTP/1.1 connections to one scheme://host:port, shared by any number of threads.

    Each request takes an idle connection (or opens one), and gives it back once the answer has been read
    whole; a connection that failed, or that the server asked to close, is closed instead.
    """

    def __init__(self, base_url: str, *, idle_timeout: float = IDLE_TIMEOUT, max_idle: int = MAX_IDLE) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.idle_timeout = idle_timeout
        self.max_idle = max_idle
        self._idle: list[tuple[http.client.HTTPConnection, float]] = []
        self._lock = threading.Lock()
        self._context: ssl.SSLContext | None = None
        self._watchdog = _Watchdog()
        self.opened = 0  # connections made (keep-alive: far fewer than requests)
        self.requests = 0

    # -- connections ---------------------------------------------------------------------------------------
    def _new(self, timeout: float) -> http.client.HTTPConnection:
        if self.scheme == "https":
            if self._context is None:
                self._context = ssl.create_default_context()
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=self._context)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def _take(self, timeout: float) -> tuple[http.client.HTTPConnection, bool]:
        """An idle connection still open (reused: True), or a new one not connected yet (False)."""
        now = time.monotonic()
        while True:
            with self._lock:
                if not self._idle:
                    break
                conn, since = self._idle.pop()
            if now - since < self.idle_timeout and _still_open(conn):
                conn.timeout = timeout
                if conn.sock is not None:
                    conn.sock.settimeout(timeout)
                return conn, True
            conn.close()
        return self._new(timeout), False

    def _give_back(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < self.max_idle:
                self._idle.append((conn, time.monotonic()))
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn, _ in idle:
            conn.close()

    # -- a request -----------------------------------------------------------------------------------------
    def request(self, method: str, url: str, body: bytes | None, headers: dict[str, str],
                timeout: float) -> PooledResponse:
        """Send one request and read its whole answer (any status). Errors as in the module doc."""
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn, reused = self._take(timeout)
        watch = self._watchdog.watch(time.monotonic() + timeout + GRACE, conn)
        try:
            return self._exchange(conn, reused, method, target, body, headers)
        except urllib.error.URLError:
            raise  # not written whole, whatever ended it: nothing was accepted
        except BaseException:
            if self._watchdog.done(watch):  # ended while waiting for the answer
                raise TimeoutError(f"no complete answer within {timeout + GRACE:.0f}s") from None
            raise
        finally:
            self._watchdog.done(watch)

    def _exchange(self, conn: http.client.HTTPConnection, reused: bool, method: str, target: str,
                  body: bytes | None, headers: dict[str, str]) -> PooledResponse:
        try:
            if not reused:
                conn.connect()
                with self._lock:
                    self.opened += 1
            conn.putrequest(method, target, skip_accept_encoding=True)
            for name, value in headers.items():
                if name.lower() not in ("connection", "content-length", "host"):
                    conn.putheader(name, value)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
        except OSError as exc:  # connect, TLS, write: the request was not complete, nothing was accepted
            conn.close()
            raise urllib.error.URLError(exc) from None
        except BaseException:
            conn.close()
            raise
        try:
            resp = conn.getresponse()
            data = resp.read()
        except BaseException:  # the request was written: the server may have accepted it
            conn.close()
            raise
        with self._lock:
            self.requests += 1
        if resp.will_close:
            conn.close()
        else:
            self._give_back(conn)
        return PooledResponse(resp.status, resp.reason, resp.headers, data)

    def urlopen(self, request: Any, timeout: float | None) -> PooledResponse:
        """``opener.open(request, timeout)`` for a ``urllib.request.Request``: HTTP errors raise ``HTTPError``
        (with the answer's body), as urllib does."""
        headers = {name: value for name, value in request.header_items()}
        resp = self.request(request.get_method(), request.full_url, request.data, headers,
                            timeout if timeout is not None else 30.0)
        if resp.status >= 400:
            raise urllib.error.HTTPError(request.full_url, resp.status, resp.reason, resp.headers,
                                         io.BytesIO(resp.body))
        return resp


def _still_open(conn: http.client.HTTPConnection) -> bool:
    """False when the server closed the idle connection (readable with nothing to say, or anything at all)."""
    sock = conn.sock
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1) as written (never resolved: no DNS)."""
    host = host.strip().strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def pooled_client(sg_client: Any, pool: Pool) -> Any:
    """``sg_client`` (a ``sendgrid.SendGridAPIClient``) with its requests going over ``pool``."""
    from python_http_client import Client

    class PooledClient(Client):  # type: ignore[misc]
        """python-http-client's ``Client`` whose requests go over the pool (``_make_request`` is the hook)."""

        def _build_client(self, name: str | None = None) -> PooledClient:
            url_path = self._url_path + [name] if name else self._url_path
            return PooledClient(host=self.host, version=self._version, request_headers=self.request_headers,
                                url_path=url_path, append_slash=self.append_slash, timeout=self.timeout)

        def _make_request(self, opener: Any, request: Any, timeout: float | None = None) -> Any:
            from python_http_client.exceptions import handle_error

            # The library builds a urllib opener for every request, which goes unused here: each one is a
            # reference cycle (opener <-> its handlers' ``parent``) left for the cycle collector, which runs
            # seldom during a send (``send._run`` raises its threshold). Unlinked, it is freed at once.
            for handler in getattr(opener, "handlers", ()):
                handler.parent = None
            try:
                return pool.urlopen(request, timeout or self.timeout)
            except urllib.error.HTTPError as err:
                # Raised without a name in this frame: ``exc = …; raise exc`` would make a cycle (the error's
                # traceback holds this frame, the frame holds the error) that keeps the request body alive
                # until a full garbage collection — 250 KB per 429 on a send that waits out rate limits.
                raise handle_error(err) from None

    old = sg_client.client
    sg_client.client = PooledClient(host=old.host, version=old._version, request_headers=old.request_headers,
                                    url_path=list(old._url_path), append_slash=old.append_slash,
                                    timeout=old.timeout)
    return sg_client
