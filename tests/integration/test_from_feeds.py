"""Issues drafted from feeds served by a local HTTP server: seen entries skipped, broken feeds warned about."""

from __future__ import annotations

import threading
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import cli
from digest.compose.from_feeds import draft_from_feeds
from digest.errors import ConfigError

pytestmark = pytest.mark.integration


def _rss(title: str, items: list[tuple[str, str, str]]) -> bytes:
    body = "".join(
        f"<item><title>{t}</title><link>{link}</link><guid>{link}</guid><pubDate>{date}</pubDate>"
        f"<description>{t}. The council published the details on its website on the same day, "
        "and residents can respond until the end of the month.</description></item>"
        for t, link, date in items
    )
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
            f"<link>http://example.org/</link><description>d</description>{body}</channel></rss>").encode()


class Feeds:
    """Feeds by path; tests change them between drafts."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, bytes]] = {}


@pytest.fixture
def server() -> Iterator[tuple[str, Feeds]]:
    feeds = Feeds()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            status, body = feeds.routes.get(self.path, (404, b"not found"))
            self.send_response(status)
            self.send_header("Content-Type", "application/rss+xml" if status == 200 else "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", feeds
    finally:
        httpd.shutdown()
        httpd.server_close()


def _config(home: Path, base: str) -> None:
    (home / "digest.toml").write_text(
        '[newsletter]\nname = "Local"\n\n'
        f'[[feeds]]\nurl = "{base}/council.xml"\nsection = "Council"\n\n'
        f'[[feeds]]\nurl = "{base}/harbour.xml"\nsection = "Harbour"\nlimit = 2\n\n'
        f'[[feeds]]\nurl = "{base}/broken.xml"\n',
        encoding="utf-8",
    )


def test_second_draft_skips_entries_the_first_used(tmp_path: Path, server: tuple[str, Feeds]) -> None:
    base, feeds = server
    _config(tmp_path, base)
    feeds.routes["/council.xml"] = (200, _rss("Council", [
        ("Budget approved", "http://example.org/c/1", "Mon, 02 Nov 2026 09:00:00 GMT"),
        ("Library hours extended", "http://example.org/c/2", "Tue, 03 Nov 2026 09:00:00 GMT"),
    ]))
    feeds.routes["/harbour.xml"] = (200, _rss("Harbour", [
        ("Dredging starts", "http://example.org/h/1", "Mon, 02 Nov 2026 10:00:00 GMT"),
        ("New pontoon", "http://example.org/h/2", "Tue, 03 Nov 2026 10:00:00 GMT"),
        ("Crane removed", "http://example.org/h/3", "Wed, 04 Nov 2026 10:00:00 GMT"),
    ]))
    feeds.routes["/broken.xml"] = (500, b"boom")

    first = draft_from_feeds(tmp_path / "issue-1", "First")
    assert len(first.added) == 4  # two council entries, the harbour feed's limit of two
    assert any("broken.xml" in w for w in first.warnings)
    doc = tomllib.loads((tmp_path / "issue-1" / "issue.toml").read_text(encoding="utf-8"))
    assert [s["title"] for s in doc["sections"]] == ["Council", "Harbour"]
    assert [a["section"] for a in doc["articles"]] == ["Council", "Council", "Harbour", "Harbour"]
    first_urls = {a["source"] for a in doc["articles"]}

    # A new entry arrives after the first issue; the broken feed now serves malformed XML.
    fresh = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    feeds.routes["/council.xml"] = (200, _rss("Council", [
        ("Budget approved", "http://example.org/c/1", "Mon, 02 Nov 2026 09:00:00 GMT"),
        ("Library hours extended", "http://example.org/c/2", "Tue, 03 Nov 2026 09:00:00 GMT"),
        ("Bins collected on Fridays", "http://example.org/c/3", fresh),
    ]))
    feeds.routes["/broken.xml"] = (200, b"<rss><channel><item><title>unclosed")
    second = draft_from_feeds(tmp_path / "issue-2", "Second")
    doc2 = tomllib.loads((tmp_path / "issue-2" / "issue.toml").read_text(encoding="utf-8"))
    second_urls = {a["source"] for a in doc2["articles"]}
    assert not first_urls & second_urls
    assert "http://example.org/c/3" in second_urls
    assert any("broken.xml" in w for w in second.warnings)
    assert second.skipped_seen >= 4
    # Entries published before the previous issue that it did not use stay out too.
    assert "http://example.org/h/1" not in second_urls and second.skipped_old >= 1


def test_cli_from_feeds_warns_and_drafts(tmp_path: Path, server: tuple[str, Feeds]) -> None:
    base, feeds = server
    _config(tmp_path, base)
    feeds.routes["/council.xml"] = (200, _rss("Council", [
        ("Budget approved", "http://example.org/c/1", "Mon, 02 Nov 2026 09:00:00 GMT")]))
    feeds.routes["/harbour.xml"] = (200, b"not a feed at all \x00\x01")
    result = CliRunner().invoke(cli, ["new", str(tmp_path / "i"), "--subject", "S", "--from-feeds"])
    assert result.exit_code == 0, result.output
    assert "created" in result.output and "1 entries" in result.output
    assert "harbour.xml" in result.output  # warned, named


def test_no_feeds_configured_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "digest.toml").write_text('[newsletter]\nname = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="feeds"):
        draft_from_feeds(tmp_path / "i", "S")
