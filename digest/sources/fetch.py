"""Fetch a URL and turn bytes into text: the I/O edge of ``digest.sources``.

``fetch(url)`` streams the body with separate connect/read timeouts, an overall deadline that holds against a
server dripping bytes (a watchdog shuts the socket down; every read gets only the time left), a byte cap (it
stops reading past the cap), a bounded number of redirects (each on a fresh connection) and a real User-Agent.
A URL that came from content (a redirect to another host, a feed entry, a link) may not reach a loopback,
private, link-local or reserved address unless its host is in ``[fetch] allow_hosts``: every address the host
resolves to is checked before connecting, and the connection goes to the checked address (no DNS rebinding).
URLs the editor names (``trusted``: the command line, digest.toml, issue.toml) may be local.

``decode(raw, ...)`` picks the charset: byte-order mark, then valid UTF-8, then the charset the HTTP header or an
HTML ``<meta>`` declares, then charset-normalizer's guess, then cp1252 with replacement (it never raises on text
that is not binary).
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import re
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from .. import __version__
from .decoding import (  # noqa: F401 - re-exported: callers and tests import them from here
    DEFAULT_MAX_BYTES,
    FetchError,
    declared_charset,
    decode,
    human_size,
    looks_binary,
    max_bytes,
)

USER_AGENT = f"digest/{__version__} (+newsletter composer)"
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 20.0
TOTAL_TIMEOUT = 60.0
MAX_REDIRECTS = 5
_CHUNK = 64 * 1024


@dataclass
class Fetched:
    """A fetched response: ``url`` is the final URL after redirects."""

    url: str
    status: int
    content_type: str  # media type only, lower case ("text/html")
    charset: str | None  # from the Content-Type header
    body: bytes
    content_language: str | None = None


def parse_content_type(value: str | None) -> tuple[str, str | None]:
    """``"text/html; charset=ISO-8859-1"`` → ``("text/html", "iso-8859-1")``."""
    if not value:
        return "", None
    media, _, rest = value.partition(";")
    m = re.search(r"charset\s*=\s*[\"']?([\w.:-]+)", rest, re.I)
    return media.strip().lower(), (m.group(1).lower() if m else None)


class _Deadline:
    """The overall deadline of one fetch: a watchdog shuts the socket down when it passes (a server dripping a
    byte a second never lets a read time out), and every read is given at most the time that is left."""

    def __init__(self, total: float) -> None:
        self.total = total
        self.end = time.monotonic() + total
        self.expired = False
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, total), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def left(self) -> float:
        return self.end - time.monotonic()

    def watch(self, sock: socket.socket | None) -> None:
        with self._lock:
            self._sock = sock
            if self.expired and sock is not None:
                _shut(sock)

    def _fire(self) -> None:
        with self._lock:
            self.expired = True
            if self._sock is not None:
                _shut(self._sock)

    def check(self) -> None:
        if self.expired or self.left() <= 0:
            self.expired = True
            raise FetchError(f"took longer than {self.total:g} s")

    def cancel(self) -> None:
        self._timer.cancel()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def address_problem(ip: str) -> str | None:
    """Why ``ip`` is not a public address (loopback, private, link-local, ...), or None when it is."""
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    for test, name in ((addr.is_loopback, "loopback"), (addr.is_link_local, "link-local"),
                       (addr.is_private, "private"), (addr.is_multicast, "multicast"),
                       (addr.is_unspecified, "unspecified"), (addr.is_reserved, "reserved")):
        if test:
            return name
    if not addr.is_global:
        return "not public"
    return None


def _allowed_hosts(allow_hosts: Iterable[str] | None) -> set[str]:
    if allow_hosts is None:
        allow_hosts = default_allow_hosts()
    return {str(h).strip().lower().rstrip(".").strip("[]") for h in allow_hosts if str(h).strip()}


def default_allow_hosts() -> list[str]:
    """``[fetch] allow_hosts`` of the digest.toml in the working folder (or above), else none."""
    from ..config import load_settings

    try:
        return load_settings(Path.cwd()).allow_hosts()
    except Exception:  # noqa: BLE001 - no or a broken digest.toml: nothing allowed beyond public addresses
        return []


def resolve(url: str, *, trusted: bool, allow_hosts: Iterable[str] | None = None) -> list[tuple[Any, ...]]:
    """The addresses (getaddrinfo rows) to connect to for ``url``, every one checked: a URL that came from
    content (not ``trusted``) may not reach a loopback, private, link-local or reserved address unless its
    host is in ``[fetch] allow_hosts``. Raises FetchError before any connection is made."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise FetchError(f"not an http(s) URL: {url[:200]}")
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        raise FetchError(f"not a valid URL (bad port): {url[:200]}") from None
    try:
        rows = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise FetchError("unreachable (host name not found)") from None
    if not rows:
        raise FetchError("unreachable (host name not found)")
    if not trusted and host not in _allowed_hosts(allow_hosts):
        for row in rows:
            ip = str(row[4][0])
            why = address_problem(ip)
            if why is not None:
                raise FetchError(f"refused {host}: a {why} address ({ip}) reached from content (a redirect, a "
                                 "feed entry, a link), not named by you; list the host in [fetch] allow_hosts "
                                 "in digest.toml if it is yours")
    return rows


def _connect(url: str, rows: list[tuple[Any, ...]], connect_timeout: float, deadline: _Deadline) -> socket.socket:
    """A socket connected to one of the checked addresses (never resolved again: no DNS rebinding)."""
    parts = urlsplit(url)
    last: BaseException | None = None
    for family, kind, proto, _, sockaddr in rows:
        deadline.check()
        sock = socket.socket(family, kind, proto)
        deadline.watch(sock)
        try:
            sock.settimeout(max(0.05, min(connect_timeout, deadline.left())))
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            last = exc
            continue
        if parts.scheme.lower() == "https":
            context = ssl.create_default_context()
            try:
                sock = context.wrap_socket(sock, server_hostname=parts.hostname)
            except (ssl.SSLError, OSError) as exc:
                sock.close()
                raise FetchError(f"unreachable (TLS: {str(exc)[:160]})") from None
            deadline.watch(sock)
        return sock
    deadline.check()
    if isinstance(last, TimeoutError | socket.timeout):
        raise FetchError("unreachable (timed out connecting)")
    raise FetchError("unreachable (connection refused or no route)")


def open_url(url: str, method: str, *, trusted: bool, allow_hosts: Iterable[str] | None, connect_timeout: float,
             read_timeout: float, deadline: _Deadline, headers: dict[str, str]) -> tuple[Any, Any]:
    """One request on a fresh connection to a checked address: (connection, response with headers read)."""
    rows = resolve(url, trusted=trusted, allow_hosts=allow_hosts)
    sock = _connect(url, rows, connect_timeout, deadline)
    parts = urlsplit(url)
    default = 443 if parts.scheme.lower() == "https" else 80
    host = parts.hostname or ""
    host_header = (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port not in (None, default)
                                                             else "")
    conn = http.client.HTTPConnection(host, parts.port or default, timeout=read_timeout)
    conn.sock = sock  # already connected (and wrapped in TLS): http.client does not connect again
    try:
        sock.settimeout(max(0.05, min(read_timeout, deadline.left())))
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host_header)
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.putheader("Connection", "close")
        conn.endheaders()
        resp = conn.getresponse()
    except BaseException:
        conn.close()
        raise
    return conn, resp


_HEADERS = {
    "User-Agent": USER_AGENT,
    "Accept": "text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,"
    "application/xml;q=0.9,text/*;q=0.8,*/*;q=0.5",
    "Accept-Encoding": "gzip, deflate",
}


def fetch(
    url: str,
    *,
    connect_timeout: float = CONNECT_TIMEOUT,
    read_timeout: float = READ_TIMEOUT,
    total_timeout: float = TOTAL_TIMEOUT,
    limit: int | None = None,
    max_redirects: int = MAX_REDIRECTS,
    trusted: bool = True,
    allow_hosts: Iterable[str] | None = None,
) -> Fetched:
    """GET ``url``; raise FetchError with a one-line reason on any failure (network, HTTP status, size, time).

    ``trusted``: the editor named ``url`` (command line, digest.toml, issue.toml): it may be a local address,
    and so may redirects to the same host and port. Anything else (a redirect elsewhere, a URL from a feed or a
    page) is checked against every address its host resolves to, before connecting, and the connection goes
    to the checked address. Each hop uses a fresh connection; ``total_timeout`` holds for the whole fetch.
    """
    cap = max_bytes() if limit is None else limit
    deadline = _Deadline(total_timeout)
    origin = _origin(url)
    current = url
    conn = None
    try:
        for _ in range(max_redirects + 1):
            hop_trusted = trusted and _origin(current) == origin
            conn, resp = open_url(current, "GET", trusted=hop_trusted, allow_hosts=allow_hosts,
                                  connect_timeout=connect_timeout, read_timeout=read_timeout, deadline=deadline,
                                  headers=_HEADERS)
            location = resp.getheader("Location")
            if resp.status in (301, 302, 303, 307, 308) and location:
                nxt = urljoin(current, location.strip())
                conn.close()  # a fresh connection for the next hop: never a half-read one
                conn = None
                if not nxt.lower().startswith(("http://", "https://")):
                    raise FetchError(f"redirected to a non-HTTP address: {nxt[:200]}")
                current = nxt
                continue
            break
        else:
            raise FetchError(f"too many redirects (more than {max_redirects})")
        if resp.status >= 400:
            raise FetchError(f"HTTP {resp.status} {resp.reason or ''}".strip())
        length = resp.getheader("Content-Length", "")
        if length.isdigit() and int(length) > cap:
            raise FetchError(f"too large: {human_size(int(length))} (limit {human_size(cap)})")
        body = _read_body(resp, conn, cap, read_timeout, deadline)
        media, charset = parse_content_type(resp.getheader("Content-Type"))
        return Fetched(current, resp.status, media, charset, body, resp.getheader("Content-Language"))
    except FetchError:
        raise
    except TimeoutError:
        deadline.check()
        raise FetchError("timed out waiting for the server's answer") from None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        deadline.check()
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise FetchError(f"unreachable ({text[:160]})") from None
    finally:
        deadline.cancel()
        if conn is not None:
            conn.close()


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), port or (443 if scheme == "https" else 80)


def _read_body(resp: Any, conn: Any, cap: int, read_timeout: float, deadline: _Deadline) -> bytes:
    """The body, decompressed, read one socket read at a time with the deadline checked on every read."""
    encoding = (resp.getheader("Content-Encoding") or "").strip().lower()
    inflate: Any = None
    if encoding in ("gzip", "x-gzip"):
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        inflate = zlib.decompressobj()
    chunks: list[bytes] = []
    size = 0
    first = True
    while True:
        deadline.check()
        if conn.sock is not None:
            conn.sock.settimeout(max(0.05, min(read_timeout, deadline.left())))
        data = resp.read1(_CHUNK)
        if not data:
            break
        if inflate is not None:
            try:
                data = inflate.decompress(data, cap + 1 - size)
            except zlib.error:
                if not (first and encoding == "deflate"):
                    raise FetchError("unreachable (a compressed answer that does not decompress)") from None
                inflate = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, as some servers send it
                data = inflate.decompress(data, cap + 1 - size)
        first = False
        chunks.append(data)
        size += len(data)
        if size > cap:
            raise FetchError(f"too large: more than {human_size(cap)} (limit {human_size(cap)})")
    deadline.check()
    return b"".join(chunks)
