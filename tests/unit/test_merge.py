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


def test_keyed_tokens_carry_the_build_key_and_parse_back() -> None:
    key = merge.new_key()
    assert len(key) == 12 and key[0].isdigit() and key.isalnum() and key.isupper() or key[1:].isdigit()
    tok = merge.token("first_name", "HTML", key)
    assert tok == f"__DG_{key}_FIRST_NAME_HTML__"
    assert merge.parse_token(tok) == ("first_name", "HTML")
    assert merge.tokens_in(f"a {tok} b {merge.token('first_name', 'HTML')}", key) == {tok}
    assert merge.fields_in(f"{tok} {merge.token('city', 'TEXT')}", key) == {"first_name"}
    assert len({merge.new_key() for _ in range(50)}) == 50
    with pytest.raises(ValueError):
        merge.token("first_name", "HTML", "notakey")


def test_substitute_with_a_key_leaves_other_placeholders_verbatim() -> None:
    key, other = "1ABCDEFGHIJK", "2ZZZZZZZZZZZ"
    values = merge.values({"first_name": "Ann"}, {}, key=key)
    text = (f"{merge.token('first_name', 'TEXT', key)} / {merge.token('first_name', 'TEXT', other)} / "
            f"{merge.token('first_name', 'TEXT')} / {merge.token('city', 'TEXT', key)}")
    out = merge.substitute(text, values, key=key)
    # this build's tokens are filled (a field without a value becomes empty); any other stays as it is
    assert out == f"Ann / {merge.token('first_name', 'TEXT', other)} / {merge.token('first_name', 'TEXT')} / "


def test_build_redraws_a_key_that_content_spells_with_an_entity(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """Markdown keeps ``&#55;`` as an entity and the inliner writes it back as ``7``: a placeholder of the
    drawn key appears in the HTML without being in any source text. The build counts the key's occurrences
    against the tokens the templates wrote and draws again."""
    import shutil
    from pathlib import Path

    from digest.compose.build import build_issue
    from digest.compose.issue_file import add_sources, new_issue
    from digest.compose.message import load_draft

    fix = Path(__file__).resolve().parent.parent / "fixtures" / "compose"
    shutil.copy(fix / "digest.toml", tmp_path / "digest.toml")
    issue = tmp_path / "issue"
    new_issue(issue, "S", "P")
    add_sources(issue, [str(fix / "river.txt")], None)
    forced = "7FORGEDKEY00"
    spelled = r"\_\_DG\_&#55;FORGEDKEY00\_FIRST\_NAME\_HTML\_\_"
    text = (issue / "issue.toml").read_text(encoding="utf-8")
    (issue / "issue.toml").write_text(text.replace('intro = """\n"""', f"intro = '''\nHi {spelled}\n'''"),
                                      encoding="utf-8")
    assert spelled in (issue / "issue.toml").read_text(encoding="utf-8")
    draws = iter([forced])
    real = merge.new_key
    monkeypatch.setattr(merge, "new_key", lambda: next(draws, None) or real())
    build_issue(issue)
    draft = load_draft(issue)
    assert draft.merge_key != forced
    assert f"__DG_{forced}_FIRST_NAME_HTML__" in draft.html  # the entity was decoded: the redraw mattered
