"""Recipient → ``Personal``: the merge values a message needs and the unsubscribe links, per recipient."""

from __future__ import annotations

import html
from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import quote

from .. import merge
from ..model import Personal, Recipient
from .unsubscribe import Links


class PersonalMaker:
    """Recipient → Personal: merge values for the fields the draft uses, plus the unsubscribe links.

    Same result as ``merge.values(fields, defaults, wanted)`` with the token names computed once per send
    (a few µs per recipient instead of tens). With ``tokens`` (the tokens the message contains) only those
    are made: a field the HTML writes but no URL uses needs no URL-encoded form. Backends substitute only
    the message's own tokens, so the result is the same; SendGrid can take the values as they are.
    """

    def __init__(self, draft: Any, links: Links, tokens: Collection[str] | None = None) -> None:
        self.defaults: dict[str, str] = dict(getattr(draft, "merge_defaults", {}) or {})
        used = draft.merge_fields() if hasattr(draft, "merge_fields") else None
        self.wanted = (set(used) - {"unsubscribe_url"}) if used is not None else None
        # The recipient's own address is the "email" merge field ("Sent to ..." in the footer).
        self.with_email = self.wanted is None or "email" in self.wanted
        self.tokens = frozenset(tokens) if tokens is not None else None
        self.key: str = getattr(draft, "merge_key", "") or ""  # the build's random part of every token
        self.links = links
        self._plans: dict[tuple[str, ...], list[tuple[str, str, tuple[str, ...], str | None, str | None,
                                                      str | None]]] = {}

    def _plan(self, fields: Mapping[str, str]) -> list[tuple[str, str, tuple[str, ...], str | None, str | None,
                                                               str | None]]:
        """(field, default, its tokens, HTML token, TEXT token, URL token) for rows shaped like ``fields`` (cached).

        A token the message does not use is None (and left out of the tuple of tokens).
        """
        shape = tuple(fields)
        plan = self._plans.get(shape)
        if plan is None:
            names = set(fields) | set(self.defaults)
            if self.wanted is not None:
                names &= self.wanted
            plan = []
            for name in sorted(names):
                try:
                    toks = [merge.token(name, ctx, self.key) for ctx in merge.CONTEXTS]
                except ValueError:
                    continue
                if self.tokens is not None:
                    toks = [t if t in self.tokens else None for t in toks]
                    if not any(toks):
                        continue
                plan.append((name, self.defaults.get(name, ""), tuple(t for t in toks if t), toks[0], toks[1],
                             toks[2]))
            self._plans[shape] = plan
        return plan

    def values(self, fields: Mapping[str, str], email: str | None = None) -> dict[str, str]:
        if email is not None and self.with_email:
            fields = {**fields, "email": email}
        out: dict[str, str] = {}
        for name, default, toks, t_html, t_text, t_url in self._plan(fields):
            value = (fields.get(name) or "").strip() or default
            if value.isalnum() and value.isascii():  # nothing to escape or encode: the common case
                for tok in toks:
                    out[tok] = value
            else:
                if t_html:
                    out[t_html] = html.escape(value, quote=True)
                if t_text:
                    out[t_text] = value
                if t_url:
                    out[t_url] = quote(value, safe="")
        return out

    def __call__(self, r: Recipient) -> Personal:
        url, mailto = self.links.for_recipient(r.email)
        return Personal(r.email, self.values(r.fields, r.email), url, mailto)


def message_tokens(draft: Any) -> set[str] | None:
    """Every merge token of the draft's subject, text and HTML (None for a draft without them)."""
    try:
        return merge.tokens_in(f"{draft.subject}\n{draft.text}\n{draft.html}", getattr(draft, "merge_key", ""))
    except AttributeError:
        return None


