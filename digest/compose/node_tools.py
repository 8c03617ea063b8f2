"""The Node tools ``digest check`` runs (caniemail's doiuse-email, html-validate), found or fetched.

They run wherever Node >= 18 is on PATH. Looked for, in order: ``$DIGEST_NODE_MODULES``, ``./node_modules``,
a source checkout's ``node_modules``, then the user cache (``$DIGEST_TOOLS_DIR``, else the platform cache
folder: ``$XDG_CACHE_HOME/digest`` or ``~/.cache/digest``, ``~/Library/Caches/digest``,
``%LOCALAPPDATA%\\digest``). When none has them, npm fetches them into the user cache at the versions pinned
here (the same as package.json) on first use, or ahead of time with ``digest check --install-tools``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..errors import DigestError
from ..paths import cache_home

# Kept equal to package.json's devDependencies (a test compares them).
PINNED: dict[str, str] = {"doiuse-email": "0.4.1", "html-validate": "10.9.0"}
SCRIPTS: dict[str, tuple[str, ...]] = {
    "doiuse-email": ("bin/cli.js",),
    "html-validate": ("bin/html-validate.mjs", "bin/html-validate.js"),
}
MIN_NODE = 18
HOW_TO_ADD = (f"install Node {MIN_NODE} or later (https://nodejs.org), then run `digest check --install-tools` "
              "(or let the next `digest check` fetch them)")


class ToolMissing(Exception):
    """A Node tool cannot run here; ``reason`` is short ("no Node"), ``detail`` says what happened."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class NodeTool:
    node: str
    script: Path

    def argv(self, *args: str) -> list[str]:
        return [self.node, str(self.script), *args]


def user_cache() -> Path:
    """Where fetched tools live (``DIGEST_TOOLS_DIR`` wins)."""
    if os.environ.get("DIGEST_TOOLS_DIR"):
        return Path(os.environ["DIGEST_TOOLS_DIR"])
    return cache_home()


def cache_modules() -> Path:
    """The node_modules folder of the pinned versions inside the user cache."""
    label = "+".join(f"{name}-{version}" for name, version in sorted(PINNED.items()))
    return user_cache() / "node-tools" / label / "node_modules"


def search_path() -> list[Path]:
    env = os.environ.get("DIGEST_NODE_MODULES")
    cands = [Path(env)] if env else []
    cands += [Path.cwd() / "node_modules", Path(__file__).resolve().parents[2] / "node_modules", cache_modules()]
    return [c for c in cands if c.is_dir()]


def find_script(package: str) -> Path | None:
    for base in search_path():
        for rel in SCRIPTS[package]:
            if (base / package / rel).is_file():
                return base / package / rel
    return None


@lru_cache(maxsize=8)
def _node_version(node: str) -> int | None:
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.match(r"v?(\d+)\.", out.strip())
    return int(m.group(1)) if m else None


def find_node() -> str:
    """The ``node`` on PATH when it is recent enough; else ToolMissing."""
    node = shutil.which("node")
    if node is None:
        raise ToolMissing("no Node", f"node is not on PATH: {HOW_TO_ADD}")
    major = _node_version(node)
    if major is None or major < MIN_NODE:
        found = f"Node {major}" if major else "an unreadable node --version"
        raise ToolMissing(f"Node older than {MIN_NODE}", f"{node} is {found}: {HOW_TO_ADD}")
    return node


def install(notify: Callable[[str], None] | None = None) -> Path:
    """Fetch the pinned tools with npm into the user cache (atomic: a second digest never sees half a tree).

    Returns the node_modules folder; raises ToolMissing when npm is missing or fails.
    """
    find_node()
    target = cache_modules()
    if all((target / name / "package.json").is_file() for name in PINNED):
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise ToolMissing("no npm", f"npm is not on PATH (it comes with Node): {HOW_TO_ADD}")
    specs = [f"{name}@{version}" for name, version in sorted(PINNED.items())]
    if notify is not None:
        notify(f"fetching {', '.join(specs)} into {target.parent} (first use)")
    target.parent.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".fetch-", dir=target.parent.parent))
    try:
        proc = subprocess.run([npm, "install", "--prefix", str(tmp), "--no-save", "--no-audit", "--no-fund",
                               "--prefer-offline", "--loglevel=error", *specs],
                              capture_output=True, text=True, timeout=600, check=False)
        if proc.returncode != 0 or not all((tmp / "node_modules" / n / "package.json").is_file() for n in PINNED):
            last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise ToolMissing("npm failed", f"npm install {' '.join(specs)} failed (exit {proc.returncode}): "
                                            f"{last[0][:200]}")
        try:
            os.replace(tmp, target.parent)
        except OSError:
            if not target.is_dir():  # another digest finished first, else a real failure
                raise
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolMissing("npm failed", f"could not fetch {' '.join(specs)}: {exc}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def node_tool(package: str, *, fetch: bool = True, notify: Callable[[str], None] | None = None) -> NodeTool:
    """Node and the entry script of ``package``, fetching the pinned tools on first use when ``fetch``."""
    node = find_node()
    script = find_script(package)
    if script is None and fetch:
        install(notify)
        script = find_script(package)
    if script is None:
        raise ToolMissing(f"{package} not installed",
                          f"{package}@{PINNED[package]} is not installed: run `digest check --install-tools`")
    return NodeTool(node, script)


def install_tools(notify: Callable[[str], None] | None = None) -> Path:
    """``digest check --install-tools``: fetch now; a DigestError (one line) when it cannot."""
    try:
        return install(notify)
    except ToolMissing as exc:
        raise DigestError(exc.detail) from None
