"""What the preview watches, and the rebuild worker: one build per real change, none without one."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

from digest.preview.watch import Rebuilder, builtin_theme, fingerprint, inputs

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "preview"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    shutil.copytree(FIX, tmp_path / "letter")
    return tmp_path / "letter"


def test_inputs_are_issue_config_articles_and_templates(tree: Path) -> None:
    ws = inputs(tree / "issue")
    issue = (tree / "issue").resolve()
    assert issue / "issue.toml" in ws.files
    assert (tree / "digest.toml").resolve() in ws.files
    for name in ("water-butts.md", "seed-swap.txt", "compost.html"):
        assert (tree / "articles" / name).resolve() in ws.files
    assert (tree / "templates").resolve() in ws.trees  # beside digest.toml, even before it exists
    theme = builtin_theme()
    assert theme is not None and theme in ws.trees and (theme / "email.html").is_file()


def test_build_output_cache_journal_and_editor_files_are_not_inputs(tree: Path) -> None:
    ws = inputs(tree / "issue")
    issue = (tree / "issue").resolve()
    theme = builtin_theme()
    assert theme is not None
    wanted = [issue / "issue.toml", tree.resolve() / "templates" / "email.html", theme / "email.txt"]
    user = tree.resolve() / "templates"
    unwanted = [issue / "build" / "email.html", issue / ".cache" / "x.json", issue / "journal.sqlite",
                issue / ".build-tmp" / "email.html", issue / "notes.txt", user / ".email.html.swp",
                user / "email.html~", tree.resolve() / "articles" / "draft-idea.md"]
    assert all(ws.wants(p) for p in wanted)
    assert not any(ws.wants(p) for p in unwanted)


def test_a_broken_issue_file_is_still_watched(tree: Path) -> None:
    (tree / "issue" / "issue.toml").write_text("subject = \n")
    ws = inputs(tree / "issue")
    assert (tree / "issue" / "issue.toml").resolve() in ws.files


def test_fingerprint_changes_with_content_not_with_touch(tree: Path) -> None:
    ws = inputs(tree / "issue")
    before = fingerprint(ws)
    article = tree / "articles" / "seed-swap.txt"
    article.touch()
    assert fingerprint(ws) == before
    article.write_text(article.read_text() + "\nOne more line.\n")
    after = fingerprint(ws)
    assert after != before
    assert [k for k in after if after[k] != before[k]] == [str(article.resolve())]


class Counter:
    def __init__(self, seconds: float = 0.0) -> None:
        self.builds = 0
        self.seconds = seconds
        self.done = threading.Event()

    def __call__(self) -> None:
        time.sleep(self.seconds)
        self.builds += 1
        self.done.set()


def _wait(cond, timeout: float = 3.0) -> bool:  # noqa: ANN001
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return False


def test_a_burst_of_events_for_one_change_builds_once() -> None:
    state = {"a": "1"}
    build = Counter()
    worker = Rebuilder(build, lambda: dict(state), quiet=0.05)
    worker.start({"a": "1"})
    try:
        state["a"] = "2"
        for _ in range(10):  # an editor writing in several steps, watchers reporting each
            worker.poke()
            time.sleep(0.01)
        assert build.done.wait(3)
        time.sleep(0.3)
        assert build.builds == 1
    finally:
        worker.stop()


def test_events_without_a_change_build_nothing() -> None:
    build = Counter()
    worker = Rebuilder(build, lambda: {"a": "1"}, quiet=0.02)
    worker.start({"a": "1"})
    try:
        for _ in range(5):
            worker.poke()
        time.sleep(0.4)
        assert build.builds == 0
    finally:
        worker.stop()


def test_an_edit_during_a_build_gets_exactly_one_more_build() -> None:
    state = {"a": "1"}
    build = Counter(seconds=0.3)
    worker = Rebuilder(build, lambda: dict(state), quiet=0.02)
    worker.start({"a": "1"})
    try:
        state["a"] = "2"
        worker.poke()
        time.sleep(0.15)  # the first build is running
        state["a"] = "3"
        worker.poke()
        worker.poke()
        assert _wait(lambda: build.builds == 2)
        time.sleep(0.5)
        assert build.builds == 2
    finally:
        worker.stop()


def test_a_failing_build_does_not_stop_the_worker() -> None:
    state = {"a": "1"}
    calls: list[str] = []

    def flaky() -> None:
        calls.append(state["a"])
        if len(calls) == 1:
            raise RuntimeError("template exploded")

    worker = Rebuilder(flaky, lambda: dict(state), quiet=0.02)
    worker.start({"a": "1"})
    try:
        state["a"] = "2"
        worker.poke()
        assert _wait(lambda: len(calls) == 1)
        state["a"] = "3"
        worker.poke()
        assert _wait(lambda: len(calls) == 2)
        assert calls == ["2", "3"]
    finally:
        worker.stop()
