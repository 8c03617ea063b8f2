"""The state of ``digest preview``: the last build of the issue (``Build``, made by ``build_once``), the
in-process and tool check findings shown beside it, the readers the page can show it to, and ``Preview``,
which holds all of it for the HTTP server (``server.py``) and lets its handlers wait for the next build.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import load_settings
from ..errors import DigestError
from ..folder import IssueFolder
from . import page
from .page import Reader

log = logging.getLogger(__name__)

MAX_READERS = 200


# --- the state of the preview ---------------------------------------------------------------------


@dataclass
class Build:
    """One finished build: what the page shows. ``html``/``text`` carry merge tokens (the last good ones)."""

    version: int = 0
    ok: bool = False
    draft: Any = None  # compose.message.Draft of the last good build
    subject: str = ""
    preheader: str = ""
    html: str = ""
    text: str = ""
    from_name: str = ""
    from_email: str = ""
    articles: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    tool_findings: list[dict[str, Any]] | None = None  # None: the slow checks have not finished (or are off)
    error: dict[str, Any] | None = None
    seconds: float = 0.0
    finished: float = 0.0


Builder = Callable[[Path], Build]


def build_once(directory: Path) -> Build:
    """Build the issue and gather what the page shows; raise what the build raises."""
    from ..compose.build import build_issue, load_draft
    from ..compose.issue_file import read_cache, read_issue

    t0 = time.perf_counter()
    folder = IssueFolder(directory)  # digest.toml read once per build (it may change between builds)
    result = build_issue(folder)
    draft = load_draft(folder)
    entries = read_issue(folder).entries
    articles = {e.index: read_cache(folder.path, e.cache_key) for e in entries}
    items = result.issue.items if result.issue is not None else []
    rows, general = page.panel_rows(entries, articles, items, [str(w) for w in result.warnings])
    return Build(
        ok=True,
        draft=draft,
        subject=draft.subject,
        preheader=draft.preheader,
        html=draft.html,
        text=draft.text,
        from_name=draft.from_name,
        from_email=draft.from_email,
        articles=rows,
        warnings=general,
        findings=check_findings(folder),
        seconds=time.perf_counter() - t0,
    )


def _finding(f: Any) -> dict[str, Any]:
    return {"check": str(getattr(f, "check", "")), "level": str(getattr(f, "level", "warning")),
            "message": str(getattr(f, "message", f))}


def check_findings(directory: IssueFolder | Path) -> list[dict[str, Any]]:
    """The quick, in-process ``digest check`` findings (size, images, links, sender, unsubscribe)."""
    from ..compose.check import check_issue

    try:
        report = check_issue(directory, tools=False)
    except Exception as exc:  # noqa: BLE001 - the check is advice; its failure must not break the preview
        return [{"check": "check", "level": "error", "message": f"digest check failed: {exc}"}]
    return [_finding(f) for f in report.findings if f.check != "build"]  # build warnings are shown already


TOOL_CHECKS = (("check_caniemail", "email.html"), ("check_spam", "message.eml"),
               ("check_html_validate", "email.html"))


def tool_findings(directory: Path) -> list[dict[str, Any]]:
    """``digest check``'s slow checks (caniemail, SpamAssassin, html-validate) on DIR/build/."""
    from ..compose import check

    report = check.CheckReport(Path(directory))
    for name, file in TOOL_CHECKS:
        fn = getattr(check, name, None)
        if fn is None:
            continue
        try:
            fn(IssueFolder(directory).build / file, report)
        except Exception as exc:  # noqa: BLE001 - one failing tool loses only its own findings
            report.add(name.removeprefix("check_"), "error", f"could not run: {type(exc).__name__}: {exc}")
    return [_finding(f) for f in report.findings]


class Preview:
    """The last build of one issue, the readers to show it to, and a way to wait for the next build."""

    def __init__(self, directory: Path, readers: list[Reader], defaults: dict[str, str],
                 builder: Builder = build_once, problems: list[str] | None = None) -> None:
        self.directory = Path(directory).resolve()
        self.readers = readers
        self.defaults = defaults
        self.problems = problems or []
        self._builder = builder
        self._cond = threading.Condition()
        self._build = Build()
        self.closed = False
        self.checks = False  # run the slow checks after each build (see ``Checker``)
        self.check_version = 0  # bumped when slow-check findings arrive (no reload, the panel updates)
        self.after_build: list[Callable[[Build], None]] = []

    @property
    def current(self) -> Build:
        with self._cond:
            return self._build

    def rebuild(self) -> Build:
        """Build now; a failure keeps the last good email and shows the error. Notifies every page."""
        t0 = time.perf_counter()
        try:
            new = self._builder(self.directory)
        except Exception as exc:  # noqa: BLE001 - any build failure is shown in the page, the server stays up
            info = page.error_info(exc)
            log.info("preview build failed: %s", info["message"])
            with self._cond:
                old = self._build
                new = Build(**{**old.__dict__, "ok": False, "error": info, "seconds": 0.0})
        new.seconds = new.seconds or time.perf_counter() - t0
        new.finished = time.time()
        with self._cond:
            new.version = self._build.version + 1
        for hook in self.after_build:  # before the pages hear of it: the watcher follows new inputs first
            hook(new)
        with self._cond:
            self._build = new
            self._cond.notify_all()
        return new

    def wait_newer(self, version: int, timeout: float) -> Build:
        """The current build, after waiting up to ``timeout`` s for one newer than ``version``."""
        with self._cond:
            self._cond.wait_for(lambda: self._build.version != version or self.closed, timeout)
            return self._build

    def wait_any(self, version: int, checked: int, timeout: float) -> tuple[Build, int]:
        """Like ``wait_newer``, also waking when slow-check findings arrive; returns (build, check_version)."""
        with self._cond:
            self._cond.wait_for(lambda: (self._build.version != version or self.check_version != checked
                                         or self.closed), timeout)
            return self._build, self.check_version

    def add_tool_findings(self, version: int, findings: list[dict[str, Any]]) -> bool:
        """Attach slow-check findings to build ``version``; False (dropped) when a newer build exists."""
        with self._cond:
            if self._build.version != version:
                return False
            self._build.tool_findings = findings
            self.check_version += 1
            self._cond.notify_all()
            return True

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def reader(self, index: int) -> Reader:
        return self.readers[index] if 0 <= index < len(self.readers) else self.readers[0]

    def values(self, b: Build, reader: Reader) -> dict[str, str]:
        """Token → value for ``reader`` in build ``b`` (as a send computes them)."""
        if b.draft is None:
            return {}
        return page.reader_values(b.draft, reader)

    def render(self, index: int, part: str) -> str:
        """The ``html`` or ``text`` part of the current build, filled for reader ``index``."""
        b = self.current
        key = b.draft.merge_key if b.draft else None
        if part != "html":
            return page.fill(b.text, self.values(b, self.reader(index)), key)
        doc = page.fill(b.html, self.values(b, self.reader(index)), key)
        base = (b.draft.settings_data.get("newsletter", {}).get("images_base_url") or "") if b.draft else ""
        images = IssueFolder(self.directory).build / "images"
        if base and images.is_dir():
            doc = page.local_images(doc, str(base), {p.name for p in images.iterdir() if p.is_file()})
        return doc

    def state(self, index: int) -> dict[str, Any]:
        b = self.current
        reader = self.reader(index)
        values = self.values(b, reader)
        return {
            "version": b.version,
            "ok": b.ok,
            "has_email": bool(b.html),
            "error": b.error,
            "subject": page.fill(b.subject, values, b.draft.merge_key if b.draft else None),
            "preheader": page.fill(b.preheader, values, b.draft.merge_key if b.draft else None),
            "from_name": b.from_name,
            "from_email": b.from_email,
            "articles": b.articles,
            "warnings": b.warnings,
            "findings": b.findings + (b.tool_findings or []),
            "checking": b.ok and b.tool_findings is None and self.checks,
            "problems": self.problems,
            "readers": [{"label": r.label, "email": r.email} for r in self.readers],
            "reader": self.readers.index(reader),
            "seconds": round(b.seconds, 3),
            "finished": b.finished,
            "directory": str(self.directory),
        }


# --- readers ---------------------------------------------------------------------------------------


def load_readers(directory: Path, recipients: Path | None) -> tuple[list[Reader], dict[str, str], list[str]]:
    """The selector's readers (the CSV's first ones, else examples), merge defaults, and CSV problems."""
    settings = load_settings(directory)
    defaults = settings.merge
    if recipients is None:
        return page.example_readers(defaults), defaults, []
    from ..deliver.recipients import read_recipients

    readers: list[Reader] = []
    rows, found = read_recipients(recipients)
    for rec in rows:
        f = rec.fields
        name = " ".join(v for v in (f.get("first_name"), f.get("last_name")) if v) or f.get("name") or rec.email
        readers.append(Reader(name, rec.email, dict(f)))
        if len(readers) >= MAX_READERS:
            break
    problems = [str(p) for p in found][:20]
    if not readers:
        raise DigestError(f"{recipients}: no valid recipient to preview with",
                          problems[0] if problems else "the file needs an email column and at least one row")
    return readers, defaults, problems
