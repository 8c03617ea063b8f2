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
each request body into one forked producer process (``_Producer``: ``_read`` feeding a ``_Builder``): it sends
each chunk's row problems, rows read and serialized batches over a pipe (its blocking writes are the
back-pressure: a batch or two ahead at most); this process claims each batch ``inflight``, sends it and
records it as in step 4. The producer never talks to SendGrid nor writes the journal, ignores SIGINT and is
SIGKILLed by the kernel when this process dies (``PR_SET_PDEATHSIG``). ``DIGEST_SEND_PRODUCER=0`` keeps
everything in process (as do resumed runs, outbox and SMTP). The whole send holds the journal's run lock:
a second ``digest send`` of the issue stops with a clear message while the first runs.

``--test EMAIL`` sends one copy with the subject prefixed ``[TEST] `` outside the journal; ``--dry-run``
reads everything and reports the batches it would send, writing nothing. A SendGrid ``--sandbox`` run
talks to SendGrid but delivers nothing, so it never touches the journal either.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as _dt
import gc
import html
import importlib
import itertools
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .. import merge
from ..config import Settings, load_settings
from ..errors import DigestError, SendRefused, UsageError
from ..model import Recipient
from . import suppressions
from .base import AllAccepted, BatchAborted, Outcome, Personal
from .journal import Journal, Summary, journal_path, open_journal
from .recipients import RowProblem, count_rows, describe_layout, read_recipients, validate_address
from .unsubscribe import Links, links_from_settings

BACKENDS: dict[str, str] = {
    "outbox": "digest.deliver.outbox:OutboxBackend",
    "smtp": "digest.deliver.smtp:SmtpBackend",
    "sendgrid": "digest.deliver.sendgrid:SendGridBackend",
}
PREVIEW_BATCHES = 20  # batches kept for the dry-run listing
TEST_PREFIX = "[TEST] "
SWITCH_INTERVAL = 0.0005  # seconds: see _run
PREPARE_AHEAD = 2  # batches the send loop may have prepared while one is in flight: see _loop
GC_YOUNG = 50_000  # allocations between young-generation collections during the send: see _run

Notify = Callable[[str], None]


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
            "ok": self.ok,
        }


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
    asm = backend_name == "sendgrid" and int(settings["sendgrid"].get("asm_group_id") or 0) > 0
    if not (str(unsub.get("url") or "").strip() or str(unsub.get("mailto") or "").strip() or asm):
        problems.append("no unsubscribe method: set [unsubscribe] url (https, with {token}) and/or mailto"
                        + (" (or [sendgrid] asm_group_id)" if backend_name == "sendgrid" else ""))
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


# --- backends --------------------------------------------------------------------------------------


def make_backend(name: str, directory: Path, settings: Settings, *, sandbox: bool = False,
                 send_at: int | None = None, test: bool = False) -> Any:
    """The backend called ``name`` (outbox, smtp, sendgrid), imported by name only when used."""
    if name not in BACKENDS:
        raise UsageError(f"unknown backend {name!r}", f"choose one of: {', '.join(BACKENDS)}")
    if name != "sendgrid" and (sandbox or send_at is not None):
        raise UsageError("--sandbox and --at need --backend sendgrid")
    module_name, _, cls_name = BACKENDS[name].partition(":")
    try:
        module = importlib.import_module(module_name)
        cls = getattr(module, cls_name)
    except (ImportError, AttributeError):
        raise DigestError(f"the {name} backend is not available yet in this version of digest",
                          "use --backend outbox") from None
    if name == "outbox":
        return cls(directory, test=test)
    if name == "smtp":
        return cls(settings)
    kwargs: dict[str, Any] = {"sandbox": sandbox, "send_at": send_at}
    if send_at is not None and not test:
        schedule = getattr(module, "load_schedule", lambda _d: None)(directory)
        if schedule and schedule.get("status") == "scheduled" and schedule.get("batch_id"):
            kwargs["batch_id"] = schedule["batch_id"]  # a resumed scheduled send keeps its batch
    return cls(settings, **kwargs)


# --- the stop flag -----------------------------------------------------------------------------------


class StopFlag:
    """Set by SIGINT/SIGTERM (first signal: finish the batch in flight; second Ctrl-C: stop now)."""

    def __init__(self, notify: Notify | None = None) -> None:
        self.event = threading.Event()
        self.notify = notify
        self._old: dict[int, Any] = {}

    def __bool__(self) -> bool:
        return self.event.is_set()

    def _handler(self, signum: int, frame: Any) -> None:
        if self.event.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.event.set()
        if self.notify:
            self.notify(f"{signal.Signals(signum).name}: stopping after the batch in flight "
                        "(Ctrl-C again to stop at once)")

    def __enter__(self) -> StopFlag:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(ValueError, OSError):
                    self._old[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


# --- per recipient -----------------------------------------------------------------------------------


class PersonalMaker:
    """Recipient → Personal: merge values for the fields the draft uses, plus the unsubscribe links.

    Same result as ``merge.values(fields, defaults, wanted)`` with the token names computed once per send
    (a few µs per recipient instead of tens). With ``tokens`` (the tokens the message contains) only those
    are made: a field the HTML writes but no URL uses needs no URL-encoded form. Backends substitute only
    the message's own tokens, so the result is the same; SendGrid can take the values as they are.
    """

    def __init__(self, draft: Any, links: Links, tokens: Collection[str] | None = None) -> None:
        self.defaults: dict[str, str] = dict(getattr(draft, "merge_defaults", {}) or {})
        used = draft.merge_fields() if hasattr(draft, "merge_fields") else None
        self.wanted = (set(used) - {"unsubscribe_url"}) if used is not None else None
        # The recipient's own address is the "email" merge field ("Sent to ..." in the footer).
        self.with_email = self.wanted is None or "email" in self.wanted
        self.tokens = frozenset(tokens) if tokens is not None else None
        self.links = links
        self._plans: dict[tuple[str, ...], list[tuple[str, str, tuple[str, ...], str | None, str | None,
                                                      str | None]]] = {}

    def _plan(self, fields: Mapping[str, str]) -> list[tuple[str, str, tuple[str, ...], str | None, str | None,
                                                               str | None]]:
        """(field, default, its tokens, HTML token, TEXT token, URL token) for rows shaped like ``fields`` (cached).

        A token the message does not use is None (and left out of the tuple of tokens).
        """
        shape = tuple(fields)
        plan = self._plans.get(shape)
        if plan is None:
            names = set(fields) | set(self.defaults)
            if self.wanted is not None:
                names &= self.wanted
            plan = []
            for name in sorted(names):
                try:
                    toks = [merge.token(name, ctx) for ctx in merge.CONTEXTS]
                except ValueError:
                    continue
                if self.tokens is not None:
                    toks = [t if t in self.tokens else None for t in toks]
                    if not any(toks):
                        continue
                plan.append((name, self.defaults.get(name, ""), tuple(t for t in toks if t), toks[0], toks[1],
                             toks[2]))
            self._plans[shape] = plan
        return plan

    def values(self, fields: Mapping[str, str], email: str | None = None) -> dict[str, str]:
        if email is not None and self.with_email:
            fields = {**fields, "email": email}
        out: dict[str, str] = {}
        for name, default, toks, t_html, t_text, t_url in self._plan(fields):
            value = (fields.get(name) or "").strip() or default
            if value.isalnum() and value.isascii():  # nothing to escape or encode: the common case
                for tok in toks:
                    out[tok] = value
            else:
                if t_html:
                    out[t_html] = html.escape(value, quote=True)
                if t_text:
                    out[t_text] = value
                if t_url:
                    out[t_url] = quote(value, safe="")
        return out

    def __call__(self, r: Recipient) -> Personal:
        url, mailto = self.links.for_recipient(r.email)
        return Personal(r.email, self.values(r.fields, r.email), url, mailto)


def message_tokens(draft: Any) -> set[str] | None:
    """Every merge token of the draft's subject, text and HTML (None for a draft without them)."""
    try:
        return merge.tokens_in(f"{draft.subject}\n{draft.text}\n{draft.html}")
    except AttributeError:
        return None


# --- the send ------------------------------------------------------------------------------------------


def _chunks(stream: Iterable[Recipient], size: int) -> Iterator[list[Recipient]]:
    rows = iter(stream)
    while chunk := list(itertools.islice(rows, size)):
        yield chunk


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
) -> SendReport:
    """Send the issue in ``directory`` to ``recipients_csv`` through ``backend_name``; see the module doc.

    ``notify`` receives one-line messages (the CLI writes them to stderr); ``progress`` has
    ``update(done, sent)`` and ``close()``. ``json_output`` only keeps messages terse.
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
    blockers = blocking_problems(settings, draft.from_email, backend_name)
    if blockers:
        raise SendRefused("cannot send: " + "; ".join(blockers))
    links = links_from_settings(settings)
    report = SendReport(slug=draft.slug, backend=backend_name, dry_run=dry_run, sandbox=sandbox,
                        test_email=test_email, warnings=list(links.warnings))
    for w in links.warnings:
        say(f"warning: {w}")

    if test_email is not None:
        return _send_test(directory, settings, draft, links, backend_name, test_email, report,
                          sandbox=sandbox, dry_run=dry_run)

    stream, problems = read_recipients(Path(recipients_csv))  # type: ignore[arg-type]
    for w in stream.layout.warnings:
        report.warnings.append(w)
        say(f"warning: {w}")
    if not json_output:
        say(describe_layout(stream.layout))
    suppressed = suppressions.load(suppressions.suppressions_path(directory, settings))

    backend = None if dry_run else make_backend(backend_name, directory, settings, sandbox=sandbox, send_at=send_at)
    max_batch = int(getattr(backend, "max_batch", 0) or _default_batch(backend_name, settings))
    report.max_batch = max_batch
    uses_journal = not dry_run and getattr(backend, "delivers", True)
    journal: Journal | None
    if uses_journal:
        journal = Journal(journal_path(directory), draft.slug)
        report.journal = str(journal.path)
    else:
        journal = open_journal(directory, draft.slug, readonly=True)
    if backend_name == "outbox" and backend is not None:
        report.outbox = str(getattr(backend, "folder", ""))
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


def _default_batch(backend_name: str, settings: Settings) -> int:
    if backend_name == "sendgrid":
        return min(1000, int(settings["sendgrid"].get("batch_size") or 1000))
    if backend_name == "smtp":
        return max(1, int(settings["smtp"].get("batch_size") or 20))
    return 500


def _remember_schedule(backend: Any, directory: Path, send_at: int | None, say: Notify) -> None:
    batch_id = getattr(backend, "batch_id", None)
    if send_at is None or not batch_id:
        return
    try:
        from . import sendgrid as sg_mod
    except ImportError:
        return
    sg_mod.save_schedule(directory, batch_id, send_at)
    when = _dt.datetime.fromtimestamp(send_at).astimezone().isoformat(timespec="minutes")
    say(f"scheduled for {when} (batch {batch_id}); cancel with: digest send {directory} --cancel")


class _Flight:
    """The one batch in flight: claimed, sent and settled in a worker thread while the send loop prepares the next.

    The journal rules do not change: a batch is committed ``inflight`` (``begin_batch``) before its request
    leaves and settled (``record``) as soon as its answer arrives, both in the worker; the next batch is handed
    over only after this one's answer, so there is never more than one request out. What overlaps is the send
    loop's own work (reading, validating and personalizing the next batch) with this batch's journal commit and
    request, which mostly wait on SQLite and the network without holding the GIL.
    """

    def __init__(self, journal: Journal | None, backend: Any, draft: Any, report: SendReport,
                 maker: PersonalMaker) -> None:
        self.journal = journal
        self.maker = maker
        self._values = maker.values  # one bound method for the whole send (the backend caches by identity)
        self._prepare_rows = getattr(backend, "prepare_rows", None)
        self.backend = backend
        self.draft = draft
        self.report = report
        self.thread: threading.Thread | None = None
        self.number = 0
        self.error: str | None = None  # why the send must stop (the backend refused or gave up)
        self.crash: BaseException | None = None  # anything else: re-raised in the send loop's thread

    def prepare(self, batch: list[Recipient]) -> tuple[list[Personal] | None, Any]:
        """What can be done before the batch is claimed: (personals, prepared request).

        SendGrid builds and serializes the request straight from the rows (``prepare_rows``: no ``Personal``
        per recipient) or, for links of another shape, from the personals (``prepare_batch``); the other
        backends get the personals.
        """
        if not batch:
            return [], None
        if self._prepare_rows is not None:
            prepared = self._prepare_rows(self.draft, batch, self.maker.links, self._values)
            if prepared is not None:
                return None, prepared
        personals = [self.maker(r) for r in batch]
        prepare = getattr(self.backend, "prepare_batch", None)
        return personals, (prepare(self.draft, personals) if prepare is not None else None)

    def start(self, number: int, batch: list[Recipient], personals: list[Personal] | None,
              prepared: Any = None) -> None:
        assert self.thread is None, "one batch in flight at a time"
        self.number = number
        self.thread = threading.Thread(target=self._work, args=(number, batch, personals, prepared),
                                       name="digest-send-batch", daemon=True)
        self.thread.start()

    def start_built(self, number: int, emails: list[str], built: Any) -> None:
        """``start`` for a batch the producer process prepared (its addresses and request, no rows)."""
        assert self.thread is None and self.journal is not None, "one batch in flight at a time"
        self.number = number
        self.thread = threading.Thread(target=self._work_built, args=(number, emails, built),
                                       name="digest-send-batch", daemon=True)
        self.thread.start()

    def _work_built(self, number: int, emails: list[str], built: Any) -> None:
        assert self.journal is not None
        try:
            self.error = _deliver_built(self.journal, self.backend, self.draft, number, emails, built, self.report)
        except BaseException as exc:  # noqa: BLE001 - handed to the send loop's thread by wait()
            self.crash = exc

    def _work(self, number: int, batch: list[Recipient], personals: list[Personal] | None, prepared: Any) -> None:
        try:
            self.error = _deliver(self.journal, self.backend, self.draft, number, batch, personals, self.maker,
                                  self.report, prepared)
        except BaseException as exc:  # noqa: BLE001 - handed to the send loop's thread by wait()
            self.crash = exc

    def idle(self) -> bool:
        """No batch in flight, or its thread has finished (``wait`` then returns at once)."""
        return self.thread is None or not self.thread.is_alive()

    def wait(self) -> bool:
        """Wait for the batch in flight to be settled; False when the send must stop (``report.error`` set)."""
        thread = self.thread
        if thread is None:
            return True
        thread.join()
        self.thread = None
        if self.crash is not None:
            crash, self.crash = self.crash, None
            raise crash
        if self.error is not None:
            self.report.error = self.error
            return False
        return True

    def abandon(self) -> None:
        """The send loop is going down (a crash, a second Ctrl-C): the batch in flight, if its answer has not
        been recorded, may or may not be delivered."""
        thread = self.thread
        if thread is not None and thread.is_alive() and self.journal is not None:
            with contextlib.suppress(Exception):
                self.journal.batch_unknown(self.number, "the send crashed during this batch")


def _deliver(journal: Journal | None, backend: Any, draft: Any, number: int, batch: list[Recipient],
             personals: list[Personal] | None, maker: PersonalMaker, report: SendReport,
             prepared: Any = None) -> str | None:
    """Claim, send and settle one batch (in the flight's thread); the reason to stop, or None."""
    emails = [r.email for r in batch]
    if journal is not None:
        claimed = journal.begin_batch(number, emails)  # committed before the request leaves
        if len(claimed) != len(emails):
            keep = set(claimed)
            batch = [r for r in batch if r.email in keep]
            emails = [r.email for r in batch]
            personals = None
            prepared = None  # built for recipients this batch did not get: build again
    if prepared is None and personals is None:
        personals = [maker(r) for r in batch]
    try:
        if not emails:
            outcomes = []
        elif prepared is not None:
            outcomes = backend.send_prepared(draft, prepared)
        else:
            outcomes = backend.send_batch(draft, personals)
    except BatchAborted as exc:
        _settle(journal, number, emails, exc.outcomes, report, missing="pending")
        return exc.message + (f" ({exc.hint})" if exc.hint else "")
    except DigestError as exc:
        if journal is not None:
            journal.batch_unknown(number, f"the backend failed during the batch: {exc.message}")
        report.unknown_now += len(emails)
        return exc.message
    except BaseException:
        if journal is not None:
            journal.batch_unknown(number, "the send crashed during this batch")
        raise
    _settle(journal, number, emails, outcomes, report, missing="unknown")
    return None


def _run(stream: Iterator[Recipient], problems: list[RowProblem], suppressed: set[str], journal: Journal | None,
         readonly: Journal | None, backend: Any, draft: Any, maker: PersonalMaker, max_batch: int,
         report: SendReport, resend_unknown: bool, stop: StopFlag, progress: Any, max_problems: int) -> None:
    flight = _Flight(journal, backend, draft, report, maker)
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
    producer: _Producer | None = None
    try:
        prepare = _producer_possible(stream, journal, readonly, backend, draft, maker)
        if prepare is not None:
            assert journal is not None
            producer = _Producer(stream, suppressed, prepare, max_batch)
            _consume(producer, journal, backend, draft, report, stop, progress, max_problems, flight)
        else:
            _loop(stream, problems, suppressed, journal, readonly, backend, maker, max_batch, report,
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


def _loop(stream: Iterator[Recipient], problems: list[RowProblem], suppressed: set[str], journal: Journal | None,
          readonly: Journal | None, backend: Any, maker: PersonalMaker, max_batch: int, report: SendReport,
          resend_unknown: bool, stop: StopFlag, progress: Any, max_problems: int, flight: _Flight) -> None:
    queue: list[Recipient] = []
    # Batches prepared (read, personalized, serialized) but not handed over yet: never claimed in the journal.
    ready: collections.deque[tuple[list[Recipient], list[Personal] | None, Any]] = collections.deque()
    batch_no = journal.next_batch_number() if journal is not None else 1
    resuming = journal is not None and journal.has_rows()  # a first run needs no look-ups
    known = journal if journal is not None and resuming else readonly
    done = 0

    def flush_problems() -> None:
        _record_problems(journal, report, problems, max_problems)
        del problems[:]  # memory stays flat on a file full of bad rows: recorded rows are forgotten

    def launch(batch: list[Recipient]) -> bool:
        """Prepare one batch, then hand it over once the batch in flight is settled; False when the send stops."""
        nonlocal batch_no
        if backend is None:  # dry run
            _count_batch(report, batch_no, len(batch), batch[0].email, batch[-1].email)
            batch_no += 1
            report.would_send += len(batch)
            return True
        ready.append((batch, *flight.prepare(batch)))  # while the previous batch's request is out
        return hand_over(block=False)

    def hand_over(*, block: bool) -> bool:
        """Start the prepared batches, in order, one at a time: when the flight is free, when ``PREPARE_AHEAD``
        are waiting, or (``block``, at the end) all of them; False when the send stops."""
        nonlocal batch_no
        while ready and (block or len(ready) >= PREPARE_AHEAD or flight.idle()):
            if not flight.wait():
                return False
            if stop:  # Ctrl-C / SIGTERM: the batch in flight was finished; nothing new leaves
                report.interrupted = True
                return False
            batch, personals, prepared = ready.popleft()
            _count_batch(report, batch_no, len(batch), batch[0].email, batch[-1].email)
            flight.start(batch_no, batch, personals, prepared)
            batch_no += 1
        return True

    for chunk in _chunks(stream, max_batch):
        fresh = _drop_suppressed(chunk, suppressed, problems)
        if known is not None and fresh:
            sendable = set(known.sendable([r.email for r in fresh], resend_unknown=resend_unknown))
            if len(sendable) != len(fresh):
                fresh = [r for r in fresh if r.email in sendable]
        full, queue = _full_batches(queue, fresh, max_batch)
        flush_problems()
        for batch in full:
            if not launch(batch):
                flight.wait()
                return
            if progress is not None:
                done_now = report.sent_now + report.failed_now + report.unknown_now
                progress.update(max(done, stream.rows), done_now)
        done = stream.rows
        if progress is not None:
            progress.update(done, report.sent_now)
        if stop:
            if flight.wait():
                report.interrupted = True
            return
    if (queue and not launch(queue)) or not hand_over(block=True):
        flight.wait()
        flush_problems()
        return
    flight.wait()
    flush_problems()
    if progress is not None:
        progress.update(stream.rows, report.sent_now, force=True)


def _record_problems(journal: Journal | None, report: SendReport, problems: Sequence[RowProblem],
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


def _count_batch(report: SendReport, number: int, size: int, first: str, last: str) -> None:
    """One more batch in the report (the first ``PREVIEW_BATCHES`` listed with their first and last address)."""
    report.batch_count += 1
    if len(report.batches) < PREVIEW_BATCHES:
        report.batches.append((number, size, first, last))


def _settle(journal: Journal | None, number: int, emails: Sequence[str], outcomes: Sequence[Outcome],
            report: SendReport, *, missing: str) -> None:
    """Count and record outcomes; recipients without one become ``missing`` (pending or unknown)."""
    if isinstance(outcomes, AllAccepted):
        report.sent_now += len(outcomes)
    else:
        _count_outcomes(outcomes, report)
    if journal is None:
        return
    left = journal.record(number, emails, outcomes, missing=missing)
    if missing == "unknown":
        report.unknown_now += left


def _count_outcomes(outcomes: Sequence[Outcome], report: SendReport) -> None:
    for o in outcomes:
        if o.ok:
            report.sent_now += 1
        elif o.unknown:
            report.unknown_now += 1
        else:
            report.failed_now += 1


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
    if backend_name == "outbox":
        report.outbox = str(getattr(backend, "folder", ""))
    return report


def cancel_scheduled(directory: Path | str) -> str:
    """``digest send DIR --cancel``: cancel the SendGrid scheduled send recorded in DIR."""
    directory = Path(directory)
    try:
        from . import sendgrid as sg_mod
    except ImportError:
        raise DigestError("the sendgrid backend is not available yet in this version of digest") from None
    schedule = sg_mod.load_schedule(directory)
    if not schedule:
        raise DigestError(f"{directory}: no scheduled SendGrid send to cancel")
    backend = sg_mod.SendGridBackend(load_settings(directory))
    backend.cancel(str(schedule["batch_id"]))
    path = directory / sg_mod.SCHEDULE_FILE
    path.write_text(path.read_text(encoding="utf-8").replace('"status": "scheduled"', '"status": "cancelled"'),
                    encoding="utf-8")
    return str(schedule["batch_id"])


# --- the producer process (SendGrid, first run) --------------------------------------------------------

PRODUCER_ENV = "DIGEST_SEND_PRODUCER"  # "0": never use the producer process (the in-process path does it all)
PR_SET_PDEATHSIG = 1


def _producer_possible(stream: Any, journal: Journal | None, readonly: Journal | None, backend: Any, draft: Any,
                       maker: PersonalMaker) -> Callable[[list[Recipient]], Any] | None:
    """The function that prepares a batch in the producer process, or None when the producer does not apply.

    It applies to a first run (an empty journal: nothing to look up) of a backend with ``prepare_rows`` whose
    links take the row path, on Linux (``fork`` and ``PR_SET_PDEATHSIG``), before the CSV is read.
    """
    if os.environ.get(PRODUCER_ENV, "1") == "0" or not sys.platform.startswith("linux"):
        return None
    if journal is None or readonly is not None or journal.has_rows():
        return None
    prepare_rows = getattr(backend, "prepare_rows", None)
    if prepare_rows is None or getattr(stream, "rows", None) != 0 or not hasattr(stream, "problems"):
        return None
    links, values = maker.links, maker.values
    if prepare_rows(draft, [], links, values) is None:  # links of another shape: the general path
        return None
    return lambda batch: prepare_rows(draft, batch, links, values)


def _die_with_parent(parent: int) -> None:
    """In the producer: SIGKILL when the parent dies (Linux), and exit now if it already has."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(0)


def _drop_suppressed(chunk: list[Recipient], suppressed: set[str], problems: list[RowProblem]) -> list[Recipient]:
    """The rows of ``chunk`` not on the suppression list; the others become ``suppressed`` row problems."""
    if not suppressed:
        return chunk
    fresh: list[Recipient] = []
    for r in chunk:
        if r.email.lower() in suppressed:
            problems.append(RowProblem(r.line, r.email, "suppressed", "on the suppression list"))
        else:
            fresh.append(r)
    return fresh


def _full_batches(queue: list[Recipient], fresh: list[Recipient],
                  max_batch: int) -> tuple[list[list[Recipient]], list[Recipient]]:
    """``queue + fresh`` cut into full batches of ``max_batch``, and the rest that waits for more rows."""
    rows = queue + fresh if queue else fresh
    cut = len(rows) - len(rows) % max_batch
    return [rows[i:i + max_batch] for i in range(0, cut, max_batch)], rows[cut:]


def _read(sink: Any, stream: Any, suppressed: set[str], max_batch: int) -> None:
    """The reader: CSV → validation → dedupe → suppressions, as rows to ``sink`` (the builder).

    One message per chunk of ``max_batch`` rows read: ``("rows", problems, rows read, rows)``, then
    ``("end", problems, rows read, rows)``.
    """
    problems: list[RowProblem] = stream.problems
    for chunk in _chunks(stream, max_batch):
        fresh = _drop_suppressed(chunk, suppressed, problems)
        sink.send(("rows", list(problems), stream.rows, fresh))
        del problems[:]
    sink.send(("end", list(problems), stream.rows, []))


class _Builder:
    """The builder: the reader's messages in (``send``), serialized batches out to ``conn`` (to the parent).

    One message per message of the reader: ``("chunk", problems, rows read, batches)``, each batch
    ``(emails, body bytes, emails in the body, refused outcomes)``; then ``("end", problems, rows, batches)``
    (an exception becomes ``("error", ...)`` in ``_child_main``). It never talks to SendGrid and never writes
    the journal. ``conn.send`` blocks while the parent has not read the previous message: the back-pressure.
    """

    def __init__(self, conn: Any, prepare: Callable[[list[Recipient]], Any], max_batch: int) -> None:
        self.conn = conn
        self.prepare = prepare
        self.max_batch = max_batch
        self.queue: list[Recipient] = []

    def _batch(self, batch: list[Recipient]) -> tuple[list[str], bytes | None, list[str] | None, list[Outcome]]:
        built = self.prepare(batch)
        # The addresses in the body are the batch's unless some were refused: then both lists go down the pipe.
        return (built.emails if not built.refused else [r.email for r in batch],
                built.raw.raw if built.raw is not None else None, built.emails if built.refused else None,
                built.refused)

    def send(self, message: tuple[Any, ...]) -> None:
        kind, problems, rows, fresh = message
        full, self.queue = _full_batches(self.queue, fresh, self.max_batch)
        batches = [self._batch(batch) for batch in full]
        if kind == "end":
            queue, self.queue = self.queue, []
            self.conn.send(("end", problems, rows, batches + ([self._batch(queue)] if queue else [])))
        else:
            self.conn.send(("chunk", problems, rows, batches))


def _child_main(conn: Any, parent: int, work: Callable[[], None]) -> None:
    """A forked child's whole life: never returns (``os._exit``), never runs the parent's cleanup.

    ``work`` runs; an exception goes down ``conn`` as ``("error", exception or its message)``."""
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it stops after the batch in flight
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _die_with_parent(parent)
        try:
            work()
        except (BrokenPipeError, EOFError, ConnectionResetError):
            code = 0  # the next process stopped reading: nothing to do
        except BaseException as exc:  # noqa: BLE001 - handed down the pipe, the parent raises it
            with contextlib.suppress(BaseException):
                try:
                    conn.send(("error", exc))
                except Exception:  # noqa: BLE001 - an exception that does not pickle: its message
                    conn.send(("error", f"{type(exc).__name__}: {exc}"))
            code = 1
    finally:
        with contextlib.suppress(BaseException):
            conn.close()
        os._exit(code)


class _Producer:
    """The parent's side: the forked producer (``_read`` into a ``_Builder``) and the read end of its pipe.

    One child, not two: a reader process handing rows to a builder process was measured (1M recipients,
    three runs each): 20.2-21.3 s against 17.6-20.1 s, because passing the rows costs more CPU than the
    second process wins on a machine the stand-in and this process already keep busy.
    """

    def __init__(self, stream: Any, suppressed: set[str], prepare: Callable[[list[Recipient]], Any],
                 max_batch: int) -> None:
        from multiprocessing.connection import Pipe

        reader, writer = Pipe(duplex=False)
        _widen(writer.fileno())
        parent = os.getpid()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child
            reader.close()
            builder = _Builder(writer, prepare, max_batch)
            _child_main(writer, parent, lambda: _read(builder, stream, suppressed, max_batch))
        writer.close()
        _trim()  # the parent keeps only the journal and the requests: give freed heap back (RSS)
        self.pids = [pid]
        self.conn = reader

    def recv(self) -> tuple[Any, ...]:
        try:
            return self.conn.recv()  # type: ignore[no-any-return]
        except EOFError:
            raise DigestError("the recipients reader stopped unexpectedly (its process died)") from None

    def close(self) -> None:
        """Stop the children (if still running) and reap them; their CPU time then counts as this process's."""
        with contextlib.suppress(OSError):
            self.conn.close()
        for pid in self.pids:
            with contextlib.suppress(OSError):
                done, _ = os.waitpid(pid, os.WNOHANG)
                if done == 0:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)


def _widen(fd: int) -> None:
    """A pipe that holds a whole request body (Linux: 1 MB instead of 64 KB, where allowed): the producer
    writes a batch in one go instead of waking the sender a dozen times per batch."""
    with contextlib.suppress(Exception):
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)


def _trim() -> None:
    """glibc ``malloc_trim(0)``: return free heap pages to the system (nothing on other C libraries)."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _rebuild(built: Any, claimed: Collection[str]) -> None:
    """A prepared body for only the ``claimed`` addresses (the journal refused some: never on a first run)."""
    keep = set(claimed)
    body = json.loads(built.raw.raw)
    body["personalizations"] = [p for p in body["personalizations"] if p["to"][0]["email"] in keep]
    built.emails = [e for e in built.emails if e in keep]
    built.refused = [o for o in built.refused if o.email in keep]
    built.body = body
    built.raw = _sg_dumps(body) if built.emails else None


def _sg_dumps(body: Any) -> Any:
    from .sendgrid import dumps

    return dumps(body)


def _deliver_built(journal: Journal, backend: Any, draft: Any, number: int, emails: list[str], built: Any,
                   report: SendReport) -> str | None:
    """``_deliver`` for a batch the producer prepared: claim, send, settle (in the flight's thread)."""
    claimed = journal.begin_batch(number, emails)  # committed before the request leaves
    if len(claimed) != len(emails):
        emails = claimed
        _rebuild(built, claimed)
    try:
        outcomes = backend.send_prepared(draft, built) if emails else []
    except BatchAborted as exc:
        _settle(journal, number, emails, exc.outcomes, report, missing="pending")
        return exc.message + (f" ({exc.hint})" if exc.hint else "")
    except DigestError as exc:
        journal.batch_unknown(number, f"the backend failed during the batch: {exc.message}")
        report.unknown_now += len(emails)
        return exc.message
    except BaseException:
        journal.batch_unknown(number, "the send crashed during this batch")
        raise
    _settle(journal, number, emails, outcomes, report, missing="unknown")
    return None


def _consume(producer: _Producer, journal: Journal, backend: Any, draft: Any, report: SendReport, stop: StopFlag,
             progress: Any, max_problems: int, flight: _Flight) -> None:
    """The parent's loop with a producer: record skipped rows, claim and send each prepared batch in order."""
    from .sendgrid import BatchBody, JsonBody

    batch_no = journal.next_batch_number()
    rows = 0

    while True:
        message = producer.recv()  # while the flight's thread claims and sends the previous batch
        kind = message[0]
        if kind == "error":
            exc = message[1]
            flight.wait()
            if isinstance(exc, BaseException):
                raise exc
            raise DigestError(f"reading the recipients failed: {exc}")
        _, problems, rows, batches = message
        _record_problems(journal, report, problems, max_problems)
        for emails, raw, body_emails, refused in batches:
            body_emails = emails if body_emails is None else body_emails
            if not flight.wait():
                return
            if stop:  # Ctrl-C / SIGTERM: the batch in flight was finished; nothing new leaves
                report.interrupted = True
                return
            built = BatchBody(None, body_emails, refused, JsonBody(raw) if raw is not None else None)
            _count_batch(report, batch_no, len(emails), emails[0], emails[-1])
            flight.start_built(batch_no, emails, built)
            batch_no += 1
            if progress is not None:
                progress.update(rows, report.sent_now + report.failed_now + report.unknown_now)
        if kind == "end":
            break
        if progress is not None:
            progress.update(rows, report.sent_now)
        if stop:
            if flight.wait():
                report.interrupted = True
            return
    flight.wait()
    if progress is not None:
        progress.update(rows, report.sent_now, force=True)
