"""The web archive: published issues only, valid HTML, a feed that parses back, links that resolve."""

from __future__ import annotations

import json
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import unquote, urlsplit

import feedparser
import pytest
from click.testing import CliRunner

from digest.archive import build_archive
from digest.cli import cli
from digest.errors import UsageError
from tests.conftest import REPO, need_tool

HTMLVALIDATE_RULES = {
    "extends": ["html-validate:standard", "html-validate:a11y"],
    "rules": {"no-deprecated-attr": "off", "no-inline-style": "off", "prefer-tbody": "off"},
}


def _article(folder: Path, n: int) -> Path:
    path = folder / f"story-{n}.md"
    path.write_text(
        f"---\ntitle: Story number {n} about the harbour\nurl: https://news.example.org/{n}\n---\n\n"
        f"The harbour board met on day {n} and agreed a new plan for the quay. "
        "Work starts in the spring and should finish before the summer season.\n\n"
        "Residents will be able to comment on the drawings at the library until the end of the month.\n",
        encoding="utf-8",
    )
    return path


def _issue(root: Path, slug: str, date: str, publish: bool, n: int) -> Path:
    folder = root / slug
    folder.mkdir(parents=True)
    art = _article(root.parent / "articles", n)
    (folder / "issue.toml").write_text(
        f'subject = "Issue {slug}: news & notes"\npreheader = "Preheader of {slug}"\ndate = "{date}"\n'
        f"publish = {'true' if publish else 'false'}\n\n[[articles]]\nsource = \"{art}\"\n",
        encoding="utf-8",
    )
    return folder


@pytest.fixture
def newsletter(tmp_path: Path) -> Path:
    (tmp_path / "articles").mkdir()
    (tmp_path / "digest.toml").write_text(
        '[newsletter]\nname = "Quay Notes"\nfrom_email = "news@example.org"\n'
        'postal_address = "1 Quay Road, Harbourtown"\n[unsubscribe]\nmailto = "leave@example.org"\n',
        encoding="utf-8",
    )
    root = tmp_path / "issues"
    _issue(root, "2026-01", "2026-01-05", True, 1)
    _issue(root, "2026-02", "2026-02-05", True, 2)
    _issue(root, "2026-03", "2026-03-05", True, 3)
    _issue(root, "2026-04-draft", "2026-04-05", False, 4)
    return root


def _links(page: str) -> list[str]:
    return re.findall(r"""\s(?:href|src)=["']([^"']+)["']""", page)


def test_archive_publishes_only_published_issues(newsletter: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    result = build_archive(newsletter, site)
    assert [i.slug for i in result.issues] == ["2026-03", "2026-02", "2026-01"]  # newest first
    assert result.drafts == ["2026-04-draft"]
    assert not (site / "2026-04-draft").exists()
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "2026-04-draft" not in index
    assert index.index("2026-03") < index.index("2026-02") < index.index("2026-01")
    assert "Issue 2026-02: news &amp; notes" in index  # escaped, not raw
    for slug in ("2026-01", "2026-02", "2026-03"):
        page = (site / slug / "index.html").read_text(encoding="utf-8")
        assert "__DG_" not in page  # no merge tokens, no recipient data
        assert "Story number" in page


def test_atom_feed_parses_back_with_three_entries(newsletter: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    build_archive(newsletter, site)
    feed = feedparser.parse((site / "feed.xml").read_bytes())
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.feed.title == "Quay Notes"
    assert [e.title for e in feed.entries] == [
        "Issue 2026-03: news & notes", "Issue 2026-02: news & notes", "Issue 2026-01: news & notes"]
    assert all(e.summary.startswith("Preheader of") for e in feed.entries)


def test_every_local_link_resolves_to_a_file(newsletter: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    build_archive(newsletter, site)
    checked = 0
    for page in site.rglob("*.html"):
        for link in _links(page.read_text(encoding="utf-8")):
            parts = urlsplit(link)
            if parts.scheme or link.startswith(("#", "mailto:", "data:")):
                continue
            assert not link.startswith("/"), f"{page}: absolute link {link}"
            target = (page.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            assert target.is_file(), f"{page}: {link} does not resolve"
            checked += 1
    assert checked >= 4  # the index links three issues and the feed


def test_site_inside_root_is_refused(newsletter: Path) -> None:
    with pytest.raises(UsageError):
        build_archive(newsletter, newsletter / "site")


def test_cli_archive(newsletter: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["archive", str(newsletter), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "archived 3 issue(s)" in result.output
    inside = CliRunner().invoke(cli, ["archive", str(newsletter), "--out", str(newsletter / "x")])
    assert inside.exit_code == 2


@pytest.mark.integration
def test_site_passes_html_validate(newsletter: Path, tmp_path: Path) -> None:
    need_tool("node")
    validator = REPO / "node_modules" / ".bin" / "html-validate"
    if not validator.exists():
        need_tool(str(validator))
    site = tmp_path / "site"
    build_archive(newsletter, site)
    config = tmp_path / "htmlvalidate.json"
    config.write_text(json.dumps(HTMLVALIDATE_RULES), encoding="utf-8")
    pages = sorted(str(p) for p in site.rglob("*.html"))
    proc = subprocess.run([str(validator), "--config", str(config), *pages], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_atom_feed_has_author_and_self_link(newsletter: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    build_archive(newsletter, site)
    root = ET.fromstring((site / "feed.xml").read_bytes())
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert root.findtext("a:author/a:name", namespaces=ns) == "Quay Notes"
    self_links = [ln.get("href") for ln in root.findall("a:link", ns) if ln.get("rel") == "self"]
    assert self_links == ["feed.xml"]  # relative without archive_base_url
    toml = newsletter.parent / "digest.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace(
        '[newsletter]\n', '[newsletter]\narchive_base_url = "https://quay.example.org/archive"\n'
                          'from_name = "The Quay desk"\n'), encoding="utf-8")
    build_archive(newsletter, site)
    root = ET.fromstring((site / "feed.xml").read_bytes())
    assert root.findtext("a:author/a:name", namespaces=ns) == "The Quay desk"
    assert [ln.get("href") for ln in root.findall("a:link", ns) if ln.get("rel") == "self"] == \
        ["https://quay.example.org/archive/feed.xml"]


def test_archive_index_comes_from_the_theme_and_can_be_overridden(newsletter: Path, tmp_path: Path) -> None:
    toml = newsletter.parent / "digest.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace(
        '[newsletter]\n', '[newsletter]\nsubscribe_url = "https://quay.example.org/join"\n'), encoding="utf-8")
    site = tmp_path / "site"
    build_archive(newsletter, site)
    index = (site / "index.html").read_text(encoding="utf-8")
    assert '<a class="dg-subscribe" href="https://quay.example.org/join">Subscribe</a>' in index
    assert '<meta name="description"' in index and 'property="og:title" content="Quay Notes"' in index
    templates = newsletter.parent / "templates"
    templates.mkdir()
    (templates / "archive.html").write_text(
        '{% extends "theme/archive.html" %}{% block head_extra %}<meta name="x-quay" content="1">{% endblock %}',
        encoding="utf-8")
    build_archive(newsletter, site)
    index = (site / "index.html").read_text(encoding="utf-8")
    assert '<meta name="x-quay" content="1">' in index and "Issue 2026-03: news &amp; notes" in index


def test_published_page_is_public(newsletter: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    build_archive(newsletter, site)
    page = (site / "2026-03" / "index.html").read_text(encoding="utf-8")
    assert "Hi there" not in page and "receiving" not in page and "Unsubscribe" not in page
    assert '<meta name="description" content="Preheader of 2026-03">' in page
    assert '<meta property="og:title" content="Issue 2026-03: news &amp; notes">' in page
