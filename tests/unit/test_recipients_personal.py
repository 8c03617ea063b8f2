"""Recipient → Personal: the send loop's cached merge values equal ``merge.values`` exactly."""

from __future__ import annotations

import random
from types import SimpleNamespace

from digest import merge
from digest.deliver.personal import PersonalMaker
from digest.deliver.unsubscribe import Links, verify_token
from digest.model import Recipient

SECRET = b"unit-test-secret-0123456789"


def test_values_match_merge_values_for_tricky_inputs() -> None:
    draft = SimpleNamespace(merge_defaults={"first_name": "reader", "city": "", "Bad Name": "x"},
                            merge_fields=lambda: {"first_name", "city", "unsubscribe_url", "plan"})
    maker = PersonalMaker(draft, Links())
    rng = random.Random(3)
    pieces = ["Ann", "", "  ", "O'Neil", "<b>&co</b>", "Zoë", "a b", "100%", "x\"y", "Ann-Marie", "ÆØÅ", "12"]
    for _ in range(500):
        fields = {k: rng.choice(pieces) for k in rng.sample(["first_name", "city", "plan", "extra"], rng.randint(0, 4))}
        got = maker.values(fields)
        want = merge.values(fields, draft.merge_defaults, {"first_name", "city", "plan"})
        assert got == want, fields


def test_personal_carries_signed_link_and_mailto() -> None:
    draft = SimpleNamespace(merge_defaults={"first_name": "reader"}, merge_fields=lambda: {"first_name"})
    maker = PersonalMaker(draft, Links("https://x.example/u?t={token}", "bye@x.example", SECRET))
    p = maker(Recipient("Ann@example.com", {"first_name": ""}, 2))
    assert p.values[merge.token("first_name", "TEXT")] == "reader"
    assert p.unsubscribe_mailto == "bye@x.example"
    assert p.unsubscribe_url is not None
    assert verify_token(p.unsubscribe_url.split("t=", 1)[1], SECRET) == "Ann@example.com"


def test_values_limited_to_the_message_tokens() -> None:
    draft = SimpleNamespace(merge_defaults={"first_name": "reader", "city": ""},
                            merge_fields=lambda: {"first_name", "city", "unsubscribe_url"})
    t = merge.token
    tokens = {t("first_name", "HTML"), t("first_name", "TEXT"), t("city", "URL"), t("unsubscribe_url", "HTML")}
    maker = PersonalMaker(draft, Links(), tokens)
    rng = random.Random(4)
    pieces = ["Ann", "", " Zoë ", "<b>&co</b>", "a b", "100%", "Ann-Marie", "12"]
    for _ in range(300):
        fields = {k: rng.choice(pieces) for k in rng.sample(["first_name", "city", "extra"], rng.randint(0, 3))}
        want = {k: v for k, v in merge.values(fields, draft.merge_defaults, {"first_name", "city"}).items()
                if k in tokens}
        assert maker.values(fields) == want, fields


def test_message_tokens() -> None:
    from digest.deliver.personal import message_tokens

    t = merge.token
    draft = SimpleNamespace(subject=f"Hi {t('first_name', 'TEXT')}", text="plain",
                            html=f"<a href='{t('unsubscribe_url', 'URL')}'>{t('first_name', 'HTML')}</a>")
    assert message_tokens(draft) == {t("first_name", "TEXT"), t("first_name", "HTML"), t("unsubscribe_url", "URL")}
    assert message_tokens(SimpleNamespace()) is None
