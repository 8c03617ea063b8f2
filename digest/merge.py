"""Per-recipient merge fields as placeholder tokens.

The email is rendered and inlined once per issue. Wherever a template writes a per-recipient value it
writes a token instead, one token per field *and per context*, because the same value must be written
differently in HTML (escaped), plain text (raw) and URLs (percent-encoded). Tokens use only
``[A-Z0-9_]`` so that HTML escaping, URL quoting, premailer and quoted-printable leave them alone.

Per recipient, ``substitute`` replaces every token in one regex pass (outbox, SMTP). For SendGrid the
same ``values`` mapping becomes the personalization's ``substitutions``.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Mapping
from urllib.parse import quote

CONTEXTS = ("HTML", "TEXT", "URL")
_TOKEN = re.compile(r"__DG_([A-Z0-9]+(?:_[A-Z0-9]+)*?)_(HTML|TEXT|URL)__")
_FIELD_OK = re.compile(r"^[a-z][a-z0-9_]*$")
_URL_SAFE = re.compile(r"[A-Za-z0-9_.~-]*")  # what quote(value, safe="") leaves as is


@functools.lru_cache(maxsize=4096)  # called per recipient, field and context by the send loop
def token(field: str, context: str) -> str:
    """The placeholder for ``field`` written in ``context`` (HTML, TEXT or URL)."""
    if not _FIELD_OK.match(field):
        raise ValueError(f"merge field names are lower case letters, digits and _: {field!r}")
    if context not in CONTEXTS:
        raise ValueError(f"unknown merge context {context!r}")
    return f"__DG_{field.upper()}_{context}__"


def parse_token(tok: str) -> tuple[str, str] | None:
    """(field, context) of a placeholder written by ``token``; None for any other text."""
    m = _TOKEN.fullmatch(tok)
    return (m.group(1).lower(), m.group(2)) if m else None


def encode(value: str, context: str) -> str:
    if context == "HTML":
        return html.escape(value, quote=True)
    if context == "URL":
        return value if _URL_SAFE.fullmatch(value) else quote(value, safe="")
    return value


def tokens_in(text: str) -> set[str]:
    """The tokens (field and context) that occur in ``text``."""
    return {m.group(0) for m in _TOKEN.finditer(text)}


def fields_in(text: str) -> set[str]:
    """Field names whose tokens occur in ``text``."""
    return {m.group(1).lower() for m in _TOKEN.finditer(text)}


def values(fields: Mapping[str, str], defaults: Mapping[str, str], wanted: set[str] | None = None) -> dict[str, str]:
    """Token → encoded value for one recipient; empty values fall back to ``defaults``.

    ``wanted`` limits the result to the fields a message actually uses (SendGrid's 10,000-byte budget).
    """
    names = set(fields) | set(defaults)
    if wanted is not None:
        names &= wanted
    out: dict[str, str] = {}
    for name in sorted(names):
        if not _FIELD_OK.match(name):
            continue
        value = (fields.get(name) or "").strip() or defaults.get(name, "")
        for ctx in CONTEXTS:
            out[token(name, ctx)] = encode(value, ctx)
    return out


def substitute(text: str, mapping: Mapping[str, str], fallback: Mapping[str, str] | None = None) -> str:
    """Replace every token in one pass; a token with no value takes ``fallback`` or becomes empty."""

    def repl(m: re.Match[str]) -> str:
        tok = m.group(0)
        if tok in mapping:
            return mapping[tok]
        if fallback and tok in fallback:
            return fallback[tok]
        return ""

    return _TOKEN.sub(repl, text)
