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
