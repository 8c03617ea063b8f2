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
