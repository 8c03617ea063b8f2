"""The SendGrid request bodies, built without any I/O: structure and invariants of what would go on the wire.

Also the backend registry and the capability Protocols the send loop asks for.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from digest import merge
from digest.cli import cli
from digest.compose.message import Draft, make_draft
from digest.config import DEFAULTS, Settings, _merge
from digest.deliver.backends import BACKENDS, default_batch, make_backend, own_unsubscribe
from digest.deliver.backends.base import PreparesBatches, PreparesRows, Schedules, WritesFolder
from digest.deliver.backends.outbox import OutboxBackend
from digest.deliver.backends.sendgrid import SendGridBackend
from digest.deliver.backends.sendgrid.body import (
    ASM_UNSUBSCRIBE_TAG,
    MAX_PERSONALIZATIONS,
    SUBSTITUTIONS_MAX_BYTES,
    UNSUBSCRIBE_TOKEN,
    Personalizer,
    PrefixQuoter,
    build_batch,
    draft_tokens,
    dumps,
    quote_url,
    static_body,
)
from digest.deliver.backends.sendgrid.rows import build_rows, row_path
from digest.deliver.backends.smtp import SmtpBackend
from digest.deliver.personal import PersonalMaker, message_tokens
from digest.deliver.unsubscribe import Links
from digest.errors import UsageError
from digest.model import Personal, Recipient

t = merge.token


def settings(**tables: dict[str, Any]) -> Settings:
    over: dict[str, Any] = {"newsletter": {"name": "Harbour Notes", "from_email": "news@harbour.example",
                                           "postal_address": "1 Quay St"},
                            "unsubscribe": {"url": "https://harbour.example/u/{token}"}}
    for k, v in tables.items():
        over[k] = {**over.get(k, {}), **v}
    return Settings(_merge(DEFAULTS, over), None)


def draft(s: Settings | None = None) -> Draft:
    s = s or settings()
    html = (f"<p>Hi {t('first_name', 'HTML')} of {t('city', 'HTML')}</p>"
            f"<a href=\"{t('unsubscribe_url', 'URL')}\">u</a><a href=\"{t('unsubscribe_url', 'HTML')}\">u</a>")
    text = f"Hi {t('first_name', 'TEXT')}\nUnsubscribe: {t('unsubscribe_url', 'TEXT')}\n"
    return make_draft(subject=f"For {t('first_name', 'TEXT')}", preheader="p", html=html, text=text,
                      slug="2026-12", settings=s, merge_defaults={"first_name": "reader"}, web_url=None)


def personal(email: str, name: str = "Ann", url: str | None = None) -> Personal:
    return Personal(email, merge.values({"first_name": name, "city": "Cork"}, {"first_name": "reader"}),
                    url if url is not None else f"https://harbour.example/u/tok-{email.split('@')[0]}")


# ------------------------------------------------------------------------------------------- static body


def test_static_body_holds_no_recipient_and_only_the_options_asked_for() -> None:
    d = draft()
    body = static_body(d, settings())
    assert "personalizations" not in body
    assert body["subject"] == d.subject and [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    assert not {"mail_settings", "send_at", "batch_id", "asm"} & body.keys()
    body = static_body(d, settings(sendgrid={"asm_group_id": 9}), sandbox=True, send_at=2_000_000_000, batch_id="B")
    assert body["mail_settings"]["sandbox_mode"]["enable"] is True
    assert (body["send_at"], body["batch_id"], body["asm"]) == (2_000_000_000, "B", {"group_id": 9})


# ----------------------------------------------------------------------------------------- batch bodies


def test_one_personalization_per_address_in_order_duplicates_refused() -> None:
    d = draft()
    pz = Personalizer(d, asm=False, custom_args={"digest_issue": "2026-12"})
    batch = [personal("a@x.example"), personal("b@x.example"), personal("A@X.example"), personal("c@x.example")]
    built = build_batch(static_body(d, settings()), batch, pz)
    assert built.emails == ["a@x.example", "b@x.example", "c@x.example"]
    assert [p["to"] for p in built.body["personalizations"]] == [[{"email": e}] for e in built.emails]
    assert [(o.email, o.ok, o.permanent) for o in built.refused] == [("A@X.example", False, True)]
    assert "duplicate" in (built.refused[0].error or "")


def test_every_personalization_substitutes_exactly_the_message_tokens() -> None:
    d = draft()
    pz = Personalizer(d, asm=False, custom_args={"digest_issue": "2026-12"})
    built = build_batch(static_body(d, settings()), [personal("a@x.example", ""), personal("b@x.example", "Zoë")],
                        pz)
    tokens = draft_tokens(d)
    assert tokens  # the draft does use merge fields
    for p in built.body["personalizations"]:
        assert set(p["substitutions"]) == set(tokens)
        assert p["custom_args"] == {"digest_issue": "2026-12"}
        assert p["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert p["headers"]["List-Unsubscribe"].startswith("<https://harbour.example/u/tok-")
    first, second = built.body["personalizations"]
    assert first["substitutions"][t("first_name", "TEXT")] == "reader"  # blank value → the default
    assert second["substitutions"][t("first_name", "HTML")] == "Zoë"
    assert second["substitutions"][t("unsubscribe_url", "URL")] == quote("https://harbour.example/u/tok-b", safe="")


def test_asm_leaves_the_unsubscribe_to_sendgrid() -> None:
    d = draft()
    pz = Personalizer(d, asm=True, custom_args={})
    built = build_batch({}, [personal("a@x.example")], pz)
    (p,) = built.body["personalizations"]
    assert "headers" not in p
    assert {p["substitutions"][t("unsubscribe_url", ctx)] for ctx in merge.CONTEXTS} == {ASM_UNSUBSCRIBE_TAG}


def test_recipients_sendgrid_cannot_take_are_refused_not_sent() -> None:
    d = draft()
    pz = Personalizer(d, asm=False, custom_args={})
    surrogate = Personal("bad@x.example", {t("first_name", "TEXT"): "\udcff"}, "https://harbour.example/u/t")
    batch = [personal("big@x.example", "x" * SUBSTITUTIONS_MAX_BYTES), surrogate,
             personal("hdr@x.example", url="https://harbour.example/u/a b"), personal("ok@x.example")]
    built = build_batch({}, batch, pz)
    assert built.emails == ["ok@x.example"]
    assert [o.email for o in built.refused] == ["big@x.example", "bad@x.example", "hdr@x.example"]
    assert all(o.permanent and not o.ok for o in built.refused)
    with pytest.raises(ValueError, match="at most"):
        build_batch({}, [personal(f"r{i}@x.example") for i in range(MAX_PERSONALIZATIONS + 1)], pz)


def test_dumps_is_compact_utf8_json_of_the_body() -> None:
    body = {"subject": "Zoë & \"friends\" </script>", "n": [1, 2], "e": "用户\n"}
    raw = dumps(body).raw
    assert json.loads(raw) == body
    assert "Zoë".encode() in raw and b"\\u00eb" not in raw  # UTF-8, not ASCII escapes
    assert b": " not in raw and b", " not in raw
    assert dumps(body).encode("utf-8") == raw


def test_quote_url_matches_urllib() -> None:
    values = ["https://h.example/u?t=abc_-.~", "a b&c=d/é", "100%", "", "用户", "https://h.example/x y/AbC-z9"]
    assert [quote_url(v) for v in values] == [quote(v, safe="") for v in values]
    q = PrefixQuoter()
    many = [f"https://h.example/u?t=tok{i}-_" for i in range(5)] + values
    assert [q(v) for v in many] == [quote(v, safe="") for v in many]


# ----------------------------------------------------------------------------------------------- row path


def rows() -> list[Recipient]:
    return [Recipient(f"r{i}@x.example", {"first_name": n, "city": c}, i + 2)
            for i, (n, c) in enumerate([("Ann", "Cork"), ("", ""), ("Zoë & <Bob>", "a&b"), ("O'Neil", "St. Ives")])]


def test_row_path_builds_what_the_personal_path_builds() -> None:
    d = draft()
    links = Links("https://harbour.example/u/{token}", "", b"unit-secret-0123456789abcdef")
    maker = PersonalMaker(d, links, message_tokens(d))
    pz = Personalizer(d, asm=False, custom_args={"digest_issue": "2026-12"})
    static = static_body(d, settings())
    path = row_path(pz, maker, token_only=False)
    assert path is not None and path.replace == {}
    want = build_batch(static, [maker(r) for r in rows()], pz)
    got = build_rows(static, rows(), path.make, path.write)
    assert got.raw is not None and json.loads(got.raw.raw) == want.body
    assert got.emails == want.emails


def test_token_only_row_path_moves_the_url_into_the_content() -> None:
    d = draft()
    links = Links("https://harbour.example/u/{token}", "", b"unit-secret-0123456789abcdef")
    maker = PersonalMaker(d, links, message_tokens(d))
    pz = Personalizer(d, asm=False, custom_args={})
    path = row_path(pz, maker)
    assert path is not None
    static = path.rewrite(static_body(d, settings()))
    assert all(t("unsubscribe_url", ctx) not in c["value"] for c in static["content"] for ctx in merge.CONTEXTS)
    assert any(UNSUBSCRIBE_TOKEN in c["value"] for c in static["content"])
    body = build_rows(static, rows(), path.make).body
    for p, r in zip(body["personalizations"], rows(), strict=True):
        token = p["substitutions"][UNSUBSCRIBE_TOKEN]
        assert links.for_recipient(r.email)[0] == f"https://harbour.example/u/{token}"


def test_row_path_declines_links_of_another_shape() -> None:
    d = draft()
    links = Links("https://harbour.example/u/{email}/{token}", "", b"unit-secret-0123456789abcdef")
    maker = PersonalMaker(d, links, message_tokens(d))
    assert row_path(Personalizer(d, asm=False, custom_args={}), maker) is None


# --------------------------------------------------------------------------------- registry and capabilities


def test_the_cli_offers_exactly_the_registry() -> None:
    option = next(p for p in cli.commands["send"].params if p.name == "backend")
    assert list(option.type.choices) == list(BACKENDS)  # type: ignore[attr-defined]


def test_registry_entries(tmp_path: Any) -> None:
    s = settings(smtp={"batch_size": 7}, sendgrid={"batch_size": 5000, "asm_group_id": 3})
    assert [default_batch(n, s) for n in ("outbox", "smtp", "sendgrid")] == [OutboxBackend.max_batch, 7, 1000]
    assert own_unsubscribe("sendgrid", s) == ("[sendgrid] asm_group_id", True)
    assert own_unsubscribe("outbox", s) == ("", False)
    with pytest.raises(UsageError, match="unknown backend"):
        make_backend("pigeon", tmp_path, s)
    with pytest.raises(UsageError, match="need --backend sendgrid"):
        make_backend("outbox", tmp_path, s, sandbox=True)


def test_capabilities_are_declared_by_what_a_backend_implements(tmp_path: Any) -> None:
    s = settings()
    sg = SendGridBackend(s, client=object())
    assert isinstance(sg, PreparesRows) and isinstance(sg, PreparesBatches) and isinstance(sg, Schedules)
    assert not isinstance(sg, WritesFolder)
    outbox = OutboxBackend(tmp_path)
    assert isinstance(outbox, WritesFolder) and not isinstance(outbox, (PreparesRows, PreparesBatches, Schedules))
    smtp = SmtpBackend(s, environ={})
    assert not isinstance(smtp, (WritesFolder, PreparesRows, PreparesBatches, Schedules))
    assert sg.delivers and outbox.delivers and smtp.delivers
    assert not SendGridBackend(s, sandbox=True, client=object()).delivers
