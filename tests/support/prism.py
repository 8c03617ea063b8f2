"""Start Prism (``@stoplight/prism-cli``, pinned in package.json) mocking one of SendGrid's official specs."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.conftest import REPO, missing, need_tool, shared_path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def prism_mock(spec_name: str, *, dynamic: bool = False, timeout: float = 60.0) -> Iterator[str]:
    """``prism mock`` on 127.0.0.1 serving ``shared/sendgrid/<spec_name>``; yields its base URL.

    Skips (fails under CI=true) when the spec, node or Prism is missing; stops the whole process group.
    """
    spec = shared_path("sendgrid", spec_name)
    need_tool("node")
    binary = REPO / "node_modules" / ".bin" / "prism"
    if not binary.exists():
        missing("Prism is not installed: run npm install in the repository (package.json pins it)")
    port = free_port()
    args = [str(binary), "mock", *(["--dynamic"] if dynamic else []), "-h", "127.0.0.1", "-p", str(port), str(spec)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
                pytest.fail(f"prism exited with {proc.returncode}: {out[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"prism did not listen within {timeout:.0f} s")
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
