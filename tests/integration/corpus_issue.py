"""A 12-story issue built from ../shared/corpus/html-dev (read from there, never copied into the repo).

Seven stories lead, five sit in a "Cities" section; the pages' http: images are retried as https:. Used by
the email bars (tests/integration/test_email_check.py) and the screenshots (test_email_browser.py).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from digest.compose.build import BuildResult, build_issue
from digest.compose.issue_file import add_sources, new_issue
from tests.conftest import missing, shared_path

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "compose"
PAGES = ["ars-1", "bbc-1", "guardian-1", "theverge", "engadget", "nytimes-1", "wapo-1",
         "citylab-1", "seattletimes-1", "medicalnewstoday", "salon-1", "telegraph"]
CITIES = PAGES[7:]


def build_corpus12(root: Path) -> tuple[Path, BuildResult]:
    """``root/2026-49``: the 12-story issue, built; returns the folder and the build's result."""
    corpus = shared_path("corpus", "html-dev").resolve()
    pages = [corpus / f"{name}.html" for name in PAGES]
    if not all(p.is_file() for p in pages):
        missing("../shared/corpus/html-dev lacks one of the 12 pages of the 12-story issue")
    shutil.copy(FIX / "digest.toml", root / "digest.toml")
    folder = root / "2026-49"
    new_issue(folder, "The week in tech and cities",
              "A game-server exploit, a console review, neon signs and a Seattle fishing boat")
    result = add_sources(folder, [str(p) for p in pages], None)
    assert not result.errors, result.errors
    text = (folder / "issue.toml").read_text(encoding="utf-8")
    text = text.replace('intro = """\n"""', 'intro = """\nTwelve stories this week, from a game-server exploit '
                        'to the\nstreets of Seattle. **Reply** and tell us what we missed.\n"""')
    text += '\n[[sections]]\ntitle = "Cities"\n'
    for name in CITIES:  # issue.toml stores the paths relative to the issue folder
        found = re.search(rf'^source = "[^"\n]*/{re.escape(name)}\.html"$', text, flags=re.M)
        assert found, name
        text = text.replace(found.group(0), f'{found.group(0)}\nsection = "Cities"')
    (folder / "issue.toml").write_text(text, encoding="utf-8")
    return folder, build_issue(folder)
