"""Render an issue with Jinja2: email HTML (with merge tokens), plain text (same data), web version.

The environment autoescapes HTML templates, so article text never injects markup. Templates are looked up
first in a ``templates/`` folder beside digest.toml, then in the built-in theme (``digest.theme``); the
built-in files are also reachable as ``theme/<name>`` so that a user's ``email.html`` can
``{% extends "theme/email.html" %}`` and override one block.

Per-recipient values are never rendered per recipient: templates call ``merge(field, default)``, which
writes the placeholder token for the template's context (HTML, TEXT; ``merge(field, default, 'URL')``
inside a URL). The web version is rendered with the defaults instead, and never carries tokens.
"""

from __future__ import annotations

import datetime as _dt
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import jinja2
import jinja2.sandbox
import markdown
from markupsafe import Markup
from markupsafe import escape as markupsafe_escape

from .. import merge as merge_mod
from ..config import Settings
from ..errors import DigestError
from .freshness import theme_dir
from .images import ImageRef
from .links import add_utm, safe_url, utm_params

RTL_LANGS = {"ar", "arc", "dv", "fa", "ha", "he", "khw", "ks", "ku", "ps", "sd", "ur", "yi"}
DEFAULT_BRAND = "#1a73e8"
# The preheader is followed by this run so the inbox preview shows nothing of the body after it.
PREHEADER_PAD = Markup("&#8199;&#847;&zwnj;&nbsp;" * 90)


# --- the model -------------------------------------------------------------------------------------


@dataclass
class Item:
    """One article block: what the templates show (overrides already applied)."""

    title: str
    teaser: str
    url: str | None  # safe (http/https/mailto) with UTM when enabled; None: no link
    reading_minutes: int = 0
    image: ImageRef | None = None
    image_alt: str = ""
    site_name: str | None = None
    author: str | None = None
    source: str = ""
    lang: str | None = None  # the article's language, marked on its block when it differs from the issue's


@dataclass
class Section:
    title: str | None
    items: list[Item] = field(default_factory=list)


@dataclass
class Issue:
    """Everything the templates need for one issue."""

    subject: str
    preheader: str
    intro: str  # Markdown
    date: str
    slug: str
    sections: list[Section] = field(default_factory=list)

    @property
    def items(self) -> list[Item]:
        return [item for sec in self.sections for item in sec.items]


@dataclass
class Rendered:
    html: str  # email HTML before inlining, with merge tokens
    text: str  # plain text with merge tokens
    web: str  # web version: defaults, no tokens
    merge_defaults: dict[str, str] = field(default_factory=dict)
    written: dict[str, int] = field(default_factory=dict)  # tokens the templates wrote: html, text, subject
    subject: str = ""  # the subject for the message: its {field}s as TEXT tokens


# --- colours ---------------------------------------------------------------------------------------

_HEX = re.compile(r"^#(?:[0-9a-fA-F]{3}){1,2}$")


def _rgb(color: str) -> tuple[float, float, float]:
    h = color.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    return tuple(int(h[i:i + 2], 16) / 255 for i in (0, 2, 4))  # type: ignore[return-value]


def luminance(color: str) -> float:
    def lin(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (lin(c) for c in _rgb(color))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def readable_on(color: str, background: str, minimum: float = 4.5) -> str:
    """``color`` darkened (or lightened on a dark background) until it reaches ``minimum`` contrast."""
    r, g, b = _rgb(color)
    dark_bg = luminance(background) < 0.5
    for _ in range(40):
        hexed = "#{:02x}{:02x}{:02x}".format(*(round(c * 255) for c in (r, g, b)))
        if contrast(hexed, background) >= minimum:
            return hexed
        if dark_bg:
            r, g, b = (c + (1 - c) * 0.1 for c in (r, g, b))
        else:
            r, g, b = (c * 0.9 for c in (r, g, b))
    return "#ffffff" if dark_bg else "#000000"


DARK_CARD = "#1e1e1e"  # the card behind the text in dark mode (templates/email.html)


def _hex(rgb: tuple[float, float, float]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(round(min(1.0, max(0.0, c)) * 255) for c in rgb))


def button_on_dark(brand: str, card: str = DARK_CARD) -> tuple[str, str]:
    """Dark-mode button (background, text): the brand lightened until the button stands out from the card
    (>= 3:1, WCAG non-text contrast) and its label reads on it (>= 4.5:1, white or near-black)."""
    r, g, b = _rgb(brand)
    for _ in range(60):
        bg = _hex((r, g, b))
        text = "#ffffff" if contrast("#ffffff", bg) >= contrast("#111111", bg) else "#111111"
        if contrast(bg, card) >= 3.0 and contrast(text, bg) >= 4.5:
            return bg, text
        r, g, b = (c + (1 - c) * 0.08 for c in (r, g, b))
    return "#ffffff", "#111111"


def theme_colors(brand: str) -> dict[str, str]:
    """The palette: brand header with the better of white/near-black text, links readable on the card."""
    if not _HEX.match(brand or ""):
        brand = DEFAULT_BRAND
    header_bg = brand
    header_text = "#ffffff" if contrast("#ffffff", brand) >= contrast("#111111", brand) else "#111111"
    if contrast(header_text, brand) < 4.5:  # mid-tone brand colours: darken the header until white reads
        header_bg, header_text = readable_on(brand, "#ffffff"), "#ffffff"
    dark_button, dark_button_text = button_on_dark(brand)
    return {
        "brand": brand,
        "header_bg": header_bg,
        "header_text": header_text,
        "link": readable_on(brand, "#ffffff"),
        "button": readable_on(brand, "#ffffff"),
        "button_text": "#ffffff",
        "dark_link": readable_on(brand, DARK_CARD, 7.0),
        "dark_button": dark_button,
        "dark_button_text": dark_button_text,
        "brand_rule": readable_on(brand, "#ffffff", 3.0),  # section rule: non-text, >= 3:1
        "dark_rule": readable_on(brand, DARK_CARD, 3.0),
    }


# --- Markdown intro --------------------------------------------------------------------------------


def https_image(value: str | None) -> tuple[str | None, str | None]:
    """An ``http:`` image URL retried as ``https:`` (and a note saying so); anything else unchanged.

    Mail clients and browsers block or proxy-refuse plain-http images inside an https page, and nearly every
    image host answers on https at the same path, so the upgrade is tried before the image is dropped.
    ``digest check --links`` requests the https URL and reports it when it does not answer.
    """
    if value and value.strip()[:7].lower() == "http://":
        upgraded = "https://" + value.strip()[7:]
        return upgraded, f"image {value.strip()[:100]} is not https: using {upgraded[:100]}"
    return value, None


class _SafeLinks(markdown.treeprocessors.Treeprocessor):
    """Drop hrefs that are not http(s)/mailto; upgrade http images to https, drop other non-https ones (alt stays)."""

    def run(self, root: ET.Element) -> None:
        for parent in root.iter():
            for child in list(parent):
                if child.tag == "a":
                    href = safe_url(child.get("href"))
                    if href is None:
                        child.attrib.pop("href", None)
                        child.tag = "span"
                    else:
                        child.set("href", href)
                elif child.tag == "img":
                    src = https_image(child.get("src") or "")[0] or ""
                    child.set("src", src)
                    if not src.lower().startswith("https://") or safe_url(src) is None:
                        child.tag = "span"
                        alt = child.get("alt") or ""
                        child.attrib.clear()
                        child.text = alt
                    elif not child.get("alt"):
                        child.set("alt", "")


class _SafeMarkdown(markdown.Extension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:  # noqa: N802 - Markdown's API
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")
        md.treeprocessors.register(_SafeLinks(md), "dg_safe_links", 0)


def markdown_to_html(text: str) -> Markup:
    """Markdown → HTML where raw HTML is shown as text and only safe links/images remain."""
    if not text.strip():
        return Markup("")
    md = markdown.Markdown(extensions=[_SafeMarkdown()], output_format="html")
    return Markup(md.convert(text))


# --- merge fields written by the editor ({first_name}) in the subject and the intro --------------------

_FIELD_MARK = re.compile("\ue001([a-z][a-z0-9_]*)\ue002")  # a {field} while the intro goes through Markdown
_URL_ATTR = re.compile(r'(\s(?:href|src)=")([^"]*)(")')


def _mark_fields(text: str) -> str:
    """``{field}`` → a private-use mark that Markdown leaves alone (``{{``/``}}`` → literal braces)."""
    return merge_mod.fill_fields(text, lambda name: f"\ue001{name}\ue002")


def _fill_marks(html: str, merge: Callable[..., Any]) -> str:
    """The marks in Markdown's HTML → the template context's ``merge`` output (URL form inside href/src)."""

    def in_url(m: re.Match[str]) -> str:
        filled = _FIELD_MARK.sub(lambda f: str(markupsafe_escape(merge(f.group(1), "", "URL"))), m.group(2))
        return m.group(1) + filled + m.group(3)

    html = _URL_ATTR.sub(in_url, html)
    return _FIELD_MARK.sub(lambda f: str(markupsafe_escape(merge(f.group(1)))), html)


def fill_subject(subject: str, merge: Callable[..., Any]) -> str:
    """The subject with each ``{field}`` as the template context's ``merge`` writes it (a token, or the
    default in the web version); the template escapes the rest as usual."""
    return merge_mod.fill_fields(subject, lambda name: str(merge(name)))


@jinja2.pass_context
def _markdown_filter(context: Any, text: str) -> Markup:
    """``markdown`` in templates: the intro's ``{field}`` written as this template's merge tokens."""
    merge = context.get("merge")
    if merge is None or not merge_mod.field_refs(text):
        return markdown_to_html(text)
    return Markup(_fill_marks(str(markdown_to_html(_mark_fields(text))), merge))


@jinja2.pass_context
def _markdown_text_filter(context: Any, text: str) -> str:
    """``markdown_text`` in templates: as ``markdown``, for the plain-text part."""
    return markdown_to_text(text, context.get("merge"))


def markdown_to_text(text: str, merge: Callable[..., Any] | None = None) -> str:
    """Markdown → plain text for email.txt: the same words, links written as ``text (URL)``.

    With ``merge`` (a template's merge function), ``{field}`` in the text becomes its token.
    """
    if not text.strip():
        return ""
    import lxml.html

    if merge is not None and merge_mod.field_refs(text):
        html = _fill_marks(str(markdown_to_html(_mark_fields(text))), merge)
    else:
        html = str(markdown_to_html(text))
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    blocks: list[str] = []
    for el in root:
        for a in el.iter("a"):
            href = a.get("href")
            label = a.text_content().strip()
            if href and href != label and href.removeprefix("mailto:") != label:
                a.tail = f" ({href})" + (a.tail or "")
        if el.tag in ("ul", "ol"):
            marks = [f"{i}. " if el.tag == "ol" else "- " for i in range(1, len(el) + 1)]
            blocks.append("\n".join(hang(m, _reflow(li)) for m, li in zip(marks, el, strict=False)))
        elif el.tag == "blockquote":
            paras = [_reflow(p) for p in el] or [_reflow(el)]
            blocks.append("\n>\n".join(wrap_text(p, 70, prefix="> ") for p in paras if p))
        else:
            blocks.append(wrap_text(_reflow(el)))
    return "\n\n".join(b for b in blocks if b)


_HARD_BREAK = "\ue000"  # a private-use character marks a <br> while the text is reflowed


def _reflow(el: Any) -> str:
    """An element's text as one paragraph: the source's single line breaks join words; a Markdown hard
    break (``<br>``) stays a line break."""
    for br in el.iter("br"):
        br.tail = _HARD_BREAK + (br.tail or "")
    text = re.sub(r"\s+", " ", el.text_content().replace(_HARD_BREAK, " " + _HARD_BREAK + " "))
    return "\n".join(part.strip() for part in text.split(_HARD_BREAK)).strip()


def hang(mark: str, text: str, width: int = 72) -> str:
    """``text`` wrapped after ``mark`` (``1. ``, ``- ``), continuation lines indented under the text."""
    import textwrap

    return "\n".join(textwrap.fill(line, width=width, initial_indent=mark if i == 0 else " " * len(mark),
                                    subsequent_indent=" " * len(mark), break_long_words=False,
                                    break_on_hyphens=False)
                      for i, line in enumerate(text.split("\n")) if line.strip())


# --- environment -----------------------------------------------------------------------------------


class TemplateProblem(DigestError):
    """A template that does not parse, names something undefined, or tries what the sandbox forbids."""


def make_env(settings: Settings) -> jinja2.Environment:
    """Autoescaping environment: user templates/ beside digest.toml first, then the built-in theme.

    Templates run in Jinja2's immutable sandbox: a template (a theme override, a shared template folder) can
    read the issue's values but not reach Python internals (``cycler.__init__.__globals__``, ``__class__``,
    ...) nor mutate the context's lists and dicts."""
    builtin = jinja2.FileSystemLoader(str(theme_dir()))
    loaders: list[jinja2.BaseLoader] = []
    if settings.root is not None and (settings.root / "templates").is_dir():
        loaders.append(jinja2.FileSystemLoader(str(settings.root / "templates")))
    loaders += [builtin, jinja2.PrefixLoader({"theme": builtin})]
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "htm", "xml"), default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["safe_url"] = safe_url
    env.filters["markdown"] = _markdown_filter
    env.filters["markdown_text"] = _markdown_text_filter
    env.filters["wrap"] = wrap_text
    env.filters["hang"] = lambda text, mark, width=72: hang(str(mark), str(text), width)
    env.globals["merge"] = _merge_fn("DEFAULT", {}, settings)
    return env


def wrap_text(text: str, width: int = 72, prefix: str = "") -> str:
    """Wrap prose for the plain-text part, line by line (never breaks a URL or a long word)."""
    import textwrap

    return "\n".join(textwrap.fill(p, width=width, initial_indent=prefix, subsequent_indent=prefix,
                                   break_long_words=False, break_on_hyphens=False)
                     if p.strip() else prefix.rstrip() for p in text.split("\n"))


def _merge_fn(context: str, used: dict[str, str], settings: Settings, key: str = "",
              written: list[int] | None = None) -> Callable[..., Any]:
    """``merge(field, default, ctx=None)`` for one template: a token of build ``key``, or (DEFAULT) the
    default value. ``written[0]`` counts the tokens written (the build checks that no other text holds key)."""
    configured: dict[str, Any] = dict(settings.data.get("merge", {}))

    def merge(name: str, default: str = "", ctx: str | None = None) -> Any:
        default = str(configured.get(name) or default)
        used.setdefault(name, default)
        mode = ctx or context
        if mode == "DEFAULT":
            return default
        if context == "DEFAULT":
            return merge_mod.encode(default, "URL") if mode == "URL" else default
        tok = merge_mod.token(name, mode, key)
        if written is not None:
            written[0] += 1
        return Markup(tok) if mode in ("HTML", "URL") else tok

    return merge


def text_direction(lang: str) -> str:
    return "rtl" if lang.split("-")[0].lower() in RTL_LANGS else "ltr"


def view_in_browser_url(settings: Settings, slug: str) -> str | None:
    nl = settings.newsletter
    archive = str(nl.get("archive_base_url") or "").strip()
    if archive:
        return safe_url(f"{archive.rstrip('/')}/{slug}/")
    web = str(nl.get("web_base_url") or "").strip()
    return safe_url(web.replace("{slug}", slug)) if web else None


def display_date(value: str) -> str:
    try:
        d = _dt.date.fromisoformat(value[:10])
    except ValueError:
        return value
    return f"{d.day} {d.strftime('%B %Y')}"


TOC_MIN = 6  # an "In this issue" list of headlines from this many stories


def page_description(issue: Issue, limit: int = 200) -> str:
    """The web page's description: the preheader, else the intro's text, else the first teaser."""
    text = issue.preheader.strip()
    if not text and issue.intro.strip():
        text = re.sub(r"\s+", " ", markdown_to_text(issue.intro)).strip()
    if not text and issue.items:
        text = issue.items[0].teaser
    if len(text) > limit:
        text = text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"
    return text


def build_context(issue: Issue, settings: Settings) -> dict[str, Any]:
    nl = settings.newsletter
    lang = str(nl.get("language") or "en")
    subscribe = str(nl.get("subscribe_url") or "").strip()
    return {
        "toc_min": TOC_MIN,
        "reply_to": str(nl.get("reply_to") or nl.get("from_email") or "").strip(),
        "subscribe_url": safe_url(subscribe) if subscribe.lower().startswith(("https://", "http://")) else None,
        "page_description": page_description(issue),
        "page_image": next((i.image.src for i in issue.items if i.image and i.image.src.startswith("https://")),
                           None),
        "issue": issue,
        "newsletter": nl,
        "name": nl.get("name") or "",
        "lang": lang,
        "dir": text_direction(lang),
        "colors": theme_colors(str(nl.get("brand_color") or DEFAULT_BRAND)),
        "logo_url": safe_url(nl.get("logo_url")) if str(nl.get("logo_url") or "").startswith("https://") else None,
        "view_url": view_in_browser_url(settings, issue.slug),
        "postal_address": str(nl.get("postal_address") or "").strip(),
        "has_unsubscribe": bool(settings["unsubscribe"].get("url") or settings["unsubscribe"].get("mailto")),
        "date_display": display_date(issue.date) if issue.date else "",
        "preheader_pad": PREHEADER_PAD,
    }


def render_issue(issue: Issue, settings: Settings, env: jinja2.Environment | None = None,
                 key: str = "") -> Rendered:
    """Render email.html (tokens, HTML context), email.txt (tokens, TEXT) and web.html (defaults).

    ``key`` is the build's merge key (``merge.new_key``): every token carries it. ``Rendered.written`` says
    how many tokens each part got from the templates.
    """
    env = env or make_env(settings)
    ctx = build_context(issue, settings)
    used: dict[str, str] = {}
    in_html, in_text, in_subject = [0], [0], [0]
    shown = _merge_fn("DEFAULT", {}, settings)

    def render(name: str, merge: Callable[..., Any], web: bool) -> str:
        # The subject's {field}s as this template's merge writes them; the intro's are filled by its filter.
        page = {**ctx, "issue": replace(issue, subject=fill_subject(issue.subject, merge)),
                "subject_shown": fill_subject(issue.subject, shown)}  # as a reader with the defaults sees it
        return _render(env, name, page, merge=merge, web=web)

    html = render("email.html", _merge_fn("HTML", used, settings, key, in_html), False)
    text = render("email.txt", _merge_fn("TEXT", used, settings, key, in_text), False)
    web = render("web.html", _merge_fn("DEFAULT", {}, settings), True)
    subject = fill_subject(issue.subject, _merge_fn("TEXT", used, settings, key, in_subject))
    return Rendered(html=html, text=normalize_text(text), web=web, merge_defaults=used, subject=subject,
                    written={"html": in_html[0], "text": in_text[0], "subject": in_subject[0]})


SIGNATURE_SEPARATOR = "-- "  # RFC 3676 4.3: dash dash space, alone on its line


def _render(env: jinja2.Environment, name: str, ctx: dict[str, Any], **extra: Any) -> str:
    """``name`` rendered; a template error becomes a TemplateProblem naming the template file and line."""
    try:
        return env.get_template(name).render(ctx, **extra)
    except jinja2.TemplateSyntaxError as exc:
        where = f"{exc.filename or exc.name or name}, line {exc.lineno}"
        raise TemplateProblem(f"{where}: template syntax error: {exc.message}",
                              "fix the template (see https://jinja.palletsprojects.com/templates/)") from None
    except jinja2.TemplateNotFound as exc:
        raise TemplateProblem(f"template not found: {exc.name} (needed by {name})",
                              "add it to templates/ beside digest.toml or remove the reference") from None
    except jinja2.exceptions.SecurityError as exc:
        raise TemplateProblem(f"{_template_line(exc, name)}: refused by the template sandbox: {exc}",
                              "templates can use the issue's values and filters, not Python internals") from None
    except jinja2.TemplateError as exc:
        raise TemplateProblem(f"{_template_line(exc, name)}: template error: {exc}",
                              "fix the template, or give the value it needs") from None


def _template_line(exc: BaseException, name: str) -> str:
    """'FILE, line N' of the innermost template frame of ``exc``'s traceback (Jinja2 maps its frames to the
    template's file and line), or the template name alone."""
    where = name
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if not filename.endswith(".py") and not filename.startswith("<"):
            where = f"{filename}, line {tb.tb_lineno}"
        tb = tb.tb_next
    return where


def normalize_text(text: str) -> str:
    """Trim trailing spaces (except the signature separator's), collapse runs of blank lines, end with one
    newline."""
    lines = [line if line == SIGNATURE_SEPARATOR else line.rstrip()
             for line in text.replace("\r\n", "\n").split("\n")]
    out = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
    return out + "\n"


# --- from the issue file and articles to the model -------------------------------------------------


def make_item(article: Any, teaser: str, overrides: dict[str, str], *, image: ImageRef | None,
              utm: dict[str, str]) -> Item:
    """One Item from an Article, its teaser text and the editor's overrides (which always win)."""
    url = safe_url(overrides.get("url") or article.url)
    if url and utm:
        url = add_utm(url, utm)
    title = (overrides.get("title") or article.title or "").strip() or "(untitled)"
    alt = overrides.get("image_alt")
    if alt is None:
        alt = article.image_alt or ""
    return Item(
        title=title,
        teaser=(overrides.get("teaser") or teaser or "").strip(),
        url=url,
        reading_minutes=article.reading_minutes,
        image=image,
        image_alt=alt.strip() if image else "",
        site_name=article.site_name,
        author=article.author,
        source=article.source,
        lang=_lang_tag(article.lang),
    )


def _lang_tag(value: str | None) -> str | None:
    """A BCP 47-looking tag (``en``, ``pt-BR``) or None."""
    if value and re.fullmatch(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*", value.strip()):
        return value.strip().replace("_", "-")
    return None


def group_sections(section_titles: list[str], placed: list[tuple[str | None, Item]]) -> list[Section]:
    """Items grouped by section: unsectioned items first, then sections in the file's order.

    A section named by an article but not declared in ``[[sections]]`` is added after the declared ones.
    Empty sections are left out.
    """
    order = list(section_titles)
    for name, _ in placed:
        if name and name not in order:
            order.append(name)
    lead = Section(None, [item for name, item in placed if not name])
    sections = [Section(t, [item for name, item in placed if name == t]) for t in order]
    return [s for s in [lead, *sections] if s.items]


def utm_for(settings: Settings, slug: str) -> dict[str, str]:
    return utm_params(settings["links"], slug)
