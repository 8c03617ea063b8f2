"""Where digest keeps files that belong to the user rather than to a newsletter folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def cache_home() -> Path:
    """The platform's cache folder for digest: ``$XDG_CACHE_HOME/digest`` or ``~/.cache/digest`` on Linux,
    ``~/Library/Caches/digest`` on macOS, ``%LOCALAPPDATA%\\digest`` on Windows. Nothing in it is needed:
    deleting it costs a rebuild."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "digest"
