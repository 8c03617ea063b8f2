"""The email bars with the real tools: SpamAssassin (local rules), html-validate 10, caniemail, link checks.

Issues: the compose fixtures, 8 pages of ../shared/corpus/html-dev plus the seed, the example newsletter and
the 12-story corpus issue of the screenshots. Tools missing →
skipped with the reason (a failure under CI=true, see tests/conftest.py).
"""

from __future__ import annotations

import http.server
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import cli
from digest.compose import node_tools
from digest.compose.build import build_issue
from digest.compose.check import CheckReport, check_caniemail, check_html_validate, check_links, spamassassin_score
from digest.compose.issue_file import add_sources, cache_key, new_issue, write_cache
from digest.model import Article
from tests.conftest import REPO, missing, need_tool, shared_path
from tests.integration.corpus_issue import build_corpus12

pytestmark = pytest.mark.integration
FIX = Path(__file__).resolve().parent.parent / "fixtures" / "compose"


def need_node_package(rel: str) -> None:
    need_tool("node")
    package = rel.split("/")[0]
    if node_tools.find_script(package) is None:
        missing(f"npm package not installed (npm ci, or digest check --install-tools): {package}")


@pytest.fixture(scope="module")
def fixture_issue(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fixture-issue")
    for name in ("digest.toml", "river.txt", "library.md", "feed.xml", "hostile.md"):
        shutil.copy(FIX / name, root / name)
    folder = root / "2026-48"
    new_issue(folder, "Valley news, week 48", "A bridge, a market, a choir and a library that lends tools")
    add_sources(folder, [str(root / n) for n in ("river.txt", "library.md", "hostile.md")], None)
    add_sources(folder, [str(root / "feed.xml")], 3)
    build_issue(folder)
    return folder


@pytest.fixture(scope="module")
def corpus_issue(tmp_path_factory: pytest.TempPathFactory) -> Path:
    corpus = shared_path("corpus", "html-dev")
    seed = shared_path("seeds", "000_d8922b5850a6cfb1.txt")
    pages = sorted(corpus.glob("*.html"))[:8]
    if len(pages) < 8:
        missing("fewer than 8 pages in ../shared/corpus/html-dev")
    root = tmp_path_factory.mktemp("corpus-issue")
    shutil.copy(FIX / "digest.toml", root / "digest.toml")
    folder = root / "corpus"
    new_issue(folder, "Eight stories and a seed", "Minecraft servers, neon signs, whales and more")
    result = add_sources(folder, [str(p) for p in pages] + [str(seed)], None)
    assert not result.errors, result.errors
    build_issue(folder)
    return folder


@pytest.fixture(scope="module")
def example_issue(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The README's example newsletter (examples/), copied so the repo's build/ is left alone."""
    examples = REPO / "examples"
    if not (examples / "first-issue" / "issue.toml").is_file():
        pytest.skip("examples/first-issue is not in this checkout")
    root = tmp_path_factory.mktemp("example") / "examples"
    shutil.copytree(examples, root, ignore=shutil.ignore_patterns("build", "outbox", "*.sqlite*"))
    build_issue(root / "first-issue")
    return root / "first-issue"


@pytest.fixture(scope="module")
def corpus12_issue(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 12-story issue of the screenshots (tests/integration/corpus_issue.py)."""
    return build_corpus12(tmp_path_factory.mktemp("corpus12"))[0]


@pytest.fixture(params=["fixture_issue", "corpus_issue", "example_issue", "corpus12_issue"])
def built(request: pytest.FixtureRequest) -> Path:
    return request.getfixturevalue(request.param)


def test_spam_score_at_most_one(built: Path) -> None:
    need_tool("spamassassin")
    score, rules = spamassassin_score((built / "build" / "message.eml").read_bytes())
    names = [r for r, _, _ in rules]
    assert score <= 1.0, rules
    assert "MPART_ALT_DIFF" not in names and "MPART_ALT_DIFF_COUNT" not in names


def test_html_validate_reports_no_errors(built: Path) -> None:
    need_node_package("html-validate/bin/html-validate.mjs")
    report = CheckReport(built)
    check_html_validate([built / "build" / "email.html", built / "build" / "web.html"], report)
    errors = [f.message for f in report.findings if f.level == "error"]
    assert errors == [], errors
    assert report.figures["html_validate_errors"] == 0


def test_email_html_under_gmail_clip(built: Path) -> None:
    assert (built / "build" / "email.html").stat().st_size < 102_000


def test_twelve_story_issue_under_60_kb(corpus12_issue: Path) -> None:
    html = (corpus12_issue / "build" / "email.html").read_bytes()
    assert html.count(b'class="dg-title"') == 12  # all twelve stories are in it
    assert len(html) < 60_000, len(html)


def test_http_images_are_retried_as_https(corpus12_issue: Path) -> None:
    html = (corpus12_issue / "build" / "email.html").read_text(encoding="utf-8")
    # bbc-1, wapo-1, salon-1 and telegraph declare http: images; each is shown from its https: address
    for host in ("ichef.bbci.co.uk", "img.washingtonpost.com", "media.salon.com", "www.telegraph.co.uk"):
        assert f'src="https://{host}/' in html, host
        assert f'src="http://{host}/' not in html  # (links stay http: browsers open them as they are)
    assert html.count("<img ") == 12


def test_no_layout_critical_caniemail_error(built: Path) -> None:
    need_node_package("doiuse-email/bin/cli.js")
    report = CheckReport(built)
    check_caniemail(built / "build" / "email.html", report)
    assert "caniemail_unsupported" in report.figures
    errors = [f.message for f in report.findings if f.level == "error"]
    assert errors == [], errors


def test_flex_fixture_is_reported_for_outlook() -> None:
    need_node_package("doiuse-email/bin/cli.js")
    report = CheckReport(FIX)
    check_caniemail(FIX / "flex.html", report)
    errors = [f.message for f in report.findings if f.level == "error"]
    assert any(m.startswith("display:flex") and "outlook.windows" in m for m in errors), report.findings
    assert report.blocked


def test_html_validate_finds_real_errors(tmp_path: Path) -> None:
    need_node_package("html-validate/bin/html-validate.mjs")
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><head><title>x</title></head><body><img src="https://e.org/a.png">'
                   "<h3>skipped levels</h3></body></html>")
    report = CheckReport(tmp_path)
    check_html_validate(bad, report)
    rules = " ".join(f.message for f in report.findings if f.level == "error")
    assert "wcag/h37" in rules  # img without alt
    assert "element-required-attributes" in rules or "wcag/h37" in rules


def test_spamassassin_flags_a_spammy_message() -> None:
    need_tool("spamassassin")
    spam = (b"From: winner@example.com\r\nTo: you@example.org\r\nSubject: FREE MONEY!!! ACT NOW $$$\r\n"
            b"Content-Type: text/html\r\n\r\n<html><body><font color=#ffffff>viagra cialis</font>"
            b"<b>CLICK HERE</b> to claim your FREE PRIZE of $1,000,000!!! 100% GUARANTEED. Act now!</body></html>\r\n")
    score, rules = spamassassin_score(spam)
    assert score > 1.0 and rules


class _Handler(http.server.BaseHTTPRequestHandler):
    routes = {"/ok": (200, None), "/gone": (404, None), "/broken": (500, None), "/moved": (301, "/ok"),
              "/nohead": (200, None), "/small.png": (200, None), "/huge.png": (200, None)}

    def _answer(self, with_body: bool) -> None:
        if self.command == "HEAD" and self.path == "/nohead":
            self.send_response(405)
            self.end_headers()
            return
        status, location = self.routes.get(self.path, (404, None))
        self.send_response(status)
        if location:
            self.send_header("Location", location)
        if self.path == "/huge.png":
            self.send_header("Content-Length", "2000000")
            self.end_headers()
            return  # HEAD only in this test: the header is what counts
        self.send_header("Content-Length", "2")
        self.end_headers()
        if with_body:
            self.wfile.write(b"ok")

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(False)

    def do_GET(self) -> None:  # noqa: N802
        self._answer(True)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_links_check_reports_4xx_5xx_and_redirects(tmp_path: Path, server: str) -> None:
    shutil.copy(FIX / "digest.toml", tmp_path / "digest.toml")
    folder = tmp_path / "links"
    folder.mkdir()
    paths = ["/ok", "/gone", "/broken", "/moved", "/nohead"]
    lines = ['subject = "Links"\n']
    for p in paths:
        url = server + p
        lines.append(f'[[articles]]\nsource = "{url}"\n')
        write_cache(folder, cache_key(url), Article(source=url, title=f"Story {p}", text="A sentence. Another.",
                                                    kind="html", url=url))
    (folder / "issue.toml").write_text("\n".join(lines))
    build_issue(folder)
    report = CheckReport(folder)
    check_links((folder / "build" / "email.html").read_text(), report, allow_hosts=["127.0.0.1"])
    found = {f.message.split(" ")[0].removeprefix(server): f.level for f in report.findings}
    assert found == {"/gone": "error", "/broken": "error", "/moved": "warning"}
    assert report.figures["links_checked"] == 5


def test_links_check_reports_unreachable_and_heavy_images(server: str) -> None:
    html = (f'<html><body><img src="{server}/small.png" alt="a"><img src="{server}/huge.png" alt="b">'
            f'<img src="{server}/missing.png" alt="c"></body></html>')
    report = CheckReport(Path("."))
    check_links(html, report, allow_hosts=["127.0.0.1"])
    found = {f.message.split(" ")[1].removeprefix(server): f.level for f in report.findings}
    assert found == {"/huge.png": "warning", "/missing.png": "error"}
    assert report.figures["images_checked"] == 3


def test_install_tools_fetches_the_pinned_versions_into_the_user_cache(tmp_path: Path, monkeypatch) -> None:
    need_tool("node")
    need_tool("npm")
    monkeypatch.setenv("DIGEST_TOOLS_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("DIGEST_NODE_MODULES", raising=False)
    result = CliRunner().invoke(cli, ["check", "--install-tools"])
    assert result.exit_code == 0, result.output
    modules = node_tools.cache_modules()
    assert modules.is_relative_to(tmp_path / "cache")
    for name, version in node_tools.PINNED.items():
        assert json.loads((modules / name / "package.json").read_text())["version"] == version
    again = CliRunner().invoke(cli, ["check", "--install-tools"])  # already there: nothing fetched
    assert again.exit_code == 0 and "first use" not in again.output
    assert node_tools.search_path()[-1] == modules  # looked in after ./node_modules and a source checkout
