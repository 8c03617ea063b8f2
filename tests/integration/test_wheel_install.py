"""The newcomer's first hour, for real: a wheel built from this repo, installed in a fresh virtual
environment, runs init, new, add, build, check (every tool run, nothing skipped) and an outbox send in a
folder outside the repo; the folder is then moved and still builds.

Needs the package index for pip (the wheel's dependencies), Node with npm (digest fetches its pinned Node
tools into a fresh user cache, as after a pip install) and SpamAssassin.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, REPO, need_tool

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _run(argv: list[str], *, cwd: Path, env: dict[str, str], timeout: int = 900) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, f"{' '.join(argv)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr[-3000:]}"
    return proc


def test_a_wheel_in_a_fresh_venv_runs_the_whole_first_hour(tmp_path: Path) -> None:
    need_tool("node")
    need_tool("npm")
    need_tool("spamassassin")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DIGEST_NODE_MODULES")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"

    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(REPO)], cwd=tmp_path,
         env=env)
    (wheel,) = wheels.glob("digest_newsletter-*.whl")
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path, env=env)
    vpython = venv / ("Scripts" if os.name == "nt" else "bin") / "python"
    _run([str(vpython), "-m", "pip", "install", "-q", "-U", "pip"], cwd=tmp_path, env=env)  # pip 23 resolver bug
    _run([str(vpython), "-m", "pip", "install", "-q", str(wheel)], cwd=tmp_path, env=env)

    env["PATH"] = f"{vpython.parent}{os.pathsep}{env.get('PATH', '')}"
    env["DIGEST_TOOLS_DIR"] = str(tmp_path / "user-cache")  # as on a machine that never ran digest check
    digest = str(vpython.parent / "digest")
    work = tmp_path / "elsewhere"
    work.mkdir()
    for name in ("river.txt", "library.md"):
        shutil.copy(FIXTURES / "compose" / name, work / name)

    where = _run([str(vpython), "-c", "import digest; print(digest.__file__)"], cwd=work, env=env).stdout
    assert where.startswith(str(venv)), where  # the installed wheel, not this checkout

    _run([digest, "init", "news", "--name", "Valley News", "--from-email", "news@valley.example",
          "--postal-address", "1 Main St, Springfield", "--unsubscribe", "mailto:leave@valley.example"],
         cwd=work, env=env)
    _run([digest, "new", "news/2026-11", "--subject", "Week 11", "--preheader", "A thaw and a library"],
         cwd=work, env=env)
    added = _run([digest, "add", "news/2026-11", "river.txt", "library.md"], cwd=work, env=env).stdout
    assert sorted(added.splitlines()) == ["added: Rivers run faster after an early thaw",
                                          "added: The library that lends tools"]
    assert str(work) not in (work / "news" / "2026-11" / "issue.toml").read_text()  # relative paths
    _run([digest, "build", "news/2026-11"], cwd=work, env=env)

    check = _run([digest, "check", "news/2026-11"], cwd=work, env=env)
    lines = check.stdout.splitlines()
    assert "SKIP" not in check.stdout and lines[-1] == "ready to send", check.stdout
    for tool in ("caniemail", "spam", "html-validate"):
        assert any(f"[{tool}]" in line for line in lines), tool
    assert "(first use)" in check.stderr  # fetched into the user cache, at the pinned versions
    assert (tmp_path / "user-cache" / "node-tools").is_dir()

    sent = _run([digest, "send", "news/2026-11", "--recipients", "news/recipients.csv"], cwd=work, env=env)
    assert "sent 2" in sent.stdout + sent.stderr
    emls = sorted(p.name for p in (work / "news" / "2026-11" / "outbox").glob("*.eml"))
    assert [e.split("-")[0] for e in emls] == ["ada@example.com", "grace@example.org"]
    raw = (work / "news" / "2026-11" / "outbox" / emls[0]).read_bytes()
    assert b"\nFrom: Valley News <news@valley.example>\r\n" in raw or raw.startswith(b"From: Valley News")
    assert b"\nList-Unsubscribe: <mailto:leave@valley.example?subject=unsubscribe>\r\n" in raw

    moved = tmp_path / "moved" / "newsletter"
    moved.parent.mkdir()
    shutil.move(str(work), str(moved))
    shutil.rmtree(moved / "news" / "2026-11" / "build")
    _run([digest, "build", str(moved / "news" / "2026-11")], cwd=tmp_path, env=env)
    html = (moved / "news" / "2026-11" / "build" / "email.html").read_text(encoding="utf-8")
    assert "Rivers run faster" in html and "The library that lends tools" in html
