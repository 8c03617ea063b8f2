"""Bytes to text for every source, with no network code: the size cap, binary sniffing and charset decoding.

Kept apart from ``fetch`` so reading a local file never imports ``http.client``, ``ssl`` or ``socket``.
"""

from __future__ import annotations

import codecs
import os
import re

DEFAULT_MAX_BYTES = 10 * 1024 * 1024


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
