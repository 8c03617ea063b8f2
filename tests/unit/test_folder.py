"""IssueFolder: the issue folder's paths in one place, and its settings read once per command."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from digest.folder import IssueFolder


def test_paths_of_an_issue_folder(tmp_path: Path) -> None:
    f = IssueFolder(tmp_path / "issue-7")
    assert f.issue_file == tmp_path / "issue-7" / "issue.toml"
    assert f.build == tmp_path / "issue-7" / "build" and f.draft == f.build / "draft.json"
    assert f.cache == tmp_path / "issue-7" / ".cache" and f.cache_file("ab12") == f.cache / "ab12.json"
    assert f.teaser_cache == f.cache / "teasers.json"
    assert f.outbox == tmp_path / "issue-7" / "outbox"
    assert f.journal == tmp_path / "issue-7" / "send-journal.sqlite"
    assert f.journal_lock == tmp_path / "issue-7" / ".send-journal.lock"
    assert f.schedule_file("sendgrid") == tmp_path / "issue-7" / "sendgrid-schedule.json"
    assert Path(f) == f.path and os.fspath(f) == str(tmp_path / "issue-7")


def test_of_keeps_a_folder_and_resolved_shares_its_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "digest.toml").write_text('[newsletter]\nname = "Harbour Notes"\n', encoding="utf-8")
    (tmp_path / "issue").mkdir()
    monkeypatch.chdir(tmp_path)
    f = IssueFolder.of("issue")
    assert IssueFolder.of(f) is f and f.path == Path("issue")
    twin = f.resolved()
    assert twin.path == tmp_path.resolve() / "issue" and twin == IssueFolder(tmp_path.resolve() / "issue")
    assert twin.settings.newsletter["name"] == "Harbour Notes"
    assert f.settings is twin.settings  # loaded by the twin, seen by both
    assert twin.resolved() is twin


def test_settings_are_read_once_and_kept(tmp_path: Path) -> None:
    config = tmp_path / "digest.toml"
    config.write_text('[newsletter]\nname = "First"\n', encoding="utf-8")
    f = IssueFolder(tmp_path)
    assert f.settings.newsletter["name"] == "First"
    config.write_text('[newsletter]\nname = "Second"\n', encoding="utf-8")
    assert f.settings.newsletter["name"] == "First"  # one command, one reading
    assert IssueFolder(tmp_path).settings.newsletter["name"] == "Second"
