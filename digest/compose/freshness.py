"""Whether an issue's build is current: the one question ``digest send`` asks before sending.

Kept apart from ``build`` so that answering it imports no renderer, inliner or extractor (a send that finds
the build current starts in a fraction of the time and memory).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from ..config import load_settings
from ..errors import DigestError
from . import issue_file as issue_mod

OUTPUTS = ("email.html", "email.txt", "web.html", "message.eml", "draft.json", "warnings.json")
WARNINGS_NAME = "warnings.json"  # the build's warnings, so `digest check` shows them when the build is current


def theme_dir() -> Path:
    """The built-in theme's folder (``templates/`` of the repository, installed as ``digest.theme``)."""
    return Path(str(files("digest.theme")))


def _inputs(directory: Path) -> list[Path]:
    settings = load_settings(directory)
    paths = [directory / issue_mod.ISSUE_NAME]
    if settings.path:
        paths.append(settings.path)
        if (settings.root / "templates").is_dir():  # type: ignore[operator]
            paths += [p for p in (settings.root / "templates").rglob("*") if p.is_file()]  # type: ignore[operator]
    paths += [p for p in theme_dir().rglob("*") if p.is_file() and p.suffix in (".html", ".txt", ".css")]
    try:
        data = issue_mod.read_issue(directory)
    except DigestError:
        return paths
    for entry in data.entries:
        for src in (entry.source, entry.feed):
            if src and not issue_mod.is_url(src) and src != "-":
                paths.append(Path(src))
        img = entry.overrides.get("image")
        if img and not issue_mod.is_url(img):
            paths.append(Path(img))
    return paths


def needs_build(directory: Path | str) -> bool:
    """True when build/ is missing, incomplete, or older than issue.toml, digest.toml, articles or templates."""
    directory = Path(directory).resolve()
    out = directory / "build"
    try:
        built = min((out / name).stat().st_mtime for name in OUTPUTS)
    except OSError:
        return True
    newest: float = 0.0
    for path in _inputs(directory):
        try:
            newest = max(newest, path.stat().st_mtime)
        except OSError:
            continue
    return newest > built


