"""Shared test helpers: where ../shared is, and how a missing tool or data set is handled.

Outside CI a test whose data or tool is missing is skipped with the reason; under ``CI=true`` it fails,
because CI installs everything the suite needs and a silent skip there would hide a missing install step.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("DIGEST_SHARED", REPO.parent / "shared"))
FIXTURES = Path(__file__).resolve().parent / "fixtures"
IN_CI = os.environ.get("CI", "").lower() == "true"


def missing(reason: str) -> None:
    """Skip with ``reason``, or fail under CI=true."""
    if IN_CI:
        pytest.fail(f"required under CI=true: {reason}")
    pytest.skip(reason)


def shared_path(*parts: str) -> Path:
    """A path inside ../shared; skips (fails under CI) when it is not there."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        missing(f"shared data not found: {path}")
    return path


def need_tool(name: str, *candidates: str) -> str:
    """The full path of a command on PATH (or one of ``candidates``); skips/fails when none exists."""
    for cand in (name, *candidates):
        found = shutil.which(cand) or (cand if os.path.isabs(cand) and os.access(cand, os.X_OK) else None)
        if found:
            return found
    missing(f"tool not installed: {name}")
    raise AssertionError("unreachable")


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES
