"""The built email in real headless Chromium: 375 and 600 px, light and dark.

Two issues: the compose fixtures, and the 12-story issue from ../shared/corpus/html-dev
(tests/integration/corpus_issue.py). Asserts no horizontal scroll, every text element inside the viewport,
body text >= 14 px, tap targets >= 44 px, the meta line above each headline, section headers larger than
titles, and that dark mode applies the theme's own dark colours (the button's computed for the brand).
Screenshots go to test-artifacts/email/ (the 12-story issue's into docs/ with DIGEST_UPDATE_DOCS=1). No
request leaves the machine: image URLs are answered from build/images, other images with a grey
placeholder (the corpus's images are remote), everything else is aborted.
"""

from __future__ import annotations

import email
import email.policy
import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from digest.compose.build import build_issue
from digest.compose.issue_file import add_sources, new_issue
from digest.compose.render import theme_colors
from tests.conftest import REPO, missing, need_tool
from tests.integration.corpus_issue import build_corpus12

pytestmark = [pytest.mark.integration, pytest.mark.browser]
FIX = Path(__file__).resolve().parent.parent / "fixtures" / "compose"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = REPO / "test-artifacts" / "email"

TEXT_BOXES_JS = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (!node.textContent.trim()) continue;
    const el = node.parentElement;
    const style = getComputedStyle(el);
    if (style.display === 'none' || el.closest('.dg-preheader')) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    for (const r of range.getClientRects()) {
      if (r.width === 0 || r.height === 0) continue;
      out.push({text: node.textContent.trim().slice(0, 40), left: r.left, right: r.right,
                size: parseFloat(style.fontSize)});
    }
  }
  return out;
}"""


@pytest.fixture(scope="module")
def email_html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("browser")
    for name in ("digest.toml", "river.txt", "library.md", "feed.xml"):
        shutil.copy(FIX / name, root / name)
    img = Image.new("RGB", (1600, 800), (40, 110, 170))
    for x in range(0, 1600, 200):
        img.paste((230, 180, 60), (x, 300, x + 100, 500))
    img.save(root / "river.jpg")
    folder = root / "2026-48"
    new_issue(folder, "Valley news, week 48", "A bridge, a market, a choir and a library that lends tools")
    (folder / "issue.toml").write_text((folder / "issue.toml").read_text().replace(
        'intro = """\n"""', 'intro = """\nThis week: **high water**, a new [tool library](https://example.org/tools) '
        'and a choir on its way to the capital.\n"""'))
    add_sources(folder, [str(root / "river.txt"), str(root / "library.md")], None)
    add_sources(folder, [str(root / "feed.xml")], 3)
    text = (folder / "issue.toml").read_text()
    assert 'source = "../river.txt"' in text  # stored relative to the issue folder
    text = text.replace('source = "../river.txt"',
                        'source = "../river.txt"\nimage = "../river.jpg"\n'
                        'image_alt = "The river in flood under a blue sky"', 1)
    text += '\n[[sections]]\ntitle = "Around town"\n'
    text = text.replace('source = "https://gazette.example.org/market"',
                        'source = "https://gazette.example.org/market"\nsection = "Around town"')
    (folder / "issue.toml").write_text(text)
    build_issue(folder)
    return sample_html(folder)


def sample_html(folder: Path) -> Path:
    """What a reader sees: the sample message's HTML part (merge fields at their defaults)."""
    msg = email.message_from_bytes((folder / "build" / "message.eml").read_bytes(), policy=email.policy.default)
    html = msg.get_body(("html",)).get_content()
    assert "__DG_" not in html
    out = folder / "build" / "sample.html"
    out.write_text(html, encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def corpus12_html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder, _ = build_corpus12(tmp_path_factory.mktemp("browser12"))
    return sample_html(folder)


def _placeholder() -> bytes:
    img = Image.new("RGB", (1200, 630), (148, 163, 184))
    for x in range(0, 1200, 120):
        img.paste((203, 213, 225), (x, 0, x + 60, 630))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


PLACEHOLDER = _placeholder()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    need_tool(CHROMIUM)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright is not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def open_page(browser, html_path: Path, width: int, scheme: str):  # noqa: ANN001, ANN201
    context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme,
                                  device_scale_factor=1)
    page = context.new_page()
    images = html_path.parent / "images"

    def route(r) -> None:  # noqa: ANN001
        url = r.request.url
        if url.startswith("file://"):
            r.continue_()
            return
        name = url.rsplit("/", 1)[-1]
        if "/images/" in url and (images / name).is_file():
            r.fulfill(path=str(images / name))
        elif r.request.resource_type == "image":
            r.fulfill(body=PLACEHOLDER, content_type="image/png")
        else:
            r.abort()

    page.route("**/*", route)
    page.goto(html_path.as_uri())
    page.wait_for_load_state("load")
    return context, page


@pytest.fixture(params=["email_html", "corpus12_html"])
def built_html(request: pytest.FixtureRequest) -> tuple[str, Path]:
    return request.param, request.getfixturevalue(request.param)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [375, 600])
def test_layout_in_chromium(browser, built_html: tuple[str, Path], width: int, scheme: str) -> None:  # noqa: ANN001
    which, html_path = built_html
    context, page = open_page(browser, html_path, width, scheme)
    try:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / f"{which}-{width}-{scheme}.png"
        page.screenshot(path=str(shot), full_page=True)
        if os.environ.get("DIGEST_UPDATE_DOCS") == "1" and which == "corpus12_html":
            # 128 colours, no dithering: the same picture at ~40 % of the bytes in the repository
            Image.open(shot).convert("RGB").quantize(128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE) \
                .save(REPO / "docs" / f"email-{width}-{scheme}.png", optimize=True)

        scroll_w, inner_w = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll_w <= inner_w, f"horizontal scroll: {scroll_w} > {inner_w}"

        boxes = page.evaluate(TEXT_BOXES_JS)
        assert len(boxes) > 20
        outside = [b for b in boxes if b["left"] < -0.5 or b["right"] > width + 0.5]
        assert outside == [], outside[:5]
        small = [b for b in boxes if b["size"] < 14]
        assert small == [], small[:5]

        targets = page.evaluate("""() => [...document.querySelectorAll('.dg-button a, .dg-readon a, .dg-footer a')]
            .map(a => { const r = a.getBoundingClientRect(); return [a.textContent.trim(), r.height, r.width]; })""")
        assert targets and all(h >= 44 for _, h, _ in targets), targets
        assert len([t for t in targets if t[0].startswith("Read ")]) == page.evaluate(
            "() => document.querySelectorAll('.dg-title a').length")  # one read link (or button) per linked story

        img = page.evaluate("""() => { const i = document.querySelector('img.dg-img');
            return i && [i.complete, i.naturalWidth, i.getBoundingClientRect().width, i.alt !== undefined]; }""")
        assert img and img[0] and img[1] == 1200 and img[2] <= width and img[3]
        unlinked = page.evaluate("""() => [...document.querySelectorAll('img.dg-img')].filter(i => {
            const story = i.closest('td.dg-article'), link = story.querySelector('.dg-title a');
            return link && (!i.closest('a') || i.closest('a').href !== link.href); }).map(i => i.src)""")
        assert unlinked == []  # an image goes to its story, like the headline

        # the meta line (source, reading time) sits above its headline, inside the same story
        order = page.evaluate("""() => [...document.querySelectorAll('.dg-title')].map(t => {
            const m = t.previousElementSibling;
            return m && m.classList.contains('dg-meta') ?
                m.getBoundingClientRect().bottom - t.getBoundingClientRect().top : null; })""")
        assert order and all(gap is None or gap <= 0.5 for gap in order), order
        sizes = page.evaluate("""() => [...document.querySelectorAll('.dg-h2-section, .dg-title')]
            .map(e => [e.className, parseFloat(getComputedStyle(e).fontSize)])""")
        section = [s for c, s in sizes if "dg-h2-section" in c]
        titles = [s for c, s in sizes if "dg-title" in c]
        assert not section or min(section) > max(titles), sizes

        colours = page.evaluate("""() => {
            const css = (sel, prop) => { const e = document.querySelector(sel);
                                         return e ? getComputedStyle(e)[prop] : null; };
            return {card: css('.dg-card', 'backgroundColor'), page: css('body', 'backgroundColor'),
                    h1: css('.dg-h1', 'color'), teaser: css('.dg-teaser', 'color'),
                    footer: css('.dg-footer', 'color'), button: css('.dg-button', 'backgroundColor'),
                    title: css('.dg-title a', 'color')}; }""")
        palette = theme_colors("#1a73e8")  # the fixtures' digest.toml keeps the default brand colour
        # the button is the lead story's: the compose fixtures' lead (a local text) has no link, so no button
        assert (colours["button"] is not None) == (which == "corpus12_html")
        if scheme == "dark":
            assert colours["card"] == "rgb(30, 30, 30)"
            assert colours["page"] == "rgb(18, 18, 18)"
            assert colours["h1"] == "rgb(236, 236, 236)" and colours["teaser"] == "rgb(236, 236, 236)"
            assert colours["footer"] == "rgb(196, 196, 196)"
            assert colours["button"] in (None, _rgb(palette["dark_button"]))
            assert colours["title"] == _rgb(palette["dark_link"])
        else:
            assert colours["card"] == "rgb(255, 255, 255)"
            assert colours["h1"] == "rgb(17, 17, 17)" and colours["teaser"] == "rgb(34, 34, 34)"
            assert colours["button"] in (None, _rgb(palette["button"]))
            assert colours["title"] == _rgb(palette["link"])
    finally:
        context.close()


def _rgb(hex_colour: str) -> str:
    h = hex_colour.lstrip("#")
    return "rgb({}, {}, {})".format(*(int(h[i:i + 2], 16) for i in (0, 2, 4)))
