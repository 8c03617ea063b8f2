"""``digest build DIR``: from issue.toml and the cached articles to ``DIR/build/``.

Writes email.html (CSS inlined once), email.txt, web.html, message.eml (a complete sample message),
draft.json (what ``send`` personalises) and warnings.json (this build's warnings, read by ``digest check``
when the build is current). Problems that don't stop the issue (a duplicate story, a
shortened teaser, an image without alt text, an unreadable article) come back as warnings naming the
article; an unreadable article is skipped, never a traceback.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from .. import merge
from ..config import CONFIG_NAME, load_settings
from ..errors import DigestError, SourceError
from ..model import Article
from . import issue_file as issue_mod
from .freshness import OUTPUTS, WARNINGS_NAME, needs_build
from .images import resolve_image
from .inline import inline_css
from .message import load_draft, make_draft, sample_message
from .render import (
    Issue,
    Item,
    Rendered,
    group_sections,
    https_image,
    make_env,
    make_item,
    render_issue,
    utm_for,
    view_in_browser_url,
)


@dataclass
class BuildResult:
    paths: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    issue: Issue | None = None


def _label(entry: issue_mod.Entry, article: Article | None = None) -> str:
    title = entry.overrides.get("title") or (article.title if article else "")
    return f"article {entry.index} ({title})" if title else f"article {entry.index} ({entry.source})"


TEASER_CACHE = "teasers.json"
KEY_DRAWS = 8  # a fresh key collides with content only when content copied it: one redraw is plenty


@lru_cache(maxsize=1)
def _condenser_fingerprint() -> str:
    """A hash of the condense package's source: a change to any rule invalidates every cached teaser."""
    from .. import condense

    digest = hashlib.sha1()
    for path in sorted(Path(condense.__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


class TeaserCache:
    """Teasers of unchanged articles, kept in ``DIR/.cache/teasers.json`` so a rebuild skips condensing.

    The key covers everything a teaser depends on: the article as extracted, the budget and the condenser's
    source; an entry not used by this build is dropped when the cache is saved.
    """

    def __init__(self, directory: Path) -> None:
        self.path = directory / issue_mod.CACHE_DIR / TEASER_CACHE
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self.old: dict[str, list[Any]] = data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            self.old = {}
        self.new: dict[str, list[Any]] = {}

    @staticmethod
    def key(article: Article, max_chars: int) -> str:
        raw = json.dumps(article.to_dict(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha1(f"{_condenser_fingerprint()}\0{max_chars}\0{raw}".encode()).hexdigest()

    def get(self, key: str) -> tuple[str, bool] | None:
        hit = self.old.get(key)
        if isinstance(hit, list) and len(hit) == 2 and isinstance(hit[0], str):
            self.new[key] = hit
            return hit[0], bool(hit[1])
        return None

    def put(self, key: str, text: str, shortened: bool) -> None:
        self.new[key] = [text, shortened]

    def save(self) -> None:
        if self.new != self.old:
            issue_mod._atomic_write(self.path, json.dumps(self.new, ensure_ascii=False))


def _teaser(article: Article, entry: issue_mod.Entry, max_chars: int,
            cache: TeaserCache | None = None) -> tuple[str, bool, str | None]:
    """The teaser text, whether it was shortened, and a warning when condensing failed."""
    if entry.overrides.get("teaser"):
        return entry.overrides["teaser"], False, None
    if article.teaser_override:
        return article.teaser_override, False, None
    key = TeaserCache.key(article, max_chars) if cache is not None else ""
    if cache is not None and (hit := cache.get(key)) is not None:
        return hit[0], hit[1], None
    try:
        from ..condense import make_teaser

        t = make_teaser(article, max_chars=max_chars)
        if cache is not None:
            cache.put(key, t.text, t.shortened)
        return t.text, t.shortened, None
    except Exception as exc:  # noqa: BLE001 - a teaser failure must not sink the issue
        fallback = (article.description or "").strip()
        return fallback, False, f"could not condense ({type(exc).__name__}: {exc}); used the description"


def _duplicates(items: list[Item], articles: list[Article]) -> list[str]:
    try:
        from ..condense import find_duplicates
    except ImportError:
        return []
    pairs = [(item.title, art.text or item.teaser) for item, art in zip(items, articles, strict=True)]
    try:
        found = find_duplicates(pairs)
    except Exception as exc:  # noqa: BLE001
        return [f"duplicate check failed: {type(exc).__name__}: {exc}"]
    return [f"articles {i + 1} ({items[i].title}) and {j + 1} ({items[j].title}) seem to tell the same story "
            f"(similarity {score:.2f})" for i, j, score in found]


def _draw_key(issue: Issue, settings: Any, env: Any, content: str) -> tuple[str, Rendered, str]:
    """A merge key no content holds, and the issue rendered (and its HTML inlined) with it.

    A fresh random key is rejected when the issue's data holds it. After rendering, the key must occur in
    the inlined HTML, the text and the subject exactly as often as the templates wrote a token: content
    that spells the key some other way (an entity the inliner decodes, Markdown escapes) adds occurrences.
    When the counts differ because a template wrote one token twice (the subject in <title> and <h1>), a
    render with a second key tells the cases apart: swapping the keys must give the same bytes.
    """

    def render(key: str) -> tuple[Rendered, str, tuple[str, str, str]]:
        rendered = render_issue(issue, settings, env, key=key)
        html = inline_css(rendered.html)
        return rendered, html, (html, rendered.text, rendered.subject)

    for _ in range(KEY_DRAWS):
        key = merge.new_key()
        if key in content:  # content holds this key's placeholders: they must never be ours
            continue
        rendered, html, parts = render(key)
        if all(part.count(key) == rendered.written[name] for part, name in zip(parts, ("html", "text", "subject"),
                                                                                strict=True)):
            return key, rendered, html
        other = merge.new_key()
        if other in content:
            continue
        _, _, other_parts = render(other)
        if all(a.replace(key, other) == b for a, b in zip(parts, other_parts, strict=True)):
            return key, rendered, html
    raise DigestError("could not draw a merge key that no article text holds", "build again")


def build_issue(directory: Path | str) -> BuildResult:
    """Render ``DIR/build/`` from ``DIR/issue.toml``; returns the files written and the warnings."""
    directory = Path(directory).resolve()
    settings = load_settings(directory)
    issue_data = issue_mod.read_issue(directory)
    result = BuildResult()
    if not issue_data.subject:
        raise DigestError(f"{directory / issue_mod.ISSUE_NAME}: subject is empty", "set subject = \"...\"")
    out = directory / "build"
    staging = Path(tempfile.mkdtemp(prefix=".build-", dir=directory))  # concurrent builds never collide
    try:
        max_chars = int(settings["teaser"].get("max_chars") or 300)
        utm = utm_for(settings, issue_data.slug)
        images_base = str(settings.newsletter.get("images_base_url") or "")
        placed: list[tuple[str | None, Item]] = []
        kept_articles: list[Article] = []
        teasers = TeaserCache(directory)
        for entry in issue_data.entries:
            try:
                article = issue_mod.load_entry(directory, entry)
            except SourceError as exc:
                result.warnings.append(f"{_label(entry)} skipped: {exc.message}")
                continue
            except Exception as exc:  # noqa: BLE001 - one broken article never stops the issue
                result.warnings.append(f"{_label(entry)} skipped: {type(exc).__name__}: {exc}")
                continue
            label = _label(entry, article)
            teaser, shortened, problem = _teaser(article, entry, max_chars, teasers)
            if problem:
                result.warnings.append(f"{label}: {problem}")
            if shortened:
                result.warnings.append(f"{label}: teaser shortened to fit {max_chars} characters")
            image_value = entry.overrides.get("image") or article.image
            base = None
            if not entry.overrides.get("image") and article.source and not issue_mod.is_url(article.source):
                base = Path(article.source).parent
            remote = issue_mod.is_url(article.source or "") or issue_mod.is_url(entry.feed or "")
            if (not entry.overrides.get("image") and remote and image_value
                    and not issue_mod.is_url(str(image_value))):
                # A page or feed on the web names the image: never a file on this machine.
                result.warnings.append(f"{_label(entry, article)}: image {str(image_value)[:80]!r} from "
                                       f"{article.source} is not an http(s) URL: left out (a remote source "
                                       "cannot name a local file)")
                image_value = None
            image_value, upgraded = https_image(image_value)
            if upgraded:
                result.warnings.append(f"{label}: {upgraded}")
            image, why = resolve_image(image_value, base=base or directory, build_dir=staging,
                                       images_base_url=images_base)
            if why:
                result.warnings.append(f"{label}: {why}")
            item = make_item(article, teaser, entry.overrides, image=image, utm=utm)
            if item.image and not item.image_alt:
                result.warnings.append(f"{label}: image has no alt text (set image_alt in issue.toml)")
            if not item.url:
                result.warnings.append(f"{label}: no http(s) link; the title is shown without one")
            placed.append((entry.section, item))
            kept_articles.append(article)

        if not placed:
            result.warnings.append("the issue has no readable articles")
        if not issue_data.preheader:
            result.warnings.append("no preheader: inbox previews will show the start of the email instead "
                                   "(set preheader in issue.toml)")
        result.warnings += _duplicates([item for _, item in placed], kept_articles)
        if not settings.newsletter.get("from_email"):
            result.warnings.append("newsletter.from_email is not set in digest.toml: message.eml uses an example "
                                   "sender and send will refuse")
        if not (settings["unsubscribe"].get("url") or settings["unsubscribe"].get("mailto")):
            result.warnings.append("no unsubscribe method: set unsubscribe.url or unsubscribe.mailto in digest.toml")
        defaults = {str(k) for k, v in (settings["merge"] or {}).items() if str(v or "").strip()}
        for name in sorted(merge.field_refs(issue_data.subject) | merge.field_refs(issue_data.intro)):
            if name not in defaults:
                result.warnings.append(f"{{{name}}} in the subject or intro has no default in [merge] of "
                                       "digest.toml: a recipient without a value gets nothing there")
        if not settings.newsletter.get("postal_address"):
            result.warnings.append("newsletter.postal_address is not set in digest.toml (required by CAN-SPAM)")

        issue = Issue(subject=issue_data.subject, preheader=issue_data.preheader, intro=issue_data.intro,
                      date=issue_data.date, slug=issue_data.slug,
                      sections=group_sections(issue_data.sections, placed))
        result.issue = issue
        env = make_env(settings)
        content = json.dumps([asdict(issue), settings.data], ensure_ascii=False, default=str)
        key, rendered, html = _draw_key(issue, settings, env, content)
        draft = make_draft(subject=rendered.subject, preheader=issue.preheader, html=html, text=rendered.text,
                           slug=issue.slug, settings=settings, merge_defaults=rendered.merge_defaults,
                           web_url=view_in_browser_url(settings, issue.slug), merge_key=key)
        (staging / "email.html").write_text(html, encoding="utf-8")
        (staging / "email.txt").write_text(rendered.text, encoding="utf-8")
        (staging / "web.html").write_text(rendered.web, encoding="utf-8")
        (staging / "message.eml").write_bytes(sample_message(draft).as_bytes())
        (staging / "draft.json").write_text(draft.to_json(), encoding="utf-8")
        (staging / WARNINGS_NAME).write_text(json.dumps(result.warnings, ensure_ascii=False, indent=1),
                                             encoding="utf-8")
        _replace_outputs(staging, out)
        teasers.save()
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    result.paths = [out / name for name in OUTPUTS]
    if (out / "images").is_dir():
        result.paths.append(out / "images")
    return result


def _replace_outputs(staging: Path, out: Path) -> None:
    """Move the new files into build/, leaving anything else there (archive, outbox...) alone."""
    out.mkdir(parents=True, exist_ok=True)
    for name in OUTPUTS:
        os.replace(staging / name, out / name)
    if (staging / "images").is_dir():
        shutil.rmtree(out / "images", ignore_errors=True)
        shutil.move(str(staging / "images"), out / "images")
    elif (out / "images").is_dir():
        shutil.rmtree(out / "images")
    shutil.rmtree(staging, ignore_errors=True)


def load_warnings(directory: Path | str) -> list[str]:
    """The warnings of the build in ``DIR/build/`` (empty for a build made before they were kept)."""
    try:
        data = json.loads((Path(directory) / "build" / WARNINGS_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [str(w) for w in data] if isinstance(data, list) else []


def describe(result: BuildResult) -> dict[str, Any]:
    """A JSON-friendly summary of a build (for scripts)."""
    return {"paths": [str(p) for p in result.paths], "warnings": result.warnings}


__all__ = ["CONFIG_NAME", "BuildResult", "build_issue", "load_draft", "needs_build"]
