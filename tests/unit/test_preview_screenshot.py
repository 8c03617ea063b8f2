"""Which Chromium ``--screenshot`` uses, and the errors when there is none (no browser is started here)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from digest.errors import DigestError, UsageError
from digest.preview.screenshot import ENV, find_chromium, png_size

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "preview"


def _fake(folder: Path, name: str) -> Path:
    path = folder / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


def test_order_is_option_then_environment_then_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    on_path = _fake(bin_dir, "chromium-browser")
    from_env = _fake(tmp_path, "env-chrome")
    given = _fake(tmp_path, "my-chrome")
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv(ENV, raising=False)
    assert find_chromium() == str(on_path)
    monkeypatch.setenv(ENV, str(from_env))
    assert find_chromium() == str(from_env)
    assert find_chromium(str(given)) == str(given)


def test_a_wrong_explicit_path_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    with pytest.raises(UsageError, match="--chromium .*nope: no such executable"):
        find_chromium(str(tmp_path / "nope"))
    monkeypatch.setenv(ENV, str(tmp_path / "also-nope"))
    with pytest.raises(UsageError, match=r"\$DIGEST_CHROMIUM .*also-nope"):
        find_chromium()


def test_no_chromium_anywhere_says_how_to_get_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv(ENV, raising=False)
    with pytest.raises(DigestError) as info:
        find_chromium()
    assert "no Chromium found" in info.value.message
    assert info.value.hint and "--chromium" in info.value.hint and ENV in info.value.hint


def test_the_command_reports_a_missing_chromium_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != ENV}
    env["PATH"] = str(tmp_path)
    done = subprocess.run([sys.executable, "-m", "digest.cli", "preview", str(FIX / "issue"),
                           "--screenshot", str(tmp_path / "x.png")], capture_output=True, text=True, env=env,
                          timeout=60)
    assert done.returncode == 1
    assert done.stderr.startswith("digest: error: no Chromium found") and "Traceback" not in done.stderr
    assert not (tmp_path / "x.png").exists()
    assert not (FIX / "issue" / "build").exists()  # nothing was built into the fixture


def test_png_size_reads_the_header(tmp_path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (375, 1234)).save(tmp_path / "a.png")
    assert png_size(tmp_path / "a.png") == (375, 1234)
    (tmp_path / "b.png").write_text("not a png")
    with pytest.raises(DigestError):
        png_size(tmp_path / "b.png")
