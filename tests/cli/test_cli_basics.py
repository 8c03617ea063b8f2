"""The CLI contract that scripts rely on: version, help on every command, usage errors exit 2."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from digest import __version__
from digest.cli import cli


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_version(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_every_command_has_help(runner: CliRunner) -> None:
    names = sorted(cli.commands)
    assert {"teaser", "new", "add", "build"} <= set(names)
    for name in names:
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0, name
        assert "Usage:" in result.output


def test_teaser_without_source_is_a_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["teaser"])
    assert result.exit_code == 2


def test_unknown_option_is_a_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["teaser", "--no-such-option", "x.txt"])
    assert result.exit_code == 2
