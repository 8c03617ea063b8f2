"""The pooled keep-alive transport under the ``sendgrid`` client: connections reused, failures told apart by
whether the request was completely written (safe to send again) or not (the server may have accepted it)."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
import urllib.error
from collections.abc import Callable, Iterator

import pytest

from digest.deliver.transport import Pool, pooled_client
from tests.conftest import shared_path
from tests.support.sendgrid_standin import SendGridStandIn

pytestmark = pytest.mark.integration
KEY = "SG.transport-test-key"


class RawServer:
    """A one-thread TCP server on 127.0.0.1 that runs ``handle(conn)`` for each connection it accepts."""

    def __init__(self, handle: Callable[[socket.socket], None]) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.handle = handle
        self.accepted = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            self.handle(conn)

    def close(self) -> None:
        self.sock.close()


def read_head(conn: socket.socket) -> tuple[bytes, int]:
    """The request's head (up to the blank line) and its Content-Length; the rest of what was read is dropped."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return head + b"\r\n\r\n" + rest, length


def read_request(conn: socket.socket) -> bytes:
    data, length = read_head(conn)
    head, _, body = data.partition(b"\r\n\r\n")
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        body += chunk
    return head


OK = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nX-Message-Id: m1\r\n\r\n"


@pytest.fixture
def servers() -> Iterator[list[RawServer]]:
    made: list[RawServer] = []
    yield made
    for s in made:
        s.close()


def serve(servers: list[RawServer], handle: Callable[[socket.socket], None]) -> RawServer:
    server = RawServer(handle)
    servers.append(server)
    return server


def test_a_reset_before_the_body_was_written_is_safe_to_retry(servers: list[RawServer]) -> None:
    def reset_after_head(conn: socket.socket) -> None:
        read_head(conn)  # the headers, not the body
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()  # RST while the client is still writing

    server = serve(servers, reset_after_head)
    pool = Pool(f"http://127.0.0.1:{server.port}")
    with pytest.raises(urllib.error.URLError):
        pool.request("POST", "/v3/mail/send", b"x" * (8 << 20), {"Content-Type": "application/json"}, 5.0)


def test_a_refused_connection_is_safe_to_retry() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens once it is closed
    with pytest.raises(urllib.error.URLError):
        Pool(f"http://127.0.0.1:{port}").request("POST", "/v3/mail/send", b"{}", {}, 5.0)


def test_a_connection_lost_after_the_request_was_written_is_not(servers: list[RawServer]) -> None:
    def read_all_then_close(conn: socket.socket) -> None:
        read_request(conn)
        conn.close()  # accepted or not: the client cannot know

    server = serve(servers, read_all_then_close)
    pool = Pool(f"http://127.0.0.1:{server.port}")
    with pytest.raises(Exception) as info:
        pool.request("POST", "/v3/mail/send", b"{}", {}, 5.0)
    assert not isinstance(info.value, urllib.error.URLError)
    assert isinstance(info.value, (ConnectionError, OSError)) or "Remote" in type(info.value).__name__


def test_no_answer_within_the_timeout_is_not_retry_safe(servers: list[RawServer]) -> None:
    gate = threading.Event()

    def never_answer(conn: socket.socket) -> None:
        read_request(conn)
        gate.wait(10)

    server = serve(servers, never_answer)
    pool = Pool(f"http://127.0.0.1:{server.port}")
    try:
        with pytest.raises(TimeoutError):
            pool.request("POST", "/v3/mail/send", b"{}", {}, 0.3)
    finally:
        gate.set()


def test_an_idle_connection_the_server_closed_is_not_reused(servers: list[RawServer]) -> None:
    def one_answer_then_close(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(OK)  # keep-alive, as far as the headers say
        time.sleep(0.05)
        conn.close()  # the server's idle timeout

    server = serve(servers, one_answer_then_close)
    pool = Pool(f"http://127.0.0.1:{server.port}")
    assert pool.request("POST", "/x", b"{}", {}, 5.0).status == 202
    time.sleep(0.3)
    assert pool.request("POST", "/x", b"{}", {}, 5.0).status == 202  # a fresh connection, no error
    assert server.accepted == 2 and pool.opened == 2


@pytest.fixture
def standin() -> Iterator[SendGridStandIn]:
    with SendGridStandIn(spec=shared_path("sendgrid", "tsg_mail_v3.json"), api_key=KEY, latency=0.05) as sg:
        yield sg


def _body(i: int) -> bytes:
    return (b'{"personalizations":[{"to":[{"email":"r%d@example.com"}]}],"from":{"email":"news@example.com"},'
            b'"subject":"Hi","content":[{"type":"text/plain","value":"Hello"}]}' % i)


def test_the_sendgrid_client_reuses_its_connections(standin: SendGridStandIn) -> None:
    from sendgrid import SendGridAPIClient

    pool = Pool(standin.url)
    sg = pooled_client(SendGridAPIClient(KEY, host=standin.url), pool)
    statuses: list[int] = []
    lock = threading.Lock()

    def work(k: int) -> None:
        for i in range(k * 10, k * 10 + 10):
            resp = sg.client.mail.send.post(request_body=_body(i).decode(),
                                            request_headers={"Content-Type": "application/json; charset=utf-8"})
            with lock:
                statuses.append(resp.status_code)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [202] * 40
    assert standin.delivered() == {f"r{i}@example.com": 1 for i in range(40)}
    stats = standin.stats()
    assert stats["connections"] <= 4 and pool.opened == stats["connections"]  # one per thread at most, kept open
    assert stats["max_inflight"] >= 2  # the threads' requests overlapped at the receiver


def test_http_errors_keep_the_clients_error_classes(standin: SendGridStandIn) -> None:
    from python_http_client.exceptions import TooManyRequestsError, UnauthorizedError
    from sendgrid import SendGridAPIClient

    pool = Pool(standin.url)
    standin.fault("429", retry_after=3)
    sg = pooled_client(SendGridAPIClient(KEY, host=standin.url), pool)
    with pytest.raises(TooManyRequestsError) as info:
        sg.client.mail.send.post(request_body=_body(1).decode(),
                                 request_headers={"Content-Type": "application/json; charset=utf-8"})
    assert info.value.headers.get("Retry-After") == "3" and b"too many requests" in info.value.body
    bad = pooled_client(SendGridAPIClient("SG.wrong", host=standin.url), pool)
    with pytest.raises(UnauthorizedError):
        bad.client.mail.send.post(request_body=_body(2).decode(),
                                  request_headers={"Content-Type": "application/json; charset=utf-8"})
    ok = sg.client.mail.send.post(request_body=_body(3).decode(),
                                  request_headers={"Content-Type": "application/json; charset=utf-8"})
    assert ok.status_code == 202 and ok.headers.get("X-Message-Id")
    assert standin.delivered() == {"r3@example.com": 1}


def test_an_error_answer_leaves_no_cycle_holding_the_request(standin: SendGridStandIn) -> None:
    """A send that waits out rate limits answers many 429s while it allocates little, so the cycle collector
    seldom runs: an error that sits in a reference cycle with the frame that raised it keeps that frame's
    request body (~250 KB a batch) alive, and the sender's memory grows with every 429."""
    import gc
    import types

    from python_http_client.exceptions import TooManyRequestsError
    from sendgrid import SendGridAPIClient

    sg = pooled_client(SendGridAPIClient(KEY, host=standin.url), Pool(standin.url))
    marker = "body-" + "x" * 64
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        standin.fault("429", retry_after=1)
        with pytest.raises(TooManyRequestsError):
            sg.client.mail.send.post(request_body=_body(1).decode().replace("Hello", marker),
                                     request_headers={"Content-Type": "application/json; charset=utf-8"})
        ok = sg.client.mail.send.post(request_body=_body(2).decode(),
                                      request_headers={"Content-Type": "application/json; charset=utf-8"})
        assert ok.status_code == 202
        gc.collect()
        openers = [o for o in gc.garbage if type(o).__name__ == "OpenerDirector"]  # one built per request, unused
        held = [o for o in gc.garbage if isinstance(o, types.FrameType)
                and any(marker.encode() in v for v in o.f_locals.values() if isinstance(v, bytes))
                or isinstance(o, bytes) and marker.encode() in o]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert held == [] and openers == []


def test_a_dripping_answer_is_ended_by_the_requests_bound(servers: list[RawServer]) -> None:
    """A byte every 0.2 s never trips a 0.5 s socket timeout; the watchdog ends the request near 1.5 s."""
    stop = threading.Event()

    def drip(conn: socket.socket) -> None:
        read_request(conn)
        for byte in b"HTTP/1.1 202 Accepted\r\nX-Padding: " + b"x" * 200:
            if stop.wait(0.2):
                return
            conn.sendall(bytes([byte]))

    server = serve(servers, drip)
    pool = Pool(f"http://127.0.0.1:{server.port}")
    t0 = time.monotonic()
    try:
        with pytest.raises(TimeoutError):  # the request was written: not retry-safe
            pool.request("POST", "/v3/mail/send", b"{}", {}, 0.5)
        assert time.monotonic() - t0 < 4.0
    finally:
        stop.set()
