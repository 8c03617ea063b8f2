"""The SendGrid backend: one v3 ``mail/send`` request per batch of up to 1000 recipients.

The issue is rendered once (``Draft``); its subject, text and HTML travel once per request and every
recipient is a ``personalization`` whose ``substitutions`` are that recipient's merge values (one token per
field and context, see ``digest.merge``). Per-recipient headers (List-Unsubscribe with the recipient's own
link) go in ``personalizations[].headers``; SendGrid makes each message's Message-ID.

Request bodies are plain dicts (the library's helper classes cost ~16 µs a recipient). Errors:

* 429 → wait for ``Retry-After`` / ``X-RateLimit-Reset``, then retry;
* 5xx, connection errors, timeouts → exponential backoff with jitter, at most ``[sendgrid] max_attempts``;
* any other 4xx → ``SendGridRejected`` showing SendGrid's ``errors[]`` (field and message): the send stops.

Every call has a socket ``timeout`` and every batch an overall deadline (``[sendgrid] deadline``). The API key
comes from ``SENDGRID_API_KEY`` only; it is never printed, logged or written, and the ``python_http_client``
logger (which logs the bearer key and whole bodies at DEBUG) is kept at WARNING.
"""

from __future__ import annotations

import html
import http.client
import json
import logging
import os
import random
import re
import threading
import time
import urllib.error
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .. import merge
from ..errors import ConfigError, DigestError, UsageError
from .base import AllAccepted, BatchAborted, Outcome, Personal

if TYPE_CHECKING:
    from ..compose.message import Draft
    from ..config import Settings

logging.getLogger("python_http_client").setLevel(logging.WARNING)
log = logging.getLogger(__name__)

API_KEY_ENV = "SENDGRID_API_KEY"
MAX_PERSONALIZATIONS = 1000  # per request
MAX_RECIPIENTS = 1000  # to + cc + bcc over all personalizations of one request
SUBSTITUTIONS_MAX_BYTES = 10_000  # one personalization's substitutions must stay under this
CUSTOM_ARGS_MAX_BYTES = 10_000
MAX_SCHEDULE_AHEAD = 72 * 3600  # send_at at most 72 hours ahead
MAX_RATE_LIMIT_WAIT = 300.0  # never sleep longer than this on a single 429
SCHEDULE_FILE = "sendgrid-schedule.json"  # in the issue folder: the batch_id of a scheduled send
# Headers SendGrid refuses in ``headers`` (it sets them itself).
RESERVED_HEADERS = frozenset(
    h.lower()
    for h in (
        "x-sg-id", "x-sg-eid", "received", "dkim-signature", "Content-Type", "Content-Transfer-Encoding",
        "To", "From", "Subject", "Reply-To", "CC", "BCC", "Message-ID",
    )
)
_TOKEN = re.compile(r"__DG_[A-Z0-9_]+?_(?:HTML|TEXT|URL)__")
# With a Content-Type other than exactly "application/json", python-http-client sends a str body as is, so
# the body is serialized here, by orjson when installed (~8x faster than json.dumps on 1000 personalizations).
JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}



class _Payload(bytes):
    """Request bytes that print as their size.

    python-http-client formats ``'PAYLOAD: {data}'`` for a DEBUG line on every call, even with that logger
    off: for a 700 KB body that repr costs ~25 ms a request, and it would spell out every address if the
    logger were ever on. This type makes the line ``PAYLOAD: <671234 bytes>``.
    """

    def __repr__(self) -> str:
        return f"<{len(self)} bytes>"

    __str__ = __repr__


class JsonBody:
    """A serialized request body (UTF-8 JSON bytes) for python-http-client.

    With our Content-Type the client only calls ``request_body.encode("utf-8")`` and sends the result; this
    hands back the bytes as they are (a ``_Payload``), with no decode/encode round trip of ~700 KB a request.
    """

    __slots__ = ("raw",)

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        if encoding.lower().replace("-", "").replace("_", "") != "utf8":
            return _Payload(self.raw.decode("utf-8").encode(encoding, errors))
        return _Payload(self.raw)

    def __str__(self) -> str:
        return self.raw.decode("utf-8")

    def __len__(self) -> int:
        return len(self.raw)


def _body(raw: bytes) -> JsonBody:
    return JsonBody(raw)


try:
    import orjson as _orjson

    def dumps(body: Any) -> JsonBody:
        """Compact JSON of a request body (UTF-8)."""
        return _body(_orjson.dumps(body))

except ImportError:  # pragma: no cover - orjson is a dependency; json is the fallback

    def dumps(body: Any) -> JsonBody:
        """Compact JSON of a request body (UTF-8)."""
        return _body(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


class SendGridRejected(BatchAborted):
    """SendGrid refused a request (4xx other than 429): nothing in it was accepted; the send stops."""

    def __init__(self, message: str, outcomes: Sequence[Outcome] = (), hint: str | None = None) -> None:
        super().__init__(message, outcomes, hint)
        self.maybe_accepted = False


class SendGridUnavailable(BatchAborted):
    """Transient trouble outlasted the attempts or the deadline; the send stops (resumable).

    ``maybe_accepted`` is True when an attempt timed out or lost its connection after the body left: SendGrid
    may have accepted it, so the batch's recipients are handed back as ``unknown`` outcomes, never as failed.
    """

    def __init__(self, message: str, outcomes: Sequence[Outcome] = (), hint: str | None = None, *,
                 maybe_accepted: bool = False) -> None:
        super().__init__(message, outcomes, hint)
        self.maybe_accepted = maybe_accepted


# ---------------------------------------------------------------------------------------------- pure parts


def api_key(env: Mapping[str, str] | None = None) -> str:
    """The key from ``SENDGRID_API_KEY``; a clear error (never the key) when it is missing."""
    key = (env if env is not None else os.environ).get(API_KEY_ENV, "").strip()
    if not key:
        raise ConfigError(
            f"{API_KEY_ENV} is not set: the SendGrid backend needs an API key with Mail Send permission",
            hint=f"export {API_KEY_ENV}=SG.... (keys never go in digest.toml)",
        )
    return key


def check_send_at(send_at: int, now: float | None = None) -> int:
    """``send_at`` as a unix timestamp, refused unless it is in the future and at most 72 h ahead."""
    now = time.time() if now is None else now
    if send_at <= now:
        raise UsageError(f"--at {_iso(send_at)} is in the past", hint="give a time within the next 72 hours")
    if send_at - now > MAX_SCHEDULE_AHEAD:
        raise UsageError(
            f"--at {_iso(send_at)} is more than 72 hours ahead",
            hint="SendGrid schedules at most 72 hours ahead; send again closer to the date",
        )
    return int(send_at)


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def substitutions_size(values: Mapping[str, str]) -> int:
    """Bytes of ``values`` as SendGrid receives them (compact JSON, UTF-8): never less than keys + values."""
    return len(json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def substitutions_fit(values: Mapping[str, str]) -> bool:
    """True when one recipient's substitutions stay under 10,000 bytes (cheap bound first, exact when close)."""
    chars = 0
    for k, v in values.items():
        chars += len(k) + len(v)
    # JSON writes a character in at most 6 bytes (\\u00XX), plus quotes, colon and comma per entry.
    if chars * 6 + 6 * len(values) + 2 < SUBSTITUTIONS_MAX_BYTES:
        return True
    return substitutions_size(values) < SUBSTITUTIONS_MAX_BYTES


def static_body(
    draft: Draft,
    settings: Settings,
    *,
    sandbox: bool = False,
    send_at: int | None = None,
    batch_id: str | None = None,
) -> dict[str, Any]:
    """Everything in a request except ``personalizations``: the same for every batch of the issue."""
    sg = settings["sendgrid"]
    from_email = (draft.from_email or settings.newsletter.get("from_email") or "").strip()
    if not from_email:
        raise ConfigError("newsletter.from_email is not set in digest.toml", hint="set the sender address")
    sender: dict[str, str] = {"email": from_email}
    from_name = draft.from_name or settings.from_name
    if from_name:
        sender["name"] = from_name
    content = []
    if draft.text:
        content.append({"type": "text/plain", "value": draft.text})
    if draft.html:
        content.append({"type": "text/html", "value": draft.html})
    if not content:
        raise DigestError(f"issue {draft.slug}: the message has neither text nor HTML", hint="run digest build")
    body: dict[str, Any] = {
        "from": sender,
        "subject": draft.subject,
        "content": content,
        "categories": [draft.slug[:255]] if draft.slug else [],
    }
    if not body["categories"]:
        del body["categories"]
    if draft.reply_to:
        body["reply_to"] = {"email": draft.reply_to}
    if draft.list_id:
        ascii_name = from_name if from_name and from_name.isascii() else ""
        body["headers"] = {"List-Id": f"{ascii_name} <{draft.list_id}>".lstrip()}
    tracking = settings.data.get("tracking", {})
    body["tracking_settings"] = {
        "click_tracking": {"enable": bool(tracking.get("click", False)), "enable_text": False},
        "open_tracking": {"enable": bool(tracking.get("open", False))},
        # SendGrid's global-unsubscribe footer would be a second unsubscribe link: off, with or without asm.
        "subscription_tracking": {"enable": False},
    }
    group = int(sg.get("asm_group_id") or 0)
    if group:
        body["asm"] = {"group_id": group}
    if sandbox:
        body["mail_settings"] = {"sandbox_mode": {"enable": True}}
    if send_at is not None:
        body["send_at"] = int(send_at)
    if batch_id:
        body["batch_id"] = batch_id
    return body


def draft_tokens(draft: Draft) -> frozenset[str]:
    """Every merge token the subject, text and HTML use: each personalization must substitute all of them."""
    return frozenset(_TOKEN.findall(f"{draft.subject}\n{draft.text}\n{draft.html}"))


_URL_UNSAFE = re.compile(r"[^A-Za-z0-9_.~-]")
_URL_ALL_SAFE = re.compile(r"[A-Za-z0-9_.~-]*")
_URL_ESCAPES = {chr(i): f"%{i:02X}" for i in range(128)}


def _escape(m: re.Match[str]) -> str:
    return _URL_ESCAPES[m.group()]


def quote_url(value: str) -> str:
    """``urllib.parse.quote(value, safe="")``, several times faster for ASCII (escapes only what needs it)."""
    return _URL_UNSAFE.sub(_escape, value) if value.isascii() else quote(value, safe="")


class PrefixQuoter:
    """``quote_url`` for many values that share a prefix (``https://host/unsubscribe?t=`` + a URL-safe token).

    The prefix (up to the last character that needs escaping) is escaped once; a value that starts with it
    and continues with URL-safe characters only costs a ``startswith`` and a regex match.
    """

    def __init__(self) -> None:
        self.prefix = ""
        self.quoted = ""

    def __call__(self, value: str) -> str:
        prefix = self.prefix
        if prefix and value.startswith(prefix):
            rest = value[len(prefix):]
            if _URL_ALL_SAFE.fullmatch(rest):
                return self.quoted + rest
        last = max((m.end() for m in _URL_UNSAFE.finditer(value)), default=0)
        if value.isascii() and last:
            self.prefix, self.quoted = value[:last], quote_url(value[:last])
        return quote_url(value)


_BAD_HEADER_URL = re.compile(r"[\r\n\x00 <>,]")
# A merge value that HTML escaping and JSON leave as it is (with no control character).
_PLAIN_TEXT = re.compile(r"[^&<>\"'\\\x00-\x1f\x7f]*")


def _header_kind(url: str) -> str | None:
    """"https" or "http" for a URL List-Unsubscribe may carry, "" for another scheme (it only goes in the body),
    None for an http(s) URL that cannot go into a header (line break, space, <, >, comma or non-ASCII)."""
    low = url[:8].lower()
    if not low.startswith(("https://", "http://")):
        return ""
    if _BAD_HEADER_URL.search(url) or not url.isascii():
        return None
    return "https" if low.startswith("https://") else "http"
ASM_UNSUBSCRIBE_TAG = "<%asm_group_unsubscribe_raw_url%>"
# The placeholder of the unsubscribe token alone (``Personalizer.row_path``): the URL's forms are in the content.
UNSUBSCRIBE_TOKEN = merge.token("unsubscribe_token", "TEXT")


@dataclass
class RowPath:
    """``make(email, fields) → personalization`` and the token → text replacements the request's subject and
    content need first (empty when the personalizations carry whole values)."""

    make: Callable[[str, Mapping[str, str]], dict[str, Any]]
    replace: dict[str, str]
    # The same personalization written straight as JSON text, for the usual row (plain values, an address
    # with nothing to escape); None for any other row (then ``make``). See ``Personalizer._row_writer``.
    write: Callable[[str, Mapping[str, str]], str | None] | None = None

    def rewrite(self, static: Mapping[str, Any]) -> dict[str, Any]:
        """``static`` (a request without personalizations) with the replacements made in subject and content."""
        body = dict(static)
        if not self.replace:
            return body

        def apply(text: str) -> str:
            for tok, value in self.replace.items():
                text = text.replace(tok, value)
            return text

        if isinstance(body.get("subject"), str):
            body["subject"] = apply(body["subject"])
        body["content"] = [dict(c, value=apply(c["value"])) for c in body.get("content") or []]
        return body


class Personalizer:
    """Per-recipient parts of a request: substitutions and headers, computed with as little work as possible.

    ``values`` equals ``compose.message.token_values`` (defaults, the recipient's values, the body's unsubscribe
    link), with every draft token present. With an asm group the body's unsubscribe link is SendGrid's own
    ``<%asm_group_unsubscribe_raw_url%>`` tag and no List-Unsubscribe header is added (SendGrid adds it).
    """

    def __init__(self, draft: Draft, *, asm: bool, custom_args: Mapping[str, str]) -> None:
        from ..compose.message import UNSUBSCRIBE_FIELD
        from ..compose.message import mailto_link as _mailto_link

        self.asm = asm
        self.custom_args = dict(custom_args)
        self._mailto_link = _mailto_link
        # Only the tokens the message uses travel: every byte counts against the 10,000-byte budget and is
        # serialized once per recipient.
        tokens = draft_tokens(draft)
        base = {t: "" for t in sorted(tokens)}
        base.update((k, v) for k, v in merge.values({}, draft.merge_defaults).items() if k in tokens)
        self._unsub = [(tok, ctx) for ctx in merge.CONTEXTS if (tok := merge.token(UNSUBSCRIBE_FIELD, ctx)) in tokens]
        if asm:
            for tok, _ in self._unsub:
                base[tok] = ASM_UNSUBSCRIBE_TAG
        self.base = base
        unsub_tokens = {tok for tok, _ in self._unsub}
        self._fields = [(t, d) for t, d in base.items() if t not in unsub_tokens]
        self.keys_bytes = sum(len(k) for k in base)
        self._field_keys = frozenset(t for t, _ in self._fields)
        self._prefix_forms: tuple[str, str, str, str | None] | None = None
        self.default_mailto = draft.unsubscribe_mailto or ""
        self._mailto_cache: dict[str, tuple[str, str]] = {}

    def _mailto(self, mailto: str) -> tuple[str, str]:
        """(link for the body, ``<mailto:...>`` for the header), cached: usually one address for everyone."""
        got = self._mailto_cache.get(mailto)
        if got is None:
            link = self._mailto_link(mailto)
            if _BAD_HEADER_URL.search(link) or not link.isascii():
                raise ValueError(f"unsubscribe mailto cannot go into a header: {mailto[:80]!r}")
            got = (link, f"<{link}>")
            if len(self._mailto_cache) < 1024:
                self._mailto_cache[mailto] = got
        return got

    def _url_forms(self, url: str) -> tuple[str, str, str | None]:
        """(HTML-escaped, URL-encoded, header kind) of an unsubscribe URL; kind is "https", "http", "" (another
        scheme: body only) or None (cannot go into a header).

        Every recipient's URL is the same prefix (``https://host/unsubscribe?t=``) and a URL-safe token: the
        prefix's forms are computed once and a URL that starts with it and continues with URL-safe characters
        (which neither HTML nor headers mind) costs a ``startswith`` and a regex match.
        """
        cached = self._prefix_forms
        if cached is not None:
            prefix, h, q, kind = cached
            n = len(prefix)
            if url.startswith(prefix) and _URL_ALL_SAFE.fullmatch(url, n):
                rest = url[n:]
                return h + rest, q + rest, kind
        kind = _header_kind(url)
        last = max((m.end() for m in _URL_UNSAFE.finditer(url)), default=0)
        if last >= 8 and url.isascii():  # the prefix holds the scheme: its kind is every such URL's kind
            prefix = url[:last]
            self._prefix_forms = (prefix, html.escape(prefix, quote=True), quote_url(prefix), kind)
        return html.escape(url, quote=True), quote_url(url), kind

    def item(self, p: Personal) -> dict[str, Any]:
        """The recipient's personalization (to, custom_args, substitutions, headers).

        Raises ValueError (the reason) when the recipient cannot be sent: an unsubscribe link that cannot go in
        a header, or substitutions over SendGrid's 10,000 bytes. One function, called once per recipient of a
        million: written for speed.
        """
        pv = p.values
        if pv.keys() == self._field_keys:  # the send loop made exactly this message's tokens: the usual case
            subs = pv.copy()
        elif pv:
            get = pv.get
            subs = {t: get(t, d) for t, d in self._fields}
        else:
            subs = dict(self._fields)
        email = p.email
        if not email.isascii():
            email.encode("utf-8")
        if self.asm:
            item: dict[str, Any] = {"to": [{"email": email}], "custom_args": self.custom_args}
            for tok, _ in self._unsub:
                subs[tok] = ASM_UNSUBSCRIBE_TAG
        else:
            url = p.unsubscribe_url
            mailto = p.unsubscribe_mailto or self.default_mailto
            m = self._mailto(mailto) if mailto else None
            header = m[1] if m else None
            one_click = False
            if url:
                url_html, url_quoted, kind = self._url_forms(url)
                if kind:
                    header = f"<{url}>, {header}" if header else f"<{url}>"
                    one_click = kind == "https"
                elif kind is None:
                    raise ValueError(f"unsubscribe URL cannot go into a header: {url[:80]!r}")
                for tok, ctx in self._unsub:
                    subs[tok] = url if ctx == "TEXT" else (url_quoted if ctx == "URL" else url_html)
            elif self._unsub:
                link = m[0] if m else ""
                for tok, ctx in self._unsub:
                    subs[tok] = link if ctx == "TEXT" else (
                        quote_url(link) if ctx == "URL" else html.escape(link, quote=True))
            if one_click:
                item = {"to": [{"email": email}], "custom_args": self.custom_args,
                        "headers": {"List-Unsubscribe": header, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}}
            elif header:
                item = {"to": [{"email": email}], "custom_args": self.custom_args,
                        "headers": {"List-Unsubscribe": header}}
            else:
                item = {"to": [{"email": email}], "custom_args": self.custom_args}
        if subs:
            joined = "".join(subs.values())
            if not joined.isascii():
                for v in subs.values():
                    v.encode("utf-8")  # a lone surrogate raises (UnicodeEncodeError): this recipient is refused
            chars = self.keys_bytes + len(joined)
            if chars * 6 + 6 * len(subs) + 2 >= SUBSTITUTIONS_MAX_BYTES and not self.fits(subs):
                raise ValueError(f"merge values are {substitutions_size(subs)} bytes; SendGrid allows under "
                                 f"{SUBSTITUTIONS_MAX_BYTES} a recipient")
            item["substitutions"] = subs
        return item

    def row_path(self, links: Any, values: Callable[..., dict[str, str]], *,
                 token_only: bool = True) -> RowPath | None:
        """How to build personalizations straight from CSV rows; None when the links are not the common shape
        (a URL template with one ``{token}`` and no ``{email}``, or asm).

        The unsubscribe URL is ``head + token + tail`` and the token is URL-safe base64, which neither HTML
        escaping, URL encoding nor a header changes: every form of the URL, and the List-Unsubscribe header,
        is a precomputed prefix + the token + a precomputed suffix. With ``token_only`` the request's subject
        and content are rewritten once (``RowPath.rewrite``) to hold each form's prefix and suffix around one
        ``UNSUBSCRIBE_TOKEN`` placeholder, and a personalization substitutes only the token (~90 bytes) instead
        of every form of the URL (~130 bytes each): smaller requests, for SendGrid and for us. ``values`` is
        the send's merge-value maker (``PersonalMaker.values``); it returns a fresh dict, used as the
        substitutions when its keys are the message's field tokens (the usual case). ``make`` raises
        ValueError as ``item`` does.
        """
        signer = getattr(links, "_signer", None)
        split = getattr(links, "_split", None)
        fields_ = self._fields
        field_keys = self._field_keys
        custom_args = self.custom_args
        keys_bytes = self.keys_bytes
        n_subs = len(self.base)
        fits = self.fits
        unsub = self._unsub
        replace: dict[str, str] = {}
        if self.asm:
            asm_subs = [(tok, ASM_UNSUBSCRIBE_TAG) for tok, _ in unsub]
            url_parts: list[tuple[str, str, str]] = []
            header_parts: tuple[str, str] | None = None
            one_click = False
        else:
            if signer is None or split is None:
                return None
            head, tail = split
            mailto = links.mailto or self.default_mailto
            try:
                m = self._mailto(mailto) if mailto else None
            except ValueError:
                return None
            kind = _header_kind(head + "A" + tail)
            if kind is None or len(head) < 8 or not (head + tail).isascii():
                return None  # the generic path says why, recipient by recipient
            forms = {"TEXT": (head, tail), "URL": (quote_url(head), quote_url(tail)),
                     "HTML": (html.escape(head, quote=True), html.escape(tail, quote=True))}
            url_parts = [(tok, *forms[ctx]) for tok, ctx in unsub]
            if token_only and unsub and UNSUBSCRIBE_TOKEN not in self.base:
                replace = {tok: forms[ctx][0] + UNSUBSCRIBE_TOKEN + forms[ctx][1] for tok, ctx in unsub}
                url_parts = [(UNSUBSCRIBE_TOKEN, "", "")]
                n_subs = n_subs - len(unsub) + 1
                keys_bytes = keys_bytes - sum(len(tok) for tok, _ in unsub) + len(UNSUBSCRIBE_TOKEN)
            header_parts = ("", m[1]) if m else None  # another scheme: the header holds the mailto only
            if kind:
                header_parts = ("<" + head, tail + ">" + (", " + m[1] if m else ""))
            one_click = kind == "https"
            asm_subs = []
        limit = SUBSTITUTIONS_MAX_BYTES

        def make(email: str, row_fields: Mapping[str, str]) -> dict[str, Any]:
            if not email.isascii():
                email.encode("utf-8")
            subs = values(row_fields, email)
            if subs.keys() != field_keys:
                get = subs.get
                subs = {t: get(t, d) for t, d in fields_}
            if header_parts is None and not url_parts:
                item: dict[str, Any] = {"to": [{"email": email}], "custom_args": custom_args}
                for tok, v in asm_subs:
                    subs[tok] = v
            else:
                token = signer(email)
                for tok, h, t in url_parts:
                    subs[tok] = h + token + t
                if header_parts is None:
                    item = {"to": [{"email": email}], "custom_args": custom_args}
                elif one_click:
                    item = {"to": [{"email": email}], "custom_args": custom_args,
                            "headers": {"List-Unsubscribe": header_parts[0] + token + header_parts[1],
                                        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}}
                else:
                    item = {"to": [{"email": email}], "custom_args": custom_args,
                            "headers": {"List-Unsubscribe": header_parts[0] + token + header_parts[1]
                                        if header_parts[0] else header_parts[1]}}
            if subs:
                joined = "".join(subs.values())
                if not joined.isascii():
                    for v in subs.values():
                        v.encode("utf-8")
                if (keys_bytes + len(joined)) * 6 + 6 * n_subs + 2 >= limit and not fits(subs):
                    raise ValueError(f"merge values are {substitutions_size(subs)} bytes; SendGrid allows under "
                                     f"{limit} a recipient")
                item["substitutions"] = subs
            return item

        write = self._row_writer(values, signer if header_parts is not None or url_parts else None, header_parts,
                                 one_click, url_parts, asm_subs)
        return RowPath(make, replace, write)

    def _row_writer(self, values: Any, signer: Callable[[str], str] | None, header_parts: tuple[str, str] | None,
                    one_click: bool, url_parts: list[tuple[str, str, str]],
                    asm_subs: list[tuple[str, str]]) -> Callable[[str, Mapping[str, str]], str | None] | None:
        """``(email, fields) → JSON text`` of the personalization ``make`` builds, for the usual row; None (no
        writer) when ``values`` is not a ``PersonalMaker``'s. The writer itself returns None for a row it does
        not take: an address with a character JSON escapes, a merge value that HTML escaping, JSON or (when the
        message uses its URL form) URL encoding would change, or values long enough to near the 10,000 bytes.

        The text is a fixed list of pieces (computed here, escaped once) with slots for the address, the
        token and the values: per recipient one MAC, a few string tests and one join, instead of building
        five dicts and serializing them (about half the producer's time per recipient).
        """
        maker = getattr(values, "__self__", None)
        if maker is None or not hasattr(maker, "wanted") or not hasattr(maker, "defaults"):
            return None
        wanted = maker.wanted
        defaults: Mapping[str, str] = maker.defaults

        def js(text: str) -> str:  # a JSON string's inside
            return json.dumps(text, ensure_ascii=False)[1:-1]

        pieces: list[str] = []
        slots: dict[str, list[int]] = {}  # "email", "token", or "field:<name>" → indexes in pieces

        def slot(name: str) -> None:
            slots.setdefault(name, []).append(len(pieces))
            pieces.append("")

        pieces.append('{"to":[{"email":"')
        slot("email")
        pieces.append('"}],"custom_args":' + json.dumps(self.custom_args, ensure_ascii=False, separators=(",", ":")))
        if header_parts is not None:
            h0, h1 = header_parts
            pieces.append(',"headers":{"List-Unsubscribe":"')
            if h0:
                pieces.append(js(h0))
                slot("token")
            pieces.append(js(h1) + '"' + (',"List-Unsubscribe-Post":"List-Unsubscribe=One-Click"' if one_click
                                          else "") + "}")
        fields: dict[str, bool] = {}  # field → whether its URL form is used
        entries = 0
        for tok, encoded_default in self._fields:
            parsed = merge.parse_token(tok)
            if parsed is None:
                return None
            name, ctx = parsed
            pieces.append(("," if entries else ',"substitutions":{') + f'"{js(tok)}":"')
            entries += 1
            if wanted is None or name in wanted:
                slot("field:" + name)
                fields[name] = fields.get(name, False) or ctx == "URL"
            else:  # a field the message uses but the values leave out: its default, the same for everyone
                pieces.append(js(encoded_default))
            pieces.append('"')
        for tok, head, tail in url_parts:
            pieces.append(("," if entries else ',"substitutions":{') + f'"{js(tok)}":"{js(head)}')
            entries += 1
            slot("token")
            pieces.append(js(tail) + '"')
        for tok, value in asm_subs:
            pieces.append(("," if entries else ',"substitutions":{') + f'"{js(tok)}":"{js(value)}"')
            entries += 1
        pieces.append("}}" if entries else "}")
        if slots.get("token") and signer is None:
            return None
        email_at = slots["email"][0]
        token_at = tuple(slots.get("token", ()))
        specs = [(name, defaults.get(name, ""), url, tuple(slots["field:" + name])) for name, url in fields.items()]
        per_value = max((len(spec[3]) for spec in specs), default=0)
        # Substitutions bytes, all but the values: keys, quotes, separators, the token (~90 characters).
        fixed = sum(len(p) for p in pieces) + 128
        limit = SUBSTITUTIONS_MAX_BYTES
        plain_url = _URL_ALL_SAFE.fullmatch
        plain_text = _PLAIN_TEXT.fullmatch

        def write(email: str, row_fields: Mapping[str, str]) -> str | None:
            if not email.isascii() or not email.isprintable() or '"' in email or "\\" in email:
                return None
            out = pieces.copy()
            out[email_at] = email
            size = fixed
            for name, default, url, at in specs:
                value = email if name == "email" else (row_fields.get(name) or "").strip() or default
                if not ((value.isalnum() and (not url or value.isascii()))
                        or (plain_url(value) if url else plain_text(value))):
                    return None
                if not value.isascii():
                    try:
                        value.encode("utf-8")
                    except UnicodeEncodeError:
                        return None
                size += 4 * len(value) * per_value
                for i in at:
                    out[i] = value
            if size >= limit:
                return None
            if token_at:
                token = signer(email)  # type: ignore[misc]
                for i in token_at:
                    out[i] = token
            return "".join(out)

        return write

    def values(self, p: Personal) -> dict[str, str]:
        """Token → value for every token the message uses (and no other)."""
        return dict(self.item(p).get("substitutions", {}))

    def headers(self, p: Personal) -> dict[str, str] | None:
        """List-Unsubscribe (and List-Unsubscribe-Post with an https URL) for this recipient; None with asm."""
        return self.item(p).get("headers")

    def fits(self, values: dict[str, str]) -> bool:
        """``substitutions_fit`` for ``values`` (whose keys are this draft's tokens), with a cheap first test."""
        chars = self.keys_bytes + sum(map(len, values.values()))
        if chars * 6 + 6 * len(values) + 2 < SUBSTITUTIONS_MAX_BYTES:
            return True
        return substitutions_size(values) < SUBSTITUTIONS_MAX_BYTES


@dataclass
class BatchBody:
    """A request body for one batch plus the recipients it could not hold (each with its reason).

    A body written straight as JSON (``build_rows``) has ``raw`` only; ``body`` parses it when asked.
    """

    body_: dict[str, Any] | None
    emails: list[str]
    refused: list[Outcome]
    raw: JsonBody | None = None  # the body serialized (``prepare_batch``)

    @property
    def body(self) -> dict[str, Any]:
        if self.body_ is None:
            self.body_ = json.loads(self.raw.raw) if self.raw is not None else {}
        return self.body_

    @body.setter
    def body(self, value: dict[str, Any]) -> None:
        self.body_ = value


def build_batch(static: Mapping[str, Any], batch: Sequence[Personal], personalizer: Personalizer) -> BatchBody:
    """One request body: a personalization per recipient; duplicates and oversized ones are refused, not sent."""
    if len(batch) > MAX_PERSONALIZATIONS:
        raise ValueError(f"a SendGrid batch holds at most {MAX_PERSONALIZATIONS} recipients, got {len(batch)}")
    seen: set[str] = set()
    personalizations: list[dict[str, Any]] = []
    emails: list[str] = []
    refused: list[Outcome] = []
    item_of = personalizer.item
    for p in batch:
        email = p.email
        key = email.lower()
        if key in seen:
            refused.append(Outcome(email, False, error="duplicate address in one SendGrid request", permanent=True))
            continue
        try:
            item = item_of(p)
        except ValueError as exc:
            refused.append(Outcome(email, False, error=str(exc), permanent=True))
            continue
        seen.add(key)
        personalizations.append(item)
        emails.append(email)
    body = dict(static)
    body["personalizations"] = personalizations
    return BatchBody(body, emails, refused)


def build_rows(static: Mapping[str, Any], rows: Sequence[Any],
               make: Callable[[str, Mapping[str, str]], dict[str, Any]],
               write: Callable[[str, Mapping[str, str]], str | None] | None = None) -> BatchBody:
    """``build_batch`` for ``Recipient`` rows through ``Personalizer.row_path``: no ``Personal`` per recipient.

    With ``write`` the request is written as JSON text (``raw``): each personalization by ``write``, or by
    ``make`` and orjson for a row ``write`` does not take; ``body`` then parses it only if someone asks.
    """
    if len(rows) > MAX_PERSONALIZATIONS:
        raise ValueError(f"a SendGrid batch holds at most {MAX_PERSONALIZATIONS} recipients, got {len(rows)}")
    seen: set[str] = set()
    personalizations: list[Any] = []
    emails: list[str] = []
    refused: list[Outcome] = []
    add_item = personalizations.append
    add_email = emails.append
    add_key = seen.add
    for r in rows:
        email = r.email
        key = email.lower()
        if key in seen:
            refused.append(Outcome(email, False, error="duplicate address in one SendGrid request", permanent=True))
            continue
        text = write(email, r.fields) if write is not None else None
        if text is None:
            try:
                item = make(email, r.fields)
            except ValueError as exc:
                refused.append(Outcome(email, False, error=str(exc), permanent=True))
                continue
            add_item(dumps(item).raw if write is not None else item)
        else:
            # Each item on its own: only the few with non-ASCII values take the slow path of the UTF-8 encoder
            # (encoding the joined body made every byte of a batch pay for one "é").
            add_item(text.encode("utf-8"))
        add_key(key)
        add_email(email)
    if write is None:
        body = dict(static)
        body["personalizations"] = personalizations
        return BatchBody(body, emails, refused)
    raw = b"".join((_request_head(static), b",".join(personalizations), b"]}"))
    return BatchBody(None, emails, refused, _body(raw) if emails else None)


_heads: dict[int, tuple[Mapping[str, Any], bytes]] = {}


def _request_head(static: Mapping[str, Any]) -> bytes:
    """``static`` as JSON up to the opening of its personalizations list, made once per static body (a send's
    is the same for every batch, ~15 KB of content)."""
    got = _heads.get(id(static))
    if got is None or got[0] is not static:
        head = dumps(dict(static)).raw
        got = (static, head[:-1] + (b"," if len(head) > 2 else b"") + b'"personalizations":[')
        _heads.clear()  # one send at a time: keep only the latest
        _heads[id(static)] = got
    return got[1]


def describe_error(status: int, raw: bytes | str | None) -> str:
    """SendGrid's ``errors[]`` as one line: ``HTTP 400: from.email: The from email does not ...``."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else (raw or "")
    parts: list[str] = []
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("errors"), list):
        for err in data["errors"]:
            if not isinstance(err, dict):
                continue
            msg = str(err.get("message") or "").strip()
            fld = err.get("field")
            parts.append(f"{fld}: {msg}" if fld else msg)
    elif text.strip():
        parts.append(" ".join(text.split())[:300])
    detail = "; ".join(p for p in parts if p) or "(no error body)"
    return f"HTTP {status}: {detail}"


def rate_limit_delay(headers: Mapping[str, str] | None, now: float, default: float) -> float:
    """Seconds to wait after a 429: ``Retry-After`` (seconds or HTTP date), else ``X-RateLimit-Reset`` (epoch)."""
    if headers:
        retry_after = headers.get("Retry-After")
        if retry_after:
            try:
                return max(0.0, float(retry_after))
            except ValueError:
                try:
                    return max(0.0, parsedate_to_datetime(retry_after).timestamp() - now)
                except (TypeError, ValueError):
                    pass
        reset = headers.get("X-RateLimit-Reset")
        if reset:
            try:
                return max(0.0, float(reset) - now)
            except ValueError:
                pass
    return default


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Full-jitter exponential backoff: uniform in [base/2, min(cap, base * 2**(attempt-1))]."""
    top = min(cap, base * (2 ** max(0, attempt - 1)))
    return rng.uniform(min(base / 2, top), top)


# ------------------------------------------------------------------------------------------- schedule state


def save_schedule(directory: Path, batch_id: str, send_at: int) -> Path:
    path = Path(directory) / SCHEDULE_FILE
    path.write_text(json.dumps({"batch_id": batch_id, "send_at": send_at, "status": "scheduled"}) + "\n",
                    encoding="utf-8")
    return path


def load_schedule(directory: Path) -> dict[str, Any] | None:
    path = Path(directory) / SCHEDULE_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        raise DigestError(f"{path}: not valid JSON", hint="delete it only if no scheduled send is pending") from None
    return data if isinstance(data, dict) and data.get("batch_id") else None


# ------------------------------------------------------------------------------------------------- the I/O


def make_client(settings: Settings, key: str | None = None) -> Any:
    from sendgrid import SendGridAPIClient

    logging.getLogger("python_http_client").setLevel(logging.WARNING)
    return SendGridAPIClient(key or api_key(), host=settings.sendgrid_host())


class _Transient(Exception):
    def __init__(self, reason: str, *, ambiguous: bool, delay: float | None = None, rate_limited: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.ambiguous = ambiguous
        self.delay = delay
        self.rate_limited = rate_limited


class SendGridBackend:
    """Backend protocol implementation (see ``base.Backend``) over SendGrid's v3 Mail Send API."""

    name = "sendgrid"

    def __init__(
        self,
        settings: Settings,
        *,
        sandbox: bool = False,
        send_at: int | None = None,
        batch_id: str | None = None,
        client: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        sg = settings["sendgrid"]
        self.settings = settings
        self.sandbox = sandbox
        self.delivers = not sandbox  # a sandbox run is accepted by SendGrid but reaches no one
        self.send_at = send_at
        self.batch_id = batch_id
        self.max_batch = max(1, min(int(sg.get("batch_size") or MAX_PERSONALIZATIONS), MAX_PERSONALIZATIONS))
        self.timeout = float(sg.get("timeout") or 30.0)
        self.max_attempts = max(1, int(sg.get("max_attempts") or 5))
        self.deadline = float(sg.get("deadline") or max(60.0, self.timeout * self.max_attempts * 2))
        self.backoff_base = float(sg.get("backoff_base", 0.5))
        self.backoff_cap = float(sg.get("backoff_cap", 30.0))
        self.asm_group = int(sg.get("asm_group_id") or 0)
        self.requests = 0
        self._client = client
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._static: dict[str, Any] | None = None
        self._personalizer: Personalizer | None = None
        self._row_path: tuple[Any, Any, RowPath | None, dict[str, Any] | None] | None = None

    # -- protocol -------------------------------------------------------------------------------------------
    def open(self, draft: Draft) -> None:
        if self.send_at is not None:
            check_send_at(self.send_at)
        if self._client is None:
            self._client = make_client(self.settings)
        if self.send_at is not None and not self.batch_id:
            self.batch_id = self.create_batch_id()
        self._static = static_body(draft, self.settings, sandbox=self.sandbox, send_at=self.send_at,
                                   batch_id=self.batch_id)
        self._personalizer = Personalizer(draft, asm=bool(self.asm_group),
                                          custom_args={"digest_issue": draft.slug or "issue"})
        self._row_path = None

    def send_batch(self, draft: Draft, batch: Sequence[Personal]) -> list[Outcome]:
        return self.send_prepared(draft, self.prepare_batch(draft, batch))

    def prepare_batch(self, draft: Draft, batch: Sequence[Personal]) -> BatchBody:
        """The request of one batch, built and serialized, not sent (pure: the send loop prepares the next batch
        while one is in flight)."""
        if self._static is None:
            self.open(draft)
        assert self._static is not None and self._personalizer is not None
        built = build_batch(self._static, batch, self._personalizer)
        if built.emails:
            built.raw = dumps(built.body)
        return built

    def prepare_rows(self, draft: Draft, rows: Sequence[Any], links: Any,
                     values: Callable[..., dict[str, str]]) -> BatchBody | None:
        """``prepare_batch`` straight from ``Recipient`` rows (``links`` and ``values`` make what a ``Personal``
        would hold); None when the links are not the common shape (then use ``prepare_batch``)."""
        if self._static is None:
            self.open(draft)
        assert self._static is not None and self._personalizer is not None
        cached = self._row_path
        if cached is None or cached[0] is not links or cached[1] is not values:
            path = self._personalizer.row_path(links, values)
            cached = self._row_path = (links, values, path, path.rewrite(self._static) if path else None)
        path, static = cached[2], cached[3]
        if path is None:
            return None
        built = build_rows(static, rows, path.make, path.write)
        if built.emails and built.raw is None:
            built.raw = dumps(built.body)
        return built

    def send_prepared(self, draft: Draft, built: BatchBody) -> list[Outcome]:
        """Send a batch made by ``prepare_batch``: one outcome per recipient (errors as in ``send_batch``)."""
        outcomes = list(built.refused)
        if not built.emails:
            return outcomes
        try:
            headers = self._post(built.raw if built.raw is not None else built.body)
        except SendGridUnavailable as exc:
            # Recipients refused while building never left; the batch's others left when the answer was lost.
            exc.outcomes = outcomes + ([Outcome(e, False, error=exc.message, unknown=True) for e in built.emails]
                                       if exc.maybe_accepted else [])
            raise
        except SendGridRejected as exc:
            exc.outcomes = outcomes
            raise
        message_id = _header(headers, "X-Message-Id")
        if not outcomes:
            return AllAccepted(built.emails, message_id)  # type: ignore[return-value]
        outcomes.extend([Outcome(e, True, message_id) for e in built.emails])
        return outcomes

    def close(self) -> None:
        self._client = None

    # -- scheduled sends -------------------------------------------------------------------------------------
    def create_batch_id(self) -> str:
        """POST /v3/mail/batch: the id that groups a scheduled send so it can be cancelled."""
        data = self._call("batch id", lambda c, t: c.client.mail.batch.post(timeout=t))
        batch_id = data.get("batch_id") if isinstance(data, dict) else None
        if not batch_id:
            raise DigestError("SendGrid returned no batch_id for the scheduled send")
        return str(batch_id)

    def cancel(self, batch_id: str) -> None:
        """POST /v3/user/scheduled_sends {batch_id, status: cancel}."""
        body = dumps({"batch_id": batch_id, "status": "cancel"})
        self._call("cancel", lambda c, t: c.client.user.scheduled_sends.post(
            request_body=body, request_headers=JSON_HEADERS, timeout=t))

    # -- transport ---------------------------------------------------------------------------------------------
    def _call(self, what: str, fn: Callable[[Any, float], Any]) -> Any:
        if self._client is None:
            self._client = make_client(self.settings)
        headers, body = self._retrying(lambda t: fn(self._client, t), what)
        del headers
        try:
            return json.loads(body) if body else {}
        except ValueError:
            return {}

    def _post(self, body: dict[str, Any] | JsonBody) -> Mapping[str, str]:
        client = self._client
        data = body if isinstance(body, JsonBody) else dumps(body)  # once, not once per attempt
        headers, _ = self._retrying(
            lambda t: client.client.mail.send.post(request_body=data, request_headers=JSON_HEADERS, timeout=t),
            "mail/send")
        return headers

    def _retrying(self, request: Callable[[float], Any], what: str) -> tuple[Mapping[str, str], bytes]:
        from python_http_client.exceptions import HTTPError

        start = self._clock()
        end = start + self.deadline
        failures = 0
        ambiguous = False
        last = ""
        while True:
            remaining = end - self._clock()
            if remaining <= 0:
                raise self._give_up(what, last or "deadline passed", ambiguous)
            try:
                self.requests += 1
                resp = self._with_deadline(request, min(self.timeout, remaining))
                return resp.headers, resp.body
            except HTTPError as exc:
                status = int(getattr(exc, "status_code", 0) or 0)
                if status == 429:
                    delay = rate_limit_delay(_hdrs(exc), time.time(), self.backoff_cap)
                    last = f"HTTP 429 rate limited (asked to wait {delay:.1f}s)"
                    fail = _Transient(last, ambiguous=False, delay=min(delay, MAX_RATE_LIMIT_WAIT),
                                      rate_limited=True)
                elif status >= 500:
                    fail = _Transient(describe_error(status, exc.body), ambiguous=False)
                else:
                    raise SendGridRejected(
                        f"SendGrid refused the {what} request: {describe_error(status, exc.body)}",
                        hint=_hint_for(status),
                    ) from None
            except _Transient as exc:
                fail = exc
            except (TimeoutError, urllib.error.URLError, http.client.HTTPException, ConnectionError, OSError) as exc:
                fail = _classify_network(exc)
            last = fail.reason
            ambiguous = ambiguous or fail.ambiguous
            if not fail.rate_limited:
                failures += 1
                if failures >= self.max_attempts:
                    raise self._give_up(what, f"{last} ({failures} attempts)", ambiguous)
            delay = fail.delay if fail.delay is not None else backoff_delay(
                failures, self.backoff_base, self.backoff_cap, self._rng)
            if self._clock() + delay >= end:
                raise self._give_up(what, f"{last}; the next try would pass the {self.deadline:.0f}s deadline",
                                    ambiguous)
            log.info("SendGrid %s: %s; retrying in %.1fs", what, last, delay)
            self._sleep(delay)

    def _with_deadline(self, request: Callable[[float], Any], budget: float) -> Any:
        """Run one request with a socket timeout, and give up on it when ``budget`` seconds have passed."""
        result: dict[str, Any] = {}

        def run() -> None:
            try:
                result["ok"] = request(budget)
            except BaseException as exc:  # noqa: BLE001 - handed back to the caller's thread
                result["err"] = exc

        worker = threading.Thread(target=run, name="sendgrid-request", daemon=True)
        worker.start()
        worker.join(budget + 1.0)
        if worker.is_alive():
            raise _Transient(f"no answer within {budget:.0f}s", ambiguous=True)
        if "err" in result:
            raise result["err"]
        return result["ok"]

    def _give_up(self, what: str, last: str, ambiguous: bool) -> SendGridUnavailable:
        if ambiguous:
            return SendGridUnavailable(
                f"SendGrid {what}: gave up: {last}; a request may have been accepted",
                hint="its recipients are held as unknown; check SendGrid's activity, then resend with --resend-unknown",
                maybe_accepted=True,
            )
        return SendGridUnavailable(f"SendGrid {what}: gave up: {last}",
                                   hint="nothing in this batch was accepted; run digest send again to resume")


def _hdrs(exc: Any) -> Mapping[str, str]:
    headers = getattr(exc, "headers", None)
    return headers if headers is not None else {}


def _header(headers: Any, name: str) -> str | None:
    if headers is None:
        return None
    value = headers.get(name)
    return str(value) if value else None


def _classify_network(exc: BaseException) -> _Transient:
    """Trouble before the request was fully written is safe to retry; after it, SendGrid may have accepted it.

    urllib wraps errors of connecting and writing the request in ``URLError``; errors while waiting for or
    reading the answer (timeout, reset, closed without an answer) arrive bare.
    """
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        return _Transient(f"could not reach SendGrid: {exc.reason}", ambiguous=False)
    if isinstance(exc, TimeoutError):
        return _Transient("timed out waiting for SendGrid's answer", ambiguous=True)
    return _Transient(f"connection lost waiting for SendGrid's answer: {type(exc).__name__}: {exc}",
                      ambiguous=True)


def _hint_for(status: int) -> str:
    return {
        400: "the request was malformed; nothing in this batch was sent",
        401: f"check {API_KEY_ENV}",
        403: "the key lacks Mail Send permission, or the sender is not verified",
        413: "the message is too large (SendGrid allows 30 MB per request)",
    }.get(status, "nothing in this batch was sent")
