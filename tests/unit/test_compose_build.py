"""build_issue end to end on fixture articles: outputs, warnings, skipped articles, images, needs_build."""

from __future__ import annotations

import email
import email.policy
import os
import shutil
import time
from pathlib import Path

import lxml.html
import pytest
import tomlkit
from click.testing import CliRunner
from PIL import Image

from digest import merge
from digest.cli import cli
from digest.compose.build import build_issue, needs_build
from digest.compose.issue_file import add_sources, new_issue
from digest.compose.message import load_draft

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "compose"


@pytest.fixture
def issue(tmp_path: Path) -> Path:
    for name in ("digest.toml", "river.txt", "library.md", "hostile.md", "feed.xml"):
        shutil.copy(FIX / name, tmp_path / name)
    folder = tmp_path / "2026-11"
    new_issue(folder, "Valley news, week 48", "A bridge, a market and a choir")
    add_sources(folder, [str(tmp_path / "river.txt"), str(tmp_path / "library.md")], None)
    add_sources(folder, [str(tmp_path / "feed.xml")], 2)
    return folder


def edit(folder: Path, fn) -> None:  # noqa: ANN001
    path = folder / "issue.toml"
    doc = tomlkit.parse(path.read_text())
    fn(doc)
    path.write_text(tomlkit.dumps(doc))


def test_build_writes_every_output(issue: Path) -> None:
    result = build_issue(issue)
    names = {p.name for p in result.paths}
    assert {"email.html", "email.txt", "web.html", "message.eml", "draft.json"} <= names
    html = (issue / "build" / "email.html").read_text()
    assert html.startswith("<!DOCTYPE html>")
    for title in ("Rivers run faster after an early thaw", "The library that lends tools",
                  "School choir wins regional prize", "Market moves to the square"):
        assert title in html
    msg = email.message_from_bytes((issue / "build" / "message.eml").read_bytes(), policy=email.policy.default)
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    for header in ("From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe"):
        assert msg[header], header
    assert msg["Subject"] == "Valley news, week 48"
    draft = load_draft(issue)
    assert draft.slug == "2026-11" and len(draft.merge_key) == 12
    assert merge.token("first_name", "HTML", draft.merge_key) in draft.html


def test_broken_article_is_named_and_skipped(issue: Path, tmp_path: Path) -> None:
    def add_broken(doc) -> None:  # noqa: ANN001
        t = tomlkit.table()
        t["source"] = str(tmp_path / "gone.txt")
        doc["articles"].append(t)

    edit(issue, add_broken)
    result = build_issue(issue)
    assert any("article 5" in w and "gone.txt" in w and "skipped" in w for w in result.warnings)
    assert "Rivers run faster" in (issue / "build" / "email.html").read_text()


def test_hostile_article_is_escaped_in_the_build(issue: Path, tmp_path: Path) -> None:
    add_sources(issue, [str(tmp_path / "hostile.md")], None)
    result = build_issue(issue)
    html = (issue / "build" / "email.html").read_text()
    doc = lxml.html.document_fromstring(html)
    assert not doc.xpath("//script") and not doc.xpath("//*[@onerror]")
    assert all(a.get("href").startswith(("https://", "mailto:", "__DG_")) for a in doc.xpath("//a[@href]"))
    assert "&lt;img src=x onerror=alert(1)&gt;" in html  # shown as text
    assert any("no http(s) link" in w for w in result.warnings)


def test_duplicate_stories_are_named(issue: Path, tmp_path: Path) -> None:
    shutil.copy(tmp_path / "river.txt", tmp_path / "river-copy.txt")
    add_sources(issue, [str(tmp_path / "river-copy.txt")], None)
    result = build_issue(issue)
    dup = [w for w in result.warnings if "same story" in w]
    assert dup and "articles 1 (Rivers run faster" in dup[0] and "5 (Rivers run faster" in dup[0]


def test_local_image_is_copied_resized_and_served_from_images_base_url(issue: Path, tmp_path: Path) -> None:
    Image.new("RGB", (2400, 1200), (200, 60, 30)).save(tmp_path / "wide.png")

    def set_image(doc) -> None:  # noqa: ANN001
        doc["articles"][0]["image"] = "../wide.png"
        doc["articles"][0]["image_alt"] = "A red field"

    edit(issue, set_image)
    result = build_issue(issue)
    copies = list((issue / "build" / "images").iterdir())
    assert len(copies) == 1
    with Image.open(copies[0]) as img:
        assert img.size == (1200, 600)
    html = (issue / "build" / "email.html").read_text()
    assert f'src="https://valley.example.org/images/{copies[0].name}"' in html
    assert 'alt="A red field" width="536" height="268"' in html
    assert not any("wide.png" in w for w in result.warnings)


def test_local_image_without_images_base_url_is_left_out_with_a_warning(issue: Path, tmp_path: Path) -> None:
    Image.new("RGB", (300, 200)).save(tmp_path / "small.png")
    toml = tmp_path / "digest.toml"
    toml.write_text(toml.read_text().replace('images_base_url = "https://valley.example.org/images"', ""))
    edit(issue, lambda doc: doc["articles"][0].__setitem__("image", str(tmp_path / "small.png")))
    result = build_issue(issue)
    assert any("images_base_url" in w and "small.png" in w for w in result.warnings)
    assert "small.png" not in (issue / "build" / "email.html").read_text()
    assert "<img" not in (issue / "build" / "email.html").read_text()


def test_http_image_is_retried_as_https(issue: Path) -> None:
    edit(issue, lambda doc: doc["articles"][0].__setitem__("image", "http://insecure.example.org/p.jpg"))
    result = build_issue(issue)
    assert any("not https: using https://insecure.example.org/p.jpg" in w for w in result.warnings)
    html = (issue / "build" / "email.html").read_text()
    assert 'src="https://insecure.example.org/p.jpg"' in html and "http://insecure.example.org" not in html


def test_non_https_image_is_left_out(issue: Path) -> None:
    edit(issue, lambda doc: doc["articles"][0].__setitem__("image", "ftp://insecure.example.org/p.jpg"))
    result = build_issue(issue)
    assert any("p.jpg" in w and "left out" in w for w in result.warnings), result.warnings
    assert "insecure.example.org" not in (issue / "build" / "email.html").read_text()


def _age(folder: Path) -> float:
    """Date the build outputs in the future (newer than every input, theme files included); return that time."""
    built = time.time() + 1000
    for p in (folder / "build").iterdir():
        os.utime(p, (built, built))
    for p in [folder / "issue.toml", *folder.parent.glob("*.*")]:
        os.utime(p, (built - 500, built - 500))
    return built


def test_needs_build_tracks_inputs(issue: Path) -> None:
    assert needs_build(issue)
    build_issue(issue)
    _age(issue)
    assert not needs_build(issue)
    for changed in (issue / "issue.toml", issue.parent / "river.txt", issue.parent / "digest.toml"):
        built = _age(issue)
        assert not needs_build(issue)
        os.utime(changed, (built + 10, built + 10))  # edited after the build
        assert needs_build(issue), changed
    _age(issue)
    (issue / "build" / "web.html").unlink()
    assert needs_build(issue)


def test_cli_new_add_build(tmp_path: Path) -> None:
    for name in ("digest.toml", "river.txt", "library.md"):
        shutil.copy(FIX / name, tmp_path / name)
    runner = CliRunner()
    folder = tmp_path / "issue"
    r = runner.invoke(cli, ["new", str(folder), "--subject", "Hello", "--preheader", "Pre"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["new", str(folder), "--subject", "Again"])
    assert r.exit_code == 1 and "already exists" in r.output
    r = runner.invoke(cli, ["add", str(folder), str(tmp_path / "river.txt"), str(tmp_path / "nope.txt"),
                            str(tmp_path / "library.md")])
    assert r.exit_code == 1
    assert "added: Rivers run faster" in r.output and "nope.txt" in r.output
    r = runner.invoke(cli, ["add", str(folder), "-"],
                      input="Harbour wall repaired\n\nThe harbour wall was repaired this week. Boats are back.\n")
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["build", str(folder)])
    assert r.exit_code == 0, r.output
    assert (folder / "build" / "email.html").is_file()
    assert "Harbour wall repaired" in (folder / "build" / "email.txt").read_text()  # stdin came from the cache
    r = runner.invoke(cli, ["build", str(tmp_path / "missing")])
    assert r.exit_code == 1 and "not found" in r.output
