"""issue.toml: new, add (cache, feeds, failures), hand edits and comments surviving, overrides winning."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import tomlkit

from digest.compose import issue_file
from digest.compose.build import build_issue
from digest.compose.issue_file import add_sources, new_issue, read_issue
from digest.errors import DigestError
from digest.model import Article

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "compose"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    for name in ("digest.toml", "river.txt", "library.md", "hostile.md", "feed.xml"):
        shutil.copy(FIX / name, tmp_path / name)
    return tmp_path


def test_new_issue_writes_fields_and_refuses_to_overwrite(workspace: Path) -> None:
    path = new_issue(workspace / "2026-11", "This week", "Rivers and tools")
    data = tomlkit.parse(path.read_text())
    assert data["subject"] == "This week"
    assert data["preheader"] == "Rivers and tools"
    assert data["publish"] is False
    assert len(str(data["date"])) == 10
    assert read_issue(workspace / "2026-11").slug == "2026-11"
    path.write_text(path.read_text() + "# my note\n")
    with pytest.raises(DigestError, match="already exists"):
        new_issue(workspace / "2026-11", "Other", "")
    assert "# my note" in path.read_text()


def test_new_issue_refuses_line_breaks_in_subject(workspace: Path) -> None:
    with pytest.raises(DigestError, match="single line"):
        new_issue(workspace / "x", "Hello\nBcc: victim@example.com", "")
    assert not (workspace / "x" / "issue.toml").exists()


def test_add_resolves_paths_caches_and_reports_failures(workspace: Path, monkeypatch) -> None:
    issue = workspace / "issue"
    new_issue(issue, "S", "")
    monkeypatch.chdir(workspace)
    result = add_sources(issue, ["river.txt", "missing.txt", "library.md"], None)
    assert result.added == ["Rivers run faster after an early thaw", "The library that lends tools"]
    assert len(result.errors) == 1 and "missing.txt" in result.errors[0].message
    entries = read_issue(issue).entries
    assert [e.source for e in entries] == [str(workspace / "river.txt"), str(workspace / "library.md")]
    for entry in entries:
        cached = issue_file.read_cache(issue, entry.cache_key)
        assert cached is not None and cached.title


def test_feed_adds_newest_entries_with_entry_url_and_feed_reference(workspace: Path) -> None:
    issue = workspace / "issue"
    new_issue(issue, "S", "")
    result = add_sources(issue, [str(workspace / "feed.xml")], 2)
    assert result.added == ["School choir wins regional prize", "Market moves to the square"]
    raw = tomlkit.parse((issue / "issue.toml").read_text())
    arts = raw["articles"]
    assert [a["source"] for a in arts] == ["https://gazette.example.org/choir", "https://gazette.example.org/market"]
    assert all(a["feed"] == "../feed.xml" for a in arts)  # relative to the issue folder


def test_comments_and_edits_survive_add(workspace: Path) -> None:
    issue = workspace / "issue"
    path = new_issue(issue, "S", "")
    add_sources(issue, [str(workspace / "river.txt")], None)
    doc = tomlkit.parse(path.read_text())
    doc["articles"][0]["title"] = "Editor's own title"
    text = tomlkit.dumps(doc).replace("\n[[articles]]\n", "\n# keep this comment\n[[articles]]\n", 1)
    path.write_text(text)
    add_sources(issue, [str(workspace / "library.md")], None)
    after = path.read_text()
    assert "# keep this comment" in after
    assert "# digest issue file" in after
    assert 'title = "Editor\'s own title"' in after
    assert len(read_issue(issue).entries) == 2


def test_overrides_always_win_and_survive_rebuilds(workspace: Path) -> None:
    issue = workspace / "issue"
    path = new_issue(issue, "S", "")
    add_sources(issue, [str(workspace / "library.md")], None)
    doc = tomlkit.parse(path.read_text())
    art = doc["articles"][0]
    art["title"] = "Tools for everyone"
    art["teaser"] = "My own teaser."
    art["url"] = "https://valley.example.org/tools"
    path.write_text(tomlkit.dumps(doc))
    for _ in range(2):
        build_issue(issue)
        html = (issue / "build" / "email.html").read_text()
        text = (issue / "build" / "email.txt").read_text()
        assert "Tools for everyone" in html and "The library that lends tools" not in html
        assert "My own teaser." in text and "https://valley.example.org/tools" in text
        assert "https://example.org/stories/tool-library" not in html


def test_hand_written_relative_paths_resolve_against_the_issue_folder(workspace: Path, monkeypatch) -> None:
    issue = workspace / "issue"
    issue.mkdir()
    (issue / "issue.toml").write_text(
        'subject = "Hand made"\nslug = "hand"\n\n[[sections]]\ntitle = "Local"\n\n'
        '[[articles]]\nsource = "../river.txt"\nsection = "Local"\n'
    )
    monkeypatch.chdir("/")
    data = read_issue(issue)
    assert data.entries[0].source == str(workspace / "river.txt")
    assert data.slug == "hand"
    result = build_issue(issue)
    assert "Rivers run faster" in (issue / "build" / "email.html").read_text()
    assert not any("skipped" in w for w in result.warnings)


def test_build_never_refetches_a_cached_url(workspace: Path, monkeypatch) -> None:
    issue = workspace / "issue"
    issue.mkdir()
    url = "https://news.example.net/story"
    (issue / "issue.toml").write_text(f'subject = "S"\n\n[[articles]]\nsource = "{url}"\n')
    article = Article(source=url, title="Cached story", text="One sentence here. Another one there.",
                      kind="html", url=url)
    issue_file.write_cache(issue, issue_file.cache_key(url), article)

    def no_fetch(*args, **kwargs):
        raise AssertionError("build fetched a cached URL")

    monkeypatch.setattr("digest.sources.load", no_fetch)
    build_issue(issue)
    assert "Cached story" in (issue / "build" / "email.html").read_text()


def test_cache_file_is_json_of_the_article(workspace: Path) -> None:
    issue = workspace / "issue"
    new_issue(issue, "S", "")
    add_sources(issue, [str(workspace / "river.txt")], None)
    files = list((issue / ".cache").glob("*.json"))
    assert len(files) == 1
    data = json.loads(files[0].read_text())
    assert data["title"] == "Rivers run faster after an early thaw" and data["kind"] == "text"


def test_bad_issue_file_is_a_clear_error(workspace: Path) -> None:
    issue = workspace / "issue"
    issue.mkdir()
    (issue / "issue.toml").write_text('subject = "S"\n[[articles]]\ntitle = "no source"\n')
    with pytest.raises(DigestError, match=r"articles\[1\] has no source"):
        read_issue(issue)
    (issue / "issue.toml").write_text('subject = "unterminated\n')
    with pytest.raises(DigestError, match="not valid TOML"):
        read_issue(issue)
    with pytest.raises(DigestError, match="not found"):
        read_issue(workspace / "nowhere")


def test_add_writes_paths_relative_to_the_issue_folder_and_a_moved_folder_builds_from_its_cache(
        workspace: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    issue = workspace / "issues" / "one"
    new_issue(issue, "S", "")
    monkeypatch.chdir(workspace)
    add_sources(issue, ["river.txt", str(workspace / "library.md")], None)
    raw = tomlkit.parse((issue / "issue.toml").read_text())
    assert [a["source"] for a in raw["articles"]] == ["../../river.txt", "../../library.md"]
    assert "/" + workspace.name + "/" not in (issue / "issue.toml").read_text()

    moved = tmp_path_factory.mktemp("elsewhere") / "newsletter"
    shutil.move(str(workspace), str(moved))
    (moved / "river.txt").unlink()  # the source is gone: the cache (keyed by the written path) still builds

    def no_load(*args: object, **kwargs: object) -> None:
        raise AssertionError("a moved folder re-read a cached article")

    monkeypatch.setattr("digest.sources.load", no_load)
    monkeypatch.chdir("/")
    build_issue(moved / "issues" / "one")
    html = (moved / "issues" / "one" / "build" / "email.html").read_text()
    assert "Rivers run faster" in html and "library" in html.lower()


def test_an_absolute_source_written_by_an_older_version_still_reads(workspace: Path) -> None:
    issue = workspace / "issue"
    issue.mkdir()
    (issue / "issue.toml").write_text(f'subject = "S"\n\n[[articles]]\nsource = "{workspace / "river.txt"}"\n')
    build_issue(issue)
    assert "Rivers run faster" in (issue / "build" / "email.html").read_text()


def test_a_source_already_in_the_issue_is_warned_about_and_not_added_twice(workspace: Path) -> None:
    issue = workspace / "issue"
    new_issue(issue, "S", "")
    add_sources(issue, [str(workspace / "river.txt"), str(workspace / "feed.xml")], 1)
    seen: list[str] = []
    result = add_sources(issue, [str(workspace / "river.txt"), str(workspace / "library.md"),
                                 str(workspace / "feed.xml")], 1, on_warning=seen.append)
    assert result.added == ["The library that lends tools"]
    assert seen == result.warnings and len(seen) == 2
    assert "river.txt: already in the issue" in seen[0]
    assert "feed.xml: entry https://gazette.example.org/" in seen[1]
    assert len(read_issue(issue).entries) == 3


def test_add_reports_each_source_as_it_lands_and_keeps_the_given_order(workspace: Path, monkeypatch) -> None:
    import threading

    from digest import sources

    real_load = sources.load
    library_landed = threading.Event()

    def slow_river(source: str, limit: int | None = None, **options: Any) -> list[Article]:
        if source.endswith("river.txt"):  # finishes only once library.md, given after it, was reported
            assert library_landed.wait(10), "library.md was not fetched and reported while river.txt was in flight"
        return real_load(source, limit=limit, **options)

    def on_added(title: str) -> None:
        landed.append(title)
        library_landed.set()

    monkeypatch.setattr("digest.sources.load", slow_river)
    issue = workspace / "issue"
    new_issue(issue, "S", "")
    landed: list[str] = []
    result = add_sources(issue, [str(workspace / "river.txt"), str(workspace / "library.md")], None,
                         on_added=on_added)
    assert landed == ["The library that lends tools", "Rivers run faster after an early thaw"]  # as they land
    assert result.added == ["Rivers run faster after an early thaw", "The library that lends tools"]  # as given
    assert [e.source for e in read_issue(issue).entries] == [str(workspace / "river.txt"),
                                                             str(workspace / "library.md")]


def test_add_in_a_fresh_process_reads_sources_of_every_kind_at_once(workspace: Path) -> None:
    """`digest add` reads its sources in threads; the first import of a parser must not race between them
    (a fresh interpreter each time: "cannot import name … from partially initialized module")."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    (workspace / "page.html").write_text(
        "<html><head><title>Ferry returns</title></head><body><article><h1>Ferry returns</h1><p>The island ferry "
        "returned to service on Monday after three weeks of repairs, the harbour board said in a statement.</p>"
        "<p>Passengers had used a smaller boat since the engine failed in a storm.</p></article></body></html>",
        encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for run in range(4):
        issue = workspace / f"issue{run}"
        new_issue(issue, "S", "")
        proc = subprocess.run([sys.executable, "-m", "digest", "add", str(issue), "river.txt", "library.md",
                               "page.html", "feed.xml", "--limit", "1"], cwd=workspace, env=env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert "partially initialized" not in proc.stderr and len(read_issue(issue).entries) == 4
