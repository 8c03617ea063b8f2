"""suppressions.csv as a spreadsheet sees it: no cell starts a formula, and every address reads back the same."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.deliver import suppressions

TRICKY = ["=HYPERLINK(\"http://evil.example\")@example.org", "+1-555@example.org", "-rm@example.org",
          "'=quoted@example.org", "'plain@example.org", "ann@example.org"]


def test_cells_never_start_a_formula_and_read_back_as_written(tmp_path: Path) -> None:
    path = tmp_path / "suppressions.csv"
    added = suppressions.add(path, [suppressions.Entry(e, "-reason", "@source") for e in TRICKY])
    assert added == len(TRICKY)
    raw = path.read_bytes().decode("utf-8").splitlines()
    for line in raw[1:]:
        for cell in line.split(","):
            assert cell[:1] not in ("=", "+", "-", "@"), line
    assert "'=HYPERLINK" in raw[1] or '"\'=HYPERLINK' in raw[1]
    assert [e.email for e in suppressions.entries(path)] == TRICKY
    assert {(e.reason, e.source) for e in suppressions.entries(path)} == {("-reason", "@source")}
    assert suppressions.load(path) == {suppressions.key(e) for e in TRICKY}
    assert suppressions.add(path, [suppressions.Entry(e) for e in TRICKY]) == 0  # all known: none twice


@pytest.mark.parametrize("value", ["=a", "+a", "-a", "@a", "'=a", "''=a", "'a", "a", "", "'"])
def test_neutralise_round_trips(value: str) -> None:
    assert suppressions.unneutralise(suppressions.neutralise(value)) == value
