"""digest.toml is found in the issue folder or its parents and merged over documented defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.config import DEFAULTS, load_settings
from digest.errors import ConfigError


def test_defaults_without_a_file(tmp_path: Path) -> None:
    s = load_settings(tmp_path)
    assert s.path is None
    assert s.newsletter["brand_color"] == DEFAULTS["newsletter"]["brand_color"]


def test_found_in_a_parent_and_merged(tmp_path: Path) -> None:
    (tmp_path / "digest.toml").write_text('[newsletter]\nname = "Weekly"\nfrom_email = "a@example.com"\n')
    issue = tmp_path / "issues" / "one"
    issue.mkdir(parents=True)
    s = load_settings(issue)
    assert s.path == tmp_path / "digest.toml"
    assert s.newsletter["name"] == "Weekly"
    assert s.from_name == "Weekly"
    assert s.newsletter["language"] == "en"  # default kept beside the override


def test_bad_toml_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "digest.toml").write_text("[newsletter\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(tmp_path)
    assert "digest.toml" in str(exc.value)


def test_sendgrid_host_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "digest.toml").write_text('[sendgrid]\nhost = "https://api.eu.sendgrid.com/v3/"\n')
    s = load_settings(tmp_path)
    monkeypatch.delenv("DIGEST_SENDGRID_HOST", raising=False)
    assert s.sendgrid_host() == "https://api.eu.sendgrid.com"
    monkeypatch.setenv("DIGEST_SENDGRID_HOST", "http://127.0.0.1:4010")
    assert s.sendgrid_host() == "http://127.0.0.1:4010"


@pytest.mark.parametrize("bad", ["Sampling", "127.0.0.1:4010", "ftp://api.sendgrid.com", "https://", "https://h/x/v4",
                                 "https://h.example/?k=1"])
def test_a_sendgrid_host_that_is_not_scheme_and_host_is_a_config_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv("DIGEST_SENDGRID_HOST", bad)
    with pytest.raises(ConfigError, match="DIGEST_SENDGRID_HOST is not a scheme and host"):
        load_settings(tmp_path).sendgrid_host()
    monkeypatch.delenv("DIGEST_SENDGRID_HOST")
    (tmp_path / "digest.toml").write_text(f'[sendgrid]\nhost = "{bad}"\n')
    with pytest.raises(ConfigError, match=r"\[sendgrid\] host"):
        load_settings(tmp_path).sendgrid_host()


# --- the declaration: validation, typed access, origins -------------------------------------------------


def _write(folder: Path, text: str) -> Path:
    path = folder / "digest.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_misspelt_keys_and_tables_are_warned_about_with_the_file_and_the_closest_name(tmp_path: Path) -> None:
    path = _write(tmp_path, '[teaser]\nmax_chers = 120\n[sendgird]\nbatch_size = 5\n'
                            '[newsletter]\nform_email = "a@example.com"\n')
    seen: list[str] = []
    s = load_settings(tmp_path, warn=seen.append)
    assert seen == [
        f"{path}: `[teaser] max_chers`: unknown setting; did you mean `max_chars`?",
        f"{path}: `[sendgird]`: unknown table; did you mean `sendgrid`?",
        f"{path}: `[newsletter] form_email`: unknown setting; did you mean `from_email`?",
    ]
    assert s.warnings == seen
    assert s.teaser.max_chars == 300 and s.sendgrid.batch_size == 1000  # the misspelt values were not used


@pytest.mark.parametrize(("text", "key", "expected"), [
    ('[teaser]\nmax_chars = "lots"\n', "`[teaser] max_chars`", "a whole number"),
    ('[sendgrid]\nbatch_size = "lots"\n', "`[sendgrid] batch_size`", "a whole number"),
    ('[sendgrid]\ntimeout = "30s"\n', "`[sendgrid] timeout`", "a number"),
    ('[tracking]\nclick = "yes"\n', "`[tracking] click`", "true or false"),
    ('[newsletter]\nname = 7\n', "`[newsletter] name`", "a string"),
    ('[fetch]\nallow_hosts = "intranet"\n', "`[fetch] allow_hosts`", "a list of strings"),
    ('[smtp]\nport = true\n', "`[smtp] port`", "a whole number"),
    ('[[feeds]]\nurl = "https://example.com/f.xml"\nlimit = "ten"\n', "`[[feeds]] limit` (feed 1)", "a whole number"),
])
def test_a_wrong_type_is_an_error_naming_the_key_and_the_type(tmp_path: Path, text: str, key: str,
                                                              expected: str) -> None:
    _write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_settings(tmp_path)
    assert key in exc.value.message and f"must be {expected}" in exc.value.message
    assert "digest.toml" in exc.value.message


def test_a_wrong_type_on_the_command_line_is_one_line_not_an_internal_error(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from digest.cli import cli

    _write(tmp_path, '[teaser]\nmax_chars = "lots"\n')
    result = CliRunner().invoke(cli, ["config", str(tmp_path)])
    assert result.exit_code == 1
    assert "internal error" not in result.output
    assert "`[teaser] max_chars` must be a whole number, not the string 'lots'" in result.output


def test_typed_tables_and_the_old_dict_shape_agree(tmp_path: Path) -> None:
    _write(tmp_path, '[sendgrid]\ntimeout = 12\nconcurrency = 3\n[smtp]\nconnections = 4\n'
                     '[fetch]\nallow_hosts = ["intranet.local"]\n[merge]\ncity = "the valley"\n')
    s = load_settings(tmp_path)
    assert s.sendgrid.timeout == 12.0 and isinstance(s.sendgrid.timeout, float)
    assert s.sendgrid.concurrency == 3 and s.sendgrid.deadline == 0.0
    assert s.smtp.connections == 4 and s.fetch.allow_hosts == ["intranet.local"]
    assert s.newsletter.subscribe_url == "" and s.teaser.max_chars == 300
    assert s["sendgrid"]["timeout"] == 12.0 and s["sendgrid"]["batch_size"] == 1000  # today's dict-of-dicts
    assert s.newsletter.get("name") == s["newsletter"]["name"] == "My Digest"
    assert s.merge == {"first_name": "there", "city": "the valley"}  # free-form table
    assert set(DEFAULTS) == {"newsletter", "unsubscribe", "merge", "links", "tracking", "teaser", "fetch",
                             "sendgrid", "smtp", "suppressions", "events"}
    assert DEFAULTS["events"] == {"max_age": 600.0, "max_body": 16 * 1024 * 1024}
    assert s.allow_hosts() == ["intranet.local"]


def test_origin_names_default_file_or_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, '[sendgrid]\nhost = "https://api.eu.sendgrid.com"\n')
    s = load_settings(tmp_path)
    monkeypatch.delenv("DIGEST_SENDGRID_HOST", raising=False)
    assert s.origin("sendgrid", "host") == str(path)
    assert s.origin("sendgrid", "timeout") == "default"
    monkeypatch.setenv("DIGEST_SENDGRID_HOST", "http://127.0.0.1:4010")
    assert s.origin("sendgrid", "host") == "env DIGEST_SENDGRID_HOST"
    assert s.effective("sendgrid", "host") == "http://127.0.0.1:4010"


def test_digest_config_prints_each_value_and_where_it_came_from(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from click.testing import CliRunner

    from digest.cli import cli

    path = _write(tmp_path, '[newsletter]\nname = "Valley News"\n')
    issue = tmp_path / "2026-11"
    issue.mkdir()
    monkeypatch.setenv("DIGEST_SUPPRESSIONS", "/srv/list.csv")
    result = CliRunner().invoke(cli, ["config", str(issue)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"# settings file: {path}"
    assert any(line.startswith('name = "Valley News"') and line.endswith(f"# {path}") for line in lines)
    assert any(line.startswith('language = "en"') and line.endswith("# default") for line in lines)
    assert any(line.startswith('file = "/srv/list.csv"') and line.endswith("# env DIGEST_SUPPRESSIONS")
               for line in lines)
    data = json.loads(CliRunner().invoke(cli, ["config", str(issue), "--json"]).output)
    assert data["settings"]["teaser"]["max_chars"] == {"value": 300, "from": "default"}


def test_the_commented_file_lists_every_key_and_loads_to_the_defaults(tmp_path: Path) -> None:
    from digest.config import KEYS, commented_toml

    text = commented_toml()
    for table, keys in KEYS.items():
        assert f"\n[{table}]\n" in text
        for name in keys:
            assert f"\n# {name} = " in text, (table, name)
    _write(tmp_path, text)
    seen: list[str] = []
    s = load_settings(tmp_path, warn=seen.append)
    assert seen == [] and s.data == DEFAULTS
    # uncommenting a line gives a valid setting of the declared type
    _write(tmp_path, text.replace("# max_chars = 300", "max_chars = 250"))
    assert load_settings(tmp_path).teaser.max_chars == 250


def test_a_key_outside_its_table_is_told_where_it_belongs(tmp_path: Path) -> None:
    path = _write(tmp_path, 'from_email = "a@example.com"\n[newsletter]\nname = "N"\n')
    seen: list[str] = []
    assert load_settings(tmp_path, warn=seen.append).newsletter.from_email == ""
    assert seen == [f"{path}: `from_email`: unknown setting outside any table; move it under [newsletter]"]


def test_every_declared_table_has_a_typed_attribute_on_settings() -> None:
    from digest.config import KEYS, TABLES, Settings

    s = Settings()
    for name, cls in TABLES.items():
        if name == "merge":
            assert s.merge == {"first_name": "there"}  # free-form: a plain dict
            continue
        table = getattr(s, name)
        assert type(table) is cls, name
        assert {k: getattr(table, k) for k in KEYS[name]} == DEFAULTS[name]
