"""SendGrid's Event Webhook: signed posts in, each event stored once in its issue, suppressions at once.

SendGrid POSTs a JSON array of events (to any path). The receiver (``EventsApp``, a WSGI app; ``digest
events-server`` runs it on an HTTP/1.1 server, and ``digest.deliver.events:application`` serves any WSGI
server) works in two steps:

1. **Store.** The post's signature is checked with the public key in ``DIGEST_SENDGRID_WEBHOOK_KEY`` (the
   base64 key SendGrid shows; ``sendgrid.helpers.eventwebhook.EventWebhook`` does the ECDSA P-256 check over
   the ``X-Twilio-Email-Event-Webhook-Timestamp`` header followed by the raw body). Unsigned, altered and old
   posts (timestamp more than ``[events] max_age`` seconds away, default 600) get 403; bodies over
   ``[events] max_body`` bytes (default 16 MiB) 413. A good post is committed as it came to the inbox
   (``.events-inbox.sqlite`` in the newsletter folder) and answered 200 at once.
2. **Process.** A worker thread takes the inbox's posts in order: each event goes to its issue by
   ``digest_issue``, the custom argument every personalization of a SendGrid send carries (the issue's slug:
   ``slug`` in issue.toml, else the folder name), and is stored in that issue folder's ``events.sqlite`` once
   by ``sg_event_id`` (SendGrid retries and duplicates). Then the post leaves the inbox. Posts left there by a
   stop are processed at the next start.

Events naming an issue that is not below the newsletter folder, and malformed events, are counted (``GET``
on any path answers the counters as JSON) and logged without any address.

Suppressions: ``bounce`` (but not ``type: blocked``, SendGrid's soft block; deferrals are their own event),
``dropped`` for a bounced, invalid, unsubscribed or spam-reporting address, ``spamreport``, ``unsubscribe``
and ``group_unsubscribe`` add the address to the issue's local suppression list at once with the reason.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DigestError
from . import suppressions
from .event_store import ISSUE_ARG, Event, open_events, parse_event, store_events, suppression_reason
from .event_store import events_path as events_path  # re-exported

log = logging.getLogger(__name__)

KEY_ENV = "DIGEST_SENDGRID_WEBHOOK_KEY"
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
INBOX_NAME = ".events-inbox.sqlite"  # in the newsletter folder: verified posts not yet processed
MAX_BODY = 16 * 1024 * 1024
MAX_AGE = 600.0
EVENT_KINDS = frozenset({"processed", "dropped", "delivered", "deferred", "bounce", "open", "click", "spamreport",
                         "unsubscribe", "group_unsubscribe", "group_resubscribe"})
SOURCE = "sendgrid event"

Start = Callable[..., Any]

# ------------------------------------------------------------------------------------------ verification


def load_key(value: str) -> Any:
    """The ``EventWebhook`` verifier for SendGrid's base64 key text (PEM armour and line breaks allowed)."""
    from sendgrid.helpers.eventwebhook import EventWebhook

    text = "".join(line.strip() for line in value.strip().splitlines() if "-----" not in line)
    try:
        return EventWebhook(text)
    except Exception:  # noqa: BLE001 - the helper's key parser raises several types, by version
        raise ConfigError(f"{KEY_ENV} is not a valid verification key",
                          hint="copy the key from SendGrid's Mail Settings > Signed Event Webhook (base64)") from None


class Verifier:
    """Checks a post's signature and age with the ``sendgrid`` package's ``EventWebhook`` helper."""

    def __init__(self, key_text: str, max_age: float = MAX_AGE, clock: Callable[[], float] = time.time) -> None:
        self.hook = load_key(key_text)
        self.max_age = max_age
        self.clock = clock

    def refusal(self, body: bytes, signature: str | None, timestamp: str | None) -> str | None:
        """None when the post is signed by the key, unaltered and recent; else why it is refused."""
        if not signature or not timestamp:
            return "unsigned"
        try:
            sent = float(timestamp)
            payload = body.decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return "bad signature"
        if not math.isfinite(sent) or abs(self.clock() - sent) > self.max_age:
            return "old"
        try:
            ok = self.hook.verify_signature(payload, signature.strip(), timestamp)
        except Exception:  # noqa: BLE001 - a malformed signature (bad base64, bad DER) is a bad signature
            ok = False
        return None if ok is True else "bad signature"


# ------------------------------------------------------------------------------------------ issues by id


def issue_id(directory: Path) -> str:
    """The id a send puts in ``digest_issue``: the issue's slug (issue.toml ``slug``, else the folder name)."""
    from ..compose.issue_file import read_issue

    return read_issue(directory).slug


class IssueIndex:
    """Issue folders below the newsletter folder by id; rescanned (at most every ``rescan`` s) on a miss."""

    def __init__(self, root: Path, rescan: float = 5.0) -> None:
        self.root = root
        self.rescan = rescan
        self.by_id: dict[str, Path] = {}
        self.scanned = -math.inf

    def scan(self) -> None:
        from ..compose.issue_file import find_issue_dirs

        found: dict[str, Path] = {}
        for directory in find_issue_dirs(self.root):
            try:
                ident = issue_id(directory)
            except DigestError as exc:
                log.warning("events: skipping %s: %s", directory, exc.message)
                continue
            if ident in found:
                log.warning("events: %s and %s have the same slug %r: events go to the first", found[ident],
                            directory, ident)
                continue
            found[ident] = directory
        self.by_id = found
        self.scanned = time.monotonic()

    def find(self, ident: str) -> Path | None:
        if ident not in self.by_id and time.monotonic() - self.scanned >= self.rescan:
            self.scan()
        return self.by_id.get(ident)


# ------------------------------------------------------------------------------------------ the inbox


_INBOX_SCHEMA = """
CREATE TABLE IF NOT EXISTS posts (id INTEGER PRIMARY KEY, received REAL NOT NULL, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
"""
COUNTERS = ("posts", "refused_unsigned", "refused_bad_signature", "refused_old", "refused_too_large", "events",
            "stored", "duplicates", "unknown_issue", "malformed", "suppressed")


class Inbox:
    """Verified posts waiting to be processed, and the server's counters (SQLite, WAL)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, isolation_level=None, timeout=30.0, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(_INBOX_SCHEMA)
        except (sqlite3.DatabaseError, OSError) as exc:
            raise DigestError(f"{path}: cannot open the events inbox ({exc})") from None
        self.lock = threading.Lock()

    def put(self, body: bytes) -> None:
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.execute("INSERT INTO posts (received, body) VALUES (?, ?)", (time.time(), body))
                self._count({"posts": 1})
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    def count(self, counts: Mapping[str, int]) -> None:
        with self.lock:
            self._count(counts)

    def _count(self, counts: Mapping[str, int]) -> None:
        self.db.executemany("INSERT INTO counters (name, n) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET n = n + ?",
                            [(k, v, v) for k, v in counts.items() if v])

    def oldest(self, limit: int = 20) -> list[tuple[int, float, bytes]]:
        with self.lock:
            return [(int(i), float(r), bytes(b)) for i, r, b in self.db.execute(
                "SELECT id, received, body FROM posts ORDER BY id LIMIT ?", (limit,))]

    def done(self, post: int, counts: Mapping[str, int]) -> None:
        """The post is processed: it leaves the inbox and its counts are added, in one transaction."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.execute("DELETE FROM posts WHERE id = ?", (post,))
                self._count(counts)
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    def counters(self) -> dict[str, int]:
        with self.lock:
            out = dict.fromkeys(COUNTERS, 0)
            out.update({k: int(n) for k, n in self.db.execute("SELECT name, n FROM counters")})
            out["pending"] = int(self.db.execute("SELECT COUNT(*) FROM posts").fetchone()[0])
            return out

    def close(self) -> None:
        with self.lock:
            self.db.close()


# ------------------------------------------------------------------------------------------ processing


class Processor:
    """Takes the inbox's posts in order: events into their issues' stores, suppressions, counters."""

    def __init__(self, root: Path, inbox: Inbox) -> None:
        self.root = root
        self.inbox = inbox
        self.issues = IssueIndex(root)
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self._stores: dict[Path, sqlite3.Connection] = {}
        self._thread: threading.Thread | None = None
        self._lock_file: Any = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="digest-events", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
        if self._thread is not None:
            self._thread.join(10)
        for db in self._stores.values():
            db.close()
        self._stores.clear()
        if self._lock_file is not None:
            self._lock_file.close()  # releases the processor lock
            self._lock_file = None

    def _loop(self) -> None:
        while not self.stopping.is_set():
            try:
                while self.run_once():
                    pass
            except Exception as exc:  # noqa: BLE001 - the server keeps answering; the post stays in the inbox
                log.error("events: processing failed, retrying in 5 s: %s: %s", type(exc).__name__, exc)
                self.stopping.wait(5.0)
            # Woken by a new post; the timeout also picks up posts another process (a WSGI worker) stored.
            self.wake.wait(1.0)
            self.wake.clear()

    def _exclusive(self) -> bool:
        """One processor per newsletter folder at a time (several WSGI workers may share an inbox)."""
        if self._lock_file is not None:
            return True
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not on Windows
            return True
        fh = (self.inbox.path.parent / ".events-inbox.lock").open("ab")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            return False
        self._lock_file = fh
        return True

    def run_once(self) -> int:
        """Process up to 20 posts; returns how many."""
        if not self._exclusive():
            return 0
        posts = self.inbox.oldest()
        for post, received, body in posts:
            self.inbox.done(post, self.process(body, received))
        return len(posts)

    def _store(self, issue_dir: Path) -> sqlite3.Connection:
        db = self._stores.get(issue_dir)
        if db is None:
            db = self._stores[issue_dir] = open_events(issue_dir)  # type: ignore[assignment]
        assert db is not None
        return db

    def process(self, body: bytes, received: float) -> dict[str, int]:
        counts = dict.fromkeys(("events", "stored", "duplicates", "unknown_issue", "malformed", "suppressed"), 0)
        try:
            items = json.loads(body)
        except ValueError:
            items = None
        if not isinstance(items, list):
            counts["malformed"] += 1
            log.warning("events: a post is not a JSON array of events; counted as malformed")
            return counts
        by_issue: dict[str, list[Event]] = {}
        why_malformed: dict[str, int] = {}
        for item in items:
            counts["events"] += 1
            e = parse_event(item)
            if isinstance(e, str):
                why_malformed[e] = why_malformed.get(e, 0) + 1
                continue
            by_issue.setdefault(e.issue, []).append(e)
        if why_malformed:
            counts["malformed"] += sum(why_malformed.values())
            log.warning("events: %d malformed event(s) (%s)", sum(why_malformed.values()),
                        ", ".join(f"{n} {why}" for why, n in sorted(why_malformed.items())))
        for ident, events in by_issue.items():
            issue_dir = self.issues.find(ident) if ident else None
            if issue_dir is None:
                counts["unknown_issue"] += len(events)
                log.warning("events: %d event(s) for %s, which is no issue below %s", len(events),
                            f"issue {ident[:80]!r}" if ident else f"no {ISSUE_ARG}", self.root)
                continue
            new = store_events(self._store(issue_dir), events, received)
            counts["stored"] += new
            counts["duplicates"] += len(events) - new
            counts["suppressed"] += self._suppress(issue_dir, events)
        return counts

    def _suppress(self, issue_dir: Path, events: list[Event]) -> int:
        entries = []
        for e in events:
            reason = suppression_reason(e)
            if reason:
                added = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(e.ts))
                entries.append(suppressions.Entry(e.email, reason, SOURCE, added))
        if not entries:
            return 0
        return suppressions.add(suppressions.suppressions_path(issue_dir), entries)


# ------------------------------------------------------------------------------------------ the WSGI app


@dataclass
class Limits:
    max_body: int = MAX_BODY
    max_age: float = MAX_AGE


class EventsApp:
    """The webhook receiver as a WSGI app (see the module doc). Call ``close()`` to stop its worker."""

    def __init__(self, root: Path, verifier: Verifier, limits: Limits | None = None, *, process: bool = True) -> None:
        self.root = root
        self.verifier = verifier
        self.limits = limits or Limits()
        self.inbox = Inbox(root / INBOX_NAME)
        self.processor = Processor(root, self.inbox)
        if process:
            self.processor.start()

    def close(self) -> None:
        self.processor.stop()
        self.inbox.close()

    @staticmethod
    def _answer(start: Start, status: str, body: bytes, ctype: str = "text/plain; charset=utf-8",
                extra: list[tuple[str, str]] | None = None) -> list[bytes]:
        start(status, [("Content-Type", ctype), ("Content-Length", str(len(body))), ("Cache-Control", "no-store"),
                       *(extra or [])])
        return [body]

    def __call__(self, environ: dict[str, Any], start_response: Start) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        if method in ("GET", "HEAD"):
            data = (json.dumps(self.inbox.counters(), sort_keys=True) + "\n").encode()
            return self._answer(start_response, "200 OK", data if method == "GET" else b"", "application/json")
        if method != "POST":
            return self._answer(start_response, "405 Method Not Allowed", b"POST the events\n",
                                extra=[("Allow", "GET, POST")])
        limit = self.limits.max_body
        if environ.get("wsgi.input_terminated") and not environ.get("CONTENT_LENGTH"):  # chunked: read to its end
            body = _read(environ["wsgi.input"], limit + 1)
            length = len(body)
        else:
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = -1
            if length < 0:
                return self._answer(start_response, "400 Bad Request", b"bad Content-Length\n")
            body = _read(environ["wsgi.input"], length) if length <= limit else b""
        if length > limit:
            self.inbox.count({"refused_too_large": 1})
            log.warning("events: refused a post of over %d bytes", limit)
            return self._answer(start_response, "413 Payload Too Large", b"too large\n")
        if len(body) != length:
            return self._answer(start_response, "400 Bad Request", b"body shorter than Content-Length\n")
        why = self.verifier.refusal(body, environ.get("HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_SIGNATURE"),
                                    environ.get("HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_TIMESTAMP"))
        if why is not None:
            self.inbox.count({"refused_" + why.replace(" ", "_"): 1})
            log.warning("events: refused a post (%s)", why)
            return self._answer(start_response, "403 Forbidden", f"refused: {why}\n".encode())
        self.inbox.put(body)
        self.processor.wake.set()
        return self._answer(start_response, "200 OK", b"stored\n")


def _read(stream: Any, length: int) -> bytes:
    chunks: list[bytes] = []
    left = length
    while left > 0:
        chunk = stream.read(min(left, 1 << 16))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def make_app(folder: Path | str = ".", *, environ: Mapping[str, str] | None = None, process: bool = True) -> EventsApp:
    """The receiver for the newsletter in ``folder`` (its issue folders below it). Needs the key."""
    from ..config import load_settings

    env = environ if environ is not None else os.environ
    key = (env.get(KEY_ENV) or "").strip()
    if not key:
        raise ConfigError(f"{KEY_ENV} is not set: the server cannot check SendGrid's signatures without it",
                          hint="enable Signed Event Webhook in SendGrid's Mail Settings and export its public key")
    root = Path(folder)
    if not root.is_dir():
        raise DigestError(f"{root}: no such newsletter folder")
    settings = load_settings(root)
    section = settings.events  # types checked when digest.toml was read
    limits = Limits(section.max_body, section.max_age)
    if limits.max_body <= 0 or not limits.max_age > 0:
        raise ConfigError(f"{settings.path or 'digest.toml'}: [events] max_body and max_age must be positive numbers "
                          "(bytes, seconds)", hint="e.g. max_body = 16777216, max_age = 600") from None
    return EventsApp(root.resolve(), Verifier(key, limits.max_age), limits, process=process)


_app: EventsApp | None = None
_app_lock = threading.Lock()


def application(environ: dict[str, Any], start_response: Start) -> Iterable[bytes]:
    """Module-level WSGI entry point, configured from the environment (``DIGEST_NEWSLETTER_DIR``, the key)."""
    global _app
    with _app_lock:
        if _app is None:
            _app = make_app(os.environ.get("DIGEST_NEWSLETTER_DIR", "."))
    return _app(environ, start_response)


# ------------------------------------------------------------------------------------------ the HTTP/1.1 server


def serve(app: EventsApp, host: str = "127.0.0.1", port: int = 8090,
          ready: Callable[[str], None] | None = None) -> None:
    """Serve ``app`` over HTTP/1.1 with keep-alive (threaded) until interrupted."""
    from .http11 import make_server

    server = make_server(host, port, app)
    try:
        if ready:
            ready(f"http://{host if ':' not in host else f'[{host}]'}:{server.server_port}/")
        server.serve_forever()
    finally:
        server.server_close()
        app.close()
