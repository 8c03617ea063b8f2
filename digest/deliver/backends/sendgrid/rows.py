"""The fast row path: SendGrid personalizations straight from CSV rows (no ``Personal`` per recipient),
written as JSON text for the usual row. Same bodies as ``body.build_batch``."""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .... import merge
from ....model import Outcome

if TYPE_CHECKING:
    pass
from .body import (
    ASM_UNSUBSCRIBE_TAG,
    MAX_PERSONALIZATIONS,
    PLAIN_TEXT,
    SUBSTITUTIONS_MAX_BYTES,
    URL_ALL_SAFE,
    BatchBody,
    JsonBody,
    Personalizer,
    dumps,
    header_kind,
    quote_url,
    substitutions_size,
)

if TYPE_CHECKING:
    from ...personal import PersonalMaker


@dataclass
class RowPath:
    """``make(email, fields) → personalization`` and the token → text replacements the request's subject and
    content need first (empty when the personalizations carry whole values)."""

    make: Callable[[str, Mapping[str, str]], dict[str, Any]]
    replace: dict[str, str]
    # The same personalization written straight as JSON text, for the usual row (plain values, an address
    # with nothing to escape); None for any other row (then ``make``). See ``_row_writer``.
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


def row_path(pz: Personalizer, maker: PersonalMaker, *, token_only: bool = True) -> RowPath | None:
    """How to build personalizations straight from CSV rows; None when the links are not the common shape
    (a URL template with one ``{token}`` and no ``{email}``, or asm).

    The unsubscribe URL is ``head + token + tail`` and the token is URL-safe base64, which neither HTML
    escaping, URL encoding nor a header changes: every form of the URL, and the List-Unsubscribe header,
    is a precomputed prefix + the token + a precomputed suffix. With ``token_only`` the request's subject
    and content are rewritten once (``RowPath.rewrite``) to hold each form's prefix and suffix around one
    ``UNSUBSCRIBE_TOKEN`` placeholder, and a personalization substitutes only the token (~90 bytes) instead
    of every form of the URL (~130 bytes each): smaller requests, for SendGrid and for us. ``maker`` is the
    send's ``PersonalMaker``: its links, and its ``values`` (a fresh dict, used as the substitutions when its
    keys are the message's field tokens: the usual case). ``make`` raises ValueError as ``Personalizer.item``
    does.
    """
    links = maker.links
    values = maker.values
    parts = links.token_parts()
    signer = parts[0] if parts is not None else None
    fields_ = pz.field_defaults
    field_keys = pz.field_keys
    custom_args = pz.custom_args
    keys_bytes = pz.keys_bytes
    n_subs = len(pz.base)
    fits = pz.fits
    unsub = pz.unsub_tokens
    replace: dict[str, str] = {}
    if pz.asm:
        asm_subs = [(tok, ASM_UNSUBSCRIBE_TAG) for tok, _ in unsub]
        url_parts: list[tuple[str, str, str]] = []
        header_parts: tuple[str, str] | None = None
        one_click = False
    else:
        if parts is None:
            return None
        _, head, tail = parts
        mailto = links.mailto or pz.default_mailto
        try:
            m = pz.mailto_forms(mailto) if mailto else None
        except ValueError:
            return None
        kind = header_kind(head + "A" + tail)
        if kind is None or len(head) < 8 or not (head + tail).isascii():
            return None  # the generic path says why, recipient by recipient
        forms = {"TEXT": (head, tail), "URL": (quote_url(head), quote_url(tail)),
                 "HTML": (html.escape(head, quote=True), html.escape(tail, quote=True))}
        url_parts = [(tok, *forms[ctx]) for tok, ctx in unsub]
        unsub_token = pz.unsub_token  # keyed like the draft's tokens: content cannot forge it
        if token_only and unsub and unsub_token not in pz.base:
            replace = {tok: forms[ctx][0] + unsub_token + forms[ctx][1] for tok, ctx in unsub}
            url_parts = [(unsub_token, "", "")]
            n_subs = n_subs - len(unsub) + 1
            keys_bytes = keys_bytes - sum(len(tok) for tok, _ in unsub) + len(unsub_token)
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

    write = _row_writer(pz, maker, signer if header_parts is not None or url_parts else None, header_parts,
                        one_click, url_parts, asm_subs)
    return RowPath(make, replace, write)


def _row_writer(pz: Personalizer, maker: PersonalMaker, signer: Callable[[str], str] | None,
                header_parts: tuple[str, str] | None, one_click: bool, url_parts: list[tuple[str, str, str]],
                asm_subs: list[tuple[str, str]]) -> Callable[[str, Mapping[str, str]], str | None] | None:
    """``(email, fields) → JSON text`` of the personalization ``make`` builds, for the usual row; None (no
    writer) when a field's token cannot be parsed. The writer itself returns None for a row it does
    not take: an address with a character JSON escapes, a merge value that HTML escaping, JSON or (when the
    message uses its URL form) URL encoding would change, or values long enough to near the 10,000 bytes.

    The text is a fixed list of pieces (computed here, escaped once) with slots for the address, the
    token and the values: per recipient one MAC, a few string tests and one join, instead of building
    five dicts and serializing them (about half the producer's time per recipient).
    """
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
    pieces.append('"}],"custom_args":' + json.dumps(pz.custom_args, ensure_ascii=False, separators=(",", ":")))
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
    for tok, encoded_default in pz.field_defaults:
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
    plain_url = URL_ALL_SAFE.fullmatch
    plain_text = PLAIN_TEXT.fullmatch

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
    return BatchBody(None, emails, refused, JsonBody(raw) if emails else None)


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


