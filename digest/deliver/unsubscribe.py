"""Unsubscribe links and the server that honours them.

Links: ``[unsubscribe] url`` in digest.toml is a template such as ``https://example.com/unsub?t={token}``;
per recipient ``{token}`` becomes a token signed under the secret in the environment variable
``DIGEST_UNSUBSCRIBE_SECRET`` (and ``{email}`` the URL-encoded address). A token is
``base64url(address) "." base64url(tag)``: it names the address and proves the newsletter made it; changing
one character makes it worthless. The tag is BLAKE2b in its keyed (MAC) mode (RFC 7693), 24 bytes, with a
key derived from the secret (``HMAC-SHA256(secret, "digest-unsubscribe-v2 key")``) and the personalization
``digest-unsub-v2``: one hash call per recipient where HMAC needs two (about half the cost, for a million
recipients a second less). Tokens of earlier versions, ``HMAC-SHA256(secret, "digest-unsubscribe-v1\\0" +
address)`` (32 bytes), are still accepted: the tag's length tells which one a token carries.
``[unsubscribe] mailto`` adds a mailto: method. Messages carry both in List-Unsubscribe, and
``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` with an https URL (RFC 8058).

Server: ``application`` is a WSGI app (``digest unsubscribe-server`` runs it on ``deliver/http11.py``; any WSGI server
can import ``digest.deliver.unsubscribe:application``, configured by the environment: the secret and
``DIGEST_SUPPRESSIONS``, or a digest.toml in the working folder). The token is taken from any query value
or the last path segment.

- ``GET``  with a good token: a confirmation page with a button (a POST); a GET never unsubscribes, so
  link scanners that prefetch URLs do no harm.
- ``POST`` with a good token and the body ``List-Unsubscribe=One-Click`` (what mail providers send, and
  what the button sends), ``application/x-www-form-urlencoded`` or ``multipart/form-data``, with a
  Content-Length or chunked: the address is appended to the suppression list; 200.
- A missing, forged or altered token: 403 and nothing changes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from ..config import Settings
from ..errors import ConfigError, SendRefused
from . import http11, suppressions

SECRET_ENV = "DIGEST_UNSUBSCRIBE_SECRET"
MIN_SECRET_BYTES = 16
_CONTEXT = b"digest-unsubscribe-v1\x00"  # version 1 tokens (HMAC-SHA256)
_KEY_CONTEXT_V2 = b"digest-unsubscribe-v2 key"
_PERSON_V2 = b"digest-unsub-v2"
TAG_BYTES = 24  # 192 bits: a multiple of 3 bytes, so 32 base64 characters and no padding
_MAX_BODY = 16 * 1024


# --- tokens ----------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac_v1(secret: bytes, payload: bytes) -> bytes:
    """The tag of tokens made before version 2 (HMAC-SHA256, 32 bytes): still verified."""
    return hmac.digest(secret, _CONTEXT + payload, "sha256")


def _key_v2(secret: bytes) -> bytes:
    return hmac.digest(secret, _KEY_CONTEXT_V2, "sha256")


def _mac(secret: bytes, payload: bytes) -> bytes:
    """The tag of a version 2 token: keyed BLAKE2b, 24 bytes."""
    return hashlib.blake2b(payload, digest_size=TAG_BYTES, key=_key_v2(secret), person=_PERSON_V2).digest()


def make_token(email: str, secret: bytes) -> str:
    payload = email.encode("utf-8")
    return (base64.urlsafe_b64encode(payload).rstrip(b"=") + b"." + base64.urlsafe_b64encode(_mac(secret, payload))
            ).decode("ascii")


_B64URL = bytes.maketrans(b"+/", b"-_")


class Signer:
    """``make_token`` for many addresses under one secret: the same tokens, cheaper each.

    The keyed BLAKE2b state (key block and personalization absorbed) is made once; each token then costs a
    copy, an update and a digest. ``tests/unit/test_unsubscribe.py`` checks it against ``make_token``.
    """

    __slots__ = ("_state",)

    def __init__(self, secret: bytes) -> None:
        self._state = hashlib.blake2b(digest_size=TAG_BYTES, key=_key_v2(secret), person=_PERSON_V2)

    def __call__(self, email: str) -> str:
        payload = email.encode("utf-8")
        state = self._state.copy()
        state.update(payload)
        b2a = binascii.b2a_base64
        return (b2a(payload, newline=False).rstrip(b"=") + b"." + b2a(state.digest(), newline=False)
                ).translate(_B64URL).decode("ascii")


def verify_token(token: str, secret: bytes) -> str | None:
    """The address a genuine token names, else None (forged, altered, truncated, garbage)."""
    if not token or len(token) > 2048 or token.count(".") != 1:
        return None
    left, right = token.split(".")
    try:
        payload = _unb64(left)
        mac = _unb64(right)
        email = payload.decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    if _b64(payload) != left or _b64(mac) != right:  # one canonical spelling per token
        return None
    if len(mac) == TAG_BYTES:
        expected = _mac(secret, payload)
    elif len(mac) == 32:
        expected = _mac_v1(secret, payload)  # a token from an earlier version
    else:
        return None
    if not hmac.compare_digest(mac, expected):
        return None
    return email


def secret_from_env(environ: dict[str, str] | None = None) -> bytes | None:
    value = (environ if environ is not None else os.environ).get(SECRET_ENV, "")
    return value.encode("utf-8") if value else None


# --- links per recipient ---------------------------------------------------------------------------


@dataclass
class Links:
    """How each recipient unsubscribes: a URL template (signed per recipient) and/or a mailto address."""

    template: str = ""
    mailto: str = ""
    secret: bytes | None = None
    warnings: tuple[str, ...] = ()

    @property
    def available(self) -> bool:
        return bool(self.template or self.mailto)

    def __post_init__(self) -> None:
        self._signer = Signer(self.secret) if self.secret is not None else None
        # The common template has one {token} and no {email}: the URL is then prefix + token + suffix.
        head, sep, tail = self.template.partition("{token}")
        self._split = (head, tail) if sep and "{token}" not in tail and "{email}" not in self.template else None

    def token_parts(self) -> tuple[Callable[[str], str], str, str] | None:
        """(signer, head, tail) when every recipient's URL is ``head + signer(email) + tail`` (a template with one
        ``{token}`` and no ``{email}``); None for any other shape."""
        if self._signer is None or self._split is None:
            return None
        return self._signer, self._split[0], self._split[1]

    def for_recipient(self, email: str) -> tuple[str | None, str | None]:
        url = None
        if self.template:
            url = self.template
            if "{token}" in url:
                assert self._signer is not None, "a {token} URL needs the secret"
                url = url.replace("{token}", self._signer(email))
            if "{email}" in url:
                url = url.replace("{email}", quote(email, safe=""))
        return url, (self.mailto or None)


def links_from_settings(settings: Settings, environ: dict[str, str] | None = None) -> Links:
    """The unsubscribe method of the newsletter. Refuses (SendRefused) when a signed link cannot be made."""
    table = settings.unsubscribe
    template = table.url.strip()
    mailto = table.mailto.strip()
    warnings: list[str] = []
    secret = None
    if template:
        scheme = urlsplit(template).scheme.lower()
        if scheme not in ("https", "http"):
            raise SendRefused(f"[unsubscribe] url must be an https URL: {template!r}")
        if scheme == "http":
            warnings.append("[unsubscribe] url is http, not https: mail providers offer one-click unsubscribe "
                            "(RFC 8058) only for https")
        if "{token}" in template:
            secret = secret_from_env(environ)
            if secret is None:
                raise SendRefused(f"{SECRET_ENV} is not set: it signs each recipient's unsubscribe link",
                                  f"export {SECRET_ENV}=<a long random string> (keep it the same for every send)")
            if len(secret) < MIN_SECRET_BYTES:
                raise SendRefused(f"{SECRET_ENV} is too short ({len(secret)} bytes): anyone could forge links",
                                  f"use at least {MIN_SECRET_BYTES} random characters, e.g. `openssl rand -hex 32`")
        elif "{email}" in template:
            warnings.append("[unsubscribe] url has {email} but no {token}: anyone can unsubscribe anyone; "
                            "use {token} (signed) instead")
        else:
            warnings.append("[unsubscribe] url has no {token}: the link cannot say who unsubscribes")
    return Links(template, mailto, secret, tuple(warnings))


# --- the WSGI app ----------------------------------------------------------------------------------

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<meta name="robots" content="noindex"><title>{title}</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}}
button{{font:inherit;padding:.6rem 1.2rem;border:0;border-radius:4px;background:#1a73e8;color:#fff;cursor:pointer}}
</style></head><body><h1>{title}</h1>{body}</body></html>
"""

Start = Callable[..., Any]


class UnsubscribeApp:
    """WSGI callable: verifies tokens and appends to ``suppressions_file``."""

    def __init__(self, suppressions_file: Path, secret: bytes, newsletter: str = "this newsletter") -> None:
        self.suppressions_file = Path(suppressions_file)
        self.secret = secret
        self.newsletter = newsletter

    def _token(self, environ: dict[str, Any], form: list[tuple[str, str]]) -> str | None:
        candidates = [v for _, v in parse_qsl(environ.get("QUERY_STRING", ""))]
        candidates += [v for k, v in form if k in ("t", "token")]
        path = environ.get("PATH_INFO", "") or ""
        candidates.append(path.rstrip("/").rpartition("/")[2])
        for cand in candidates:
            email = verify_token(cand, self.secret)
            if email:
                return email
        return None

    def _page(self, start: Start, status: str, title: str, body: str) -> list[bytes]:
        data = _PAGE.format(title=html.escape(title), body=body).encode("utf-8")
        start(status, [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", str(len(data))),
            ("Cache-Control", "no-store"),
            ("Referrer-Policy", "no-referrer"),
            ("X-Content-Type-Options", "nosniff"),
            ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"),
        ])
        return [data]

    def __call__(self, environ: dict[str, Any], start_response: Start) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        body = self._respond(environ, start_response, method)
        return [] if method == "HEAD" else body  # HEAD: GET's status and headers, no body (RFC 9110 9.3.2)

    def _respond(self, environ: dict[str, Any], start_response: Start, method: str) -> list[bytes]:
        if method not in ("GET", "HEAD", "POST"):
            start_response("405 Method Not Allowed", [("Allow", "GET, POST"), ("Content-Length", "0")])
            return [b""]
        form: list[tuple[str, str]] = []
        if method == "POST":
            try:
                raw = read_body(environ)
            except _TooLarge:
                return self._page(start_response, "413 Payload Too Large", "Request too large", "")
            except _BadBody:
                return self._page(start_response, "400 Bad Request", "Not understood",
                                  "<p>The request body could not be read.</p>")
            form = parse_form(environ.get("CONTENT_TYPE") or "", raw)
        email = self._token(environ, form)
        if email is None:
            return self._page(start_response, "403 Forbidden", "Link not valid",
                              "<p>This unsubscribe link is not valid: it may have been cut or altered. "
                              "Please use the link from the email exactly as it is.</p>")
        shown = html.escape(email)
        if method in ("GET", "HEAD"):
            body = (f"<p>Unsubscribe <strong>{shown}</strong> from {html.escape(self.newsletter)}?</p>"
                    '<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">'
                    "<button type=\"submit\">Unsubscribe</button></form>")
            return self._page(start_response, "200 OK", "Unsubscribe", body)
        if ("List-Unsubscribe", "One-Click") not in form:
            return self._page(start_response, "400 Bad Request", "Not understood",
                              "<p>The request did not ask to unsubscribe (List-Unsubscribe=One-Click).</p>")
        suppressions.add(self.suppressions_file,
                         [suppressions.Entry(email, "unsubscribe", "one-click")])
        return self._page(start_response, "200 OK", "Unsubscribed",
                          f"<p><strong>{shown}</strong> will get no more email from "
                          f"{html.escape(self.newsletter)}.</p>")


class _TooLarge(Exception):
    pass


class _BadBody(Exception):
    pass


def read_body(environ: dict[str, Any], limit: int = _MAX_BODY) -> bytes:
    """The request body: by Content-Length, chunked (``Transfer-Encoding: chunked``, decoded here when the
    server did not), or to the end of the input when the server says it is terminated (``wsgi.input_terminated``).
    Raises _TooLarge beyond ``limit`` bytes, _BadBody on a malformed chunked body."""
    stream = environ["wsgi.input"]
    chunked = "chunked" in str(environ.get("HTTP_TRANSFER_ENCODING") or "").lower()
    if environ.get("wsgi.input_terminated"):  # the server ends the input at the body's end (and de-chunked it)
        data = stream.read(limit + 1)
        if len(data) > limit:
            raise _TooLarge
        return bytes(data)
    if chunked:  # a server that left decoding to the app (wsgiref): the same decoder our own host uses
        try:
            data = http11.ChunkedInput(stream).read(limit + 1)
        except http11.BadChunk:
            raise _BadBody from None
        if len(data) > limit:
            raise _TooLarge
        return data
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise _BadBody from None
    if length > limit:
        raise _TooLarge
    return bytes(stream.read(length) if length > 0 else b"")


def parse_form(content_type: str, raw: bytes) -> list[tuple[str, str]]:
    """The fields of an ``application/x-www-form-urlencoded`` or ``multipart/form-data`` body (RFC 8058
    allows both); other types are read as urlencoded (what the one-click POST sends without a type)."""
    if content_type.split(";", 1)[0].strip().lower() != "multipart/form-data":
        return parse_qsl(raw.decode("utf-8", "replace"))
    import email.parser
    import email.policy

    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("utf-8", "replace")
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
    if not msg.is_multipart():
        return []
    out: list[tuple[str, str]] = []
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or part.get_filename():
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            out.append((name, payload.decode(part.get_content_charset() or "utf-8", "replace")))
    return out


def check_writable(path: Path) -> None:
    """Refuse (ConfigError) a suppression file the server could not append to: found at start-up, not at the
    first unsubscribe. Nothing in an existing file changes; a missing one is not created."""
    try:
        if path.exists():
            with path.open("ab"):  # a folder: IsADirectoryError (PermissionError on Windows)
                pass
            return
        parent = path.parent
        parent.mkdir(parents=True, exist_ok=True)
        import tempfile

        with tempfile.NamedTemporaryFile(dir=parent, prefix=".digest-write-check-"):
            pass
    except OSError as exc:
        raise ConfigError(f"{path}: the unsubscribe server cannot write the suppression list "
                          f"({exc.strerror or exc})",
                          "make the file and its folder writable by this user, or point DIGEST_SUPPRESSIONS "
                          "(or [suppressions] file) at a writable path") from None


def make_app(folder: Path | str, *, suppressions_file: Path | None = None,
             environ: dict[str, str] | None = None) -> UnsubscribeApp:
    """The app for the newsletter in ``folder`` (digest.toml there or above). Needs the secret (at least
    ``MIN_SECRET_BYTES``, as ``send`` does) and a suppression file it can write."""
    from ..config import load_settings

    secret = secret_from_env(environ)
    if secret is None:
        raise ConfigError(f"{SECRET_ENV} is not set: the server cannot check unsubscribe links without it",
                          "use the same secret as the sends")
    if len(secret) < MIN_SECRET_BYTES:
        raise ConfigError(f"{SECRET_ENV} is too short ({len(secret)} bytes): anyone could forge links",
                          f"use at least {MIN_SECRET_BYTES} random characters, the same secret as the sends")
    settings = load_settings(Path(folder))
    path = suppressions.suppressions_path(folder, settings, issue_dir=False) if suppressions_file is None \
        else suppressions_file
    check_writable(Path(path))
    return UnsubscribeApp(path, secret, settings.newsletter.name or "this newsletter")


_app: UnsubscribeApp | None = None
_app_lock = threading.Lock()


def application(environ: dict[str, Any], start_response: Start) -> Iterable[bytes]:
    """Module-level WSGI entry point for any server, configured from the environment on first use."""
    global _app
    with _app_lock:
        if _app is None:
            _app = make_app(os.environ.get("DIGEST_NEWSLETTER_DIR", "."))
    return _app(environ, start_response)


def make_unsubscribe_server(app: UnsubscribeApp, host: str, port: int) -> http11.Server:
    """The threaded HTTP/1.1 server for ``app`` (``deliver/http11.py``), bound (``serve_forever`` runs it)."""
    return http11.make_server(host, port, app)


def serve(app: UnsubscribeApp, host: str, port: int, ready: Callable[[str], None]) -> None:
    """Serve ``app`` over HTTP/1.1 with keep-alive (threaded) until interrupted."""
    with make_unsubscribe_server(app, host, port) as httpd:
        ready(f"http://{host}:{httpd.server_port}/")
        httpd.serve_forever()
