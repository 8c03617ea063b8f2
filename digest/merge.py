"""Per-recipient merge fields as placeholder tokens.

The email is rendered and inlined once per issue. Wherever a template writes a per-recipient value it
writes a token instead, one token per field *and per context*, because the same value must be written
differently in HTML (escaped), plain text (raw) and URLs (percent-encoded). Tokens use only
``[A-Z0-9_]`` so that HTML escaping, URL quoting, premailer and quoted-printable leave them alone.

Every build draws a random key (``new_key``) that goes into each of its tokens
(``__DG_<KEY>_FIRST_NAME_HTML__``) and is kept in the draft, so a send substitutes exactly that build's
tokens and nothing else: placeholder-shaped text that arrives in content (a title, a URL, an image, a
teaser) stays as it is, and the build draws again if content ever holds the key it drew. A token without a
key (``__DG_FIRST_NAME_HTML__``) is what a draft made before keys existed holds; ``key=""`` means that.

Per recipient, ``substitute`` replaces every token of the draft's key in one regex pass (outbox, SMTP). For
SendGrid the same ``values`` mapping becomes the personalization's ``substitutions``.
"""

from __future__ import annotations

import functools
import html
import re
import secrets
from collections.abc import Callable, Mapping
from urllib.parse import quote

CONTEXTS = ("HTML", "TEXT", "URL")
# How an editor writes a merge field in the subject and the intro: {first_name}; {{ and }} are literal braces.
_FIELD_REF = re.compile(r"\{\{|\}\}|\{([a-z][a-z0-9_]*)\}")
# A key starts with a digit, a field name with a letter: a token's key and field never run into each other.
_TOKEN = re.compile(r"__DG_(?:([0-9][A-Z0-9]{11})_)?([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*?)_(HTML|TEXT|URL)__")
_KEY_OK = re.compile(r"[0-9][A-Z0-9]{11}")
_FIELD_OK = re.compile(r"^[a-z][a-z0-9_]*$")
_URL_SAFE = re.compile(r"[A-Za-z0-9_.~-]*")  # what quote(value, safe="") leaves as is
_KEY_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def new_key() -> str:
    """A fresh random key for one build's tokens: a digit and 11 letters or digits (about 60 bits)."""
    return secrets.choice("0123456789") + "".join(secrets.choice(_KEY_CHARS) for _ in range(11))


def check_key(key: str) -> str:
    if key and not _KEY_OK.fullmatch(key):
        raise ValueError(f"not a merge key: {key!r}")
    return key


@functools.lru_cache(maxsize=4096)  # called per recipient, field and context by the send loop
def token(field: str, context: str, key: str = "") -> str:
    """The placeholder for ``field`` written in ``context`` (HTML, TEXT or URL) in a build keyed ``key``."""
    if not _FIELD_OK.match(field):
        raise ValueError(f"merge field names are lower case letters, digits and _: {field!r}")
    if context not in CONTEXTS:
        raise ValueError(f"unknown merge context {context!r}")
    return f"__DG_{check_key(key)}_{field.upper()}_{context}__" if key else f"__DG_{field.upper()}_{context}__"


def parse_token(tok: str) -> tuple[str, str] | None:
    """(field, context) of a placeholder written by ``token`` (any key); None for any other text."""
    m = _TOKEN.fullmatch(tok)
    return (m.group(2).lower(), m.group(3)) if m else None


def fill_fields(text: str, fill: Callable[[str], str]) -> str:
    """``text`` with each ``{field}`` replaced by ``fill(field)`` and ``{{``/``}}`` by a literal brace."""
    return _FIELD_REF.sub(lambda m: fill(m.group(1)) if m.group(1) else m.group(0)[0], text)


def field_refs(text: str) -> set[str]:
    """The ``{field}`` names written in ``text`` (subject, intro)."""
    return {m.group(1) for m in _FIELD_REF.finditer(text) if m.group(1)}


def encode(value: str, context: str) -> str:
    if context == "HTML":
        return html.escape(value, quote=True)
    if context == "URL":
        return value if _URL_SAFE.fullmatch(value) else quote(value, safe="")
    return value


def tokens_in(text: str, key: str | None = None) -> set[str]:
    """The tokens that occur in ``text``: of build ``key`` only, or (None) of any build."""
    return {m.group(0) for m in _TOKEN.finditer(text) if key is None or (m.group(1) or "") == key}


def fields_in(text: str, key: str | None = None) -> set[str]:
    """Field names whose tokens (of build ``key``, or of any build) occur in ``text``."""
    return {m.group(2).lower() for m in _TOKEN.finditer(text) if key is None or (m.group(1) or "") == key}


def values(fields: Mapping[str, str], defaults: Mapping[str, str], wanted: set[str] | None = None,
           key: str = "") -> dict[str, str]:
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
            out[token(name, ctx, key)] = encode(value, ctx)
    return out


def substitute(text: str, mapping: Mapping[str, str], fallback: Mapping[str, str] | None = None,
               key: str | None = None) -> str:
    """Replace every token in one pass; a token with no value takes ``fallback`` or becomes empty.

    With ``key`` only that build's tokens are replaced: any other placeholder-shaped text is left exactly
    as it is (it came from content, not from the template).
    """

    def repl(m: re.Match[str]) -> str:
        tok = m.group(0)
        if key is not None and (m.group(1) or "") != key:
            return tok
        if tok in mapping:
            return mapping[tok]
        if fallback and tok in fallback:
            return fallback[tok]
        return ""

    return _TOKEN.sub(repl, text)
