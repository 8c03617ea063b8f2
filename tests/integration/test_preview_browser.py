"""``digest preview`` in real headless Chromium (Debian's, through Playwright's ``executable_path``).

Each test starts the real command as a subprocess on a free loopback port, reads the URL it prints and
drives the page: toggles, the theme's own dark rules inside the frame, live reload after an edit, build
errors, and ``--screenshot``. Screenshots are kept in test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageStat

from digest.preview.screenshot import SETTLE_JS
from tests.conftest import REPO, need_tool

pytestmark = [pytest.mark.integration, pytest.mark.browser]

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "preview"
ARTIFACTS = REPO / "test-artifacts"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def chromium() -> str:
    return need_tool("chromium", "/usr/bin/chromium", "chromium-browser")


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def letter(tmp_path: Path) -> Path:
    shutil.copytree(FIX, tmp_path / "letter")
    return tmp_path / "letter"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(letter: Path) -> Iterator[str]:
    """``digest preview`` running on a free port; yields the URL it printed."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "digest.cli", "preview", str(letter / "issue"), "--no-open", "--no-checks",
         "--port", str(port), "--recipients", str(letter / "recipients.csv")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready, "digest preview printed no URL within 60 s"
        url = proc.stdout.readline().strip()
        assert url == f"http://127.0.0.1:{port}/"
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        assert proc.returncode == 0, err
        assert "Traceback" not in err


@pytest.fixture
def page(browser: Any, served: str) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, device_scale_factor=1)
    offsite: list[str] = []

    def only_loopback(route: Any) -> None:  # tests never leave 127.0.0.1
        if route.request.url.startswith(("http://127.0.0.1:", "data:", "about:")):
            route.continue_()
        else:
            offsite.append(route.request.url)
            route.abort()

    context.route("**/*", only_loopback)
    pg = context.new_page()
    pg.goto(served)
    pg.wait_for_function("window.digestPreview && window.digestPreview.frameLoads >= 1")
    yield pg
    context.close()
    assert offsite == [], f"the preview asked for off-machine resources: {offsite}"


def shot(pg: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    pg.screenshot(path=str(path), full_page=True)
    return path


def frame(pg: Any) -> Any:
    return pg.frame_locator("#email-frame")


def frame_js(pg: Any, expr: str) -> Any:
    handle = pg.query_selector("#email-frame").content_frame()
    return handle.evaluate(expr)


def wait_frame_load(pg: Any, before: int) -> None:
    pg.wait_for_function(f"window.digestPreview.frameLoads > {before}")


def loads(pg: Any) -> int:
    return int(pg.evaluate("window.digestPreview.frameLoads"))


def dark_rule(html: str) -> tuple[str, str]:
    """(class selector, rgb()) of a background colour set by the email's own prefers-color-scheme: dark rules."""
    m = re.search(r"@media[^{]*prefers-color-scheme\s*:\s*dark[^{]*\{(.*?)\}\s*\}", html, re.S)
    assert m, "the theme has no dark-mode rules"
    for rule in re.finditer(r"([^{}]+)\{([^{}]*)\}", m.group(1) + "}"):
        colour = re.search(r"background-color\s*:\s*#([0-9a-fA-F]{6})", rule.group(2))
        if not colour:
            continue
        for sel in rule.group(1).split(","):
            sel = sel.strip()
            if re.fullmatch(r"\.[\w-]+", sel) and f'class="{sel[1:]}' in html:
                h = colour.group(1)
                return sel, "rgb({}, {}, {})".format(*(int(h[i:i + 2], 16) for i in (0, 2, 4)))
    raise AssertionError("no class-based background rule in the dark block")


# --- the page --------------------------------------------------------------------------------------


def test_the_page_shows_the_email_the_inbox_row_and_the_articles(page: Any, letter: Path) -> None:
    assert page.inner_text("#subject") == "Allotment Letter: water butts, a seed swap and compost"
    assert page.inner_text("#preheader") == "Three things happening on the plots this month."
    assert page.inner_text("#from") == "The Allotment Letter"
    titles = page.locator("#articles .title").all_inner_texts()
    assert titles == ["The society buys forty new water butts", "Seed swap returns to the pavilion in March",
                      "New compost bays open by the gate"]
    items = page.locator("#articles > li").all_inner_texts()
    assert re.search(r"\b1\d\d words\b", items[0]) and "image has no alt text" in items[0]
    assert "The allotment society has bought forty new water butts" in items[0]  # the teaser
    assert frame(page).locator("text=Hi Ruth,").count() == 1
    # the article image is the build's local copy, served by the preview
    assert frame_js(page, "[...document.images].every(i => i.complete && i.naturalWidth > 0)")
    assert page.locator("#reader option").all_inner_texts() == ["Ruth <ruth@allotments.example>",
                                                                 "Omar <omar@allotments.example>"]
    before = loads(page)
    page.select_option("#reader", "1")
    wait_frame_load(page, before)
    assert frame(page).locator("text=Hi Omar,").count() == 1
    shot(page, "preview-desktop.png")


def test_mobile_dark_and_text_views(page: Any, letter: Path) -> None:
    assert page.eval_on_selector("#email-frame", "f => f.clientWidth") >= 600
    before = loads(page)
    page.click("#width-mobile")
    page.wait_for_function("document.getElementById('email-frame').clientWidth === 375")
    assert page.get_attribute("#width-mobile", "aria-pressed") == "true"
    assert frame_js(page, "document.documentElement.clientWidth") == 375
    assert frame_js(page, "document.documentElement.scrollWidth") <= 375  # nothing sticks out sideways
    assert loads(page) == before  # width is the frame's size: no reload needed
    # the frame grows with the narrower, taller email: the page scrolls, never the frame
    page.wait_for_function("""() => { const f = document.getElementById('email-frame');
        return f.clientHeight >= f.contentDocument.documentElement.scrollHeight; }""")

    html = (letter / "issue" / "build" / "email.html").read_text()
    selector, dark_bg = dark_rule(html)
    light_bg = frame_js(page, f"getComputedStyle(document.querySelector('{selector}')).backgroundColor")
    assert light_bg != dark_bg
    page.click("#scheme-dark")
    wait_frame_load(page, before)
    got = frame_js(page, f"getComputedStyle(document.querySelector('{selector}')).backgroundColor")
    assert got == dark_bg, f"{selector} should take the theme's dark background"
    assert frame_js(page, "matchMedia('(prefers-color-scheme: dark)').matches") is False  # it's the rules, not the OS
    shot(page, "preview-mobile-dark.png")

    before = loads(page)
    page.click("#scheme-light")
    wait_frame_load(page, before)
    assert frame_js(page, f"getComputedStyle(document.querySelector('{selector}')).backgroundColor") == light_bg

    before = loads(page)
    page.click("#format-text")
    wait_frame_load(page, before)
    text = frame(page).locator("#text").inner_text()
    assert text.startswith("Hi Ruth,") or "Hi Ruth," in text
    assert "The society buys forty new water butts" in text and "<" not in text.split("\n")[0]
    assert frame(page).locator("img").count() == 0


def test_an_edit_shows_without_a_manual_reload_exactly_once(page: Any, letter: Path) -> None:
    navigations: list[str] = []
    page.on("framenavigated", lambda f: navigations.append(f.url) if f == page.main_frame else None)
    page.evaluate("window.__samePage = true")
    page.wait_for_function("window.digestPreview.events >= 1")  # the event stream is open
    refreshes = page.evaluate("window.digestPreview.refreshes")
    before = loads(page)

    path = letter / "issue" / "issue.toml"
    t0 = time.monotonic()
    path.write_text(path.read_text().replace("Allotment Letter: water butts, a seed swap and compost",
                                             "Frost is coming: cover your brassicas"))
    page.wait_for_function("document.getElementById('subject').textContent === 'Frost is coming: cover your brassicas'",
                           timeout=10_000)
    wait_frame_load(page, before)
    latency = time.monotonic() - t0
    assert frame(page).locator("text=Frost is coming: cover your brassicas").count() >= 1
    time.sleep(2.5)  # room for a second, unwanted reload
    assert page.evaluate("window.digestPreview.refreshes") == refreshes + 1
    assert loads(page) == before + 1
    assert page.evaluate("window.__samePage") is True and navigations == []  # the page itself never reloaded
    print(f"edit → page updated in {latency:.2f} s")

    path.touch()  # saved again without a change: nothing happens
    time.sleep(2.0)
    assert page.evaluate("window.digestPreview.refreshes") == refreshes + 1
    assert loads(page) == before + 1


def test_a_build_error_shows_in_the_page_and_clears_when_fixed(page: Any, letter: Path) -> None:
    path = letter / "issue" / "issue.toml"
    good = path.read_text()
    frame(page).locator("text=Hi Ruth,").wait_for(timeout=10_000)  # the first good email is on screen
    before = loads(page)
    path.write_text(good.replace('date = "2026-11-27"', "date = 2026-11-27-oops"))
    page.wait_for_selector("#error:not([hidden])", timeout=10_000)
    assert re.search(r"issue\.toml line 4$", page.inner_text("#error-where"))
    assert page.inner_text("#status") == "build failed"
    assert frame(page).locator("text=Hi Ruth,").count() == 1  # the last good email stays
    assert loads(page) == before  # and is not reloaded (no flicker) by the failed build
    shot(page, "preview-build-error.png")
    path.write_text(good.replace("compost", "compost heaps"))
    page.wait_for_selector("#error", state="hidden", timeout=10_000)
    assert page.inner_text("#subject").endswith("compost heaps")


def test_encoded_traversal_from_the_browser_is_404(page: Any) -> None:
    statuses = page.evaluate("""async () => {
        const paths = ['/%2e%2e/%2e%2e/etc/passwd', '/%252e%252e/%252e%252e/etc/passwd', '/..%5c..%5cetc%5cpasswd',
                       '/static/%2e%2e%2f%2e%2e%2fserver.py', '/images/%2e%2e/issue.toml', '/etc/passwd'];
        const out = [];
        for (const p of paths) out.push((await fetch(p)).status);
        return out;
    }""")
    assert statuses == [404] * 6


# --- screenshots -----------------------------------------------------------------------------------


def _screenshot(letter: Path, out: Path, *extra: str,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "digest.cli", "preview", str(letter / "issue"),
                           "--screenshot", str(out), *extra],
                          capture_output=True, text=True, timeout=180, env={**os.environ, **(env or {})})


def test_screenshot_is_the_whole_email_at_the_asked_width(letter: Path, chromium: str, browser: Any,
                                                          served: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    light, dark = ARTIFACTS / "email-375.png", ARTIFACTS / "email-375-dark.png"
    readers = ("--recipients", str(letter / "recipients.csv"))  # the same merge fields as the served page below
    done = _screenshot(letter, light, "--width", "375", "--chromium", chromium, *readers)
    assert done.returncode == 0, done.stderr
    assert f"wrote {light} (375x" in done.stdout
    done = _screenshot(letter, dark, "--width", "375", "--dark", *readers, env={"DIGEST_CHROMIUM": chromium})
    assert done.returncode == 0, done.stderr
    with Image.open(light) as a, Image.open(dark) as b:
        assert a.width == 375 and b.width == 375
        # full height: the email's own height at 375 px, not the 800 px window. Measured on the very page the
        # screenshot loads (reader 0's merge fields filled in: the raw build has placeholders, whose other
        # widths wrap lines differently with another machine's fonts)
        context = browser.new_context(viewport={"width": 375, "height": 800}, device_scale_factor=1)
        # only the preview's own files, remote images refused at once, as the screenshot does
        context.route("**/*", lambda route: route.continue_()
                      if route.request.url.startswith((served, "data:", "about:"))
                      else route.abort("blockedbyclient"))
        pg = context.new_page()
        pg.goto(f"{served}email.html?r=0&scheme=light", wait_until="load")
        pg.evaluate(SETTLE_JS)  # fonts ready, every image loaded or refused: as the screenshot measures
        height = pg.evaluate("Math.ceil(Math.max(document.documentElement.scrollHeight,"
                             " document.body ? document.body.scrollHeight : 0))")
        context.close()
        assert height > 800 and abs(a.height - height) <= 2, (a.height, height)
        assert ImageStat.Stat(b.convert("L")).mean[0] < ImageStat.Stat(a.convert("L")).mean[0] - 60


def test_screenshot_width_is_exact_on_a_wide_screen(letter: Path, chromium: str) -> None:
    out = ARTIFACTS / "email-1024.png"
    ARTIFACTS.mkdir(exist_ok=True)
    done = _screenshot(letter, out, "--width", "1024", "--chromium", chromium)
    assert done.returncode == 0, done.stderr
    with Image.open(out) as im:
        assert im.width == 1024


def test_the_screenshot_waits_for_every_image_even_a_lazy_one_below_the_fold(tmp_path: Path, browser: Any) -> None:
    Image.new("RGB", (120, 80), (40, 90, 160)).save(tmp_path / "pic.png")
    (tmp_path / "page.html").write_text(
        '<!doctype html><html><body><div style="height:3000px">tall</div>'
        '<img id="late" loading="lazy" src="pic.png" alt=""></body></html>', encoding="utf-8")
    context = browser.new_context(viewport={"width": 375, "height": 800})
    pg = context.new_page()
    pg.goto((tmp_path / "page.html").as_uri(), wait_until="load")
    pg.evaluate(SETTLE_JS)
    loaded = pg.evaluate("[document.getElementById('late').complete, document.getElementById('late').naturalWidth]")
    context.close()
    assert loaded == [True, 120]
