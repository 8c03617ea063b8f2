"""Progress on a terminal (recipients, rate, ETA) and the end-of-send summary as text.

The bar is drawn on stderr only when stderr is a terminal, at most ten times a second, on one line
(carriage return); nothing is drawn into pipes, files or ``--json`` runs' stdout.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from .summary import SendReport


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """``update(done, sent)`` as the send goes; ``close()`` ends the line. Draws only on a TTY.

    ``done`` counts recipients settled (accepted, failed or unknown: their answer came back) plus the rows
    skipped, against ``total`` rows: with many requests in flight, rows read run far ahead of the answers, so
    the rate and ETA follow the answers."""

    def __init__(self, total: int | None, stream: TextIO | None = None, *, enabled: bool | None = None,
                 label: str = "sending") -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.total = total
        self.label = label
        self.start = time.monotonic()
        self._last = 0.0
        self._drawn = False

    def line(self, done: int, sent: int) -> str:
        elapsed = max(time.monotonic() - self.start, 1e-6)
        rate = done / elapsed
        parts = [f"{self.label}: {done:,}"]
        if self.total:
            pct = min(100.0, 100.0 * done / self.total)
            width = 24
            fill = int(width * pct / 100)
            parts = [f"{self.label} [{'#' * fill}{'.' * (width - fill)}] {done:,}/{self.total:,}"]
        parts.append(f"sent {sent:,}")
        parts.append(f"{rate:,.0f}/s")
        if self.total and rate > 0 and done < self.total:
            parts.append(f"ETA {_clock((self.total - done) / rate)}")
        return "  ".join(parts)

    def update(self, done: int, sent: int, *, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        self.stream.write("\r" + self.line(done, sent) + "\x1b[K")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self.enabled and self._drawn:
            self.stream.write("\n")
            self.stream.flush()


def summary_lines(report: SendReport) -> list[str]:
    """The human summary of the whole journal (stderr in the CLI)."""
    s = report.summary
    out: list[str] = []
    if report.test_email:
        ok = report.sent_now == 1
        out.append(f"test copy to {report.test_email}: {'sent' if ok else 'NOT sent'} via {report.backend}"
                   + (f" ({report.error})" if report.error and not ok else ""))
        return out
    head = "dry run" if report.dry_run else report.backend + (" (sandbox: nothing delivered)" if report.sandbox else "")
    if report.dry_run:
        out.append(f"{head}: {report.would_send:,} recipient(s) would be sent in {len(report.batches):,} batch(es) "
                   f"of up to {report.max_batch:,}")
    else:
        out.append(f"{head}: this run sent {report.sent_now:,}, failed {report.failed_now:,}, "
                   f"unknown {report.unknown_now:,}")
    skipped = ", ".join(f"{k} {v:,}" for k, v in sorted(s.skipped.items())) or "none"
    out.append(f"journal ({report.slug}): sent {s.sent:,} · skipped {s.skipped_total:,} ({skipped}) · "
               f"failed {s.failed:,} · unknown {s.unknown:,}"
               + (f" · pending {s.pending:,}" if s.pending else ""))
    in_flight = int(getattr(report, "max_in_flight", 0) or 0)
    limited = int(getattr(report, "rate_limited", 0) or 0)
    if in_flight > 1 or limited:
        out.append(f"requests in flight at most {in_flight:,}; rate limited (HTTP 429) {limited:,} time(s)")
    if report.recovered_unknown:
        out.append(f"{report.recovered_unknown:,} recipient(s) were in flight when the last run stopped: "
                   "now unknown (they may have been delivered)")
    if s.unknown and not report.dry_run:
        out.append(f"{s.unknown:,} unknown recipient(s) held: run again with --resend-unknown to send them "
                   "(they may get the issue twice)")
    if report.interrupted:
        out.append("stopped after the batches in flight: run the same command again to resume")
    elif s.pending and not report.dry_run and not report.error:
        out.append(f"{s.pending:,} journal recipient(s) were not in this recipients file (or are suppressed now): "
                   "not sent")
    if report.error:
        out.append(f"stopped: {report.error}")
    return out
