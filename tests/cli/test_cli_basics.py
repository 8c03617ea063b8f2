"""The CLI contract that scripts rely on: version, help on every command, usage errors exit 2."""

from __future__ import annotations

from pathlib import Path

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


def test_a_template_running_shell_commands_is_a_clear_error(runner: CliRunner, tmp_path: Path) -> None:
    from tests.support.newsletter import make_issue

    issue = make_issue(tmp_path)
    templates = issue.parent / "templates"
    templates.mkdir(exist_ok=True)
    (templates / "email.html").write_text(
        '{% extends "theme/email.html" %}{% block footer_extra %}'
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}{% endblock %}")
    result = runner.invoke(cli, ["build", str(issue)])
    assert result.exit_code == 1
    assert "refused by the template sandbox" in result.stderr and "email.html, line 1" in result.stderr
    assert "internal error" not in result.stderr and "uid=" not in result.stdout + result.stderr
