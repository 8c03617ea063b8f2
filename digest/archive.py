"""The newsletter's web archive: a static site of the published issues.

``build_archive(root, out)`` reads every issue folder below ``root`` (a folder with ``issue.toml``), keeps the
published ones (``publish = true`` in issue.toml, or a send of it that completed), and writes::

    SITE/index.html            newest first: date, subject, preheader
    SITE/{slug}/index.html     the issue's web version (merge fields show their defaults)
    SITE/{slug}/images/...     the local images the web version uses
    SITE/feed.xml              an Atom feed of the issues

Every link inside the site is relative, so it works from any static host or straight from the file
system. The web version never carries a recipient's data or unsubscribe token: it is rendered with the
merge defaults, and any leftover merge token is refused.
"""

from __future__ import annotations

import datetime as _dt
import re
import shutil
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from . import merge
from .compose.links import safe_url
from .config import Settings
from .errors import DigestError, UsageError

ATOM = "http://www.w3.org/2005/Atom"
_SRC = re.compile(r"""(\s(?:src|href)=)(["'])([^"']*)\2""", re.IGNORECASE)


@dataclass
class ArchivedIssue:
    slug: str
    subject: str
    preheader: str
    date: str
    dir: Path


@dataclass
class ArchiveResult:
    out: Path
    issues: list[ArchivedIssue] = field(default_factory=list)
    drafts: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _is_inside(child: Path, parent: Path) -> bool:
    try:
        child.resolve().relative_to(parent.resolve())
    except ValueError:
        return False
    return True


def send_completed(directory: Path) -> bool:
    """True when the issue's send journal shows a completed send (nobody pending, inflight or unknown)."""
    try:
        from .deliver.journal import send_completed as completed
    except ImportError:
        return False
    try:
        return bool(completed(directory))
    except Exception:  # noqa: BLE001 - a journal we cannot read is not a completed send
        return False


def _copy_local_assets(page: str, build_dir: Path, dest: Path) -> str:
    """Copy images the page references by a relative path into ``dest``, keeping links relative."""

    def repl(m: re.Match[str]) -> str:
        attr, quote, url = m.groups()
        parts = urlsplit(url)
        if parts.scheme or parts.netloc or url.startswith(("#", "/", "mailto:", "data:")) or not url:
            return m.group(0)
        src = (build_dir / parts.path).resolve()
        if src.is_file() and _is_inside(src, build_dir):
            target = dest / parts.path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
        return m.group(0)

    return _SRC.sub(repl, page)


def _atom(result: ArchiveResult, title: str, base_url: str, author: str = "") -> bytes:
    """The Atom feed: feed-level ``author`` (RFC 4287 requires one for entries without their own) and a
    ``rel="self"`` link (absolute with ``archive_base_url``, else relative to the feed's own folder)."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    ET.SubElement(feed, f"{{{ATOM}}}title").text = title
    site_id = base_url.rstrip("/") + "/" if base_url else "urn:digest:archive:" + re.sub(r"\W+", "-", title.lower())
    ET.SubElement(feed, f"{{{ATOM}}}id").text = site_id
    home = base_url.rstrip("/") + "/" if base_url else "index.html"
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="alternate", type="text/html", href=home)
    self_href = urljoin(base_url.rstrip("/") + "/", "feed.xml") if base_url else "feed.xml"
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="self", type="application/atom+xml", href=self_href)
    ET.SubElement(ET.SubElement(feed, f"{{{ATOM}}}author"), f"{{{ATOM}}}name").text = author or title or "digest"
    newest = max((i.date for i in result.issues), default="") or _dt.date.today().isoformat()
    ET.SubElement(feed, f"{{{ATOM}}}updated").text = _rfc3339(newest)
    for issue in result.issues:
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        ET.SubElement(entry, f"{{{ATOM}}}title").text = issue.subject
        link = urljoin(base_url.rstrip("/") + "/", f"{issue.slug}/") if base_url else f"{issue.slug}/index.html"
        ET.SubElement(entry, f"{{{ATOM}}}link", rel="alternate", href=link)
        ET.SubElement(entry, f"{{{ATOM}}}id").text = link if base_url else f"{site_id}:{issue.slug}"
        ET.SubElement(entry, f"{{{ATOM}}}updated").text = _rfc3339(issue.date)
        if issue.preheader:
            ET.SubElement(entry, f"{{{ATOM}}}summary").text = issue.preheader
    ET.indent(feed)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def _rfc3339(date: str) -> str:
    try:
        d = _dt.date.fromisoformat(date[:10])
    except ValueError:
        d = _dt.date.today()
    return f"{d.isoformat()}T00:00:00Z"


def _index_html(result: ArchiveResult, settings: Settings) -> str:
    """The index page, rendered from the theme's archive.html (a user's templates/archive.html wins)."""
    from .compose.render import display_date, make_env, text_direction, theme_colors

    nl = settings.newsletter
    lang = str(nl.get("language") or "en")
    subscribe = str(nl.get("subscribe_url") or "").strip()
    issues = [{"slug": i.slug, "subject": i.subject, "preheader": i.preheader, "date": i.date,
               "date_display": display_date(i.date) if i.date else "", "href": f"{i.slug}/index.html"}
              for i in result.issues]
    name = str(nl.get("name") or "")
    ctx = {
        "name": name,
        "lang": lang,
        "dir": text_direction(lang),
        "colors": theme_colors(str(nl.get("brand_color") or "")),
        "issues": issues,
        "feed_href": "feed.xml",
        "subscribe_url": safe_url(subscribe) if subscribe.lower().startswith(("https://", "http://")) else None,
        "description": f"Every published issue of {name}, newest first." if name else "Every published issue.",
        "newsletter": nl,
    }
    return make_env(settings).get_template("archive.html").render(ctx)


def build_archive(root: Path, out: Path | None = None) -> ArchiveResult:
    """Write the static site for the published issues below ``root`` into ``out`` (default: ROOT's sibling 'site')."""
    from .compose.build import build_issue, needs_build
    from .compose.issue_file import find_issue_dirs, read_issue
    from .compose.message import load_draft
    from .config import load_settings

    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"{root}: not a folder of issues")
    out = Path(out) if out is not None else root.resolve().parent / "site"
    if _is_inside(out, root):
        raise UsageError(f"{out} is inside {root}", "write the site outside the issues folder (--out)")
    result = ArchiveResult(out=out)
    settings = load_settings(root)
    defaults = {str(k): str(v) for k, v in (settings["merge"] or {}).items()}
    slugs: set[str] = set()
    for directory in find_issue_dirs(root):
        issue = read_issue(directory)
        if not (issue.publish or send_completed(directory)):
            result.drafts.append(issue.slug)
            continue
        if issue.slug in slugs:
            result.warnings.append(f"{directory}: slug {issue.slug!r} is used twice; skipped")
            continue
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", issue.slug):
            result.warnings.append(f"{directory}: slug {issue.slug!r} is not a safe folder name; skipped")
            continue
        slugs.add(issue.slug)
        if needs_build(directory):
            build = build_issue(directory)
            result.warnings.extend(f"{issue.slug}: {w}" for w in build.warnings)
        subject = merge.fill_fields(issue.subject, lambda name: defaults.get(name, ""))  # {first_name} → default
        result.issues.append(ArchivedIssue(issue.slug, subject, issue.preheader, issue.date, directory))
    result.issues.sort(key=lambda i: (i.date, i.slug), reverse=True)

    out.mkdir(parents=True, exist_ok=True)
    for issue in result.issues:
        build_dir = issue.dir / "build"
        page = (build_dir / "web.html").read_text(encoding="utf-8")
        if merge.tokens_in(page, load_draft(issue.dir).merge_key):  # the build's own; content may hold others
            raise DigestError(f"{build_dir / 'web.html'} still holds merge tokens; refusing to publish it")
        dest = out / issue.slug
        dest.mkdir(parents=True, exist_ok=True)
        page = _copy_local_assets(page, build_dir, dest)
        (dest / "index.html").write_text(page, encoding="utf-8")
    title = settings.newsletter["name"]
    (out / "index.html").write_text(_index_html(result, settings), encoding="utf-8")
    (out / "feed.xml").write_bytes(_atom(result, title, settings.newsletter.get("archive_base_url") or "",
                                         author=settings.from_name or title))
    return result
