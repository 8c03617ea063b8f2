"""Links in the email: only http(s) and mailto survive, and article links may carry UTM parameters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

SAFE_SCHEMES = ("http", "https", "mailto")


def safe_url(value: str | None) -> str | None:
    """``value`` when it is an absolute http(s) URL with a host or a mailto: link; otherwise None.

    ``javascript:``, ``data:``, ``vbscript:``, relative paths and URLs hiding control characters or
    whitespace in the scheme are all refused, so the template leaves the href out.
    """
    if not value:
        return None
    value = value.strip()
    if any(ord(c) < 32 or ord(c) == 127 for c in value) or " " in value.split(":", 1)[0]:
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        if not parts.netloc or any(c.isspace() for c in parts.netloc):
            return None
        return value.translate(_NOT_IN_URLS)
    if scheme == "mailto":
        return value.translate(_NOT_IN_URLS) if len(value) > len("mailto:") else None
    return None


# Characters a URL never holds as they are (RFC 3986), percent-encoded as browsers do. ``<`` and ``>`` also
# matter to SendGrid: ``<%asm_group_unsubscribe_raw_url%>`` in a URL from content would be filled with the
# recipient's unsubscribe link in the plain-text part.
_NOT_IN_URLS = str.maketrans({" ": "%20", "<": "%3C", ">": "%3E", '"': "%22"})


def add_utm(url: str, params: Mapping[str, str]) -> str:
    """``url`` with the given utm_* parameters appended (one already in the URL is kept).

    The existing query string is kept byte for byte (``a%20b`` stays, ``preview`` stays ``preview``, the
    order stays): the new parameters are only appended, before any ``#fragment``.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        return url
    present = {k for k, _ in parse_qsl(parts.query, keep_blank_values=True)}
    extra = urlencode([(k, v) for k, v in params.items() if v and k not in present])
    if not extra:
        return url
    base, hash_mark, fragment = url.partition("#")
    if "?" not in base:
        base += "?"
    elif not base.endswith(("?", "&")):
        base += "&"
    return base + extra + hash_mark + fragment


def utm_params(links: Mapping[str, Any], slug: str) -> dict[str, str]:
    """The UTM parameters from ``[links]`` settings, or {} when ``links.utm`` is off (the default)."""
    if not links.get("utm"):
        return {}
    return {
        "utm_source": str(links.get("utm_source") or "newsletter"),
        "utm_medium": str(links.get("utm_medium") or "email"),
        "utm_campaign": str(links.get("utm_campaign") or slug),
    }
