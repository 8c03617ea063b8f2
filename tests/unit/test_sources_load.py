"""digest.sources.load: dispatch by scheme, extension and sniffing, and every bad input as a one-line SourceError."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from digest.errors import SourceError
from digest.sources import detect, load

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "sources"


def _has_text_parser() -> bool:
    try:
        import digest.sources.text  # noqa: F401
    except ImportError:
        return False
    return True


needs_text = pytest.mark.skipif(not _has_text_parser(), reason="digest.sources.text not written yet")


def _error(source: str, **kw: object) -> SourceError:
    with pytest.raises(SourceError) as info:
        load(source, **kw)  # type: ignore[arg-type]
    err = info.value
    assert err.source == source
    assert "\n" not in str(err)
    assert str(err).startswith(source)
    return err


# ---------------------------------------------------------------- dispatch


def test_html_by_extension() -> None:
    [a] = load(str(FIX / "article.html"))
    assert a.kind == "html"
    assert a.source == str(FIX / "article.html")
    assert a.title == "Harbour town votes to keep its ferry"


def test_markdown_by_extension() -> None:
    [a] = load(str(FIX / "post.md"))
    assert a.kind == "markdown"


def test_feed_by_extension_gives_one_article_per_entry() -> None:
    arts = load(str(FIX / "rss.xml"))
    assert len(arts) == 3
    assert {a.kind for a in arts} == {"feed"}
    assert {a.source for a in arts} == {str(FIX / "rss.xml")}


def test_limit_applies_to_feeds() -> None:
    assert len(load(str(FIX / "rss.xml"), limit=1)) == 1


@pytest.mark.parametrize(("name", "kind"), [("article.html", "html"), ("rss.xml", "feed"), ("atom.xml", "feed"),
                                            ("post.md", "markdown")])
def test_sniffing_without_extension(tmp_path: Path, name: str, kind: str) -> None:
    target = tmp_path / "no-extension"
    target.write_bytes((FIX / name).read_bytes())
    arts = load(str(target))
    assert arts and arts[0].kind == kind


def test_sniff_rules() -> None:
    assert detect.sniff(b'<?xml version="1.0"?>\n<!-- c -->\n<rss version="2.0">') == "feed"
    assert detect.sniff(b"\xef\xbb\xbf<feed xmlns='http://www.w3.org/2005/Atom'>") == "feed"
    assert detect.sniff(b"<rdf:RDF xmlns:rdf='x'>") == "feed"
    assert detect.sniff(b"<!DOCTYPE html><html><body>x</body></html>") == "html"
    assert detect.sniff(b"  <html lang='en'>") == "html"
    assert detect.sniff(b"Just a line of text.\nAnd <b>another</b>.") == "text"
    assert detect.by_extension("A.HTM") == "html"
    assert detect.by_extension("notes.text") == "text"
    assert detect.by_extension(".bashrc") is None
    assert detect.by_content_type("image/png") == "binary"


@needs_text
def test_text_by_extension(tmp_path: Path) -> None:
    p = tmp_path / "story.txt"
    p.write_text("Council keeps the ferry\n\nThe council voted on Tuesday to keep the winter ferry running. "
                 "Residents had campaigned for a year.\n", encoding="utf-8")
    [a] = load(str(p))
    assert a.source == str(p)
    assert "winter ferry" in a.text


def test_stdin_html(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = io.TextIOWrapper(io.BytesIO((FIX / "article.html").read_bytes()))
    monkeypatch.setattr(sys, "stdin", fake)
    [a] = load("-")
    assert a.source == "-" and a.kind == "html"


def test_stdin_feed_with_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO((FIX / "atom.xml").read_bytes())))
    arts = load("-", limit=1)
    assert [a.title for a in arts] == ["Arrivée à Lyon"]


# ---------------------------------------------------------------- bad input


def test_missing_file() -> None:
    assert "no such file" in str(_error("/nonexistent/dir/story.html"))


def test_directory(tmp_path: Path) -> None:
    assert "directory" in str(_error(str(tmp_path)))


@pytest.mark.parametrize("content", [b"", b"   \n\n\t  \n"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    p = tmp_path / "empty.html"
    p.write_bytes(content)
    assert "empty" in str(_error(str(p)))


def test_binary_file(tmp_path: Path) -> None:
    p = tmp_path / "photo.txt"
    p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8)
    assert "binary" in str(_error(str(p)))


def test_too_large_file(tmp_path: Path) -> None:
    p = tmp_path / "huge.html"
    with p.open("wb") as fh:  # 20 MB, sparse
        fh.seek(20 * 1024 * 1024 - 1)
        fh.write(b"\n")
    msg = str(_error(str(p)))
    assert "too large" in msg and "20 MB" in msg and "10 MB" in msg


def test_size_cap_is_configurable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "page.html"
    p.write_bytes((FIX / "article.html").read_bytes())
    assert "too large" in str(_error(str(p), max_size=1000))
    monkeypatch.setenv("DIGEST_MAX_SOURCE_BYTES", "2000")
    assert "too large" in str(_error(str(p)))
    monkeypatch.setenv("DIGEST_MAX_SOURCE_BYTES", str(10**6))
    assert load(str(p))[0].kind == "html"


def test_page_without_article_text() -> None:
    assert "no article text" in str(_error(str(FIX / "no-article.html")))


def test_xml_that_is_not_a_feed(tmp_path: Path) -> None:
    p = tmp_path / "sitemap.xml"
    p.write_text('<?xml version="1.0"?><urlset><url><loc>https://a.example/</loc></url></urlset>', encoding="utf-8")
    assert "feed" in str(_error(str(p)))


def test_unsupported_scheme() -> None:
    assert "scheme" in str(_error("ftp://files.example.com/a.txt"))


def test_cp1252_html_file_decodes(tmp_path: Path) -> None:
    body = ("<html><head><title>Caf\u00e9 na\u00efve \u2013 the \u201cbest\u201d</title></head><body><article>"
            + "<p>The caf\u00e9\u2019s owner said the cr\u00e8me br\u00fbl\u00e9e costs \u20ac5 and sells out "
              "every weekend before noon, so regulars now queue from nine.</p>" * 4
            + "</article></body></html>")
    p = tmp_path / "cafe.html"
    p.write_bytes(body.encode("cp1252"))
    [a] = load(str(p))
    assert "cr\u00e8me br\u00fbl\u00e9e costs \u20ac5" in a.text
    assert "\ufffd" not in a.text
    assert a.title.startswith("Caf\u00e9 na\u00efve")


@needs_text
@pytest.mark.parametrize("encoding", ["cp1252", "latin-1"])
def test_non_utf8_text_file(tmp_path: Path, encoding: str) -> None:
    repeat = 1 if encoding == "latin-1" else 3
    text = ("Fran\u00e7ois Dupr\u00e9 opened a caf\u00e9 in the old station.\n\n"
            "He said the cr\u00e8me br\u00fbl\u00e9e was his grandmother\u2019s recipe. " * repeat)
    if encoding == "latin-1":
        text = text.replace("\u2019", "'")
    p = tmp_path / "cafe.txt"
    p.write_bytes(text.encode(encoding))
    [a] = load(str(p))
    assert "caf\u00e9" in a.text and "\ufffd" not in a.text
