"""What a send did (``SendReport``), and the bookkeeping both send loops share: skipped rows, batches
listed, outcomes counted and recorded in the journal."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from ..model import AllAccepted, Outcome
from .journal import Journal, Summary
from .recipients import RowProblem

PREVIEW_BATCHES = 20  # batches kept for the dry-run listing


@dataclass
class SendReport:
    """What a send did, and the whole journal's counts afterwards."""

    slug: str
    backend: str
    summary: Summary = field(default_factory=Summary)
    problems: list[RowProblem] = field(default_factory=list)  # this run's skipped rows (capped)
    problems_total: int = 0
    skipped_now: dict[str, int] = field(default_factory=dict)  # this run's skipped rows by kind
    sent_now: int = 0
    failed_now: int = 0
    unknown_now: int = 0
    recovered_unknown: int = 0
    would_send: int = 0
    batches: list[tuple[int, int, str, str]] = field(default_factory=list)  # (number, size, first, last)
    batch_count: int = 0
    max_batch: int = 0
    dry_run: bool = False
    sandbox: bool = False
    test_email: str | None = None
    interrupted: bool = False
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    journal: str | None = None
    outbox: str | None = None
    max_in_flight: int = 0  # requests (batches) out at once, at most
    rate_limited: int = 0  # 429 answers seen

    @property
    def ok(self) -> bool:
        """Exit 0: everyone sent or skipped for a stated reason; nothing failed, unknown or left over."""
        if self.test_email:
            return self.sent_now == 1 and not self.error
        if self.error or self.interrupted:
            return False
        if self.dry_run or self.sandbox:
            return True
        return self.summary.failed == 0 and self.summary.unknown == 0

    def to_dict(self) -> dict[str, Any]:
        s = self.summary
        return {
            "issue": self.slug,
            "backend": self.backend,
            "dry_run": self.dry_run,
            "sandbox": self.sandbox,
            "test": self.test_email,
            "sent": s.sent,
            "skipped": s.skipped_total,
            "skipped_by_reason": dict(sorted(s.skipped.items())),
            "failed": s.failed,
            "unknown": s.unknown,
            "pending": s.pending,
            "this_run": {"sent": self.sent_now, "failed": self.failed_now, "unknown": self.unknown_now,
                         "recovered_unknown": self.recovered_unknown, "would_send": self.would_send,
                         "batches": self.batch_count},
            "batches": [{"batch": n, "size": size, "first": first, "last": last}
                        for n, size, first, last in self.batches],
            "problems": [asdict(p) for p in self.problems],
            "problems_total": self.problems_total,
            "interrupted": self.interrupted,
            "error": self.error,
            "warnings": self.warnings,
            "journal": self.journal,
            "outbox": self.outbox,
            "max_in_flight": self.max_in_flight,
            "rate_limited": self.rate_limited,
            "ok": self.ok,
        }


def record_problems(journal: Journal | None, report: SendReport, problems: Sequence[RowProblem],
                     max_problems: int) -> None:
    """Skipped rows into the journal (for the summary) and the report (the first ``max_problems`` in full)."""
    if not problems:
        return
    if journal is not None:
        journal.add_skips((p.line, p.email, p.kind, p.reason) for p in problems)
    room = max_problems - len(report.problems)
    if room > 0:
        report.problems.extend(problems[:room])
    report.problems_total += len(problems)
    for p in problems:
        report.skipped_now[p.kind] = report.skipped_now.get(p.kind, 0) + 1


def count_batch(report: SendReport, number: int, size: int, first: str, last: str) -> None:
    """One more batch in the report (the first ``PREVIEW_BATCHES`` listed with their first and last address)."""
    report.batch_count += 1
    if len(report.batches) < PREVIEW_BATCHES:
        report.batches.append((number, size, first, last))


def settle(journal: Journal | None, number: int, emails: Sequence[str], outcomes: Sequence[Outcome],
            report: SendReport, *, missing: Literal["unknown", "pending"]) -> None:
    """Count and record outcomes; recipients without one become ``missing`` (pending or unknown)."""
    if isinstance(outcomes, AllAccepted):
        report.sent_now += len(outcomes)
    else:
        count_outcomes(outcomes, report)
    if journal is None:
        return
    left = journal.record(number, emails, outcomes, missing=missing)
    if missing == "unknown":
        report.unknown_now += left


def settled(report: SendReport) -> int:
    """Recipients of this run whose answer came back (accepted, failed or unknown), plus the rows skipped: what
    the progress bar counts against the rows of the file."""
    return report.sent_now + report.failed_now + report.unknown_now + report.problems_total


def count_outcomes(outcomes: Sequence[Outcome], report: SendReport) -> None:
    for o in outcomes:
        if o.ok:
            report.sent_now += 1
        elif o.unknown:
            report.unknown_now += 1
        else:
            report.failed_now += 1

