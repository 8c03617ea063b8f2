"""``digest report``: one issue's results, from its send journal and (SendGrid sends) its webhook events.

Every count is of unique recipients (an address counts once however many events it has):

- ``sent``: accepted by the backend, from the journal;
- ``delivered``, ``bounced`` (hard bounces and blocks), ``deferred``, ``dropped``, ``clicked``,
  ``spam_reports``, ``unsubscribed`` (unsubscribe or group unsubscribe): from the events;
- ``opened``: opens not flagged ``sg_machine_open``; ``machine_opens``: recipients with a machine open
  (Apple Mail Privacy Protection fetches every image on delivery), counted apart and out of the open rate.

``rates``: ``delivered`` against ``sent``, every other figure against ``delivered``. ``links``: each clicked
URL with its unique clickers. ``milestones``: for delivered, opened and clicked, the seconds from the send's
start to the first, median and last recipient's first such event. Only addresses the journal sent the issue
to are counted (a ``--test`` copy carries the same ``digest_issue``); ``outside_journal`` says how many
others had events. Issues sent by SMTP or the outbox have no events: only ``sent`` is known; the others are
null and ``note`` says so.

``variants``: an A/B subject test's figures, one entry per subject (empty without a test): its test
recipients, how many were sent, the same unique counts and rates over them, and whether it was chosen
(``winner``) for the rest.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import statistics
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..errors import DigestError
from ..folder import IssueFolder
from .event_store import open_events
from .journal import JournalError, journal_path

log = logging.getLogger(__name__)

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
VARIANT_COUNTS = ("delivered", "opened", "clicked", "machine_opens", "bounced", "unsubscribed", "spam_reports")


def _journal_facts(directory: Path, slug: str) -> tuple[int, float | None, list[str], int | None]:
    """(sent, when the send started, backends used, the issue's row) from the journal; (0, None, [], None) when
    never sent."""
    from .journal import open_journal

    try:
        journal = open_journal(directory, slug, readonly=True)
    except JournalError as exc:
        raise DigestError(exc.message, exc.hint) from None
    if journal is None:
        return 0, None, [], None
    with journal:
        summary = journal.summary()
        db = journal.db
        start = db.execute("SELECT MIN(started) FROM batches WHERE issue = ?", (journal.issue_id,)).fetchone()[0]
        backends = [b for (b,) in db.execute(
            "SELECT backend FROM runs WHERE issue = ? GROUP BY backend ORDER BY MIN(started)", (journal.issue_id,))]
    return summary.sent, (float(start) if start is not None else None), backends, journal.issue_id


def _scope_to_journal(db: sqlite3.Connection, directory: Path, issue_row: int) -> str:
    """Restrict the counts to addresses the journal sent this issue to (``--test`` copies carry the same
    ``digest_issue``): a SQL condition on ``key``, or "" when the journal cannot be read that way."""
    try:
        db.execute("ATTACH DATABASE ? AS j", (f"file:{quote(str(journal_path(directory)))}?mode=ro",))
        db.execute("CREATE TEMP TABLE issue_recipients (key TEXT PRIMARY KEY) WITHOUT ROWID")
        db.execute("INSERT OR IGNORE INTO temp.issue_recipients "
                   "SELECT IIF(m.type = 'text', m.value, json_extract(m.value, '$[0]')) "
                   "FROM j.claims c, json_each(c.members) AS m WHERE c.issue = ?", (issue_row,))
    except sqlite3.DatabaseError as exc:
        log.warning("report: counting every event: the journal's recipients could not be read (%s)", exc)
        return ""
    return "key IN (SELECT key FROM temp.issue_recipients)"


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
    sent, started, backends, issue_row = _journal_facts(directory, slug)
    out: dict[str, Any] = {"issue": slug, "backends": backends, "source": "journal", "sent": sent}
    out.update(dict.fromkeys((*COUNTS, "outside_journal")))
    out.update({"rates": {}, "links": [], "milestones": dict.fromkeys(MILESTONES), "note": "", "variants": []})
    db = open_events(directory, readonly=True)
    if db is None:
        if not IssueFolder(directory).journal.exists():
            out["note"] = "not sent yet: no send journal in this folder"
        elif "sendgrid" in backends:
            out["note"] = "no SendGrid events received yet (is the Event Webhook pointed at digest events-server?)"
        else:
            shown = ", ".join(backends) or "an unknown backend"
            out["note"] = (f"sent by {shown}: figures come from the send journal only (no delivery, open or click "
                           f"events for this backend)")
        out["rates"] = {"delivered": None, **{k: None for k in COUNTS if k != "delivered"}}
        out["variants"] = _variants(directory, slug, None)
        return out
    try:
        with contextlib.closing(db):
            out["source"] = "journal+events"
            scope = _scope_to_journal(db, directory, issue_row) if issue_row is not None else ""
            where = {name: f"({cond}) AND {scope}" if scope else cond for name, cond in _WHERE.items()}
            for name in COUNTS:
                out[name] = int(db.execute(f"SELECT COUNT(DISTINCT key) FROM events WHERE {where[name]}")
                                .fetchone()[0])
            out["outside_journal"] = int(db.execute(
                f"SELECT COUNT(DISTINCT key) FROM events WHERE NOT ({scope})").fetchone()[0]) if scope else 0
            out["links"] = [{"url": url, "clickers": int(n)} for url, n in db.execute(
                f"SELECT url, COUNT(DISTINCT key) AS n FROM events WHERE {where['clicked']} AND url IS NOT NULL "
                "GROUP BY url ORDER BY n DESC, url")]
            out["variants"] = _variants(directory, slug, db)
            if started is not None:
                for name in MILESTONES:
                    # SendGrid's timestamps are whole seconds: an event in the send's first second is at 0.
                    firsts = [max(0.0, float(ts) - started) for (ts,) in db.execute(
                        f"SELECT MIN(ts) FROM events WHERE {where[name]} GROUP BY key")]
                    out["milestones"][name] = _spread(firsts)
    except sqlite3.DatabaseError as exc:
        raise DigestError(f"{IssueFolder(directory).events}: cannot read the event store ({exc})") from None
    delivered = out["delivered"]
    out["rates"] = {"delivered": _rate(delivered, sent),
                    **{k: _rate(out[k], delivered) for k in COUNTS if k != "delivered"}}
    if "sendgrid" not in backends:
        out["note"] = "events were received, but the journal shows no SendGrid send of this issue"
    elif out["outside_journal"]:
        out["note"] = (f"{out['outside_journal']:,} address(es) with events are not among this issue's recipients "
                       "in the journal (test copies, for example) and are left out")
    return out


def _variants(directory: Path, slug: str, db: sqlite3.Connection | None) -> list[dict[str, Any]]:
    """Each A/B variant's figures (see the module doc); ``db`` is the event store with the journal attached as
    ``j`` (None: no events, only the journal's figures)."""
    from .journal import open_journal

    try:
        journal = open_journal(directory, slug, readonly=True)
    except JournalError:
        return []
    if journal is None:
        return []
    with journal:
        test = journal.ab_test()
        if test is None:
            return []
        sent = dict(journal.db.execute(
            "SELECT v.variant, COUNT(*) FROM recipients r JOIN ab_variants v ON v.issue = r.issue AND v.key = r.key "
            "WHERE r.issue = ? AND r.state = 'sent' GROUP BY v.variant", (journal.issue_id,)))
        issue_row = journal.issue_id
    counts: dict[str, dict[int, int]] = {}
    if db is not None and "j" not in {name for _, name, _ in db.execute("PRAGMA database_list")}:
        db = None  # the journal could not be attached (logged by _scope_to_journal): no event figures
    if db is not None:
        for name in VARIANT_COUNTS:
            counts[name] = dict(db.execute(
                f"SELECT v.variant, COUNT(DISTINCT e.key) FROM events e JOIN j.ab_variants v "
                f"ON v.issue = ? AND v.key = e.key WHERE {_WHERE[name]} GROUP BY v.variant", (issue_row,)))
    out: list[dict[str, Any]] = []
    for number, subject in enumerate(test.subjects, start=1):
        row: dict[str, Any] = {"variant": number, "subject": subject, "recipients": test.sizes[number - 1],
                               "sent": int(sent.get(number, 0)), "winner": test.winner == number}
        for name in VARIANT_COUNTS:
            row[name] = int(counts[name].get(number, 0)) if db is not None else None
        delivered = row["delivered"]
        row["rates"] = {"delivered": _rate(delivered, row["sent"]),
                        **{k: _rate(row[k], delivered) for k in VARIANT_COUNTS if k != "delivered"}}
        out.append(row)
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
    variants = report.get("variants") or []
    if variants:
        lines.append("  A/B subjects (unique recipients of each variant; rates of delivered):")
        lines.extend("    " + line for line in variant_lines(variants))
    if report["note"]:
        lines.append(f"note: {report['note']}")
    return lines


def variant_lines(variants: list[dict[str, Any]]) -> list[str]:
    """One line per A/B variant: its subject, sent, delivered, click and open rates (the figures a winner is
    chosen on)."""
    lines = []
    for v in variants:
        rates = v["rates"]
        figures = [f"sent {v['sent']:,}"]
        if v["delivered"] is not None:
            figures.append(f"delivered {v['delivered']:,}")
            for name in ("clicked", "opened"):
                rate = rates.get(name)
                figures.append(f"{name} {v[name]:,}" + (f" ({rate:.2%})" if rate is not None else ""))
        mark = "  <- winner" if v["winner"] else ""
        lines.append(f"{v['variant']}. {v['subject']!r}: {', '.join(figures)}{mark}")
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
