"""``digest preview DIR --screenshot out.png``: a PNG of the email itself, as a subscriber's screen shows it.

The issue is built and served by the preview server on a free loopback port (no watcher), and headless
Chromium (driven through Playwright's Python API, with *your* Chromium: Playwright never downloads a
browser here) loads ``/email.html`` at ``width`` CSS pixels, device scale 1, light or dark. The PNG is
the whole email, top to bottom, exactly ``width`` pixels wide. Only the issue's own files load: remote
images show as their alt text (and are named), so screenshots are repeatable and offline.
"""

from __future__ import annotations

import os
import shutil
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import DigestError, UsageError

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
ENV = "DIGEST_CHROMIUM"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
]
MAX_HEIGHT = 30000  # Chromium cannot capture taller surfaces in one piece
# Resolves when the page's fonts are ready and every image has loaded or failed (at most 5 s; a lazy image loads
# now, since the capture shows the whole page): the height is read after that, so an image that is laid out a
# moment after "load" cannot change the layout between measuring and capturing.
SETTLE_JS = """() => (document.querySelectorAll('img[loading="lazy"]').forEach(img => { img.loading = "eager"; }),
Promise.race([
  new Promise(done => setTimeout(done, 5000)),
  Promise.all([
    document.fonts ? document.fonts.ready : null,
    ...Array.from(document.images).filter(img => !img.complete)
      .map(img => new Promise(done => { img.addEventListener("load", done); img.addEventListener("error", done); })),
  ]),
]).then(() => true))"""


def _executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def find_chromium(explicit: str | None = None) -> str:
    """Chromium from ``--chromium``, then ``$DIGEST_CHROMIUM``, then PATH; a clear error when none."""
    for given, where in ((explicit, "--chromium"), (os.environ.get(ENV), f"${ENV}")):
        if given:
            found = given if _executable(given) else shutil.which(given)
            if not found:
                raise UsageError(f"{where} {given}: no such executable", "give the path of a Chromium or Chrome binary")
            return found
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise DigestError(
        "no Chromium found for the screenshot (looked for " + ", ".join(CANDIDATES) + " on PATH)",
        f"install it (Debian: apt install chromium), or pass --chromium PATH, or set {ENV}",
    )


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    head = Path(path).read_bytes()[:24]
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        raise DigestError(f"{path}: not a PNG file")
    width, height = struct.unpack(">II", head[16:24])
    return width, height


@dataclass
class Shot:
    """A written screenshot: its size in pixels and the remote resources that were not loaded."""

    width: int
    height: int
    blocked: list[str] = field(default_factory=list)


def capture(url: str, out: Path, *, width: int = 375, dark: bool = False, chromium: str) -> Shot:
    """Load ``url`` in headless Chromium at ``width`` px and save the whole page as PNG ``out``.

    Only ``url``'s own origin and ``data:`` URLs load: remote images and fonts are refused (listed in
    ``Shot.blocked``), so a screenshot is the same on every machine and never reaches the network.
    """
    origin = "{0.scheme}://{0.netloc}/".format(urlsplit(url))
    blocked: list[str] = []

    def gate(route: Any) -> None:
        target = route.request.url
        if target.startswith((origin, "data:", "blob:", "about:")):
            route.continue_()
        else:
            blocked.append(target)
            route.abort("blockedbyclient")

    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise DigestError("screenshots need the playwright Python package",
                          "pip install 'digest-newsletter[screenshot]' (it drives your Chromium; nothing is "
                          "downloaded)") from None
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True, args=LAUNCH_ARGS, timeout=60_000)
            try:
                context = browser.new_context(viewport={"width": width, "height": 800}, device_scale_factor=1,
                                              color_scheme="dark" if dark else "light")
                context.route("**/*", gate)
                page = context.new_page()
                page.goto(url, wait_until="load", timeout=60_000)
                page.evaluate(SETTLE_JS)
                height = int(page.evaluate(
                    "Math.ceil(Math.max(document.documentElement.scrollHeight,"
                    " document.body ? document.body.scrollHeight : 0))"))
                height = max(1, min(height, MAX_HEIGHT))
                page.set_viewport_size({"width": width, "height": height})
                page.screenshot(path=str(out), full_page=True, type="png",
                                clip={"x": 0, "y": 0, "width": width, "height": height})
            finally:
                browser.close()
    except PlaywrightError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DigestError(f"Chromium ({chromium}) failed: {first}",
                          "check that it starts headless, or pass another with --chromium PATH") from None
    return Shot(*png_size(out), blocked=blocked)


def screenshot_issue(directory: Path, out: Path, *, width: int = 375, dark: bool = False,
                     chromium: str | None = None, recipients: Path | None = None) -> Shot:
    """Build the issue, then write a PNG of its email (first recipient, or example values) to ``out``."""
    from .server import start

    out = Path(out)
    if not out.parent.is_dir():
        raise UsageError(f"{out.parent}: no such folder for the screenshot")
    if not 200 <= width <= 4000:
        raise UsageError(f"--width {width}: choose between 200 and 4000 pixels")
    browser = find_chromium(chromium)
    running = start(directory, port=0, recipients=recipients, watch=False, checks=False)
    try:
        b = running.preview.current
        if not b.ok:
            err = b.error or {}
            line = f" line {err['line']}" if err.get("line") else ""
            where = f" ({err['file']}{line})" if err.get("file") else ""
            raise DigestError(f"the issue does not build: {err.get('message', '?')}{where}")
        scheme = "dark" if dark else "light"
        return capture(f"{running.url}email.html?r=0&scheme={scheme}", out, width=width, dark=dark, chromium=browser)
    finally:
        running.stop()
