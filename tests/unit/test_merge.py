"""Merge tokens: one per field and context, surviving escaping; one substitution pass per recipient."""

from __future__ import annotations

import html
from urllib.parse import quote

import pytest

from digest import merge


def test_tokens_differ_per_context_and_survive_escaping() -> None:
    toks = {merge.token("first_name", ctx) for ctx in merge.CONTEXTS}
    assert len(toks) == 3
    for tok in toks:
        assert html.escape(tok) == tok
        assert quote(tok, safe="") == tok


def test_bad_field_names_are_refused() -> None:
    for bad in ("First", "a-b", "", "1x", "x y"):
        with pytest.raises(ValueError):
            merge.token(bad, "HTML")
    with pytest.raises(ValueError):
        merge.token("ok", "XML")


def test_values_encode_each_context_and_fall_back_to_defaults() -> None:
    vals = merge.values({"first_name": "Zoë <b>&", "city": ""}, {"first_name": "there", "city": "Paris"})
    assert vals[merge.token("first_name", "HTML")] == "Zoë &lt;b&gt;&amp;"
    assert vals[merge.token("first_name", "TEXT")] == "Zoë <b>&"
    assert vals[merge.token("first_name", "URL")] == "Zo%C3%AB%20%3Cb%3E%26"
    assert vals[merge.token("city", "TEXT")] == "Paris"


def test_values_limited_to_wanted_fields() -> None:
    vals = merge.values({"first_name": "A", "plan": "pro"}, {}, wanted={"plan"})
    assert set(vals) == {merge.token("plan", c) for c in merge.CONTEXTS}


def test_substitute_is_one_pass_and_does_not_reexpand_values() -> None:
    t_html = merge.token("first_name", "HTML")
    t_other = merge.token("plan", "TEXT")
    # A hostile value that looks like another token must not be expanded in turn.
    mapping = {t_html: t_other, t_other: "pro"}
    out = merge.substitute(f"<p>Hi {t_html}, plan {t_other}</p>", mapping)
    assert out == f"<p>Hi {t_other}, plan pro</p>"


def test_unknown_tokens_become_fallback_or_empty() -> None:
    tok = merge.token("city", "TEXT")
    assert merge.substitute(f"[{tok}]", {}) == "[]"
    assert merge.substitute(f"[{tok}]", {}, fallback={tok: "Paris"}) == "[Paris]"
    assert merge.fields_in(f"a {tok} b {merge.token('first_name', 'URL')}") == {"city", "first_name"}
