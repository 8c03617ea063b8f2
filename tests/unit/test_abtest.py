"""The A/B subject test's parts without a send: the share, the pick, the choice of a winner, subject_variants."""

from __future__ import annotations

import csv
import random
from pathlib import Path
from typing import Any

import pytest

from digest.deliver import abtest
from digest.errors import DigestError, UsageError


def write_csv(path: Path, emails: list[str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["email"])
        w.writerows([e] for e in emails)
    return path


EMAILS = [f"Reader{i}@harbour-readers.org" for i in range(1000)]
SEED = "00112233445566778899aabbccddeeff"


@pytest.mark.parametrize(("text", "share"), [("20%", 0.2), ("20", 0.2), (" 12.5 % ", 0.125), ("99%", 0.99)])
def test_share_is_a_percentage(text: str, share: float) -> None:
    assert abtest.parse_share(text) == pytest.approx(share)


@pytest.mark.parametrize("text", ["0", "0%", "100%", "150", "-5%", "a fifth", "nan", "inf", ""])
def test_a_share_outside_0_to_100_percent_is_refused(text: str) -> None:
    with pytest.raises(UsageError, match="--ab-test: not a share"):
        abtest.parse_share(text)


def test_winner_is_auto_or_a_number_from_1() -> None:
    assert abtest.parse_winner("auto") is None and abtest.parse_winner(" AUTO ") is None
    assert abtest.parse_winner("2") == 2
    for bad in ("0", "-1", "best", "1.5"):
        with pytest.raises(UsageError, match="--ab-winner"):
            abtest.parse_winner(bad)


def test_pick_is_an_even_split_of_the_share_the_same_for_the_same_seed_whatever_the_order(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", EMAILS)
    total, members = abtest.pick(path, set(), SEED, "2026-11", 0.3, 3)
    assert total == 1000 and len(members) == 300
    assert sorted(v for _, v in members) == [1] * 100 + [2] * 100 + [3] * 100
    assert len({k for k, _ in members}) == 300 and all(k == k.lower() for k, _ in members)

    shuffled = EMAILS[:]
    random.Random(7).shuffle(shuffled)
    again = abtest.pick(write_csv(tmp_path / "b.csv", shuffled), set(), SEED, "2026-11", 0.3, 3)[1]
    assert dict(again) == dict(members)  # the same people, each in the same variant
    other_seed = dict(abtest.pick(path, set(), "ff" * 16, "2026-11", 0.3, 3)[1])
    other_issue = dict(abtest.pick(path, set(), SEED, "2026-12", 0.3, 3)[1])
    assert set(other_seed) != set(members) and set(other_issue) != set(dict(members))
    # A random pick: about 30 % of the first and of the second half of the list (a sorted pick would take one).
    first_half = {e.lower() for e in EMAILS[:500]}
    assert 100 < sum(1 for k, _ in members if k in first_half) < 200


def test_pick_leaves_out_suppressed_and_invalid_rows_and_refuses_fewer_than_100_per_subject(tmp_path: Path) -> None:
    suppressed = {e.lower() for e in EMAILS[:100]}
    path = write_csv(tmp_path / "a.csv", [*EMAILS, "not-an-address", EMAILS[5].upper()])
    total, members = abtest.pick(path, suppressed, SEED, "x", 0.5, 2)
    assert total == 900 and len(members) == 450 and not suppressed & {k for k, _ in members}
    with pytest.raises(UsageError, match=r"20% of 900 recipient\(s\) is 180, 90 per subject") as info:
        abtest.pick(path, suppressed, SEED, "x", 0.2, 2)
    assert "at least 23% of this list" in (info.value.hint or "")
    with pytest.raises(UsageError) as info:
        abtest.pick(path, suppressed, SEED, "x", 0.9, 10)
    assert "needs at least 1,000 recipients for 10 subjects" in (info.value.hint or "")


def variant(n: int, delivered: int | None, clicked: int, opened: int) -> dict[str, Any]:
    rates = {"clicked": clicked / delivered if delivered else None, "opened": opened / delivered if delivered else None}
    return {"variant": n, "delivered": delivered, "clicked": clicked, "opened": opened, "rates": rates}


def test_best_is_the_click_rate_then_the_open_rate() -> None:
    # Variant 1 has more clickers, variant 2 the higher rate of its delivered.
    assert abtest.best([variant(1, 400, 40, 300), variant(2, 100, 20, 10)]) == 2
    assert abtest.best([variant(1, 100, 20, 30), variant(2, 100, 20, 31), variant(3, 100, 5, 90)]) == 2
    assert abtest.best([variant(1, 0, 0, 0), variant(2, 10, 0, 1)]) == 2  # nothing delivered: not a candidate
    with pytest.raises(UsageError, match="variants 1, 2 tie"):
        abtest.best([variant(1, 100, 20, 30), variant(2, 100, 20, 30)])
    with pytest.raises(UsageError, match="no delivered event"):
        abtest.best([variant(1, 0, 0, 0), variant(2, None, 0, 0)])


def issue_with(tmp_path: Path, line: str) -> Path:
    from digest.compose.issue_file import new_issue

    issue = tmp_path / "issue"
    path = new_issue(issue, "Harbour notes")
    head = 'subject = "Harbour notes"\n'
    text = path.read_text(encoding="utf-8").replace(head, f"{head}{line}\n")
    path.write_text(text, encoding="utf-8")
    return issue


def test_subject_variants_are_read_beside_subject_and_checked(tmp_path: Path) -> None:
    issue = issue_with(tmp_path, 'subject_variants = ["The wall", " The ferry "]')
    assert abtest.subjects_of(issue) == ["The wall", "The ferry"]
    bad = [('subject_variants = ["Only one"]', "at least two subjects"),
           ('subject_variants = ["A", "A"]', r"subject_variants\[2\] repeats"),
           ('subject_variants = ["A", ""]', r"subject_variants\[2\] is empty"),
           ('subject_variants = "A"', "must be a list"),
           ('subject_variants = ["A", "B\\nC"]', "must be a single line")]
    for n, (line, message) in enumerate(bad):
        folder = issue_with(tmp_path / str(n), line)
        with pytest.raises(DigestError, match=message):
            abtest.subjects_of(folder)
