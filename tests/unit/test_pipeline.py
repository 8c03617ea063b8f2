"""Teasers for many sources (digest.pipeline): same results in the same order with or without worker processes,
failures in their place, work really spread, and a local file read without the network stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from digest import pipeline
from digest.pipeline import MIN_PARALLEL, Result, teasers
from tests.conftest import REPO

STORY = (
    "{town} council voted on Tuesday to close the {thing} after {n} years, citing repair bills of £{n}m.\n\n"
    "The decision, taken by seven votes to four, means the building will shut in March.\n\n"
    "Residents said they would appeal. A petition has gathered {n}00 signatures in a week.\n"
)
TOWNS = ["Ashford", "Bexley", "Carlisle", "Dover", "Exeter", "Frome", "Goole", "Hexham", "Ilford", "Jarrow",
         "Keswick", "Leek", "Malton", "Newark", "Oakham", "Penrith"]


def corpus(tmp_path: Path, n: int = 2 * MIN_PARALLEL) -> list[str]:
    paths = []
    for i in range(n):
        p = tmp_path / f"a{i:02}.txt"
        p.write_text(STORY.format(town=TOWNS[i % len(TOWNS)], thing=["library", "pool", "museum"][i % 3], n=10 + i),
                     encoding="utf-8")
        paths.append(str(p))
    return paths


def flat(results: list[Result]) -> list[tuple[str, str, str]]:
    return [(r.source, r.teaser.text if r.teaser else "", r.error) for r in results]


def test_parallel_gives_the_serial_results_in_source_order(tmp_path: Path) -> None:
    paths = corpus(tmp_path)
    paths.insert(5, str(tmp_path / "missing.txt"))  # a failure keeps its place among the others
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    paths.insert(11, str(tmp_path / "empty.txt"))
    serial = list(teasers(paths, 200, jobs=1))
    parallel = list(teasers(paths, 200, jobs=3))
    assert flat(parallel) == flat(serial)
    assert [r.source for r in parallel] == paths
    assert parallel[5].article is None and "missing.txt" in parallel[5].error
    assert parallel[11].article is None and parallel[11].error
    towns = [r.teaser.text.split()[0] for r in parallel if r.teaser]
    assert towns == [TOWNS[i % len(TOWNS)] for i in range(len(towns))]


_REAL_ONE = pipeline._one


def _marked(args: tuple[str, int]) -> list[Result]:
    """``_one`` that stamps each result with the process that made it (the forked workers inherit the patch)."""
    out = _REAL_ONE(args)
    for r in out:
        r.error = str(os.getpid())
    return out


@pytest.mark.skipif(not hasattr(os, "fork"), reason="worker processes are forked (POSIX)")
def test_the_work_is_spread_over_worker_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "_one", _marked)
    pids = [r.error for r in teasers(corpus(tmp_path), 200, jobs=2)]
    assert pids[0] == str(os.getpid())  # the first source warms the parent before the fork
    assert str(os.getpid()) not in pids[1:]  # the rest in workers (how many get a share is the scheduler's call)
    assert 1 <= len(set(pids[1:])) <= 2
    pids = [r.error for r in teasers(corpus(tmp_path), 200, jobs=1)]
    assert set(pids) == {str(os.getpid())}
    few = corpus(tmp_path, MIN_PARALLEL - 1)
    assert {r.error for r in teasers(few, 200, jobs=4)} == {str(os.getpid())}  # too few to pay for a fork


def test_the_cli_prints_the_same_json_lines_with_and_without_jobs(tmp_path: Path) -> None:
    paths = corpus(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    runs = [subprocess.run([sys.executable, "-m", "digest", "teaser", "--json", "--jobs", j, *paths],
                           capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120) for j in ("1", "2")]
    assert runs[0].returncode == runs[1].returncode == 0, runs[1].stderr
    assert runs[0].stdout == runs[1].stdout
    rows = [json.loads(line) for line in runs[1].stdout.splitlines()]
    assert [r["path"] for r in rows] == paths


def test_a_local_file_is_read_without_the_network_stack(tmp_path: Path) -> None:
    """Reading a file must not import http.client, ssl or socket (they cost every command's start-up)."""
    path = corpus(tmp_path, 1)[0]
    code = ("import sys, digest.cli\nfrom digest.pipeline import teasers\nlist(teasers([sys.argv[1]]))\n"
            "print(sorted(m for m in ('http.client', 'ssl', 'digest.sources.fetch', 'digest.config') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
