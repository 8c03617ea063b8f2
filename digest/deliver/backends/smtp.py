"""The SMTP backend: one personalised message per recipient over reused connections (smtplib).

Settings (``[smtp]`` in digest.toml): ``host``, ``port``, ``security`` (``none``, ``starttls`` or ``ssl``),
``user``, ``timeout``, ``batch_size`` (how many recipients the journal commits at a time, default 20),
``max_attempts`` (default 3), ``connections`` (persistent connections sending batches at once, default 1, at
most 8: ``concurrency`` for the send loop; each batch takes an idle connection and gives it back). The
password comes only from the environment: ``DIGEST_SMTP_PASSWORD``; a login over ``security = "none"`` is
refused unless the host is this machine (the password would cross the network in clear).

Each message goes out as MAIL FROM, RCPT TO, DATA, driven step by step so that a lost connection is
classified by *when* it happened:

* before the end of the message was written (greeting, MAIL, RCPT, DATA, the body): the server cannot
  have accepted it → reconnect and send that recipient again (up to ``max_attempts``);
* after the final ``.`` was written, while waiting for the answer: the server may have queued it →
  ``unknown`` (held by the journal; sent again only with ``--resend-unknown``).

Answers: 2xx sent; 5xx a permanent failure for that recipient; 4xx transient (retried, then failed and
retried by the next run). If the server cannot be reached at all, the send stops (``BatchAborted``) with
the recipients not yet tried put back to pending.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, cast

from ...errors import ConfigError, DigestError, SendRefused, UsageError
from ...model import Outcome, Personal
from .base import BatchAborted

if TYPE_CHECKING:
    from email.message import EmailMessage
    from email.policy import EmailPolicy

    from ...compose.message import Draft
    from ...config import Settings
    from ...folder import IssueFolder
    from .base import Backend

PASSWORD_ENV = "DIGEST_SMTP_PASSWORD"
SECURITY = ("none", "starttls", "ssl")
_DOTS = re.compile(rb"(?m)^\.")
_NETWORK_ERRORS = (smtplib.SMTPServerDisconnected, ConnectionError, socket.timeout, TimeoutError, OSError)
MAX_CONNECTIONS = 8


def plain_login_refusal(host: str, user: str, security: str) -> ConfigError | None:
    """The error for a login over an unencrypted connection to another machine; None when it is fine."""
    from ..transport import is_loopback

    if not user or security != "none" or is_loopback(host):
        return None
    return ConfigError(f'[smtp] user is set but security = "none": the password for {user!r} would cross the '
                       f"network to {host} unencrypted",
                       'set [smtp] security = "starttls" (or "ssl" for port 465); "none" with a user is allowed '
                       "only for a server on this machine (localhost, 127.0.0.1, ::1)")


class _Lost(Exception):
    """The connection dropped; ``after_data`` when the whole message had been written."""

    def __init__(self, reason: str, *, after_data: bool) -> None:
        super().__init__(reason)
        self.after_data = after_data


class SmtpBackend:
    """Backend protocol implementation over SMTP."""

    name = "smtp"
    delivers = True

    def __init__(self, settings: Settings, *, environ: Mapping[str, str] | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        cfg = settings.smtp  # types and the security choice checked when digest.toml was read
        env = os.environ if environ is None else environ
        self.host = cfg.host
        self.port = cfg.port
        self.timeout = cfg.timeout
        self.max_batch = batch_size(settings)
        self.max_attempts = max(1, cfg.max_attempts)
        self.security = cfg.security.lower()
        if self.security not in SECURITY:
            raise ConfigError(f"[smtp] security must be one of {', '.join(SECURITY)}, not {self.security!r}")
        self.user = cfg.user
        self.concurrency = cfg.connections
        if not 1 <= self.concurrency <= MAX_CONNECTIONS:
            raise ConfigError(f"[smtp] connections must be 1 to {MAX_CONNECTIONS}, not {self.concurrency}")
        refusal = plain_login_refusal(self.host, self.user, self.security)
        if refusal is not None:
            raise refusal
        self.password = env.get(PASSWORD_ENV, "")
        self.envelope_from = ""
        self._local = threading.local()  # the connection the calling thread's batch holds (``conn``)
        self._idle: list[smtplib.SMTP] = []  # open connections no batch holds
        self._lock = threading.Lock()
        self.conn = None
        self.connects = 0
        self._sleep = sleep
        self._rng = random.Random()

    # -- connection ---------------------------------------------------------------------------------
    @property
    def conn(self) -> smtplib.SMTP | None:
        """The connection of the batch the calling thread is sending (each batch holds one)."""
        return getattr(self._local, "conn", None)

    @conn.setter
    def conn(self, value: smtplib.SMTP | None) -> None:
        self._local.conn = value

    def _acquire(self) -> None:
        """This thread's batch takes an idle connection (or none: ``_ensure`` opens one)."""
        with self._lock:
            self.conn = self._idle.pop() if self._idle else None

    def _release(self) -> None:
        """This thread's batch gives its connection back, still open, for the next batch."""
        conn, self.conn = self.conn, None
        if conn is not None:
            with self._lock:
                self._idle.append(conn)

    def _where(self) -> str:
        return f"SMTP server {self.host}:{self.port}"

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        conn: smtplib.SMTP
        if self.security == "ssl":
            conn = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            conn.ehlo_or_helo_if_needed()
            if self.security == "starttls":
                if not conn.has_extn("starttls"):
                    raise DigestError(f"{self._where()} does not offer STARTTLS",
                                      "set [smtp] security = \"ssl\" or \"none\" to match the server")
                conn.starttls(context=context)
                conn.ehlo()
            if self.user:
                conn.login(self.user, self.password)
        except smtplib.SMTPAuthenticationError as exc:
            _quiet_close(conn)
            raise DigestError(f"{self._where()} refused the login for {self.user!r}: {_text(exc.smtp_error)}",
                              f"check [smtp] user and {PASSWORD_ENV}") from None
        except smtplib.SMTPNotSupportedError:
            _quiet_close(conn)
            raise DigestError(f"{self._where()} does not support login (AUTH)",
                              "use security = \"starttls\" or \"ssl\" (servers offer AUTH only over TLS)") from None
        except BaseException:
            _quiet_close(conn)
            raise
        with self._lock:
            self.connects += 1
        return conn

    def _ensure(self) -> smtplib.SMTP:
        if self.conn is None:
            self.conn = self._connect()
        return self.conn

    def _drop(self) -> None:
        if self.conn is not None:
            _quiet_close(self.conn)
        self.conn = None

    # -- protocol ---------------------------------------------------------------------------------
    def open(self, draft: Draft) -> None:
        if self.user and not self.password:
            raise SendRefused(f"{PASSWORD_ENV} is not set: [smtp] user is {self.user!r} and needs a password",
                              f"export {PASSWORD_ENV}=...")
        self.envelope_from = draft.from_email
        try:
            self._ensure()  # the login is checked before anything is claimed
        except ssl.SSLError as exc:
            raise DigestError(f"{self._where()}: TLS failed: {exc.reason or exc}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DigestError(f"cannot connect to the {self._where()}: {_describe(exc)}",
                              "check [smtp] host, port and security in digest.toml") from None
        self._release()  # the first batch takes it

    def close(self) -> None:
        self._release()
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                conn.quit()
            _quiet_close(conn)

    def send_batch(self, draft: Draft, batch: Sequence[Personal]) -> list[Outcome]:
        """Send the batch over one connection (taken from the idle ones, given back at the end)."""
        self._acquire()
        try:
            return self._send_batch(draft, batch)
        finally:
            self._release()

    def _send_batch(self, draft: Draft, batch: Sequence[Personal]) -> list[Outcome]:
        from ...compose.message import personalize

        outcomes: list[Outcome] = []
        for personal in batch:
            try:
                msg = personalize(draft, personal)
            except DigestError as exc:
                outcomes.append(Outcome(personal.email, False, error=exc.message, permanent=True))
                continue
            outcome = self._deliver(msg, personal.email)
            if outcome is None:
                raise BatchAborted(f"lost the {self._where()} and could not reconnect "
                                   f"({self.max_attempts} attempts); the send stopped", outcomes,
                                   "run the same command again when the server is back: it resumes")
            outcomes.append(outcome)
        return outcomes

    # -- one message ------------------------------------------------------------------------------
    def _deliver(self, msg: EmailMessage, rcpt: str) -> Outcome | None:
        """One recipient's outcome; None when no connection could be made (the message never left)."""
        message_id = str(msg["Message-ID"])
        smtputf8 = not (rcpt.isascii() and self.envelope_from.isascii())
        last = ""
        unreachable = False  # the last attempt could not even connect
        for attempt in range(1, self.max_attempts + 1):
            if attempt > 1:
                self._sleep(min(5.0, 0.1 * 2 ** (attempt - 2)) * (0.5 + self._rng.random()))
            try:
                conn = self._ensure()
            except (smtplib.SMTPException, OSError) as exc:
                last = f"cannot connect: {_describe(exc)}"
                unreachable = True
                continue
            unreachable = False
            if smtputf8 and not conn.has_extn("smtputf8"):
                return Outcome(rcpt, False, error=f"{self._where()} does not support SMTPUTF8, needed for "
                                                  "this non-ASCII address", permanent=True)
            try:
                code, reply = self._transaction(conn, msg, rcpt, smtputf8)
            except _Lost as lost:
                self._drop()
                if lost.after_data:
                    return Outcome(rcpt, False, unknown=True,
                                   error=f"the connection was lost after the message was sent, before the server "
                                         f"answered ({lost}): it may have been delivered")
                last = f"connection lost ({lost})"
                continue
            if 200 <= code < 300:
                return Outcome(rcpt, True, message_id=message_id)
            last = f"{code} {reply}"
            if code == 421:  # the server is closing the connection: reconnect
                self._drop()
            if code >= 500:
                return Outcome(rcpt, False, error=last, permanent=True)
        if unreachable:
            return None
        return Outcome(rcpt, False, error=f"gave up after {self.max_attempts} attempts: {last}")

    def _transaction(self, conn: smtplib.SMTP, msg: EmailMessage, rcpt: str, smtputf8: bool) -> tuple[int, str]:
        """MAIL, RCPT, DATA. Returns the deciding reply (code, text); raises _Lost on a dropped connection."""
        if smtputf8:
            data = msg.as_bytes(policy=cast("EmailPolicy", msg.policy).clone(utf8=True))
            mail_options = ["SMTPUTF8", "BODY=8BITMIME"]
        else:
            data = msg.as_bytes()
            mail_options = []
        after_data = False
        try:
            code, reply = conn.mail(self.envelope_from, mail_options)
            if code != 250:
                _reset(conn)
                return code, _text(reply)
            code, reply = conn.rcpt(rcpt)
            if code not in (250, 251):
                _reset(conn)
                return code, _text(reply)
            code, reply = conn.docmd("data")
            if code != 354:
                _reset(conn)
                return code, _text(reply)
            body = _DOTS.sub(b"..", data)
            if not body.endswith(b"\r\n"):
                body += b"\r\n"
            conn.send(body + b".\r\n")
            after_data = True
            code, reply = conn.getreply()
            return code, _text(reply)
        except _NETWORK_ERRORS as exc:
            raise _Lost(_describe(exc), after_data=after_data) from None


def _reset(conn: smtplib.SMTP) -> None:
    with contextlib.suppress(smtplib.SMTPException, OSError):
        conn.rset()


def _quiet_close(conn: smtplib.SMTP) -> None:
    with contextlib.suppress(OSError):
        conn.close()


def _text(reply: bytes | str) -> str:
    if isinstance(reply, bytes):
        reply = reply.decode("utf-8", "replace")
    return " ".join(reply.split())


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def create(folder: IssueFolder, settings: Settings, *, sandbox: bool = False, send_at: int | None = None,
           test: bool = False) -> SmtpBackend:
    """The registry's factory."""
    preflight(settings, sandbox=sandbox, send_at=send_at)
    return SmtpBackend(settings)


def preflight(settings: Settings, *, sandbox: bool = False, send_at: int | None = None) -> list[str]:
    """What a send (a dry run too) refuses before anything is read or sent; no warnings of its own."""
    if sandbox or send_at is not None:
        raise UsageError("--sandbox and --at need --backend sendgrid")
    cfg = settings["smtp"]
    refusal = plain_login_refusal(str(cfg.get("host") or "localhost"), str(cfg.get("user") or ""),
                                  str(cfg.get("security") or "none").lower())
    if refusal is not None:
        raise refusal
    return []


def batch_size(settings: Settings) -> int:
    """Messages per connection and journal commit (``[smtp] batch_size``)."""
    return max(1, settings.smtp.batch_size)


def own_unsubscribe(settings: Settings) -> tuple[str, bool]:
    """No unsubscribe handling of its own: the message's links are the only way out."""
    return "", False


if TYPE_CHECKING:  # mypy (CI) checks the class against the Protocol it implements, signatures and all

    def _implements(backend: SmtpBackend) -> Backend:
        return backend
