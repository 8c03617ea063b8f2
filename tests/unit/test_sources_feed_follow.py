"""A feed entry whose summary is short (under about two sentences) is followed to its page, once, and the teaser
comes from the page. Served by a local HTTP/1.1 keep-alive server; requests are counted at the server."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import digest.sources as sources
from digest.condense import make_teaser

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "sources"
LONG = ("Volunteers counted 412 swallows at the estuary on Saturday, the most since records began. The count "
        "was organised by the county wildlife trust, which has run it every spring for thirty years.")


def _feed(base: str) -> bytes:
    items = [
        ("Harbour town votes to keep its ferry", f"{base}/ferry", "Ferry vote result."),  # short: followed
        ("Record swallow count", f"{base}/swallows", LONG),  # two sentences: not followed
        ("Elsewhere", "http://localhost:9/elsewhere", "A short note."),  # another host: never followed
        ("Gone", f"{base}/gone", "Page removed."),  # short, but the page is a 404
    ]
    body = "".join(f"<item><title>{t}</title><link>{link}</link><description>{d}</description></item>"
                   for t, link, d in items)
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Local news</title><link>{base}/</link>'
            f"<description>d</description>{body}</channel></rss>").encode()


class _Site:
    hits: Counter[str] = Counter()
    base = ""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        _Site.hits[self.path] += 1
        if self.path == "/feed.xml":
            status, body, ctype = 200, _feed(_Site.base), "application/rss+xml"
        elif self.path == "/ferry":
            status, body, ctype = 200, (FIX / "article.html").read_bytes(), "text/html; charset=utf-8"
        elif self.path == "/swallows":
            status, body, ctype = 200, b"<html><body><p>not wanted</p></body></html>", "text/html"
        else:
            status, body, ctype = 404, b"not found", "text/plain"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def site() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    _Site.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    _Site.hits.clear()
    sources._FOLLOWED.clear()
    try:
        yield _Site.base
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_short_entry_takes_its_text_from_its_page_fetched_once(site: str) -> None:
    arts = {a.title: a for a in sources.load(f"{site}/feed.xml")}
    ferry = arts["Harbour town votes to keep its ferry"]
    assert ferry.text.startswith("Residents of Port Ellen have voted")
    teaser = make_teaser(ferry, 300).text
    assert "Port Ellen" in teaser and teaser != "Ferry vote result."
    sources.load(f"{site}/feed.xml")  # loaded again (a rebuild in the same process): the page is not refetched
    assert _Site.hits["/ferry"] == 1


def test_long_summaries_other_hosts_and_dead_pages(site: str) -> None:
    arts = {a.title: a for a in sources.load(f"{site}/feed.xml")}
    assert arts["Record swallow count"].text == LONG and _Site.hits["/swallows"] == 0
    assert arts["Elsewhere"].text == "A short note."  # never fetched: not the feed's site
    gone = arts["Gone"]
    assert gone.text == "Page removed." and _Site.hits["/gone"] == 1
    assert any("could not be read" in w for w in gone.warnings)


def test_a_local_feed_file_is_never_followed(tmp_path: Path, site: str) -> None:
    f = tmp_path / "feed.xml"
    f.write_bytes(_feed(site))
    arts = {a.title: a for a in sources.load(str(f))}
    assert arts["Harbour town votes to keep its ferry"].text == "Ferry vote result."
    assert _Site.hits["/ferry"] == 0
