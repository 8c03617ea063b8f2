"""Rebuilds reuse the teasers of unchanged articles; any change to the article or budget recomputes them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from digest.compose import build as build_mod
from digest.compose.build import TeaserCache, build_issue
from digest.model import Article


def _issue(tmp_path: Path) -> tuple[Path, Path]:
    article = tmp_path / "story.md"
    article.write_text("---\ntitle: The quay reopens\nurl: https://news.example.org/quay\n---\n\n"
                       "The quay reopened on Monday after a year of repairs. Boats can moor there again "
                       "from next week.\n", encoding="utf-8")
    issue = tmp_path / "issue"
    issue.mkdir()
    (issue / "issue.toml").write_text(f'subject = "S"\npreheader = "P"\n\n[[articles]]\nsource = "{article}"\n',
                                      encoding="utf-8")
    return issue, article


def test_rebuild_uses_the_cache_and_an_edit_invalidates_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    issue, article = _issue(tmp_path)
    build_issue(issue)
    cache = json.loads((issue / ".cache" / "teasers.json").read_text(encoding="utf-8"))
    assert len(cache) == 1 and "quay reopened" in next(iter(cache.values()))[0]

    calls: list[str] = []
    import digest.condense as condense

    real = condense.make_teaser
    monkeypatch.setattr(condense, "make_teaser", lambda a, max_chars=300: calls.append(a.title) or real(a, max_chars))
    build_issue(issue)
    assert calls == []  # unchanged article: the cached teaser is used

    article.write_text(article.read_text(encoding="utf-8").replace("Monday", "Tuesday"), encoding="utf-8")
    build_issue(issue)
    assert calls == ["The quay reopens"]  # changed text: condensed again, and the new teaser is in the email
    assert "Tuesday" in (issue / "build" / "email.txt").read_text(encoding="utf-8")
    assert len(json.loads((issue / ".cache" / "teasers.json").read_text(encoding="utf-8"))) == 1  # stale entry gone


def test_key_covers_budget_article_and_condenser(monkeypatch: pytest.MonkeyPatch) -> None:
    a = Article(source="x.txt", title="T", text="One sentence here. Another one there.", kind="text")
    b = Article(source="x.txt", title="T", text="One sentence here. Another one changed.", kind="text")
    k = TeaserCache.key(a, 300)
    assert k == TeaserCache.key(a, 300)
    assert k != TeaserCache.key(a, 200)
    assert k != TeaserCache.key(b, 300)
    monkeypatch.setattr(build_mod, "_condenser_fingerprint", lambda: "another-version")
    assert k != TeaserCache.key(a, 300)


def test_a_damaged_cache_is_ignored(tmp_path: Path) -> None:
    issue, _ = _issue(tmp_path)
    (issue / ".cache").mkdir()
    (issue / ".cache" / "teasers.json").write_text("{not json", encoding="utf-8")
    result = build_issue(issue)
    assert "quay reopened" in (issue / "build" / "email.txt").read_text(encoding="utf-8")
    assert not [w for w in result.warnings if "teaser" in w]
