"""``digest send``: from the built issue and a recipients CSV to delivered messages, exactly once.

The flow, streaming from start to end (a million recipients never sit in memory):

1. build the issue when ``needs_build``; refuse (``SendRefused``) only for blocking problems: no sender,
   no unsubscribe method, no postal address;
2. read the CSV row by row (``recipients.read_recipients``): invalid, duplicate and suppressed rows are
   skipped with their reason and recorded in the journal for the summary;
3. on a resumed send, ask the journal which of each chunk are still to send (new, pending, transiently
   failed, unknown with ``--resend-unknown``); group them into batches of ``backend.max_batch``;
4. per batch: commit it ``inflight`` in the journal, compute each recipient's ``Personal`` (merge values
   + signed unsubscribe URL: cheap, no rendering), call the backend, commit what came back;
5. Ctrl-C / SIGTERM set a flag checked between batches: the batch in flight finishes, the journal is
   left resumable, and the report says so.

A first SendGrid run on Linux (an empty journal, links of the common shape) moves step 2 and the building of
each request body into one forked producer process (``producer.py``: ``read`` feeding a ``Builder``): it sends
each chunk's row problems, rows read and serialized batches over a pipe (its blocking writes are the
back-pressure: a batch or two ahead at most); this process claims each batch ``inflight``, sends it and
records it as in step 4. The producer never talks to SendGrid nor writes the journal, ignores SIGINT and is
SIGKILLed by the kernel when this process dies (``PR_SET_PDEATHSIG``). ``DIGEST_SEND_PRODUCER=0`` keeps
everything in process (as do resumed runs, outbox and SMTP). The whole send holds the journal's run lock:
a second ``digest send`` of the issue stops with a clear message while the first runs.

Where the parts live: ``batching.py`` (the in-process loop), ``producer.py`` (the producer process),
``summary.py`` (the report and the bookkeeping both loops share), ``personal.py`` (recipient → ``Personal``),
``backends/`` (the registry, the ``Backend`` Protocol and its capabilities, one module or folder per backend).

``--test EMAIL`` sends one copy with the subject prefixed ``[TEST] `` outside the journal; ``--dry-run``
reads everything and reports the batches it would send, writing nothing. A SendGrid ``--sandbox`` run
talks to SendGrid but delivers nothing, so it never touches the journal either.
"""


from __future__ import annotations

import contextlib
import datetime as _dt
import gc
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..config import Settings, load_settings
from ..errors import DigestError, SendRefused, UsageError
from ..model import Recipient
from . import suppressions
from .backends import default_batch, make_backend, own_unsubscribe
from .backends.base import Backend, BatchAborted, Schedules, WritesFolder
from .batching import Flight, StopFlag, loop
from .journal import Journal, Summary, journal_path, open_journal
from .personal import PersonalMaker, message_tokens
from .producer import Producer, consume, producer_possible
from .recipients import RecipientStream, RowProblem, count_rows, describe_layout, read_recipients, validate_address
from .summary import SendReport
from .unsubscribe import Links, links_from_settings

TEST_PREFIX = "[TEST] "
SWITCH_INTERVAL = 0.0005  # seconds: see _run
GC_YOUNG = 50_000  # allocations between young-generation collections during the send: see _run

Notify = Callable[[str], None]


# --- checks ----------------------------------------------------------------------------------------


def blocking_problems(settings: Settings, draft_from: str, backend_name: str) -> list[str]:
    """What makes a send impossible (each a sentence); empty when it may go."""
    problems: list[str] = []
    nl = settings.newsletter
    sender = (draft_from or str(nl.get("from_email") or "")).strip()
    if not sender:
        problems.append("no sender: set newsletter.from_email in digest.toml")
    elif validate_address(sender)[0] is None:
        problems.append(f"the sender newsletter.from_email is not a valid address: {sender!r}")
    unsub = settings["unsubscribe"]
    own_key, own_set = own_unsubscribe(backend_name, settings)  # the provider's own unsubscribe, if it has one
    if not (str(unsub.get("url") or "").strip() or str(unsub.get("mailto") or "").strip() or own_set):
        problems.append("no unsubscribe method: set [unsubscribe] url (https, with {token}) and/or mailto"
                        + (f" (or {own_key})" if own_key else ""))
    if not str(nl.get("postal_address") or "").strip():
        problems.append("no postal address: set newsletter.postal_address (required in commercial email)")
    return problems


def parse_at(value: str | int | None) -> int | None:
    """``--at``: an ISO 8601 time (a time without zone is local) or a Unix timestamp → Unix seconds."""
    if value is None or value == "":
        return None
    if isinstance(value, int):
        return value
    text = value.strip()
    if text.isdigit():
        return int(text)
    try:
        when = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--at: not a time: {value!r}", "use ISO 8601, e.g. 2026-11-03T09:00+01:00") from None
    if when.tzinfo is None:
        when = when.astimezone()
    return int(when.timestamp())


# --- the stop flag -----------------------------------------------------------------------------------


def send_issue(
    directory: Path | str,
    recipients_csv: Path | str | None,
    backend_name: str = "outbox",
    *,
    dry_run: bool = False,
    test_email: str | None = None,
    resend_unknown: bool = False,
    sandbox: bool = False,
    at: str | int | None = None,
    json_output: bool = False,
    notify: Notify | None = None,
    progress: Any = None,
    stop: StopFlag | None = None,
    max_problems: int = 1000,
    only: Callable[[Recipient], bool] | None = None,
    subject: str | None = None,
    force: bool = False,
) -> SendReport:
    """Send the issue in ``directory`` to ``recipients_csv`` through ``backend_name``; see the module doc.

    ``notify`` receives one-line messages (the CLI writes them to stderr); ``progress`` has
    ``update(done, sent)`` and ``close()``. ``json_output`` only keeps messages terse. ``only`` keeps the
    CSV's recipients it accepts (the others are left alone, neither sent nor skipped) and ``subject`` replaces
    the issue's subject: an A/B test's variant (``abtest.py``).
    """
    from ..compose.freshness import needs_build  # the renderer and inliner are imported only to build
    from ..compose.message import load_draft

    say: Notify = notify or (lambda _m: None)
    directory = Path(directory)
    if not directory.is_dir():
        raise DigestError(f"{directory}: no such issue folder", f"create it with: digest new {directory}")
    if test_email is None and recipients_csv is None:
        raise UsageError("--recipients CSV is required (or --test EMAIL for one test copy)")
    send_at = parse_at(at)
    if needs_build(directory):
        from ..compose.build import build_issue

        say(f"building {directory} first (build/ is missing or older than its inputs)")
        result = build_issue(directory)
        for w in getattr(result, "warnings", []):
            say(f"warning: {w}")
    settings = load_settings(directory)
    draft = load_draft(directory)
    if subject is not None:
        from ..compose.message import check_header_text

        draft = replace(draft, subject=check_header_text(subject, "subject"))
    blockers = blocking_problems(settings, draft.from_email, backend_name)
    if blockers:
        raise SendRefused("cannot send: " + "; ".join(blockers))
    if not force:  # digest check's errors hold the send (in-process checks only: see compose.check.send_gate)
        from ..compose.check import send_gate

        if held := send_gate(directory):
            raise SendRefused(f"cannot send: digest check finds {len(held)} error(s): " + "; ".join(held),
                              f"fix them (digest check {directory} lists them), or pass --force to send anyway")
    links = links_from_settings(settings)
    report = SendReport(slug=draft.slug, backend=backend_name, dry_run=dry_run, sandbox=sandbox,
                        test_email=test_email, warnings=list(links.warnings))
    for w in links.warnings:
        say(f"warning: {w}")

    if test_email is not None:
        return _send_test(directory, settings, draft, links, backend_name, test_email, report,
                          sandbox=sandbox, dry_run=dry_run)

    stream, problems = read_recipients(Path(recipients_csv))  # type: ignore[arg-type]
    if only is not None:
        stream.keep_only(only)
    for w in stream.layout.warnings:
        report.warnings.append(w)
        say(f"warning: {w}")
    if not json_output:
        say(describe_layout(stream.layout))
    suppressed = suppressions.load(suppressions.suppressions_path(directory, settings))

    backend = None if dry_run else make_backend(backend_name, directory, settings, sandbox=sandbox, send_at=send_at)
    max_batch = backend.max_batch if backend is not None else default_batch(backend_name, settings)
    report.max_batch = max_batch
    uses_journal = backend is not None and backend.delivers
    journal: Journal | None
    if uses_journal:
        journal = Journal(journal_path(directory), draft.slug)
        report.journal = str(journal.path)
    else:
        journal = open_journal(directory, draft.slug, readonly=True)
    if isinstance(backend, WritesFolder):
        report.outbox = str(backend.folder)
    maker = PersonalMaker(draft, links, message_tokens(draft))
    stop_flag = stop if stop is not None else StopFlag(say)
    total = None
    if progress is not None and getattr(progress, "enabled", True):
        try:
            total = count_rows(Path(recipients_csv))  # type: ignore[arg-type]
        except OSError:
            total = None
        if hasattr(progress, "total") and progress.total is None:
            progress.total = total

    try:
        if uses_journal:
            assert journal is not None
            locked = journal.lock_run()  # one send of an issue at a time (raises when another one runs)
            report.recovered_unknown = journal.recover()
            journal.start_run(backend_name, report.recovered_unknown)
            # A first run under the lock: the stream yields each address once, so claims need no look-up.
            journal.claims_unchecked = locked and not journal.has_rows()
        if backend is not None:
            backend.open(draft)
            _remember_schedule(backend, directory, send_at, say)
        with stop_flag if stop is None else contextlib.nullcontext():
            _run(stream, problems, suppressed, journal if uses_journal else None,
                 journal if not uses_journal else None, backend, draft, maker, max_batch, report,
                 resend_unknown, stop_flag, progress, max_problems)
    finally:
        if backend is not None:
            with contextlib.suppress(Exception):  # closing never hides the real outcome
                backend.close()
        if progress is not None:
            progress.close()
        if journal is not None:
            if uses_journal:
                journal.finish_run("interrupted" if report.interrupted else (report.error or "done"))
            report.summary = journal.summary()
            journal.close()
    if not uses_journal:
        # Dry run or sandbox: the skips of this run are in no journal; count them from the CSV.
        report.summary = Summary(report.summary.states, dict(report.skipped_now))
    return report


def _remember_schedule(backend: Backend, directory: Path, send_at: int | None, say: Notify) -> None:
    if send_at is None or not isinstance(backend, Schedules) or not backend.batch_id:
        return
    batch_id = backend.batch_id
    backend.remember_schedule(directory, send_at)
    when = _dt.datetime.fromtimestamp(send_at).astimezone().isoformat(timespec="minutes")
    say(f"scheduled for {when} (batch {batch_id}); cancel with: digest send {directory} --cancel")


def _run(stream: RecipientStream, problems: list[RowProblem], suppressed: set[str], journal: Journal | None,
         readonly: Journal | None, backend: Backend | None, draft: Any, maker: PersonalMaker, max_batch: int,
         report: SendReport, resend_unknown: bool, stop: StopFlag, progress: Any, max_problems: int) -> None:
    flight = Flight(journal, backend, draft, report, maker)
    # The flight's thread needs the GIL only briefly between SQLite and socket calls; by default it waits up to
    # 5 ms for it each time while this thread computes. A shorter interval lets it through at once.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, SWITCH_INTERVAL))
    # Each recipient allocates a handful of short-lived dicts and lists: at the default threshold (700) the
    # cycle collector runs every ~100 recipients and rescans the batches being built (~8% of the loop's CPU).
    # The objects alive before the send are frozen (never rescanned) and young collections are rarer; no
    # cycle goes uncollected, it is only collected later.
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(thresholds[0], GC_YOUNG), *thresholds[1:])
    producer: Producer | None = None
    try:
        rows_backend = producer_possible(stream, journal, readonly, backend, draft, maker)
        if rows_backend is not None:  # a first run of a backend that prepares rows: in the producer process
            assert journal is not None
            producer = Producer(stream, suppressed, rows_backend, draft, maker, max_batch)
            consume(producer, journal, rows_backend, draft, report, stop, progress, max_problems, flight)
        else:
            loop(stream, problems, suppressed, journal, readonly, backend, maker, max_batch, report,
                 resend_unknown, stop, progress, max_problems, flight)
    except BaseException:
        flight.abandon()
        raise
    finally:
        if producer is not None:
            producer.close()
        sys.setswitchinterval(interval)
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _send_test(directory: Path, settings: Settings, draft: Any, links: Links, backend_name: str, email: str,
               report: SendReport, *, sandbox: bool, dry_run: bool) -> SendReport:
    normalized, why = validate_address(email.strip())
    if normalized is None:
        raise UsageError(f"--test: not a valid address: {email!r} ({why})")
    report.test_email = normalized
    test_draft = replace(draft, subject=TEST_PREFIX + draft.subject)
    personal = PersonalMaker(test_draft, links)(Recipient(normalized, {}, 0))
    if dry_run:
        report.would_send = 1
        report.sent_now = 1
        return report
    backend = make_backend(backend_name, directory, settings, sandbox=sandbox, test=True)
    report.max_batch = 1
    try:
        backend.open(test_draft)
        outcomes = backend.send_batch(test_draft, [personal])
    except BatchAborted as exc:
        outcomes = list(exc.outcomes)
        report.error = exc.message
    finally:
        backend.close()
    for o in outcomes:
        if o.ok:
            report.sent_now += 1
        else:
            report.failed_now += 1
            report.error = report.error or o.error
    if isinstance(backend, WritesFolder):
        report.outbox = str(backend.folder)
    return report


def cancel_scheduled(directory: Path | str) -> str:
    """``digest send DIR --cancel``: cancel the SendGrid scheduled send recorded in DIR."""
    from .backends.sendgrid import SendGridBackend  # --cancel is SendGrid's alone
    from .backends.sendgrid.schedule import load_schedule, mark_cancelled

    directory = Path(directory)
    schedule = load_schedule(directory)
    if not schedule:
        raise DigestError(f"{directory}: no scheduled SendGrid send to cancel")
    backend = SendGridBackend(load_settings(directory))
    backend.cancel(str(schedule["batch_id"]))
    mark_cancelled(directory)
    return str(schedule["batch_id"])

