"""The gate: `digest send` refuses what `digest check` reports as an error; `digest check` always shows the
build's warnings, whether it built just now or found the build current."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from fixtures.deliver.newsletter import SECRET, make_issue, write_csv

from digest.cli import cli
from digest.compose.build import build_issue
from digest.compose.issue_file import add_sources, new_issue

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "compose"


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_UNSUBSCRIBE_SECRET", SECRET)
    monkeypatch.delenv("DIGEST_SUPPRESSIONS", raising=False)


def _run(*args: str) -> object:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_free_mail_from_is_refused_until_forced(tmp_path: Path) -> None:
    issue = make_issue(tmp_path, newsletter={"from_email": "harbour.notes@gmail.com"}, rebuild=True)
    csv = write_csv(tmp_path / "r.csv", ["ann@example.com,Ann", "bo@example.org,Bo"])
    check = _run("check", str(issue))
    assert check.exit_code == 1 and "free-mail" in check.stdout
    refused = _run("send", str(issue), "--recipients", str(csv))
    assert refused.exit_code == 1
    assert "digest check finds 1 error" in refused.stderr and "free-mail" in refused.stderr
    assert "--force" in refused.stderr and "Traceback" not in refused.stderr
    assert not (issue / "outbox").exists() or not list((issue / "outbox").glob("*.eml"))
    assert not (issue / "send-journal.sqlite").exists()
    test_copy = _run("send", str(issue), "--test", "me@example.com")
    assert test_copy.exit_code == 1 and "--force" in test_copy.stderr
    forced = _run("send", str(issue), "--recipients", str(csv), "--force")
    assert forced.exit_code == 0, forced.stderr
    assert len(list((issue / "outbox").glob("*.eml"))) == 2


def test_a_clean_issue_is_not_held(tmp_path: Path) -> None:
    issue = make_issue(tmp_path)
    result = _run("send", str(issue), "--recipients", str(write_csv(tmp_path / "r.csv", ["ann@example.com,Ann"])))
    assert result.exit_code == 0, result.stderr


def test_check_shows_build_warnings_fresh_and_current(tmp_path: Path) -> None:
    root = tmp_path / "news"
    root.mkdir()
    shutil.copy(FIX / "digest.toml", root / "digest.toml")
    river = root / "river.txt"
    shutil.copy(FIX / "river.txt", river)
    again = root / "river-again.txt"
    shutil.copy(FIX / "river.txt", again)  # the same story twice: a duplicate warning
    issue = root / "issue"
    new_issue(issue, "Valley news", "")  # no preheader: a warning too
    assert not add_sources(issue, [str(river), str(again)], None).errors
    first = _run("check", str(issue), "--json")
    build_issue(issue)  # what `digest build` or `digest send` did before: the next check finds it current
    stamp = (issue / "build" / "draft.json").stat().st_mtime
    os.utime(issue / "issue.toml", (stamp - 10, stamp - 10))
    second = _run("check", str(issue), "--json")
    for result in (first, second):
        assert '"check": "build"' in result.stdout
        assert "seem to tell the same story" in result.stdout
        assert "no preheader" in result.stdout
    assert (issue / "build" / "draft.json").stat().st_mtime == stamp  # the second check did not rebuild


def test_sendgrid_unsubscribe_group_alone_is_not_held_by_the_gate(tmp_path: Path) -> None:
    from digest.compose.check import send_gate

    issue = make_issue(tmp_path, unsubscribe={"url": "", "mailto": ""}, sendgrid={"asm_group_id": 42}, rebuild=True)
    assert send_gate(issue) == []
    # outbox and SMTP have no unsubscribe method then: send's own rule refuses them
    result = _run("send", str(issue), "--recipients", str(write_csv(tmp_path / "r.csv", ["ann@example.com,Ann"])))
    assert result.exit_code == 1 and "no unsubscribe method" in result.stderr
