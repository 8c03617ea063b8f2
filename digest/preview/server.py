"""``digest preview``: a local web page showing the issue as subscribers get it, rebuilt on every edit.

One process: a ``ThreadingHTTPServer`` on 127.0.0.1 (by default), a build worker (``watch.Rebuilder``)
fed by a file watcher (``watch.Watcher``), and a ``Preview`` holding the last build. Browsers follow
builds over server-sent events (``/events``): each finished build bumps ``version`` and every open page
refreshes its frame once for that version.

The state the routes read (the last build, the readers) lives in ``state.py``.

Routes (everything else is 404; nothing outside the issue's own build output is served):
  /                   the page shell (static/index.html, preview.js, preview.css under /static/)
  /api/state?r=N      the last build for reader N: subject, preheader, articles, warnings, error
  /email.html?r=N&scheme=light|dark   the inlined email with reader N's merge fields
  /email.txt?r=N, /text.html?r=N&scheme=…   the plain-text part (raw, or wrapped for the frame)
  /events             server-sent events: ``hello`` then one ``build`` per finished build
  /<file>             a file of DIR/build/ (images copied by the build), or an image file in DIR
"""

from __future__ import annotations

import contextlib
import errno
import html
import json
import logging
import os
import re
import signal
import socket
import socketserver
import sys
import threading
import webbrowser
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..errors import DigestError, UsageError
from ..folder import IssueFolder
from . import page
from .state import Build, Builder, Preview, build_once, load_readers, tool_findings

log = logging.getLogger(__name__)

STATIC_FILES = {"index.html": "text/html", "preview.js": "text/javascript", "preview.css": "text/css"}
IMAGE_TYPES = {
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
    ".webp": "image/webp", ".svg": "image/svg+xml", ".avif": "image/avif", ".ico": "image/x-icon",
}
BUILD_TYPES = {**IMAGE_TYPES, ".html": "text/html", ".txt": "text/plain", ".css": "text/css",
               ".json": "application/json"}
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
MAX_STREAMS = 64  # open /events streams at once (each holds a thread); more get 503
_HOST = re.compile(r"(?P<name>\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(?P<port>[0-9]{1,5}))?")
KEEPALIVE = 15.0


# --- HTTP ------------------------------------------------------------------------------------------


def _static(name: str) -> bytes:
    return resources.files("digest.preview").joinpath("static", name).read_bytes()


def _report_page(directory: Path) -> bytes:
    from ..deliver.report import issue_report
    from ..deliver.report_html import render_html

    try:
        return render_html(issue_report(directory)).encode("utf-8")
    except DigestError as exc:
        return f"<!doctype html><title>Report</title><p>No report: {html.escape(exc.message)}</p>".encode()


class PreviewServer(ThreadingHTTPServer):
    daemon_threads = True
    # SO_REUSEADDR on POSIX only: there it lets a restarted preview bind again at once (the connections it closed
    # wait in TIME_WAIT for a minute) while a port another server listens on stays an error; on Windows it would
    # let two servers share a port.
    allow_reuse_address = os.name == "posix"

    def __init__(self, address: tuple[str, int], preview: Preview) -> None:
        self.preview = preview
        self.stopping = threading.Event()
        self.streams = 0
        self._streams_lock = threading.Lock()
        host = address[0]
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__(address, Handler)

    def server_bind(self) -> None:  # TCPServer's (SO_REUSEADDR, bind), not HTTPServer's reverse DNS lookup (getfqdn)
        socketserver.TCPServer.server_bind(self)
        self.server_name = str(self.server_address[0])
        self.server_port = int(self.server_address[1])

    def open_stream(self) -> bool:
        """Count one more open event stream; False (and nothing counted) when ``MAX_STREAMS`` are open."""
        with self._streams_lock:
            if self.streams >= MAX_STREAMS:
                return False
            self.streams += 1
            return True

    def close_stream(self) -> None:
        with self._streams_lock:
            self.streams -= 1

    @property
    def loopback(self) -> bool:
        return self.server_name in ("127.0.0.1", "::1") or self.server_name.startswith("127.")


class Handler(BaseHTTPRequestHandler):
    server: PreviewServer
    server_version = "digest-preview"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("preview: %s - %s", self.address_string(), format % args)

    # -- helpers

    def _send(self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype if not ctype.startswith("text/") else f"{ctype}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _not_found(self) -> None:
        self._send(404, b"not found\n", "text/plain")

    def _host_ok(self) -> bool:
        """DNS-rebinding guard: on a loopback address only ``127.0.0.1``, ``localhost`` and ``[::1]`` (or the
        address the server is bound to), with the server's port, are answered. Any other name (e.g.
        ``127.attacker.example``, ``localhost.evil``) may resolve anywhere, so it is refused."""
        if not self.server.loopback:
            return True
        hosts = self.headers.get_all("Host") or []
        if len(hosts) != 1:
            return False
        host = hosts[0].strip().lower()
        match = _HOST.fullmatch(host)
        if match is None:
            return False
        name, port = match.group("name"), match.group("port")
        own = f"[{self.server.server_name}]" if ":" in self.server.server_name else self.server.server_name
        if name not in ("127.0.0.1", "localhost", "[::1]", own):
            return False
        return int(port) == self.server.server_port if port else self.server.server_port == 80

    def _query(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}

    def _int(self, q: dict[str, str], key: str, default: int = 0) -> int:
        try:
            return int(q.get(key, default))
        except ValueError:
            return default

    # -- dispatch

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib naming
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._route()

    def _route(self) -> None:
        if not self._host_ok():
            self._send(403, b"forbidden host\n", "text/plain")
            return
        rel = page.clean_path(self.path)
        if rel is None:
            self._not_found()
            return
        q = self._query()
        preview = self.server.preview
        scheme = "dark" if q.get("scheme") == "dark" else "light"
        if rel in ("", "index.html"):
            self._send(200, _static("index.html"), "text/html")
        elif rel.startswith("static/") and rel[7:] in STATIC_FILES:
            self._send(200, _static(rel[7:]), STATIC_FILES[rel[7:]])
        elif rel == "api/state":
            body = json.dumps(preview.state(self._int(q, "r")), ensure_ascii=False).encode()
            self._send(200, body, "application/json")
        elif rel == "email.html":
            doc = preview.render(self._int(q, "r"), "html") or _NO_EMAIL
            doc = page.inject_head(page.force_scheme(doc, scheme), '<base target="_blank">')
            self._send(200, doc.encode("utf-8"), "text/html")
        elif rel == "email.txt":
            text = preview.render(self._int(q, "r"), "text")
            self._send(200, text.encode("utf-8"), "text/plain")
        elif rel == "text.html":
            text = preview.render(self._int(q, "r"), "text")
            self._send(200, page.text_page(text, scheme).encode("utf-8"), "text/html")
        elif rel == "report.html":  # the issue's results once sent (digest report --html)
            self._send(200, _report_page(preview.directory), "text/html", {"Content-Security-Policy": "sandbox"})
        elif rel == "events":
            if self.command == "HEAD":
                self._send(200, b"", "text/event-stream")
            else:
                self._events()
        else:
            self._file(rel)

    def _file(self, rel: str) -> None:
        """A file the email links to: from DIR/build/, or an image in DIR; never outside them."""
        root = self.server.preview.directory
        suffix = Path(rel).suffix.lower()
        candidates: list[tuple[Path, dict[str, str]]] = [(IssueFolder(root).build, BUILD_TYPES)]
        if suffix in IMAGE_TYPES:
            candidates.append((root, IMAGE_TYPES))
        for base, types in candidates:
            if suffix not in types:
                continue
            try:
                base_real = base.resolve()
                path = (base_real / rel).resolve()
            except (OSError, RuntimeError):
                continue
            if path.is_relative_to(base_real) and path.is_file():
                self._send(200, path.read_bytes(), types[suffix],
                           {"Content-Security-Policy": "sandbox"} if suffix in (".svg", ".html") else None)
                return
        self._not_found()

    def _events(self) -> None:
        """Server-sent events, at most ``MAX_STREAMS`` at once (each holds a thread): 503 beyond."""
        if not self.server.open_stream():
            self._send(503, b"too many open event streams\n", "text/plain", {"Retry-After": "5"})
            self.close_connection = True
            return
        try:
            self._stream()
        finally:
            self.server.close_stream()

    def _stream(self) -> None:
        """``hello`` with the current version, then one ``build`` per new build."""
        preview = self.server.preview
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        b = preview.current
        self._event("hello", {"version": b.version})
        version, checked = b.version, preview.check_version
        while not (self.server.stopping.is_set() or preview.closed):
            b, now_checked = preview.wait_any(version, checked, KEEPALIVE)
            if self.server.stopping.is_set() or preview.closed:
                break
            if b.version != version:
                version, checked = b.version, now_checked
                self._event("build", {"version": version, "ok": b.ok})
            elif now_checked != checked:
                checked = now_checked
                self._event("check", {"version": version})
            else:
                self.wfile.write(b": keepalive\n\n")
                self.wfile.flush()

    def _event(self, name: str, data: dict[str, Any]) -> None:
        self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
        self.wfile.flush()


_NO_EMAIL = ("<!doctype html><html><head><meta charset='utf-8'></head><body style='font-family:sans-serif;"
             "padding:24px;color:#444'><p>No email yet: the first build failed. Fix the error shown above; "
             "the preview rebuilds when you save.</p></body></html>")


# --- running it ------------------------------------------------------------------------------------


def bind(preview: Preview, host: str, port: int) -> PreviewServer:
    """The server bound to ``host:port``; a port in use (or not allowed) is a usage error, exit 2."""
    try:
        return PreviewServer((host, port), preview)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(f"port {port} on {host} is already in use",
                             "stop the other program, or choose another port with --port (0: any free port)") from None
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise UsageError(f"not allowed to listen on {host}:{port}",
                             "choose a port above 1023 with --port") from None
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                         "check --host (default 127.0.0.1)") from None


def url_of(server: PreviewServer) -> str:
    host = server.server_name
    return f"http://[{host}]:{server.server_port}/" if ":" in host else f"http://{host}:{server.server_port}/"


@dataclass
class Running:
    """A started preview: its URL, and ``stop()`` to end it (server, watcher and build worker)."""

    url: str
    server: PreviewServer
    preview: Preview
    stop: Callable[[], None]


class Checker:
    """Runs the slow ``digest check`` tools on each good build once builds have settled for ``quiet`` s.

    Findings for a build that was replaced meanwhile are dropped. They reach the page as a ``check``
    event, which updates the side panel and never reloads the email.
    """

    def __init__(self, preview: Preview, quiet: float = 0.8,
                 run: Callable[[Path], list[dict[str, Any]]] = tool_findings) -> None:
        self.preview = preview
        self.quiet = quiet
        self._run = run
        self._thread = threading.Thread(target=self._loop, name="digest-check", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        p = self.preview
        seen = -1
        while not p.closed:
            b = p.wait_newer(seen, 1.0)
            if p.closed or b.version == seen:
                continue
            if not b.ok:
                seen = b.version
                continue
            if p.wait_newer(b.version, self.quiet).version != b.version:
                continue  # another build came: wait for things to settle
            seen = b.version
            try:
                found = self._run(p.directory)
            except Exception as exc:  # noqa: BLE001
                found = [{"check": "check", "level": "error", "message": f"digest check failed: {exc}"}]
            if not p.closed:
                p.add_tool_findings(b.version, found)

    def stop(self) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout=2)


def start(directory: Path, *, host: str = "127.0.0.1", port: int = 0, recipients: Path | None = None,
          watch: bool = True, checks: bool = True, builder: Builder = build_once) -> Running:
    """Build once, bind, serve in a background thread and (optionally) rebuild on every change.

    ``checks`` runs digest check's slow tools (caniemail, SpamAssassin, html-validate) after each build,
    in the background.
    """
    from .watch import Rebuilder, Watcher, fingerprint, inputs

    directory = Path(directory)
    if not IssueFolder(directory).issue_file.is_file():
        raise DigestError(f"{IssueFolder(directory).issue_file} not found",
                          f"create it with: digest new {directory} --subject TEXT")
    readers, defaults, problems = load_readers(directory, recipients)
    preview = Preview(directory, readers, defaults, builder, problems)
    preview.checks = checks
    server = bind(preview, host, port)  # bind before the first build: a busy port fails fast
    built_from = fingerprint(inputs(preview.directory)) if watch else None
    preview.rebuild()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                              name="digest-preview-http", daemon=True)
    thread.start()
    checker = Checker(preview) if checks else None
    if checker:
        checker.start()
    watcher: Watcher | None = None
    rebuilder: Rebuilder | None = None
    if watch:
        rebuilder = Rebuilder(preview.rebuild, lambda: fingerprint(inputs(preview.directory)))
        watcher = Watcher(preview.directory, rebuilder.poke)
        preview.after_build.append(lambda _b: watcher.refresh())
        rebuilder.start(built_from)
        watcher.start()

    def stop() -> None:
        server.stopping.set()
        preview.close()
        if watcher:
            watcher.stop()
        if rebuilder:
            rebuilder.stop()
        if checker:
            checker.stop()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return Running(url_of(server), server, preview, stop)


def open_in_browser(url: str) -> bool:
    """Open ``url`` in the desktop's browser, in the background; False when there is no graphical one.

    Without a display (an SSH session, a container) Python's webbrowser would start a text-mode browser
    (lynx, w3m) on the terminal the server is printing to: never do that.
    """
    if os.environ.get("BROWSER"):  # the user's explicit choice
        threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
        return True
    graphical = sys.platform in ("darwin", "win32") or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if not graphical:
        return False
    try:
        browser = webbrowser.get()
    except webbrowser.Error:
        return False
    if isinstance(browser, webbrowser.GenericBrowser) and not isinstance(browser, webbrowser.BackgroundBrowser):
        return False  # a console browser
    threading.Thread(target=browser.open, args=(url,), daemon=True).start()
    return True


def report(b: Build) -> None:
    """One line on stderr per rebuild, so the terminal tells what the page shows."""
    if b.ok:
        print(f"digest preview: rebuilt in {b.seconds:.2f} s (build {b.version})", file=sys.stderr, flush=True)
    else:
        err = b.error or {}
        where = f"{err.get('file')}:{err.get('line') or ''}: " if err.get("file") else ""
        print(f"digest preview: build {b.version} failed: {where}{err.get('message')}", file=sys.stderr, flush=True)


def serve(directory: Path, *, host: str = "127.0.0.1", port: int = 0, recipients: Path | None = None,
          open_browser: bool = True, checks: bool = True, echo: Callable[[str], None] = print) -> None:
    """Run the preview until Ctrl-C or SIGTERM: print the URL (flushed), open the browser, then wait."""
    done = threading.Event()
    running = start(directory, host=host, port=port, recipients=recipients, checks=checks)
    running.preview.after_build.append(report)
    previous: dict[int, Any] = {}

    def on_signal(signum: int, frame: Any) -> None:
        done.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError):  # not the main thread (embedded use): KeyboardInterrupt
            previous[sig] = signal.signal(sig, on_signal)
    try:
        b = running.preview.current
        echo(running.url)
        sys.stdout.flush()
        status = "built" if b.ok else f"build failed: {b.error['message'] if b.error else '?'}"
        print(f"digest preview: {status} in {b.seconds:.2f} s; watching for changes (Ctrl-C stops)",
              file=sys.stderr, flush=True)
        if host not in LOOPBACK and not host.startswith("127."):
            print(f"digest preview: warning: listening on {host}: other machines can see this issue",
                  file=sys.stderr, flush=True)
        if open_browser and not open_in_browser(running.url):
            print("digest preview: no graphical browser found: open the URL above yourself",
                  file=sys.stderr, flush=True)
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        print("digest preview: stopped", file=sys.stderr, flush=True)


def iter_events(lines: Iterator[bytes]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Parse a server-sent event stream into (event, data) pairs (used by tests and tools)."""
    name, data = "message", ""
    for raw in lines:
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if data:
                yield name, json.loads(data)
            name, data = "message", ""
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()
