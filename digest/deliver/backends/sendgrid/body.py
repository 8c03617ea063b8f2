"""SendGrid v3 ``mail/send`` request bodies, pure: the static part, one personalization per recipient
(``Personalizer``), the batch body (``build_batch``) and its JSON (``dumps``). No I/O."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .... import merge
from ....errors import ConfigError, DigestError
from ....model import Outcome, Personal

if TYPE_CHECKING:
    from ....compose.message import Draft
    from ....config import Settings

API_KEY_ENV = "SENDGRID_API_KEY"
MAX_PERSONALIZATIONS = 1000  # per request
MAX_RECIPIENTS = 1000  # to + cc + bcc over all personalizations of one request
SUBSTITUTIONS_MAX_BYTES = 10_000  # one personalization's substitutions must stay under this
CUSTOM_ARGS_MAX_BYTES = 10_000
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


try:
    import orjson as _orjson

    def dumps(body: Any) -> JsonBody:
        """Compact JSON of a request body (UTF-8)."""
        return JsonBody(_orjson.dumps(body))

except ImportError:  # pragma: no cover - orjson is a dependency; json is the fallback

    def dumps(body: Any) -> JsonBody:
        """Compact JSON of a request body (UTF-8)."""
        return JsonBody(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


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
    return frozenset(merge.tokens_in(f"{draft.subject}\n{draft.text}\n{draft.html}", draft.merge_key))


_URL_UNSAFE = re.compile(r"[^A-Za-z0-9_.~-]")
URL_ALL_SAFE = re.compile(r"[A-Za-z0-9_.~-]*")
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
            if URL_ALL_SAFE.fullmatch(rest):
                return self.quoted + rest
        last = max((m.end() for m in _URL_UNSAFE.finditer(value)), default=0)
        if value.isascii() and last:
            self.prefix, self.quoted = value[:last], quote_url(value[:last])
        return quote_url(value)


BAD_HEADER_URL = re.compile(r"[\r\n\x00 <>,]")
# A merge value that HTML escaping and JSON leave as it is (with no control character).
PLAIN_TEXT = re.compile(r"[^&<>\"'\\\x00-\x1f\x7f]*")


def header_kind(url: str) -> str | None:
    """"https" or "http" for a URL List-Unsubscribe may carry, "" for another scheme (it only goes in the body),
    None for an http(s) URL that cannot go into a header (line break, space, <, >, comma or non-ASCII)."""
    low = url[:8].lower()
    if not low.startswith(("https://", "http://")):
        return ""
    if BAD_HEADER_URL.search(url) or not url.isascii():
        return None
    return "https" if low.startswith("https://") else "http"
ASM_UNSUBSCRIBE_TAG = "<%asm_group_unsubscribe_raw_url%>"
# The placeholder of the unsubscribe token alone (``Personalizer.row_path``): the URL's forms are in the content.
UNSUBSCRIBE_TOKEN = merge.token("unsubscribe_token", "TEXT")


class Personalizer:
    """Per-recipient parts of a request: substitutions and headers, computed with as little work as possible.

    ``values`` equals ``compose.message.token_values`` (defaults, the recipient's values, the body's unsubscribe
    link), with every draft token present. With an asm group the body's unsubscribe link is SendGrid's own
    ``<%asm_group_unsubscribe_raw_url%>`` tag and no List-Unsubscribe header is added (SendGrid adds it).
    """

    def __init__(self, draft: Draft, *, asm: bool, custom_args: Mapping[str, str]) -> None:
        from ....compose.message import UNSUBSCRIBE_FIELD
        from ....compose.message import mailto_link as _mailto_link

        self.asm = asm
        self.custom_args = dict(custom_args)
        self._mailto_link = _mailto_link
        # Only the tokens the message uses travel: every byte counts against the 10,000-byte budget and is
        # serialized once per recipient.
        tokens = draft_tokens(draft)
        base = {t: "" for t in sorted(tokens)}
        key = draft.merge_key
        base.update((k, v) for k, v in merge.values({}, draft.merge_defaults, key=key).items() if k in tokens)
        self.unsub_tokens = [(tok, ctx) for ctx in merge.CONTEXTS
                             if (tok := merge.token(UNSUBSCRIBE_FIELD, ctx, key)) in tokens]
        self.unsub_token = merge.token("unsubscribe_token", "TEXT", key)  # UNSUBSCRIBE_TOKEN of this build
        if asm:
            for tok, _ in self.unsub_tokens:
                base[tok] = ASM_UNSUBSCRIBE_TAG
        self.base = base
        unsub_tokens = {tok for tok, _ in self.unsub_tokens}
        self.field_defaults = [(t, d) for t, d in base.items() if t not in unsub_tokens]
        self.keys_bytes = sum(len(k) for k in base)
        self.field_keys = frozenset(t for t, _ in self.field_defaults)
        self._prefix_forms: tuple[str, str, str, str | None] | None = None
        self.default_mailto = draft.unsubscribe_mailto or ""
        self._mailto_cache: dict[str, tuple[str, str]] = {}

    def mailto_forms(self, mailto: str) -> tuple[str, str]:
        """(link for the body, ``<mailto:...>`` for the header), cached: usually one address for everyone."""
        got = self._mailto_cache.get(mailto)
        if got is None:
            link = self._mailto_link(mailto)
            if BAD_HEADER_URL.search(link) or not link.isascii():
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
            if url.startswith(prefix) and URL_ALL_SAFE.fullmatch(url, n):
                rest = url[n:]
                return h + rest, q + rest, kind
        kind = header_kind(url)
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
        if pv.keys() == self.field_keys:  # the send loop made exactly this message's tokens: the usual case
            subs = pv.copy()
        elif pv:
            get = pv.get
            subs = {t: get(t, d) for t, d in self.field_defaults}
        else:
            subs = dict(self.field_defaults)
        email = p.email
        if not email.isascii():
            email.encode("utf-8")
        if self.asm:
            item: dict[str, Any] = {"to": [{"email": email}], "custom_args": self.custom_args}
            for tok, _ in self.unsub_tokens:
                subs[tok] = ASM_UNSUBSCRIBE_TAG
        else:
            url = p.unsubscribe_url
            mailto = p.unsubscribe_mailto or self.default_mailto
            m = self.mailto_forms(mailto) if mailto else None
            header = m[1] if m else None
            one_click = False
            if url:
                url_html, url_quoted, kind = self._url_forms(url)
                if kind:
                    header = f"<{url}>, {header}" if header else f"<{url}>"
                    one_click = kind == "https"
                elif kind is None:
                    raise ValueError(f"unsubscribe URL cannot go into a header: {url[:80]!r}")
                for tok, ctx in self.unsub_tokens:
                    subs[tok] = url if ctx == "TEXT" else (url_quoted if ctx == "URL" else url_html)
            elif self.unsub_tokens:
                link = m[0] if m else ""
                for tok, ctx in self.unsub_tokens:
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
