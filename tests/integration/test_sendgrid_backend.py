"""The SendGrid backend: request bodies (pure) and its behaviour against the local stand-in (faults, errors)."""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Iterator
from dataclasses import replace
from email.utils import formatdate
from pathlib import Path
from typing import Any

import orjson
import pytest

from digest import merge
from digest.compose.message import Draft, make_draft, token_values
from digest.config import DEFAULTS, Settings, _merge
from digest.deliver.backends.base import BatchAborted
from digest.deliver.backends.sendgrid.backend import SendGridBackend
from digest.deliver.backends.sendgrid.body import (
    ASM_UNSUBSCRIBE_TAG,
    SUBSTITUTIONS_MAX_BYTES,
    Personalizer,
    PrefixQuoter,
    build_batch,
    draft_tokens,
    quote_url,
    static_body,
    substitutions_fit,
    substitutions_size,
)
from digest.deliver.backends.sendgrid.client import (
    SendGridRejected,
    SendGridUnavailable,
    api_key,
    backoff_delay,
    describe_error,
    rate_limit_delay,
)
from digest.deliver.backends.sendgrid.schedule import check_send_at
from digest.errors import ConfigError, DigestError, UsageError
from digest.model import Personal
from tests.conftest import shared_path
from tests.support.sendgrid_standin import SendGridStandIn

KEY = "SG.test-key-do-not-print"


def settings(**tables: dict[str, Any]) -> Settings:
    over: dict[str, Any] = {"newsletter": {"name": "Harbour Notes", "from_email": "news@harbour.example",
                                           "postal_address": "1 Quay St"},
                            "unsubscribe": {"url": "https://harbour.example/u/{token}",
                                            "mailto": "leave@harbour.example"}}
    for k, v in tables.items():
        over[k] = {**over.get(k, {}), **v}
    return Settings(_merge(DEFAULTS, over), None)


def draft(s: Settings | None = None, slug: str = "2026-11") -> Draft:
    s = s or settings()
    t = merge.token
    html = (f"<p>Hello {t('first_name', 'HTML')},</p><p>{'x' * 200}</p>"
            f"<a href=\"{t('unsubscribe_url', 'URL')}\">unsubscribe</a>")
    text = f"Hello {t('first_name', 'TEXT')},\n\nUnsubscribe: {t('unsubscribe_url', 'TEXT')}\n"
    return make_draft(subject=f"Tides for {t('first_name', 'TEXT')}", preheader="p", html=html, text=text,
                      slug=slug, settings=s, merge_defaults={"first_name": "there"}, web_url=None)


def personal(i: int, name: str = "Ann") -> Personal:
    return Personal(email=f"r{i}@example.com", values=merge.values({"first_name": name}, {"first_name": "there"}),
                    unsubscribe_url=f"https://harbour.example/u/tok{i}", unsubscribe_mailto="leave@harbour.example")


# --------------------------------------------------------------------------------------------- pure parts


def test_static_body_shape() -> None:
    d = draft()
    body = static_body(d, settings(), sandbox=False)
    assert body["from"] == {"email": "news@harbour.example", "name": "Harbour Notes"}
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    assert body["categories"] == ["2026-11"]
    assert "custom_args" not in body  # inside each personalization only
    assert "Message-ID" not in body.get("headers", {}) and "message-id" not in str(body.get("headers")).lower()
    assert body["tracking_settings"]["click_tracking"]["enable"] is False
    assert body["tracking_settings"]["subscription_tracking"]["enable"] is False
    assert body["headers"]["List-Id"].endswith(f"<{d.list_id}>")
    assert "asm" not in body and "mail_settings" not in body and "send_at" not in body


def test_static_body_options() -> None:
    s = settings(sendgrid={"asm_group_id": 42}, tracking={"open": True, "click": True})
    body = static_body(draft(s), s, sandbox=True, send_at=1_900_000_000, batch_id="B1")
    assert body["asm"] == {"group_id": 42}
    assert body["mail_settings"] == {"sandbox_mode": {"enable": True}}
    assert body["send_at"] == 1_900_000_000 and body["batch_id"] == "B1"
    assert body["tracking_settings"]["open_tracking"]["enable"] is True
    assert body["tracking_settings"]["click_tracking"]["enable"] is True


def test_static_body_needs_a_sender() -> None:
    s = settings(newsletter={"from_email": ""})
    with pytest.raises(ConfigError, match="from_email"):
        static_body(draft(s), s)


def test_personalizer_matches_token_values() -> None:
    d = draft()
    pz = Personalizer(d, asm=False, custom_args={"digest_issue": "x"})
    used = set(draft_tokens(d))
    assert used == {"__DG_FIRST_NAME_HTML__", "__DG_FIRST_NAME_TEXT__", "__DG_UNSUBSCRIBE_URL_URL__",
                    "__DG_UNSUBSCRIBE_URL_TEXT__"}
    for p in [personal(1, "Zoë & <Bob>"), personal(2, ""), personal(3, "a/b?c=d e+f%"),
              Personal("m@example.com", {}, None, "mailto:out@harbour.example")]:
        expected = {k: v for k, v in token_values(d, p).items() if k in used}
        assert pz.values(p) == expected  # only the tokens the message uses travel


def test_personalizer_fast_paths_match_token_values_and_headers() -> None:
    from digest.compose.message import list_unsubscribe

    t = merge.token
    d = draft()
    d = replace(d, html=d.html + f"<a href=\"{t('unsubscribe_url', 'HTML')}\">x</a>")
    pz = Personalizer(d, asm=False, custom_args={})
    used = set(draft_tokens(d))
    rng = random.Random(8)
    urls = [f"https://h.example/u?t={rng.randrange(10**9)}.{rng.random()}" for _ in range(30)]
    urls += ["https://h.example/u?t=a&b='c'\"", "https://h.example/u?t=x/y", "http://h.example/u?t=abc",
             "https://other.example/?e=a%40b&t=1", "ftp://h.example/u/abc", "https://h.example/u?t=Zoë",
             "https://h.example/u?t=ok-after-another", "HTTPS://H.example/u?t=UPPER"]
    urls = urls + urls[::-1]
    for i, url in enumerate(urls):
        values = merge.values({"first_name": rng.choice(["Ann", "", "Zoë & <Bob>", "a b"])}, {"first_name": "there"})
        exact = {k: v for k, v in values.items() if k in used}  # what the send loop's PersonalMaker hands over
        for p in (Personal(f"r{i}@example.com", exact, url, "leave@harbour.example"),
                  Personal(f"r{i}@example.com", values, url, None)):
            expected = {k: v for k, v in token_values(d, p).items() if k in used}
            try:
                header, one_click = list_unsubscribe(url if url.lower().startswith("http") else None,
                                                     p.unsubscribe_mailto or d.unsubscribe_mailto)
            except DigestError:  # not fit for a header: the recipient is refused
                with pytest.raises(ValueError, match="header"):
                    pz.item(p)
                continue
            item = pz.item(p)
            assert item["substitutions"] == expected, url
            got = item.get("headers", {})
            assert got.get("List-Unsubscribe") == header, url
            assert ("List-Unsubscribe-Post" in got) == one_click, url
    with pytest.raises(ValueError, match="header"):
        pz.item(Personal("x@example.com", {}, "https://h.example/u?t=a b", None))


@pytest.mark.parametrize("template,mailto,asm", [
    ("https://h.example/u?t={token}", "leave@harbour.example", False),
    ("https://h.example/u/{token}/x?a='b'&c=\"d\"", "", False),
    ("https://h.example/u/{token}/x?c=<d>", "", False),  # cannot go into a header: no row path
    ("http://h.example/u?t={token}", "leave@harbour.example", False),
    ("ftp://h.example/u/{token}", "leave@harbour.example", False),
    ("ftp://h.example/u/{token}", "", False),
    ("https://h.example/u?t={token}&e={email}", "", False),  # not the common shape: no row path
    ("https://h.example/u?t={token}", "", True),
    ("", "", True),
])
def test_row_path_equals_the_personal_path(template: str, mailto: str, asm: bool) -> None:
    """``prepare_rows`` (CSV row → personalization) builds the same body as Personal → ``build_batch``."""
    from digest.deliver.backends.sendgrid.rows import build_rows, row_path
    from digest.deliver.personal import PersonalMaker, message_tokens
    from digest.deliver.unsubscribe import Links
    from digest.model import Recipient

    t = merge.token
    d = draft()
    d = replace(d, html=d.html + f"<a href=\"{t('unsubscribe_url', 'HTML')}\">x</a>"
                f"<a href=\"https://m.example/?c={t('city', 'URL')}\">{t('city', 'HTML')}</a>{t('code', 'HTML')}")
    links = Links(template, mailto, b"row-path-secret-0123456789")
    maker = PersonalMaker(d, links, message_tokens(d))
    pz = Personalizer(d, asm=asm, custom_args={"digest_issue": "x"})
    rng = random.Random(5)
    names = ["Ann", "", "  ", "Zoë & <Bob>", "a b", "100%", "x" * 12_000, "O'Neil", "\udcff", "Chloé", "Mary Ann",
             'say "hi"', "back\\slash", "Søren", "用户", "x" * 3_000]
    cities = ["Cork", "St. Ives", "Zürich", "a&b", "Bray-on-Sea", "", "100%"]
    rows = [Recipient(f"r{i}@example.com", {"first_name": rng.choice(names), "city": rng.choice(cities)}, i + 2)
            for i in range(300)]
    rows += [Recipient("r1@example.com", {}, 400), Recipient("zoë@example.com", {}, 401),
             Recipient("r9@EXAMPLE.com", {"first_name": "Dup"}, 402), Recipient('"q\\"@example.com', {}, 403)]
    static = {"from": {"email": "news@harbour.example"}}
    full = row_path(pz, maker, token_only=False)  # the URL's forms in each personalization
    if "{email}" in template or "<" in template:
        assert full is None
        return
    assert full is not None
    make = full.make
    want = build_batch(static, [maker(r) for r in rows], pz)
    got = build_rows(static, rows, make)
    assert got.body == want.body
    assert got.emails == want.emails
    assert [(o.email, o.ok, o.error, o.permanent) for o in got.refused] == \
        [(o.email, o.ok, o.error, o.permanent) for o in want.refused]
    assert len(got.refused) >= 3  # the oversized, the lone surrogate and the duplicates are refused on both paths
    # Written straight as JSON text (the writer takes the usual rows, make the others): the same request.
    path = row_path(pz, maker, token_only=False)
    assert path is not None and path.write is not None
    taken = []

    def write(email: str, fields: Any) -> str | None:
        text = path.write(email, fields)  # type: ignore[misc]
        taken.append(text is not None)
        return text

    raw = build_rows(static, rows, path.make, write)
    assert raw.raw is not None and json.loads(raw.raw.raw) == want.body
    assert (raw.emails, [o.error for o in raw.refused]) == (want.emails, [o.error for o in want.refused])
    assert len(rows) // 10 < sum(taken) < len(rows)  # both ways were used


def _messages(body: dict[str, Any]) -> list[tuple[Any, ...]]:
    """What each recipient of a request gets once SendGrid has applied the substitutions."""
    out = []
    for p in body["personalizations"]:
        subs = p.get("substitutions") or {}

        def sub(text: str, subs: dict[str, str] = subs) -> str:
            for k, v in subs.items():
                text = text.replace(k, v)
            return text

        out.append((p["to"][0]["email"], sub(body["subject"]), [(c["type"], sub(c["value"])) for c in body["content"]],
                    p.get("headers"), p.get("custom_args")))
    return out


@pytest.mark.parametrize("template,mailto", [
    ("https://h.example/u?t={token}", "leave@harbour.example"),
    ("https://h.example/u/{token}/x?a='b'&c=\"d\"", ""),
    ("ftp://h.example/u/{token}", "leave@harbour.example"),
])
def test_token_only_row_path_gives_every_recipient_the_same_message(template: str, mailto: str) -> None:
    """The row path sends the unsubscribe token alone (the URL's forms move into the content, once): each
    recipient still gets exactly the message the per-recipient path gives them, in a smaller request."""
    from digest.deliver.backends.sendgrid.body import UNSUBSCRIBE_TOKEN
    from digest.deliver.backends.sendgrid.rows import build_rows, row_path
    from digest.deliver.personal import PersonalMaker, message_tokens
    from digest.deliver.unsubscribe import Links
    from digest.model import Recipient

    t = merge.token
    d = draft()
    d = replace(d, subject=d.subject + " " + t("first_name", "TEXT"),
                html=d.html + f"<a href=\"{t('unsubscribe_url', 'HTML')}\">x</a> {t('unsubscribe_url', 'URL')}",
                text=d.text + f"\nLeave: {t('unsubscribe_url', 'TEXT')}\n")
    links = Links(template, mailto, b"row-path-secret-0123456789")
    maker = PersonalMaker(d, links, message_tokens(d))
    pz = Personalizer(d, asm=False, custom_args={"digest_issue": "x"})
    rows = [Recipient(f"r{i}@example.com", {"first_name": name}, i + 2)
            for i, name in enumerate(["Ann", "", "Zoë & <Bob>", "100%", "O'Neil"] * 20)]
    static = {"from": {"email": "news@harbour.example"}, "subject": d.subject,
              "content": [{"type": "text/plain", "value": d.text}, {"type": "text/html", "value": d.html}]}
    path = row_path(pz, maker)
    assert path is not None and path.replace
    got = build_rows(path.rewrite(static), rows, path.make)
    want = build_batch(static, [maker(r) for r in rows], pz)
    assert _messages(got.body) == _messages(want.body)
    written = build_rows(path.rewrite(static), rows, path.make, path.write)  # as JSON text: the same request
    assert written.raw is not None and json.loads(written.raw.raw) == got.body
    assert all(set(p["substitutions"]) == {t("first_name", "HTML"), t("first_name", "TEXT"), UNSUBSCRIBE_TOKEN}
               for p in got.body["personalizations"])
    assert len(orjson.dumps(got.body)) < len(orjson.dumps(want.body)) - 100 * len(rows)


def test_quote_url_equals_urllib_quote() -> None:
    from urllib.parse import quote

    samples = ["".join(chr(i) for i in range(128)), "https://h.example/u?t=a.b-c_d~e&x=%20", "Zoë & Co", "", "用户"]
    rng = random.Random(3)
    samples += ["".join(chr(rng.randrange(0, 300)) for _ in range(rng.randrange(0, 40))) for _ in range(500)]
    for s in samples:
        assert quote_url(s) == quote(s, safe="")
    pq = PrefixQuoter()
    urls = [f"https://h.example/u?t={rng.randrange(10**9)}.{rng.random()}" for _ in range(50)]
    urls += ["https://h.example/u?t=a b", "https://h.example/u?t=x/y", "https://other.example/?e=a%40b", "", "é"]
    for u in urls + urls[::-1]:
        assert pq(u) == quote(u, safe="")


def test_batch_personalizations() -> None:
    d = draft()
    pz = Personalizer(d, asm=False, custom_args={"digest_issue": d.slug})
    batch = [personal(i) for i in range(3)] + [Personal("R1@EXAMPLE.com", {})]
    built = build_batch(static_body(d, settings()), batch, pz)
    pers = built.body["personalizations"]
    assert [p["to"][0]["email"] for p in pers] == ["r0@example.com", "r1@example.com", "r2@example.com"]
    assert [o.email for o in built.refused] == ["R1@EXAMPLE.com"] and built.refused[0].permanent
    p0 = pers[0]
    assert p0["custom_args"] == {"digest_issue": "2026-11"}
    assert p0["headers"] == {"List-Unsubscribe": "<https://harbour.example/u/tok0>, "
                                                 "<mailto:leave@harbour.example?subject=unsubscribe>",
                             "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    assert p0["substitutions"][merge.token("first_name", "HTML")] == "Ann"
    assert p0["substitutions"][merge.token("unsubscribe_url", "URL")] == "https%3A%2F%2Fharbour.example%2Fu%2Ftok0"
    # Every token the draft uses has a value in every personalization.
    for p in pers:
        for tok in ("__DG_FIRST_NAME_HTML__", "__DG_FIRST_NAME_TEXT__", "__DG_UNSUBSCRIBE_URL_TEXT__"):
            assert tok in p["substitutions"]


def test_asm_adds_no_list_unsubscribe_and_uses_sendgrids_link() -> None:
    s = settings(sendgrid={"asm_group_id": 7})
    d = draft(s)
    pz = Personalizer(d, asm=True, custom_args={})
    built = build_batch(static_body(d, s), [personal(1)], pz)
    p = built.body["personalizations"][0]
    assert "headers" not in p
    assert p["substitutions"][merge.token("unsubscribe_url", "URL")] == ASM_UNSUBSCRIBE_TAG
    assert built.body["asm"] == {"group_id": 7}


def test_oversized_substitutions_fail_that_recipient_only() -> None:
    d = draft()
    pz = Personalizer(d, asm=False, custom_args={})
    big = Personal("big@example.com", merge.values({"first_name": "é" * 3000}, {}))
    built = build_batch(static_body(d, settings()), [personal(1), big, personal(2)], pz)
    assert [p["to"][0]["email"] for p in built.body["personalizations"]] == ["r1@example.com", "r2@example.com"]
    assert built.refused[0].email == "big@example.com" and "bytes" in (built.refused[0].error or "")


def test_substitutions_budget_is_exact_near_the_limit() -> None:
    for n in range(SUBSTITUTIONS_MAX_BYTES - 40, SUBSTITUTIONS_MAX_BYTES + 5):
        v = {"K": "a" * (n - 8)}  # {"K":"…"} is 8 bytes of JSON around the value
        assert substitutions_size(v) == n
        assert substitutions_fit(v) == (n < SUBSTITUTIONS_MAX_BYTES)


def test_bad_unsubscribe_url_fails_the_recipient() -> None:
    d = draft()
    pz = Personalizer(d, asm=False, custom_args={})
    bad = Personal("x@example.com", {}, "https://h.example/u/a b\r\nBcc: victim@example.com")
    built = build_batch(static_body(d, settings()), [bad, personal(1)], pz)
    assert [o.email for o in built.refused] == ["x@example.com"]
    assert len(built.body["personalizations"]) == 1


def test_describe_error_shows_field_and_message() -> None:
    raw = json.dumps({"errors": [{"message": "The from email does not contain a valid address.",
                                  "field": "from.email", "help": "…"}]}).encode()
    assert describe_error(400, raw) == "HTTP 400: from.email: The from email does not contain a valid address."
    assert describe_error(403, b"<html>nope</html>") == "HTTP 403: <html>nope</html>"
    assert describe_error(400, b"") == "HTTP 400: (no error body)"


def test_rate_limit_delay() -> None:
    now = 1_000_000.0
    assert rate_limit_delay({"Retry-After": "3"}, now, 9) == 3
    assert rate_limit_delay({"X-RateLimit-Reset": str(int(now) + 7)}, now, 9) == 7
    assert rate_limit_delay({"Retry-After": formatdate(now + 10, usegmt=True)}, now, 9) == 10
    assert rate_limit_delay({}, now, 9) == 9


def test_backoff_grows_with_jitter_and_cap() -> None:
    rng = random.Random(1)
    d = [backoff_delay(a, 0.5, 8.0, rng) for a in range(1, 10)]
    assert all(0.25 <= x <= 8.0 for x in d)
    assert max(d[:2]) <= 1.0 and max(d[5:]) > 1.0
    assert len({round(x, 6) for x in d}) == len(d)


def test_send_at_bounds() -> None:
    now = 1_800_000_000
    assert check_send_at(now + 3600, now) == now + 3600
    with pytest.raises(UsageError, match="72 hours"):
        check_send_at(now + 72 * 3600 + 1, now)
    with pytest.raises(UsageError, match="past"):
        check_send_at(now - 1, now)


def test_api_key_missing_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="SENDGRID_API_KEY is not set"):
        api_key({})
    assert api_key({"SENDGRID_API_KEY": " k "}) == "k"


# ------------------------------------------------------------------------------------- against the stand-in


@pytest.fixture
def standin() -> Iterator[SendGridStandIn]:
    with SendGridStandIn(spec=shared_path("sendgrid", "tsg_mail_v3.json"), api_key=KEY, keep_bodies=True) as sg:
        yield sg


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, standin: SendGridStandIn) -> None:
    monkeypatch.setenv("SENDGRID_API_KEY", KEY)
    monkeypatch.setenv("DIGEST_SENDGRID_HOST", standin.url)


class Sleeps(list[float]):
    def __call__(self, s: float) -> None:
        self.append(s)


def backend(s: Settings | None = None, **kw: Any) -> tuple[SendGridBackend, Sleeps]:
    sleeps = Sleeps()
    b = SendGridBackend(s or settings(sendgrid={"timeout": 5.0, "max_attempts": 3}), sleep=sleeps,
                        rng=random.Random(0), **kw)
    return b, sleeps


@pytest.mark.integration
def test_batches_are_delivered_once_with_personal_subjects(env: None, standin: SendGridStandIn) -> None:
    d = draft()
    b, _ = backend()
    b.open(d)
    names = ["Ann", "Bo", "Zoë & Co"]
    outcomes = b.send_batch(d, [personal(i, names[i]) for i in range(3)])
    assert all(o.ok for o in outcomes) and len({o.message_id for o in outcomes}) == 1
    assert outcomes[0].message_id
    got = {x.email: x for x in standin.deliveries}
    assert got["r2@example.com"].subject == "Tides for Zoë & Co"
    assert "Hello Zoë &amp; Co," in got["r2@example.com"].html
    assert 'href="https%3A%2F%2Fharbour.example%2Fu%2Ftok2"' in got["r2@example.com"].html
    assert got["r0@example.com"].headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert got["r0@example.com"].custom_args == {"digest_issue": "2026-11"}
    assert standin.delivered() == {f"r{i}@example.com": 1 for i in range(3)}


@pytest.mark.integration
def test_429_waits_for_retry_after_then_succeeds(env: None, standin: SendGridStandIn) -> None:
    standin.fault("429", retry_after=2)
    standin.fault("429", reset_in=4)
    d = draft()
    b, sleeps = backend()
    b.open(d)
    assert all(o.ok for o in b.send_batch(d, [personal(1)]))
    assert sleeps[0] == 2.0 and 1.5 <= sleeps[1] <= 4.0  # reset is a whole second; the machine may be slow
    assert standin.status_counts() == {429: 2, 202: 1}
    assert standin.delivered() == {"r1@example.com": 1}


@pytest.mark.integration
def test_5xx_back_off_then_succeed(env: None, standin: SendGridStandIn) -> None:
    standin.fault("500")
    standin.fault("503")
    d = draft()
    b, sleeps = backend()
    b.open(d)
    assert all(o.ok for o in b.send_batch(d, [personal(1)]))
    assert len(sleeps) == 2 and sleeps[1] >= sleeps[0] * 0.5 and all(s > 0 for s in sleeps)
    assert standin.delivered() == {"r1@example.com": 1}


@pytest.mark.integration
def test_a_refused_connection_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing listens: the request certainly never arrived, so each attempt is made, then the batch is pending."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("SENDGRID_API_KEY", KEY)
    monkeypatch.setenv("DIGEST_SENDGRID_HOST", f"http://127.0.0.1:{port}")
    d = draft()
    b, sleeps = backend()
    b.open(d)
    with pytest.raises(SendGridUnavailable, match="3 attempts") as info:
        b.send_batch(d, [personal(1)])
    assert info.value.maybe_accepted is False and info.value.outcomes == []
    assert b.requests == 3 and len(sleeps) == 2


@pytest.mark.integration
def test_5xx_until_attempts_run_out(env: None, standin: SendGridStandIn) -> None:
    standin.fault("503", times=5)
    d = draft()
    b, sleeps = backend()
    b.open(d)
    with pytest.raises(SendGridUnavailable, match=r"HTTP 503.*3 attempts") as info:
        b.send_batch(d, [personal(1)])
    assert info.value.maybe_accepted is False and info.value.outcomes == []  # all back to pending
    assert isinstance(info.value, BatchAborted)
    assert len(sleeps) == 2 and not standin.deliveries


def _mail_sends(standin: SendGridStandIn) -> int:
    """mail/send requests that arrived whole at the stand-in (answered or not)."""
    return standin.mail_sends


@pytest.mark.integration
def test_lost_answer_is_reported_as_maybe_accepted(env: None, standin: SendGridStandIn) -> None:
    """SendGrid accepted the request, the connection dropped before the answer: never posted again."""
    standin.fault("drop_after_accept")
    d = draft()
    b, sleeps = backend()
    b.open(d)
    with pytest.raises(SendGridUnavailable) as info:
        b.send_batch(d, [personal(1), personal(2)])
    assert info.value.maybe_accepted is True and "unknown" in (info.value.hint or "")
    assert [(o.email, o.unknown, o.ok) for o in info.value.outcomes] == [("r1@example.com", True, False),
                                                                      ("r2@example.com", True, False)]
    assert standin.delivered() == {"r1@example.com": 1, "r2@example.com": 1}  # once, not twice
    assert _mail_sends(standin) == 1 and not sleeps


@pytest.mark.integration
def test_slow_answer_hits_the_socket_timeout(env: None, standin: SendGridStandIn) -> None:
    """Accepted at once, answered after the client's socket timeout: held as unknown, never posted again."""
    standin.fault("slow", delay=2.0)
    d = draft()
    s = settings(sendgrid={"timeout": 0.5, "max_attempts": 2})
    b, sleeps = backend(s)
    b.open(d)
    t0 = time.monotonic()
    with pytest.raises(SendGridUnavailable) as info:
        b.send_batch(d, [personal(1)])
    assert time.monotonic() - t0 < 2.0  # gave up on the slow attempt, did not wait for it
    assert info.value.maybe_accepted is True
    assert [(o.email, o.unknown) for o in info.value.outcomes] == [("r1@example.com", True)]
    assert standin.delivered() == {"r1@example.com": 1}  # once, not twice
    assert _mail_sends(standin) == 1 and not sleeps


@pytest.mark.integration
def test_a_connection_dropped_after_the_body_is_unknown_even_if_not_accepted(env: None,
                                                                          standin: SendGridStandIn) -> None:
    """The stand-in read the whole request and dropped it unaccepted: the client cannot tell that from a lost
    answer, so the recipients are unknown (nobody mailed, nobody mailed twice) and the request is not repeated."""
    standin.fault("drop")
    d = draft()
    b, _ = backend()
    b.open(d)
    with pytest.raises(SendGridUnavailable) as info:
        b.send_batch(d, [personal(1)])
    assert info.value.maybe_accepted is True
    assert not standin.delivered() and _mail_sends(standin) == 1


@pytest.mark.integration
def test_overall_deadline_bounds_a_batch(env: None, standin: SendGridStandIn) -> None:
    standin.fault("slow", delay=3.0, times=10)
    d = draft()
    s = settings(sendgrid={"timeout": 1.0, "max_attempts": 50, "deadline": 2.5})
    b = SendGridBackend(s)
    b.open(d)
    t0 = time.monotonic()
    with pytest.raises(SendGridUnavailable):
        b.send_batch(d, [personal(1)])
    assert time.monotonic() - t0 < 5.0


@pytest.mark.integration
def test_other_4xx_stops_with_sendgrids_message(env: None, standin: SendGridStandIn) -> None:
    d = draft()
    d.from_email = "not-an-address"
    b, _ = backend()
    b.open(d)
    with pytest.raises(SendGridRejected) as info:
        b.send_batch(d, [personal(1)])
    assert "HTTP 400: from.email:" in str(info.value) and "HTTP Error 400" not in str(info.value)


@pytest.mark.integration
def test_bad_key_is_401_and_never_shown(monkeypatch: pytest.MonkeyPatch, standin: SendGridStandIn,
                                        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("SENDGRID_API_KEY", "SG.wrong-secret-value")
    monkeypatch.setenv("DIGEST_SENDGRID_HOST", standin.url)
    logging.getLogger("python_http_client").setLevel(logging.DEBUG)  # as a careless --debug would
    caplog.set_level(logging.DEBUG)
    d = draft()
    b, _ = backend()
    b.open(d)
    with pytest.raises(SendGridRejected, match="HTTP 401") as info:
        b.send_batch(d, [personal(1)])
    assert "wrong-secret" not in str(info.value) and "wrong-secret" not in caplog.text
    assert logging.getLogger("python_http_client").level == logging.WARNING


@pytest.mark.integration
def test_sandbox_delivers_nothing(env: None, standin: SendGridStandIn) -> None:
    d = draft()
    b, _ = backend(sandbox=True)
    b.open(d)
    outcomes = b.send_batch(d, [personal(1), personal(2)])
    assert b.delivers is False and all(o.ok for o in outcomes)
    assert standin.sandboxed == 2 and not standin.deliveries and standin.status_counts() == {200: 1}


@pytest.mark.integration
def test_scheduled_send_and_cancel(env: None, standin: SendGridStandIn) -> None:
    d = draft()
    at = int(time.time()) + 3600
    b, _ = backend(send_at=at)
    b.open(d)
    assert b.batch_id in standin.batches
    b.send_batch(d, [personal(1)])
    assert standin.deliveries[0].send_at == at and standin.deliveries[0].batch_id == b.batch_id
    b.cancel(b.batch_id or "")
    assert standin.batches[b.batch_id or ""] == "cancel"


@pytest.mark.integration
def test_cancel_from_a_fresh_backend(env: None, standin: SendGridStandIn) -> None:
    """``digest send --cancel`` cancels with a backend that never opened a draft: it connects by itself."""
    b, _ = backend(send_at=int(time.time()) + 3600)
    b.open(draft())
    fresh = SendGridBackend(settings(sendgrid={"timeout": 5.0}))
    fresh.cancel(b.batch_id or "")
    fresh.close()
    assert standin.batches[b.batch_id or ""] == "cancel"


@pytest.mark.integration
def test_a_full_batch_is_one_request(env: None, standin: SendGridStandIn) -> None:
    d = draft()
    b, _ = backend()
    b.open(d)
    assert b.max_batch == 1000
    outcomes = b.send_batch(d, [personal(i) for i in range(1000)])
    assert sum(o.ok for o in outcomes) == 1000
    assert standin.status_counts() == {202: 1} and len(standin.delivered()) == 1000


def test_key_never_written(tmp_path: Path) -> None:
    # The backend keeps no files; scheduling writes only the batch id.
    from digest.deliver.backends.sendgrid.schedule import load_schedule, save_schedule

    save_schedule(tmp_path, "B1", 123)
    assert load_schedule(tmp_path) == {"batch_id": "B1", "send_at": 123, "status": "scheduled"}
    assert KEY not in (tmp_path / "sendgrid-schedule.json").read_text()


def test_request_bytes_never_print_their_content() -> None:
    from digest.deliver.backends.sendgrid.body import dumps

    body = dumps({"personalizations": [{"to": [{"email": "secret-reader@example.com"}]}], "x": "é"})
    raw = body.encode("utf-8")
    compact = json.dumps(json.loads(body.raw), ensure_ascii=False, separators=(",", ":")).encode()
    assert bytes(raw) == body.raw == compact
    line = "PAYLOAD: {data}".format(data=raw)  # noqa: UP032 - exactly what python-http-client does
    assert "secret-reader" not in line and line == f"PAYLOAD: <{len(raw)} bytes>"
    assert body.encode("latin-1", "replace") == str(body).encode("latin-1", "replace")
    assert json.loads(str(body)) == json.loads(body.raw)


def test_an_address_or_value_that_is_not_utf8_is_refused_alone() -> None:
    d = draft()
    pz = Personalizer(d, asm=False, custom_args={})
    bad = Personal("x@example.com", {"__DG_FIRST_NAME_TEXT__": "a\udc80b"})
    built = build_batch(static_body(d, settings()), [bad, personal(1)], pz)
    assert [o.email for o in built.refused] == ["x@example.com"]
    assert [p["to"][0]["email"] for p in built.body["personalizations"]] == ["r1@example.com"]


@pytest.mark.integration
def test_host_from_digest_toml_when_no_environment_override(monkeypatch: pytest.MonkeyPatch,
                                                            standin: SendGridStandIn) -> None:
    monkeypatch.setenv("SENDGRID_API_KEY", KEY)
    monkeypatch.delenv("DIGEST_SENDGRID_HOST", raising=False)
    s = settings(sendgrid={"host": standin.url + "/v3/", "timeout": 5.0})  # as an editor might write it
    d = draft(s)
    b = SendGridBackend(s)
    b.open(d)
    assert all(o.ok for o in b.send_batch(d, [personal(1)]))
    assert standin.delivered() == {"r1@example.com": 1}


@pytest.mark.integration
def test_light_standin_process_counts_what_it_parses() -> None:
    """The benchmark's receiver: its own process, no schema, but every body parsed and every recipient counted."""
    import subprocess
    import sys
    import urllib.request

    from sendgrid import SendGridAPIClient

    from tests.support import sendgrid_standin

    proc = subprocess.Popen([sys.executable, sendgrid_standin.__file__, "--light"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split()[1]
        d = draft()
        pz = Personalizer(d, asm=False, custom_args={"digest_issue": d.slug})
        body = build_batch(static_body(d, settings()), [personal(i) for i in range(3)], pz).body
        SendGridAPIClient(KEY, host=url).client.mail.send.post(request_body=body, timeout=10)
        body["personalizations"].append(body["personalizations"][0])  # an address twice: refused
        with pytest.raises(Exception, match="Bad Request|400"):
            SendGridAPIClient(KEY, host=url).client.mail.send.post(request_body=body, timeout=10)
        body["personalizations"] = body["personalizations"][1:3]  # two of them again: second deliveries
        SendGridAPIClient(KEY, host=url).client.mail.send.post(request_body=body, timeout=10)
        with urllib.request.urlopen(url + "/_standin/stats", timeout=10) as resp:
            stats = json.loads(resp.read())
        assert stats["requests"] == 3 and stats["recipients"] == 5 and stats["statuses"] == {"202": 2, "400": 1}
        assert stats["unique_recipients"] == 3 and stats["duplicate_deliveries"] == 2
        body["personalizations"] = [dict(body["personalizations"][0], to=[{"email": "new@example.com"}],
                                         cc=[{"email": "copy@example.com"}])]
        SendGridAPIClient(KEY, host=url).client.mail.send.post(request_body=body, timeout=10)  # cc counts too
        with urllib.request.urlopen(url + "/_standin/stats", timeout=10) as resp:
            stats = json.loads(resp.read())
        assert stats["recipients"] == 7 and stats["unique_recipients"] == 5
    finally:
        proc.terminate()
        proc.wait(10)


def test_sent_to_line_carries_each_recipients_address_on_every_path() -> None:
    """The theme's "Sent to {email}": the generic path, the row path and the JSON writer all send the address."""
    from digest.deliver.backends.sendgrid.rows import build_rows, row_path
    from digest.deliver.personal import PersonalMaker, message_tokens
    from digest.deliver.unsubscribe import Links
    from digest.model import Recipient

    t = merge.token
    d = draft()
    d = replace(d, html=d.html + f"<p>Sent to {t('email', 'HTML')}</p>",
                text=d.text + f"Sent to {t('email', 'TEXT')}\n", merge_defaults={**d.merge_defaults, "email": "you"})
    links = Links("https://h.example/u?t={token}", "", b"row-path-secret-0123456789")
    maker = PersonalMaker(d, links, message_tokens(d))
    pz = Personalizer(d, asm=False, custom_args={})
    rows = [Recipient(f"r{i}@example.com", {"first_name": "Ann"}, i + 2) for i in range(3)]
    static = {"from": {"email": "news@harbour.example"}, "subject": d.subject,
              "content": [{"type": "text/plain", "value": d.text}, {"type": "text/html", "value": d.html}]}
    generic = build_batch(static, [maker(r) for r in rows], pz).body
    path = row_path(pz, maker)
    assert path is not None and path.write is not None
    made = build_rows(path.rewrite(static), rows, path.make).body
    written = build_rows(path.rewrite(static), rows, path.make, path.write)
    assert written.raw is not None
    for body in (generic, made, json.loads(written.raw.raw)):
        for i, p in enumerate(body["personalizations"]):
            assert p["to"] == [{"email": f"r{i}@example.com"}]
            assert p["substitutions"][t("email", "HTML")] == f"r{i}@example.com"
            assert p["substitutions"][t("email", "TEXT")] == f"r{i}@example.com"
