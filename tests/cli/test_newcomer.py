"""A newcomer's first hour: digest init, and the CLI habits scripts and shells rely on."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import cli
from digest.config import DEFAULTS, load_settings
from tests.conftest import REPO

FIX = REPO / "tests" / "fixtures" / "compose"


def _walk(group: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for name, cmd in sorted(getattr(group, "commands", {}).items()):
        out.append((*prefix, name))
        out += _walk(cmd, (*prefix, name))
    return out


# --- digest init ----------------------------------------------------------------------------------------


def test_init_writes_a_commented_config_a_gitignore_and_sample_recipients(tmp_path: Path) -> None:
    folder = tmp_path / "news"
    result = CliRunner().invoke(cli, ["init", str(folder), "--name", "Valley News", "--from-email",
                                      "news@valley.example", "--postal-address", "1 Main St, Springfield",
                                      "--unsubscribe", "mailto:leave@valley.example"])
    assert result.exit_code == 0, result.output
    text = (folder / "digest.toml").read_text()
    raw = tomllib.loads(text)
    assert raw["newsletter"] == {"name": "Valley News", "from_email": "news@valley.example",
                                 "postal_address": "1 Main St, Springfield"}
    assert raw["unsubscribe"] == {"mailto": "leave@valley.example"}
    assert "# batch_size = 1000" in text and "# max_chars = 300" in text  # defaults shown, commented out
    s = load_settings(folder, warn=None)
    assert s.warnings == [] and s.sendgrid.batch_size == DEFAULTS["sendgrid"]["batch_size"]
    ignore = (folder / ".gitignore").read_text().split()
    assert {"build/", ".cache/", "outbox/", "*.sqlite"} <= set(ignore)
    assert (folder / "recipients.csv").read_text().startswith("email,first_name\n")
    assert "before sending" not in result.output  # nothing left to fill in


def test_init_refuses_to_overwrite_and_changes_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / ".gitignore").write_text("mine\n")
    result = CliRunner().invoke(cli, ["init", str(folder), "--name", "X"])
    assert result.exit_code == 1
    assert ".gitignore already exists" in result.output and "Traceback" not in result.output
    assert (folder / ".gitignore").read_text() == "mine\n"
    assert not (folder / "digest.toml").exists() and not (folder / "recipients.csv").exists()


def test_init_prompts_on_a_terminal_for_what_was_not_given(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("digest.cli._interactive", lambda: True)
    folder = tmp_path / "news"
    result = CliRunner().invoke(cli, ["init", str(folder), "--name", "Given"],
                                input="news@valley.example\n1 Main St\nhttps://valley.example/u?t={token}\n")
    assert result.exit_code == 0, result.output
    assert "Newsletter name" not in result.output and "Sender address" in result.output
    raw = tomllib.loads((folder / "digest.toml").read_text())
    assert raw["newsletter"]["from_email"] == "news@valley.example"
    assert raw["unsubscribe"] == {"url": "https://valley.example/u?t={token}"}


def test_init_without_a_terminal_names_what_is_still_needed(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "news")])
    assert result.exit_code == 0
    assert ("before sending, set in" in result.output and "[newsletter] from_email" in result.output
            and "[unsubscribe] url or mailto" in result.output)


@pytest.mark.parametrize("bad", ["leave@valley.example", "http://valley.example/u", "mailto:not-an-address"])
def test_init_rejects_an_unsubscribe_that_is_neither_mailto_nor_https(tmp_path: Path, bad: str) -> None:
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "news"), "--unsubscribe", bad])
    assert result.exit_code == 2
    assert "--unsubscribe" in result.output and not (tmp_path / "news" / "digest.toml").exists()


# --- CLI habits -----------------------------------------------------------------------------------------


def test_every_command_help_shows_an_example() -> None:
    runner = CliRunner()
    for path in _walk(cli):
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, path
        if path == ("suppressions",):
            continue  # the group: its subcommands carry the examples
        assert "Example" in result.output and f"digest {' '.join(path)}" in result.output, path


def test_suppressions_subcommands_all_take_the_folder_as_dir() -> None:
    runner = CliRunner()
    for name in ("add", "list", "path", "pull"):
        assert "--dir DIRECTORY" in runner.invoke(cli, ["suppressions", name, "--help"]).output, name


def test_the_unsubscribe_server_no_longer_defaults_to_the_smtp_test_port() -> None:
    out = CliRunner().invoke(cli, ["unsubscribe-server", "--help"]).output
    assert "8025" not in out and "default: 8643" in out


def test_debug_works_after_the_command_and_from_the_environment(tmp_path: Path, monkeypatch) -> None:
    def broken(directory: Path) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("digest.compose.build.build_issue", broken)
    runner = CliRunner()
    plain = runner.invoke(cli, ["build", str(tmp_path)])
    assert plain.exit_code == 1 and "internal error: RuntimeError: a bug (run with --debug" in plain.output
    for args, env in ((["build", str(tmp_path), "--debug"], {}), (["build", str(tmp_path)], {"DIGEST_DEBUG": "1"}),
                      (["--debug", "build", str(tmp_path)], {})):
        result = runner.invoke(cli, args, env=env)
        assert isinstance(result.exception, RuntimeError), (args, env)  # raised: the traceback is shown


def test_no_color_turns_styling_off() -> None:
    runner = CliRunner()
    source = str(FIX / "river.txt")
    styled = runner.invoke(cli, ["teaser", source], color=True, env={"NO_COLOR": ""})
    assert "\x1b[1m" in styled.output
    plain = runner.invoke(cli, ["teaser", source], color=True, env={"NO_COLOR": "1"})
    assert plain.exit_code == 0 and "\x1b[" not in plain.output
    assert plain.output.splitlines()[0] == "Rivers run faster after an early thaw"


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    """`digest teaser … | head -1`: the reader is gone before digest writes; no 'internal error'."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader went away before the first line
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "digest", "teaser", str(FIX / "river.txt"), str(FIX / "library.md")],
                          stdout=write_end, stderr=subprocess.PIPE, text=True, env=env, timeout=120)
    os.close(write_end)
    assert proc.stderr == ""
    assert proc.returncode in (0, 1, 141)


def test_add_prints_each_added_line_and_warns_about_a_duplicate(tmp_path: Path) -> None:
    import shutil

    for name in ("digest.toml", "river.txt", "library.md"):
        shutil.copy(FIX / name, tmp_path / name)
    runner = CliRunner()
    assert runner.invoke(cli, ["new", str(tmp_path / "i"), "--subject", "S"]).exit_code == 0
    first = runner.invoke(cli, ["add", str(tmp_path / "i"), str(tmp_path / "river.txt")])
    assert first.output == "added: Rivers run faster after an early thaw\n"
    again = runner.invoke(cli, ["add", str(tmp_path / "i"), str(tmp_path / "river.txt"), str(tmp_path / "library.md")])
    assert again.exit_code == 0
    assert "added: The library that lends tools" in again.output
    assert "river.txt: already in the issue: not added again" in again.output
