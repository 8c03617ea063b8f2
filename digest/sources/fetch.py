"""Fetch a URL and turn bytes into text: the I/O edge of ``digest.sources``.

``fetch(url)`` streams the body with separate connect/read timeouts, an overall deadline, a byte cap (it stops
reading past the cap), a bounded number of redirects and a real User-Agent. ``decode(raw, ...)`` picks the
charset: byte-order mark, then valid UTF-8, then the charset the HTTP header or an HTML ``<meta>`` declares,
then charset-normalizer's guess, then cp1252 with replacement (it never raises on text that is not binary).
"""

from __future__ import annotations

import codecs
import os
import re
import time
from dataclasses import dataclass

from .. import __version__

USER_AGENT = f"digest/{__version__} (+newsletter composer)"
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 20.0
TOTAL_TIMEOUT = 60.0
MAX_REDIRECTS = 5
_CHUNK = 64 * 1024


class FetchError(Exception):
    """A URL could not be fetched; the message is one line, fit for ``SourceError``."""


def max_bytes() -> int:
    """The size cap for one source: ``DIGEST_MAX_SOURCE_BYTES`` or 10 MB."""
    raw = os.environ.get("DIGEST_MAX_SOURCE_BYTES", "")
    try:
        return int(raw) if raw.strip() else DEFAULT_MAX_BYTES
    except ValueError:
        return DEFAULT_MAX_BYTES


def human_size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}".replace(".0 ", " ")
        n /= 1024  # type: ignore[assignment]
    return f"{n} bytes"


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


def fetch(
    url: str,
    *,
    connect_timeout: float = CONNECT_TIMEOUT,
    read_timeout: float = READ_TIMEOUT,
    total_timeout: float = TOTAL_TIMEOUT,
    limit: int | None = None,
    max_redirects: int = MAX_REDIRECTS,
) -> Fetched:
    """GET ``url``; raise FetchError with a one-line reason on any failure (network, HTTP status, size)."""
    import urllib3
    from urllib3.exceptions import HTTPError, MaxRetryError, NewConnectionError, ProtocolError, TimeoutError

    cap = max_bytes() if limit is None else limit
    http = urllib3.PoolManager(
        headers={
            "User-Agent": USER_AGENT,
            "Accept": "text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,"
            "application/xml;q=0.9,text/*;q=0.8,*/*;q=0.5",
            "Accept-Encoding": "gzip, deflate",
        },
        timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
        retries=False,
    )
    started = time.monotonic()
    current = url
    try:
        for _ in range(max_redirects + 1):
            resp = http.request("GET", current, preload_content=False, redirect=False, retries=False)
            if resp.status in (301, 302, 303, 307, 308) and resp.headers.get("Location"):
                from urllib.parse import urljoin

                nxt = urljoin(current, resp.headers["Location"])
                resp.release_conn()
                if not nxt.lower().startswith(("http://", "https://")):
                    raise FetchError(f"redirected to a non-HTTP address: {nxt}")
                current = nxt
                continue
            break
        else:
            raise FetchError(f"too many redirects (more than {max_redirects})")
        if resp.status >= 400:
            reason = resp.reason or ""
            resp.release_conn()
            raise FetchError(f"HTTP {resp.status} {reason}".strip())
        length = resp.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > cap:
            resp.release_conn()
            raise FetchError(f"too large: {human_size(int(length))} (limit {human_size(cap)})")
        chunks: list[bytes] = []
        size = 0
        for chunk in resp.stream(_CHUNK, decode_content=True):
            chunks.append(chunk)
            size += len(chunk)
            if size > cap:
                resp.release_conn()
                raise FetchError(f"too large: more than {human_size(cap)} (limit {human_size(cap)})")
            if time.monotonic() - started > total_timeout:
                resp.release_conn()
                raise FetchError(f"took longer than {total_timeout:g} s")
        resp.release_conn()
    except FetchError:
        raise
    except MaxRetryError as exc:
        raise FetchError(_net_reason(exc.reason)) from None
    except (TimeoutError, NewConnectionError, ProtocolError, HTTPError, OSError) as exc:
        raise FetchError(_net_reason(exc)) from None
    except ValueError as exc:  # malformed URL
        raise FetchError(f"not a valid URL: {exc}") from None
    media, charset = parse_content_type(resp.headers.get("Content-Type"))
    return Fetched(current, resp.status, media, charset, b"".join(chunks), resp.headers.get("Content-Language"))


def _net_reason(exc: BaseException | None) -> str:
    from urllib3.exceptions import NameResolutionError, NewConnectionError, ReadTimeoutError
    from urllib3.exceptions import TimeoutError as U3Timeout

    # NameResolutionError < NewConnectionError < ConnectTimeoutError in urllib3 2: most specific first.
    if isinstance(exc, NameResolutionError):
        return "unreachable (host name not found)"
    if isinstance(exc, NewConnectionError | ConnectionRefusedError):
        return "unreachable (connection refused or no route)"
    if isinstance(exc, ReadTimeoutError):
        return "timed out waiting for the server's answer"
    if isinstance(exc, U3Timeout):
        return "unreachable (timed out connecting)"
    text = str(exc).splitlines()[0] if exc and str(exc) else type(exc).__name__
    return f"unreachable ({text[:160]})"


# ---------------------------------------------------------------- decoding

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([\w.:-]+)""", re.I)
# WHATWG: labels browsers treat as windows-1252.
_ALIASES = {"iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252", "us-ascii": "cp1252",
            "ascii": "cp1252", "iso8859-1": "cp1252", "l1": "cp1252", "x-user-defined": "cp1252"}


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    name = _ALIASES.get(name.strip().lower(), name.strip().lower())
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def declared_charset(raw: bytes) -> str | None:
    """The charset an HTML ``<meta>`` or XML declaration names in the first 4 KB."""
    head = raw[:4096]
    m = _XML_ENCODING.search(head) or _META_CHARSET.search(head)
    return m.group(1).decode("ascii", "replace") if m else None


_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 27))  # all but tab, LF, FF, CR, ESC


def looks_binary(raw: bytes) -> bool:
    """NUL bytes or many control characters in the first 8 KB (UTF-16 with a BOM is text)."""
    head = raw[:8192]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    if b"\x00" in head:
        return True
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))  # counted in C, not byte by byte
    return bool(head) and controls / len(head) > 0.05


def decode(raw: bytes, header_charset: str | None = None) -> tuple[str, str]:
    """Bytes → (text, encoding used). Never raises: the last resort is cp1252 with replacement."""
    boms = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
    for bom, enc in boms:
        if raw.startswith(bom):
            return raw[len(bom):].decode(enc, "replace"), enc
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    for name in (header_charset, declared_charset(raw)):
        enc = _codec(name)
        if enc and enc not in ("utf-8", "utf_8"):
            try:
                return raw.decode(enc), enc
            except (UnicodeDecodeError, LookupError):
                continue
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(raw[:200_000]).best()
        if best is not None and best.encoding:
            enc = _codec(best.encoding) or "cp1252"
            # Plain Latin text is far more often cp1252 than its look-alikes (cp1250, mac_roman, ...).
            if enc in ("latin_1", "iso8859-1", "cp1250", "mac-roman", "mac_roman", "iso8859_15"):
                try:
                    return raw.decode("cp1252"), "cp1252"
                except UnicodeDecodeError:
                    pass
            return raw.decode(enc, "replace"), enc
    except Exception:  # noqa: BLE001 - detection is a best effort; cp1252 below always works
        pass
    return raw.decode("cp1252", "replace"), "cp1252"
