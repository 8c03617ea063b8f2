"""Inline the email's CSS with premailer, once per issue.

premailer is run with ``allow_network=False`` (by default it fetches remote stylesheets), keeps classes and
``<style>`` blocks (the responsive and dark-mode rules can't be inlined and need their classes), and never
touches the ``<style data-premailer="ignore">`` block: premailer crashes on some nested @media rules and
its ``strip_important`` would drop the ``!important`` that dark-mode rules need to beat inline styles.
URLs are never rewritten (no ``base_url``), so merge tokens in hrefs survive byte for byte.
"""

from __future__ import annotations

import logging
import re

import cssutils
from premailer import Premailer

from ..errors import DigestError

_DOCTYPE = "<!DOCTYPE html>"

# cssutils reports every property it doesn't know (mso-*, -webkit-*) at WARNING/ERROR: keep it quiet.
cssutils.log.setLevel(logging.CRITICAL)
logging.getLogger("cssutils").setLevel(logging.CRITICAL)


def inline_css(html: str) -> str:
    """The email HTML with its CSS inlined; the ignore block and conditional comments left as written."""
    try:
        out = Premailer(
            html,
            allow_network=False,
            allow_loading_external_files=False,
            disable_link_rewrites=True,
            keep_style_tags=False,
            remove_classes=False,
            strip_important=False,
            disable_validation=True,
            disable_basic_attributes=["width", "height"],  # keep the template's own pixel sizes
            cssutils_logging_level=logging.CRITICAL,
            exclude_pseudoclasses=True,
            include_star_selectors=False,
            align_floating_images=False,
            cache_css_parsing=False,
        ).transform(pretty_print=False)
    except Exception as exc:  # noqa: BLE001 - premailer raises many kinds; the user needs one line
        raise DigestError(f"CSS inlining failed: {type(exc).__name__}: {exc}",
                          "check the <style> blocks of your templates") from None
    return tidy(out)


def tidy(html: str) -> str:
    """Keep the HTML5 doctype whatever premailer's serialiser wrote, and end with one newline."""
    html = re.sub(r"^\s*<!DOCTYPE[^>]*>", "", html, count=1, flags=re.IGNORECASE).strip()
    return f"{_DOCTYPE}\n{html}\n"
