"""Watch what an issue is built from and rebuild once per change.

The inputs are issue.toml, the local article files (and feeds, images) it names, digest.toml (the one
found for the issue, or a new one created in the issue folder) and the templates: the user's
``templates/`` beside digest.toml and the built-in theme. Everything else is ignored, above all the
build's own output (``build/``), the article cache (``.cache/``) and the send journal, so a build never
triggers itself.

``watchfiles`` (Rust ``notify``) reports file events. Events are only a hint: a rebuild happens when the
*content* of an input differs from what the last build read (a fingerprint of hashes), so saving without
a change, ``touch``, or an editor writing a file in several steps gives no reload or exactly one.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..config import CONFIG_NAME, find_config
from ..folder import IssueFolder

log = logging.getLogger(__name__)
# watchfiles logs every idle poll at DEBUG: keep --debug readable.
logging.getLogger("watchfiles").setLevel(logging.WARNING)

_IGNORED_SUFFIXES = (".swp", ".swx", ".swo", "~", ".tmp", ".part", ".crdownload")


def _ignored_name(name: str) -> bool:
    return name.startswith((".#", "#")) or name.endswith(_IGNORED_SUFFIXES) or name.startswith(".")


@dataclass(frozen=True)
class WatchSet:
    """The inputs of one issue: single ``files`` and whole ``trees`` (template folders)."""

    files: frozenset[Path]
    trees: frozenset[Path]

    def wants(self, path: Path) -> bool:
        """Whether a change at ``path`` may change the build."""
        if path in self.files or path in self.trees:
            return True
        if _ignored_name(path.name):
            return False
        return any(path.is_relative_to(tree) for tree in self.trees)

    def flat_dirs(self) -> set[Path]:
        """Folders holding single inputs: watched without their subfolders."""
        return {f.parent for f in self.files if f.parent.is_dir()} | {t.parent for t in self.trees if t.parent.is_dir()}

    def tree_dirs(self) -> set[Path]:
        return {t for t in self.trees if t.is_dir()}


def builtin_theme() -> Path | None:
    """The folder of the default theme (package ``digest.theme``), when it is a real folder."""
    try:
        root = resources.files("digest.theme")
    except (ModuleNotFoundError, TypeError):
        return None
    path = Path(str(root))
    return path.resolve() if path.is_dir() else None


def _local(source: str | None, base: Path) -> Path | None:
    if not source or source == "-" or source.lower().startswith(("http://", "https://")):
        return None
    path = Path(source).expanduser()
    return (path if path.is_absolute() else base / path).resolve()


def inputs(directory: Path) -> WatchSet:
    """Every file and folder the build of ``directory`` reads (best effort when issue.toml is broken)."""
    directory = Path(directory).resolve()
    files: set[Path] = {IssueFolder(directory).issue_file, directory / CONFIG_NAME}
    trees: set[Path] = set()
    from ..compose.issue_file import read_issue

    try:
        issue = read_issue(directory)
        for entry in issue.entries:
            for candidate in (entry.feed or entry.source, entry.overrides.get("image")):
                path = _local(candidate, directory)
                if path is not None:
                    files.add(path)
    except Exception as exc:  # noqa: BLE001 - a broken issue.toml is still watched, so its fix rebuilds
        log.debug("watch: issue.toml unreadable: %s", exc)
    config = find_config(directory)
    root = config.parent if config else directory
    if config:
        files.add(config.resolve())
    trees.add((root / "templates").resolve())
    theme = builtin_theme()
    if theme is not None:
        trees.add(theme)
    return WatchSet(frozenset(files), frozenset(trees))


def _digest(path: Path) -> str:
    try:
        return hashlib.sha1(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def fingerprint(ws: WatchSet) -> dict[str, str]:
    """Path → content hash of every input ("" for a missing file)."""
    out = {str(p): _digest(p) for p in ws.files}
    for tree in ws.trees:
        if not tree.is_dir():
            continue
        for path in tree.rglob("*"):
            rel = path.relative_to(tree)
            if any(_ignored_name(part) or part == "__pycache__" for part in rel.parts) or not path.is_file():
                continue
            out[str(path)] = _digest(path)
    return out


class Rebuilder:
    """Runs ``build`` in one worker thread: after a quiet spell, and only when the inputs really changed.

    ``poke()`` says "something may have changed". Pokes that arrive while a build runs are coalesced
    into at most one more build, and the fingerprint taken *before* each build decides whether the next
    poke is a real change, so an edit saved during a build is never lost and never built twice.
    """

    def __init__(self, build: Callable[[], None], current: Callable[[], dict[str, str]], quiet: float = 0.12,
                 poll: float | None = 3.0) -> None:
        self._build = build
        self._poll = poll
        self._current = current
        self._quiet = quiet
        self._event = threading.Event()
        self._stop = threading.Event()
        self._last_poke = 0.0
        self._seen: dict[str, str] | None = None
        self._thread = threading.Thread(target=self._run, name="digest-rebuild", daemon=True)

    def start(self, built_from: dict[str, str] | None = None) -> None:
        self._seen = built_from
        self._thread.start()

    def poke(self) -> None:
        self._last_poke = time.monotonic()
        self._event.set()

    def stop(self) -> None:
        self._stop.set()
        self._event.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            # The fingerprint is also compared every ``poll`` seconds: a safety net for events a file
            # system never reports (network mounts) or that fell between two watch set-ups.
            self._event.wait(self._poll)
            if self._stop.is_set():
                return
            while time.monotonic() - self._last_poke < self._quiet:  # let multi-step saves finish
                time.sleep(self._quiet / 3)
            self._event.clear()
            now = self._current()
            if now == self._seen:
                continue
            self._seen = now
            try:
                self._build()
            except Exception:  # noqa: BLE001 - the build callback reports its own errors; keep watching
                log.exception("preview rebuild failed")


class Watcher:
    """Feeds file events for the inputs of ``directory`` into ``on_event`` until ``stop()``.

    The watch set is recomputed by ``refresh()`` (after each build: issue.toml may name new articles);
    when it differs the watch threads are restarted on the new folders.
    """

    def __init__(self, directory: Path, on_event: Callable[[], None]) -> None:
        self.directory = Path(directory).resolve()
        self._on_event = on_event
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._gen_stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.watchset = inputs(self.directory)

    def start(self) -> None:
        with self._lock:
            self._spawn()

    def refresh(self) -> None:
        fresh = inputs(self.directory)
        with self._lock:
            if self._stop.is_set():
                return
            if fresh.flat_dirs() == self.watchset.flat_dirs() and fresh.tree_dirs() == self.watchset.tree_dirs():
                self.watchset = fresh  # same folders: only the filter changes
                return
            self.watchset = fresh
            self._gen_stop.set()
            self._gen_stop = threading.Event()
            self._spawn()
        # A change made while the new watches were being set up sends no event: look once they are.
        timer = threading.Timer(0.3, self._on_event)
        timer.daemon = True
        timer.start()

    def stop(self) -> None:
        with self._lock:
            self._stop.set()
            self._gen_stop.set()
            threads = list(self._threads)
        for t in threads:
            t.join(timeout=3)

    def _spawn(self) -> None:
        ws = self.watchset
        stop = self._gen_stop
        groups: list[tuple[set[Path], bool]] = [(ws.flat_dirs(), False), (ws.tree_dirs(), True)]
        self._threads = [t for t in self._threads if t.is_alive()]
        for dirs, recursive in groups:
            if dirs:
                t = threading.Thread(target=self._loop, args=(sorted(dirs), recursive, stop),
                                     name="digest-watch", daemon=True)
                t.start()
                self._threads.append(t)

    def _loop(self, dirs: list[Path], recursive: bool, stop: threading.Event) -> None:
        import watchfiles

        try:
            for changes in watchfiles.watch(*dirs, recursive=recursive, stop_event=stop, debounce=400, step=40,
                                            rust_timeout=500, yield_on_timeout=False, raise_interrupt=False):
                ws = self.watchset
                if any(ws.wants(Path(p)) for _, p in changes):
                    self._on_event()
                elif any(Path(p).name in ("templates", CONFIG_NAME) for _, p in changes):
                    self.refresh()  # a templates/ folder or digest.toml appeared: watch it from now on
        except Exception as exc:  # noqa: BLE001 - a vanished folder: report and let refresh() restart
            if not stop.is_set():
                log.warning("preview: watching %s stopped: %s", ", ".join(map(str, dirs)), exc)
