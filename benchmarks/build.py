#!/usr/bin/env python3
"""How long ``digest build`` and the preview take for a 20-article issue made of local HTML pages.

  python benchmarks/build.py [--corpus ../shared/corpus/html-dev] [--repeat 5] [--write]

The pages of ``../shared/corpus/html-dev`` (real article pages with their menus, scripts and comments) are
copied into a temporary folder (never into the repo) and an issue.toml naming all 20 is written. Then:

1. **first build**: ``build_issue`` with an empty article cache, so every page is extracted and condensed
   (modules already imported), and the same as a fresh ``digest build`` process (wall time, imports included);
2. **rebuild after an edit of issue.toml** (the subject): extraction cached — the preview's common case;
3. **rebuild after an edit of one article**: that page alone is extracted again;
4. **preview, edit → page told**: the running preview server (watcher, debounce, build, server-sent event),
   from the write of issue.toml to the ``build`` event a browser reloads on.

Each build is split by stage (extraction, teasers, duplicate check, images, rendering, premailer, the sample
message, writing) by wrapping the stage functions with timers, so premailer's share is named. CPU time is
given next to wall time because the machine may be shared. ``--write`` replaces the build/preview section of
docs/performance.md (between its markers) with the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import digest.compose.build as B  # noqa: E402
import digest.compose.issue_file as IF  # noqa: E402
from digest.compose.build import build_issue  # noqa: E402
from digest.folder import IssueFolder  # noqa: E402

SHARED = Path(os.environ.get("DIGEST_SHARED", REPO.parent / "shared"))
DOC = REPO / "docs" / "performance.md"
START, END = "<!-- build-benchmark:start -->", "<!-- build-benchmark:end -->"
SETTINGS = """[newsletter]
name = "Benchmark Weekly"
from_email = "news@bench.example"
postal_address = "1 Bench Street, Testville"
[unsubscribe]
mailto = "unsubscribe@bench.example"
"""

# Stage name → (module, function name): wrapped with timers while a build runs.
STAGES: dict[str, tuple[Any, str]] = {
    "extraction (load_entry)": (IF, "load_entry"),
    "teasers (condense)": (B, "_teaser"),
    "duplicate check": (B, "_duplicates"),
    "images": (B, "resolve_image"),
    "rendering (Jinja2)": (B, "render_issue"),
    "premailer (inline_css)": (B, "inline_css"),
    "sample message.eml": (B, "sample_message"),
}


class Timers:
    """Wall time per stage, summed over the calls made during one build."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = defaultdict(float)

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        saved: list[tuple[Any, str, Callable[..., Any]]] = []
        for stage, (module, name) in STAGES.items():
            original = getattr(module, name)
            saved.append((module, name, original))
            setattr(module, name, self._wrap(stage, original))
        try:
            yield
        finally:
            for module, name, original in saved:
                setattr(module, name, original)

    def _wrap(self, stage: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.wall[stage] += time.perf_counter() - t0

        return timed


def timed_build(issue: Path) -> tuple[float, float, dict[str, float]]:
    """(wall s, CPU s, stage → wall s) of one build_issue."""
    timers = Timers()
    with timers.installed():
        c0, t0 = time.process_time(), time.perf_counter()
        build_issue(issue)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    stages = dict(timers.wall)
    stages["other (settings, issue.toml, writing files)"] = max(0.0, wall - sum(stages.values()))
    return wall, cpu, stages


def make_issue(corpus: Path, root: Path) -> tuple[Path, list[Path]]:
    pages = sorted(corpus.glob("*.html"))[:20]
    articles = root / "articles"
    articles.mkdir()
    copies = []
    for page in pages:
        shutil.copy(page, articles / page.name)
        copies.append(articles / page.name)
    (root / "digest.toml").write_text(SETTINGS)
    issue = root / "issue"
    IF.new_issue(issue, "Benchmark issue: twenty articles", "Everything at once")
    with (issue / "issue.toml").open("a") as fh:
        for path in copies:
            fh.write(f'\n[[articles]]\nsource = "{path}"\n')
    return issue, copies


def set_subject(issue: Path, subject: str) -> None:
    path = issue / "issue.toml"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(f'subject = "{subject}"\n' if ln.startswith("subject =") else ln for ln in lines))


def clear_cache(issue: Path) -> None:
    shutil.rmtree(IssueFolder(issue).cache, ignore_errors=True)
    shutil.rmtree(IssueFolder(issue).build, ignore_errors=True)


def preview_latency(issue: Path, repeat: int) -> list[float]:
    """Seconds from writing issue.toml to the preview's ``build`` event, ``repeat`` times."""
    from digest.preview.server import iter_events, start

    running = start(issue, port=0, checks=False)
    times: list[float] = []
    try:
        conn = http.client.HTTPConnection("127.0.0.1", running.server.server_port, timeout=30)
        conn.request("GET", "/events")
        events = iter_events(iter(conn.getresponse().readline, b""))
        assert next(events)[0] == "hello"
        got = threading.Event()
        box: list[float] = []

        def listen() -> None:
            for name, _ in events:
                if name == "build":
                    box.append(time.perf_counter())
                    got.set()

        threading.Thread(target=listen, daemon=True).start()
        for i in range(repeat):
            time.sleep(0.5)
            got.clear()
            box.clear()
            t0 = time.perf_counter()
            set_subject(issue, f"Preview edit {i}")
            if not got.wait(30):
                raise RuntimeError("the preview sent no build event within 30 s")
            times.append(box[0] - t0)
        conn.close()
    finally:
        running.stop()
    return times


def fmt_stages(stages: dict[str, float], wall: float) -> list[str]:
    return [f"| {name} | {sec * 1000:.0f} ms | {sec / wall:.0%} |" for name, sec in
            sorted(stages.items(), key=lambda kv: -kv[1]) if sec >= 0.0005]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=SHARED / "corpus" / "html-dev")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--write", action="store_true", help="update docs/performance.md")
    args = ap.parse_args()
    if not args.corpus.is_dir() or len(list(args.corpus.glob("*.html"))) < 20:
        print(f"skipped: {args.corpus} with 20 HTML pages is not there (set DIGEST_SHARED or --corpus)")
        return 0

    with tempfile.TemporaryDirectory(prefix="digest-bench-") as tmp:
        issue, pages = make_issue(args.corpus, Path(tmp))
        # Warm imports (condense, sources, premailer) on a throwaway build, so the first build is the work.
        build_issue(issue)

        firsts = []
        for _ in range(args.repeat):
            clear_cache(issue)
            firsts.append(timed_build(issue))
        first = sorted(firsts, key=lambda r: r[0])[len(firsts) // 2]

        clear_cache(issue)
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "digest.cli", "build", str(issue)], capture_output=True, text=True)
        cli_first = time.perf_counter() - t0
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            return 1

        edits = []
        for i in range(args.repeat):
            set_subject(issue, f"Benchmark issue, take {i}")
            edits.append(timed_build(issue))
        edit = sorted(edits, key=lambda r: r[0])[len(edits) // 2]

        one = []
        for i in range(args.repeat):
            time.sleep(0.02)  # a newer mtime than the cache entry
            with pages[3].open("a") as fh:
                fh.write(f"\n<!-- edit {i} -->\n")
            one.append(timed_build(issue))
        article = sorted(one, key=lambda r: r[0])[len(one) // 2]

        latencies = preview_latency(issue, args.repeat)

    cpu = os.cpu_count()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        START,
        f"Measured {time.strftime('%Y-%m-%d')} with `python benchmarks/build.py` (median of {args.repeat}; "
        f"{cpu} CPUs, load average {load} while measuring; Python {platform.python_version()}). "
        "The issue is the 20 pages of `../shared/corpus/html-dev`.",
        "",
        "| what | wall | CPU | target |",
        "|---|---:|---:|---:|",
        f"| first build, 20 HTML pages extracted (in process) | {first[0]:.2f} s | {first[1]:.2f} s | ≤ 3 s |",
        f"| first build as a fresh `digest build` process (imports included) | {cli_first:.2f} s | | |",
        f"| rebuild after an edit of issue.toml (extraction cached) | {edit[0]:.2f} s | {edit[1]:.2f} s | ≤ 1 s |",
        f"| rebuild after an edit of one article (that page re-extracted) | {article[0]:.2f} s "
        f"| {article[1]:.2f} s | |",
        f"| preview: edit saved → `build` event sent to the page (watcher + debounce + build) | "
        f"{statistics.median(latencies):.2f} s (max {max(latencies):.2f} s) | | ≤ 2 s |",
        "",
        "Where the time goes, first build:",
        "",
        "| stage | wall | share |",
        "|---|---:|---:|",
        *fmt_stages(first[2], first[0]),
        "",
        "Where the time goes, rebuild after an edit of issue.toml:",
        "",
        "| stage | wall | share |",
        "|---|---:|---:|",
        *fmt_stages(edit[2], edit[0]),
        "",
        f"premailer's share: **{first[2]['premailer (inline_css)'] / first[0]:.0%}** of the first build and "
        f"**{edit[2]['premailer (inline_css)'] / edit[0]:.0%}** of a rebuild "
        f"({edit[2]['premailer (inline_css)'] * 1000:.0f} ms, once per issue whatever the number of recipients).",
        END,
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_section(text)
        print(f"\nwrote {DOC}")
    return 0


def write_section(section: str) -> None:
    """Replace the marked build section of docs/performance.md, or add it (other sections are kept)."""
    doc = DOC.read_text() if DOC.exists() else "# Performance\n"
    if START in doc and END in doc:
        head, rest = doc.split(START, 1)
        tail = rest.split(END, 1)[1]
        doc = head + section + tail
    else:
        doc = doc.rstrip("\n") + "\n\n## Build and preview\n\n" + section + "\n"
    DOC.write_text(doc)


if __name__ == "__main__":
    sys.exit(main())
