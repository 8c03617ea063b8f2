"""``digest report``: one issue's results, from its send journal and (SendGrid sends) its webhook events.

Every count is of unique recipients (an address counts once however many events it has):

- ``sent``: accepted by the backend, from the journal;
- ``delivered``, ``bounced`` (hard bounces and blocks), ``deferred``, ``dropped``, ``clicked``,
  ``spam_reports``, ``unsubscribed`` (unsubscribe or group unsubscribe): from the events;
- ``opened``: opens not flagged ``sg_machine_open``; ``machine_opens``: recipients with a machine open
  (Apple Mail Privacy Protection fetches every image on delivery), counted apart and out of the open rate.

``rates``: ``delivered`` against ``sent``, every other figure against ``delivered``. ``links``: each clicked
URL with its unique clickers. ``milestones``: for delivered, opened and clicked, the seconds from the send's
start to the first, median and last recipient's first such event. Issues sent by SMTP or the outbox have
no events: only ``sent`` is known; the others are null and ``note`` says so.
"""

from __future__ import annotations

import sqlite3
import statistics
from pathlib import Path
from typing import Any

from ..errors import DigestError
from .events import open_events
from .journal import JOURNAL_NAME, JournalError

COUNTS = ("delivered", "bounced", "deferred", "dropped", "opened", "clicked", "spam_reports", "unsubscribed",
          "machine_opens")
_WHERE = {
    "delivered": "event = 'delivered'",
    "bounced": "event = 'bounce'",
    "deferred": "event = 'deferred'",
    "dropped": "event = 'dropped'",
    "opened": "event = 'open' AND machine = 0",
    "clicked": "event = 'click'",
    "spam_reports": "event = 'spamreport'",
    "unsubscribed": "event IN ('unsubscribe', 'group_unsubscribe')",
    "machine_opens": "event = 'open' AND machine = 1",
}
MILESTONES = ("delivered", "opened", "clicked")


def _journal_facts(directory: Path, slug: str) -> tuple[int, float | None, list[str]]:
    """(sent, when the send started, backends used) from the journal; (0, None, []) when never sent."""
    from .journal import open_journal

    try:
        journal = open_journal(directory, slug, readonly=True)
    except JournalError as exc:
        raise DigestError(exc.message, exc.hint) from None
    if journal is None:
        return 0, None, []
    with journal:
        if journal.issue_id < 0:
            return 0, None, []
        summary = journal.summary()
        db = journal.db
        start = db.execute("SELECT MIN(started) FROM batches WHERE issue = ?", (journal.issue_id,)).fetchone()[0]
        backends = [b for (b,) in db.execute(
            "SELECT backend FROM runs WHERE issue = ? GROUP BY backend ORDER BY MIN(started)", (journal.issue_id,))]
    return summary.sent, (float(start) if start is not None else None), backends


def _spread(times: list[float]) -> dict[str, float] | None:
    if not times:
        return None
    times.sort()
    return {"first": round(times[0], 1), "median": round(float(statistics.median(times)), 1),
            "last": round(times[-1], 1)}


def _rate(n: int | None, of: int | None) -> float | None:
    if n is None or not of:
        return None
    return round(n / of, 4)


def issue_report(directory: Path | str) -> dict[str, Any]:
    """The report of the issue in ``directory`` as one JSON-ready dict (keys described in the module doc)."""
    from .events import issue_id

    directory = Path(directory)
    if not directory.is_dir():
        raise DigestError(f"{directory}: no such issue folder")
    slug = issue_id(directory)
    sent, started, backends = _journal_facts(directory, slug)
    out: dict[str, Any] = {"issue": slug, "backends": backends, "source": "journal", "sent": sent}
    out.update(dict.fromkeys(COUNTS))
    out.update({"rates": {}, "links": [], "milestones": dict.fromkeys(MILESTONES), "note": ""})
    db = open_events(directory, readonly=True)
    if db is None:
        if not (directory / JOURNAL_NAME).exists():
            out["note"] = "not sent yet: no send journal in this folder"
        elif "sendgrid" in backends:
            out["note"] = "no SendGrid events received yet (is the Event Webhook pointed at digest events-server?)"
        else:
            shown = ", ".join(backends) or "an unknown backend"
            out["note"] = (f"sent by {shown}: figures come from the send journal only (no delivery, open or click "
                           f"events for this backend)")
        out["rates"] = {"delivered": None, **{k: None for k in COUNTS if k != "delivered"}}
        return out
    try:
        with db:
            out["source"] = "journal+events"
            for name in COUNTS:
                out[name] = int(db.execute(f"SELECT COUNT(DISTINCT key) FROM events WHERE {_WHERE[name]}")
                                .fetchone()[0])
            out["links"] = [{"url": url, "clickers": int(n)} for url, n in db.execute(
                "SELECT url, COUNT(DISTINCT key) AS n FROM events WHERE event = 'click' AND url IS NOT NULL "
                "GROUP BY url ORDER BY n DESC, url")]
            if started is not None:
                for name in MILESTONES:
                    firsts = [float(ts) - started for (ts,) in db.execute(
                        f"SELECT MIN(ts) FROM events WHERE {_WHERE[name]} GROUP BY key")]
                    out["milestones"][name] = _spread(firsts)
    except sqlite3.DatabaseError as exc:
        raise DigestError(f"{directory / 'events.sqlite'}: cannot read the event store ({exc})") from None
    delivered = out["delivered"]
    out["rates"] = {"delivered": _rate(delivered, sent),
                    **{k: _rate(out[k], delivered) for k in COUNTS if k != "delivered"}}
    if "sendgrid" not in backends:
        out["note"] = "events were received, but the journal shows no SendGrid send of this issue"
    return out


def text_lines(report: dict[str, Any]) -> list[str]:
    """The report for a terminal."""
    lines = [f"issue {report['issue']} ({report['source']}; sent by {', '.join(report['backends']) or 'nobody yet'})"]
    rates = report["rates"]
    for name in ("sent", *COUNTS):
        value = report[name]
        if value is None:
            continue
        rate = rates.get(name)
        base = "of sent" if name == "delivered" else "of delivered"
        shown = f"  {rate:7.2%} {base}" if rate is not None else ""
        lines.append(f"  {name.replace('_', ' '):<14} {value:>9,}{shown}")
    for name, spread in report["milestones"].items():
        if spread:
            lines.append(f"  {name:<14} first {duration(spread['first'])}, half by {duration(spread['median'])}, "
                         f"last {duration(spread['last'])} after the send started")
    if report["links"]:
        lines.append("  links (unique clickers):")
        lines.extend(f"    {link['clickers']:>7,}  {link['url']}" for link in report["links"][:20])
        if len(report["links"]) > 20:
            lines.append(f"    ... and {len(report['links']) - 20} more")
    if report["note"]:
        lines.append(f"note: {report['note']}")
    return lines


def duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
