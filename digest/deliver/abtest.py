"""A/B subject lines: a layer around ``send_issue`` (``digest send DIR --ab-test 20%`` / ``--ab-winner auto|N``).

``subject_variants = ["…", "…"]`` in issue.toml lists the subjects the test compares (at least two, numbered
from 1 in that order; ``subject`` stays the issue's subject for previews, ``--test`` copies and the archive).

``--ab-test SHARE``:

1. the test's recipients are the SHARE of the CSV's valid, unsuppressed recipients with the smallest keyed
   hash (BLAKE2b of the address, keyed by a random seed stored with the test, and the issue's slug): a random
   pick that the same command makes again (resumable, whatever the order of the CSV);
2. they are split evenly across the subjects (in hash order: variant 1, 2, …, 1, 2, …); fewer than
   ``MIN_PER_VARIANT`` per subject is an error;
3. the seed, share, subjects and each test recipient's variant are recorded in the send journal
   (``ab_tests``, ``ab_variants``) before anything is sent; a later run reads them back, so a re-run of the
   same command sends nobody new and a changed CSV does not change the test;
4. ``send_issue`` runs once per variant with that variant's recipients (``only``) and its subject: the
   journal's rules are a plain send's (nobody twice, resumable, unknowns held).

``--ab-winner auto|N`` records the chosen variant (once: a resumed run keeps it) and runs ``send_issue`` with
its subject for every recipient of the CSV, the journal leaving out whoever was already sent. ``auto`` chooses
the highest unique click rate (clickers / delivered) from the issue's SendGrid events (``report.py``), the
open rate (machine opens excluded) breaking a tie; a tie on both, or no delivered event yet, is an error
asking for ``--ab-winner N``.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DigestError, UsageError
from . import suppressions
from .journal import AbTest, Journal, journal_path, open_journal
from .recipients import read_recipients
from .summary import SendReport

MIN_PER_VARIANT = 100

Notify = Callable[[str], None]
Send = Callable[..., SendReport]  # send_issue, with the A/B run's ``only`` and ``subject``


def parse_share(text: str) -> float:
    """``--ab-test``: ``20%`` (or ``20``) → 0.2; between 0 and 100 % exclusive."""
    raw = text.strip().removesuffix("%").strip()
    try:
        percent = float(raw)
    except ValueError:
        percent = math.nan
    if not math.isfinite(percent) or not 0 < percent < 100:
        raise UsageError(f"--ab-test: not a share of the recipients: {text!r}", "give a percentage, e.g. --ab-test 20%")
    return percent / 100


def percent(share: float) -> str:
    """0.2 → ``20%``, 0.125 → ``12.5%``."""
    return f"{share * 100:.6g}%"


def parse_winner(text: str) -> int | None:
    """``--ab-winner``: ``auto`` → None, ``N`` → N (checked against the test's subjects later)."""
    value = text.strip().lower()
    if value == "auto":
        return None
    if value.isdigit() and int(value) >= 1:
        return int(value)
    raise UsageError(f"--ab-winner: {text!r} is neither auto nor a variant number",
                     "use --ab-winner auto (highest click rate) or --ab-winner N (N from 1, as in subject_variants)")


def subjects_of(directory: Path) -> list[str]:
    """The issue's ``subject_variants``, checked: at least two, none empty, no two alike."""
    from ..compose.issue_file import issue_path, read_issue

    found = read_issue(directory).subject_variants
    where = issue_path(Path(directory))
    if len(found) < 2:
        raise UsageError(f"{where}: an A/B test needs subject_variants with at least two subjects "
                         f"(found {len(found)})",
                         'add e.g. subject_variants = ["Harbour notes", "The wall, the ferry and more"] beside '
                         "subject (list the main subject too if it should compete)")
    for number, subject in enumerate(found, start=1):
        if not subject:
            raise UsageError(f"{where}: subject_variants[{number}] is empty", "give every variant a subject")
        if subject in found[:number - 1]:
            raise UsageError(f"{where}: subject_variants[{number}] repeats an earlier subject: {subject!r}",
                             "give each variant a different subject")
    return found


def _rank(seed: str, slug: str) -> Callable[[str], int]:
    """key → a 64-bit number, the same for the same seed and issue (BLAKE2b keyed by the seed)."""
    key = bytes.fromhex(seed)
    prefix = slug.encode("utf-8") + b"\n"

    def rank(address_key: str) -> int:
        digest = hashlib.blake2b(prefix + address_key.encode("utf-8", "surrogateescape"), key=key, digest_size=8)
        return int.from_bytes(digest.digest(), "big")

    return rank


def _eligible(recipients_csv: Path, suppressed: set[str]) -> Iterator[str]:
    """The keys (lower-cased addresses) of the CSV's valid, unique recipients not on the suppression list."""
    stream, _ = read_recipients(recipients_csv)
    for r in stream:
        key = r.email.lower()
        if key not in suppressed:
            yield key


def pick(recipients_csv: Path, suppressed: set[str], seed: str, slug: str, share: float,
         variants: int) -> tuple[int, list[tuple[str, int]]]:
    """(eligible recipients, [(key, variant)]) of a new test: the ``share`` with the smallest rank, split evenly.

    Two passes over the CSV (count, then keep the smallest ranks): only the test's recipients are held.
    """
    total = sum(1 for _ in _eligible(recipients_csv, suppressed))
    size = round(total * share)
    per = size // variants
    if per < MIN_PER_VARIANT:
        raise UsageError(
            f"--ab-test {percent(share)}: {percent(share)} of {total:,} recipient(s) is {size:,}, {per:,} per subject "
            f"for {variants} subjects; an A/B test needs at least {MIN_PER_VARIANT} per subject",
            f"raise the share (at least {math.ceil(MIN_PER_VARIANT * variants / max(total, 1) * 100)}% of this list) "
            "or send without --ab-test" if MIN_PER_VARIANT * variants <= total else
            f"the list needs at least {MIN_PER_VARIANT * variants:,} recipients for {variants} subjects: "
            "send without --ab-test")
    size = per * variants  # an even split: every subject gets as many
    rank = _rank(seed, slug)
    chosen = heapq.nsmallest(size, ((rank(k), k) for k in _eligible(recipients_csv, suppressed)))
    return total, [(key, i % variants + 1) for i, (_, key) in enumerate(chosen)]


# ------------------------------------------------------------------------------------------------ the runs


@dataclass
class AbRun:
    """What an A/B step did: each ``send_issue`` it ran (variant, subject, report) and the figures it chose on."""

    mode: str  # test | winner
    subjects: list[str]
    share: float
    sizes: list[int]
    eligible: int | None = None  # a new test: the recipients it was picked from
    resumed: bool = False  # the test (or winner) was read back from the journal
    winner: int | None = None
    chosen_by: str | None = None
    figures: list[dict[str, Any]] = field(default_factory=list)
    sends: list[tuple[int, str, SendReport]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.sends) and all(report.ok for _, _, report in self.sends)

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "share": self.share, "subjects": self.subjects, "test_recipients": self.sizes,
                "eligible": self.eligible, "resumed": self.resumed, "winner": self.winner,
                "chosen_by": self.chosen_by, "figures": self.figures,
                "sends": [{"variant": n, "subject": s, "this_run": r.to_dict()["this_run"], "error": r.error,
                           "interrupted": r.interrupted} for n, s, r in self.sends]}


def _slug(directory: Path) -> str:
    from .events import issue_id

    return issue_id(directory)


def run_test(directory: Path | str, recipients_csv: Path | str, share: float, send: Send, *,
             dry_run: bool = False, notify: Notify | None = None, **send_args: Any) -> AbRun:
    """``--ab-test SHARE``: pick (or read back) the test's recipients and send each variant its subject."""
    from ..config import load_settings

    say: Notify = notify or (lambda _m: None)
    directory, recipients_csv = Path(directory), Path(recipients_csv)
    if not directory.is_dir():
        raise DigestError(f"{directory}: no such issue folder", f"create it with: digest new {directory}")
    subjects = subjects_of(directory)
    slug = _slug(directory)
    run = AbRun("test", subjects, share, [])
    test, journal = _stored(directory, slug)
    members: list[tuple[str, int]] | None = None
    try:
        if test is None:
            if journal is not None and journal.has_rows():
                raise UsageError(f"{slug} was already sent to some recipients without an A/B test",
                                 "an A/B test starts before the issue's first send; finish the send without --ab-test")
            suppressed = suppressions.load(suppressions.suppressions_path(directory, load_settings(directory)))
            seed = secrets.token_hex(16)
            run.eligible, members = pick(recipients_csv, suppressed, seed, slug, share, len(subjects))
            if not dry_run:  # recorded before anything is sent, under the run lock
                if journal is not None:
                    journal.close()
                journal = Journal(journal_path(directory), slug)
                journal.lock_run()
                if not journal.start_ab_test(seed, share, subjects, members):
                    test, members = journal.ab_test(), None  # another run recorded one meanwhile: that one counts
        if test is not None:
            _same_test(test, share, subjects)
            run.resumed, run.sizes, run.winner = True, test.sizes, test.winner
            say(f"A/B test of {slug}: resuming the test started earlier ({_sizes(test.sizes)})")
        else:
            assert members is not None and run.eligible is not None
            run.sizes = [sum(1 for _, v in members if v == n) for n in range(1, len(subjects) + 1)]
            say(f"A/B test of {slug}: {sum(run.sizes):,} of {run.eligible:,} recipient(s) ({percent(share)}), "
                f"{_sizes(run.sizes)}" + (" (dry run: not recorded)" if dry_run else ""))
        by_variant = _by_variant(journal, members, len(subjects))
    finally:
        if journal is not None:
            journal.close()
    for number, subject in enumerate(subjects, start=1):
        keys = by_variant[number]
        say(f"variant {number}: {subject!r} to {len(keys):,} test recipient(s)")
        report = send(directory, recipients_csv, only=lambda r, keys=keys: r.email.lower() in keys, subject=subject,
                      dry_run=dry_run, notify=notify, **send_args)
        run.sends.append((number, subject, report))
        if report.interrupted or report.error:
            break
    return run


def run_winner(directory: Path | str, recipients_csv: Path | str, choice: int | None, send: Send, *,
               dry_run: bool = False, notify: Notify | None = None, **send_args: Any) -> AbRun:
    """``--ab-winner auto|N``: choose the variant (or read the choice back) and send it to everyone not yet sent."""
    from .report import issue_report, variant_lines

    say: Notify = notify or (lambda _m: None)
    directory = Path(directory)
    if not directory.is_dir():
        raise DigestError(f"{directory}: no such issue folder", f"create it with: digest new {directory}")
    slug = _slug(directory)
    test, journal = _stored(directory, slug)
    if journal is not None:
        journal.close()
    if test is None:
        raise UsageError(f"{slug} has no A/B test to choose a winner of",
                         f"start one first: digest send {directory} --recipients CSV --ab-test 20%")
    run = AbRun("winner", test.subjects, test.share, test.sizes, resumed=test.winner is not None)
    report = issue_report(directory)
    run.figures = report["variants"]
    events = report["source"] == "journal+events"
    if events:
        for line in variant_lines(run.figures):
            say(line)
    if test.winner is not None:
        if choice is not None and choice != test.winner:
            raise UsageError(f"variant {test.winner} was already chosen for {slug} ({test.chosen_by}); "
                             f"--ab-winner {choice} would mail the rest another subject",
                             f"resume with --ab-winner {test.winner} (or auto)")
        run.winner, run.chosen_by = test.winner, test.chosen_by
        say(f"resuming the send of the winner chosen earlier: variant {run.winner}")
    elif choice is not None:
        if choice > len(test.subjects):
            raise UsageError(f"--ab-winner {choice}: the test of {slug} has {len(test.subjects)} subjects",
                             f"choose 1 to {len(test.subjects)} (as listed in subject_variants)")
        run.winner, run.chosen_by = choice, "hand"
    else:
        if not events:
            shown = ", ".join(report["backends"]) or "no backend yet"
            raise UsageError(f"--ab-winner auto needs SendGrid's events for {slug}: {report['note'] or shown}",
                             "only SendGrid sends have delivery, open and click events (digest events-server); "
                             "choose by hand with --ab-winner N")
        run.winner, run.chosen_by = best(run.figures), "auto"
        say(f"chose variant {run.winner} by its click rate (opens break a tie)")
    subject = test.subjects[run.winner - 1]
    unsent = sum(v["recipients"] - v["sent"] for v in run.figures)
    if unsent > 0:
        say(f"note: {unsent:,} test recipient(s) were not sent their variant (failed, unknown or interrupted); "
            "those the journal sends now get the winner's subject")
    if not dry_run and test.winner is None:
        with Journal(journal_path(directory), slug) as writable:
            writable.choose_ab_winner(run.winner, run.chosen_by or "hand")
    say(f"sending {subject!r} to every recipient not yet sent")
    result = send(directory, recipients_csv, subject=subject, dry_run=dry_run, notify=notify, **send_args)
    run.sends.append((run.winner, subject, result))
    return run


def check_plain_send(directory: Path | str) -> None:
    """A plain ``digest send`` of an issue with an A/B test would mail the rest ``subject``: refused."""
    directory = Path(directory)
    if not journal_path(directory).is_file():
        return
    try:
        test, journal = _stored(directory, _slug(directory))
    except DigestError:  # JournalError, a bad issue.toml: the send itself reports it
        return
    if journal is not None:
        journal.close()
    if test is None:
        return
    if test.winner is not None:
        raise UsageError(f"the A/B test of {directory.name} chose variant {test.winner}: a plain send would mail the "
                         "rest the issue's subject", "resume with --ab-winner auto (it keeps the winner chosen)")
    raise UsageError(f"{directory.name} has an A/B subject test waiting for its winner: a plain send would mail the "
                     "rest the issue's subject", "choose with --ab-winner auto|N, or resume the test with --ab-test "
                     f"{percent(test.share)}")


def best(figures: list[dict[str, Any]]) -> int:
    """The variant with the highest click rate of delivered, the open rate breaking a tie (see the module doc)."""
    scored = [(v["rates"].get("clicked"), v["rates"].get("opened"), v["variant"]) for v in figures
              if v.get("delivered")]
    if not scored:
        raise UsageError("no delivered event for any variant of the test yet: nothing to choose on",
                         "wait for SendGrid's events (digest events-server), or choose with --ab-winner N")
    scored.sort(key=lambda s: (s[0] or 0.0, s[1] or 0.0), reverse=True)
    top = scored[0]
    tied = [s[2] for s in scored if (s[0] or 0.0, s[1] or 0.0) == (top[0] or 0.0, top[1] or 0.0)]
    if len(tied) > 1:
        raise UsageError(f"variants {', '.join(map(str, tied))} tie on click rate and open rate",
                         "choose by hand with --ab-winner N (or wait for more events)")
    return int(top[2])


# ------------------------------------------------------------------------------------------------ helpers


def _stored(directory: Path, slug: str) -> tuple[AbTest | None, Journal | None]:
    """The stored test (or None) and the journal (read-only; None when there is none yet) it was read from."""
    journal = open_journal(directory, slug, readonly=True)
    return (journal.ab_test() if journal is not None else None), journal


def _same_test(test: AbTest, share: float, subjects: list[str]) -> None:
    if abs(test.share - share) > 1e-9:
        raise UsageError(f"the A/B test of this issue was started with --ab-test {percent(test.share)}, "
                         f"not {percent(share)}",
                         f"resume it with --ab-test {percent(test.share)}, or choose a winner with --ab-winner")
    if test.subjects != subjects:
        raise UsageError("subject_variants changed since the A/B test started (it was started with "
                         + "; ".join(f"{n}. {s!r}" for n, s in enumerate(test.subjects, start=1)) + ")",
                         "restore those subjects in issue.toml to resume the test")


def _by_variant(journal: Journal | None, members: list[tuple[str, int]] | None, variants: int) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {n: set() for n in range(1, variants + 1)}
    rows = members if members is not None else (list(journal.ab_variants().items()) if journal is not None else [])
    for key, variant in rows:
        out.setdefault(variant, set()).add(key)
    return out


def _sizes(sizes: list[int]) -> str:
    return ", ".join(f"{n:,} for subject {i}" for i, n in enumerate(sizes, start=1))
