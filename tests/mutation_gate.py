"""CI gate: the send core's tests must catch at least 90 % of a small seeded sample of mutants.

    python3 tests/mutation_gate.py [--min 90] [--scale 1.0]

For each module below, ``../shared/eval/mutate.py`` (the mutation tool docs/testing.md describes) writes
small, realistic defects into the module one at a time and runs the module's focused tests against each;
a mutant the tests let through "survived". The sample is seeded, so a run is repeatable. Everything happens
in a copy of the checkout in a temporary folder: the checkout itself is never written. Exits 1 when a
module's score is below ``--min``. A few minutes on two cores (``--scale`` shrinks or grows the samples).

Outside CI a missing ../shared (or mutation tool) skips the gate with a message; under ``CI=true`` it fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from conftest import IN_CI, REPO, SHARED  # noqa: E402 - the suite's own notion of ../shared and CI

# (module, mutants sampled, the focused tests that exercise it)
MODULES: list[tuple[str, int, list[str]]] = [
    ("digest/deliver/journal.py", 48, ["tests/unit/test_journal.py"]),  # the largest module: a larger sample
    ("digest/deliver/recipients.py", 24, ["tests/unit/test_recipients.py", "tests/unit/test_recipients_fastpath.py"]),
    ("digest/deliver/unsubscribe.py", 24, ["tests/unit/test_unsubscribe.py",
                                          "tests/integration/test_unsubscribe_server.py"]),
    # The SendGrid client's retries and error classification: a scripted SendGrid first (fast), the stand-in after.
    ("digest/deliver/backends/sendgrid/client.py", 32, ["tests/unit/test_sendgrid_retry.py",
                                                        "tests/integration/test_sendgrid_backend.py",
                                                        "tests/unit/test_loopback.py"]),
    ("digest/deliver/throttle.py", 16, ["tests/unit/test_throttle.py", "tests/unit/test_sendgrid_retry.py"]),
]
_SKIP = shutil.ignore_patterns(".git", "node_modules", "__pycache__", ".pytest_cache", ".ruff_cache", ".venv",
                               "*.egg-info", "build", "dist")


def score(results: list[dict[str, object]]) -> tuple[int, int, list[dict[str, object]]]:
    """(caught, tried, survivors): a mutant that times out counts as caught, one that does not compile is not tried."""
    tried = [m for m in results if m["status"] in ("killed", "timeout", "survived")]
    survivors = [m for m in tried if m["status"] == "survived"]
    return len(tried) - len(survivors), len(tried), survivors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min", type=float, default=90.0, help="lowest score accepted per module, in %%")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every module's sample size")
    parser.add_argument("--skip", action="append", default=[], metavar="MODULE",
                        help="leave a module out (its path as listed above); may be repeated")
    args = parser.parse_args(argv)
    tool = SHARED / "eval" / "mutate.py"
    if not tool.exists():
        print(f"mutation gate: {tool} not found", file=sys.stderr)
        return 1 if IN_CI else 0
    failed = False
    with tempfile.TemporaryDirectory(prefix="digest-mutation-") as tmp:
        copy = Path(tmp) / "repo"
        shutil.copytree(REPO, copy, ignore=_SKIP, symlinks=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SENDGRID", "DIGEST_"))}
        env.update(PYTHONPATH=str(copy), DIGEST_SHARED=str(SHARED))
        for module, size, tests in [m for m in MODULES if m[0] not in args.skip]:
            out = Path(tmp) / (Path(module).stem + ".json")
            n = max(1, round(size * args.scale))
            start = time.monotonic()
            done = subprocess.run([sys.executable, str(tool), module, str(out), str(n), "60", "--", *tests],
                                  cwd=copy, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if done.returncode != 0 or not out.exists():
                print(f"mutation gate: {module}: the mutation tool failed\n{done.stdout[-2000:]}", file=sys.stderr)
                failed = True
                continue
            caught, tried, survivors = score(json.loads(out.read_text())["results"])
            pct = 100.0 * caught / tried if tried else 100.0
            ok = pct >= args.min
            failed |= not ok
            print(f"{module}: {caught}/{tried} mutants caught ({pct:.0f} %, {time.monotonic() - start:.0f} s)"
                  f"{'' if ok else f' -- below {args.min:.0f} %'}")
            for m in survivors:
                print(f"  survived: line {m['line']}: {m['desc']}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
